"""The image build pipeline: image specs -> rendered Dockerfiles -> build graph -> results.

catalog (load image folders) -> render (Jinja2) -> graph (select, order) -> cache (content keys)
-> builder (engine, parallel) -> report. Only `builder` and `rootfs` have side effects.
"""
