"""Build benchmark: cold build of the whole image tree, no-op rebuild, one-template rebuild,
and image sizes. Prints figures; it is not a test.

    python -m benchmarks.build [--namespace bench] [--workers 2] [--keep]

The one-template rebuilds change keystone-base (a parent of two images) in two ways: a step
appended to its template, and an override that adds a package to it.
The cold build starts from nothing: every image of the namespace (the debootstrap root
included) is removed first, so the engine's layer cache cannot help either.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import docker

from stackyard.engine import connect
from stackyard.images import graph
from stackyard.images.builder import Builder
from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.model import BuildOptions, BuildReport, BuildStatus, Catalog
from stackyard.images.options import make_options


def build_all(catalog: Catalog, options: BuildOptions) -> tuple[float, BuildReport]:
    start = time.monotonic()
    report = Builder(connect(), catalog, options).build(graph.select(catalog, [], []))
    elapsed = time.monotonic() - start
    if not report.ok:
        raise SystemExit(f"build failed: {[(r.name, r.error) for r in report.results if r.error]}")
    return elapsed, report


def remove_namespace(client: docker.DockerClient, namespace: str) -> None:
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(f"{namespace}/"):
                client.images.remove(tag, force=True)
    client.images.prune(filters={"dangling": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespace", default="bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the images afterwards")
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    catalog = load_catalog(default_root())
    logs = Path(tempfile.mkdtemp(prefix="stackyard-bench-logs-"))
    options = make_options(catalog, namespace=args.namespace, workers=args.workers, logs_dir=logs)

    remove_namespace(client, args.namespace)
    cold, report = build_all(catalog, options)
    root = report.root.seconds if report.root else 0.0
    print(
        f"cold build, {len(report.results)} images + root: {cold:.1f} s "
        f"(root image by debootstrap {root:.1f} s, workers {args.workers})"
    )
    for result in report.results:
        print(f"  {result.name:<18}{result.seconds:6.1f} s")

    noop, report = build_all(catalog, options)
    assert report.by_status(BuildStatus.CACHED) == [r.name for r in report.results]
    print(f"no-op rebuild: {noop:.2f} s (all {len(report.results)} cached)")

    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        shutil.copytree(default_root(), images)
        template = images / "keystone-base" / "Dockerfile.j2"
        template.write_text(template.read_text() + "RUN echo benchmark > /tmp/stackyard-bench\n")
        changed = load_catalog(images)
        one, report = build_all(changed, options)
        print(
            f"one-template rebuild (a RUN appended to keystone-base): {one:.1f} s, "
            f"rebuilt {report.by_status(BuildStatus.BUILT)}"
        )

        # An operator override that adds a package: the apt layer itself is redone.
        override = Path(tmp) / "override.j2"
        override.write_text(
            "{% block keystone_base_packages %}{{ super() }} python3-ldap{% endblock %}\n"
        )
        with_override = make_options(
            catalog, namespace=args.namespace, workers=args.workers, logs_dir=logs,
            template_override=override,
        )  # fmt: skip
        one, report = build_all(catalog, with_override)
        print(
            f"override adding a package to keystone-base: {one:.1f} s, "
            f"rebuilt {report.by_status(BuildStatus.BUILT)}"
        )

    print("image sizes (MB, as the engine reports them; layers are shared):")
    refs = [options.root_reference] + [
        f"{options.repository(n)}:{options.tag}" for n in graph.select(catalog, [], [])
    ]
    for ref in refs:
        attrs = client.images.get(ref).attrs
        print(f"  {ref:<44}{attrs['Size'] / 1e6:7.0f}")
    if not args.keep:
        remove_namespace(client, args.namespace)
    shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
