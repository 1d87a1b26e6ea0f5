"""The deploy pipeline: config -> desired state -> plan -> apply.

`model` and `planner` are pure (no engine, no files); effects live in the engine adapter.
"""
