"""The `stackyard` command: a thin layer that parses, calls one API function, renders, exits.

Exit codes: 0 success; 1 the operation failed (a build failed, ...); 2 bad input or usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stackyard import __version__, host
from stackyard.engine import connect
from stackyard.errors import ConfigError, StackyardError
from stackyard.images import graph, report
from stackyard.images.builder import Builder
from stackyard.images.catalog import load_catalog
from stackyard.images.model import ImageSpec
from stackyard.images.options import make_options
from stackyard.progress import BuildProgress


def _fail(exc: StackyardError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2 if isinstance(exc, ConfigError) else 1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stackyard")
def main() -> None:
    """Build and run OpenStack in containers."""


@main.group("host")
def host_group() -> None:
    """Prepare the hosts stackyard runs on."""


@host_group.command("bootstrap")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the engine.")
def host_bootstrap(timeout: float) -> None:
    """Install and start the container engine on this host (idempotent)."""
    try:
        host.bootstrap(timeout=timeout, say=click.echo)
    except StackyardError as exc:
        _fail(exc)


@main.command()
@click.argument("patterns", nargs=-1)
@click.option("-p", "--profile", "profiles", multiple=True, help="Named set of images (repeat).")
@click.option("--suite", help="Debian suite: trixie (OpenStack 2025.1, default) or bookworm (Zed).")
@click.option("--tag", help="Image tag (default <openstack_release>-<suite>).")
@click.option("--namespace", default="stackyard", show_default=True)
@click.option(
    "--install-type", default="binary", show_default=True, help="binary (Debian packages)."
)
@click.option(
    "--mirror",
    default="http://deb.debian.org/debian",
    show_default=True,
    help="Debian mirror for debootstrap and apt.",
)
@click.option("--registry", help="Registry HOST[:PORT] to push to and pull the root image from.")
@click.option("--push", is_flag=True, help="Push every image to --registry.")
@click.option("--squash", is_flag=True, help="Squash each image's own layers into one.")
@click.option("-j", "--workers", type=int, help="Parallel builds (default: CPU count).")
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path),
    help="CA bundle that builds trust (for a TLS-intercepting proxy).",
)
@click.option(
    "--template-override",
    type=click.Path(path_type=Path),
    help="Jinja2 file that replaces or extends named template blocks.",
)
@click.option("--images-dir", type=click.Path(path_type=Path), help="Image folders to use.")
@click.option(
    "--logs-dir",
    type=click.Path(path_type=Path),
    default=Path("/var/log/stackyard/build"),
    show_default=True,
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--list-images", is_flag=True, help="List the selected images and exit.")
@click.option("--list-dependencies", is_flag=True, help="Show the selected images as a tree.")
def build(
    patterns: tuple[str, ...],
    profiles: tuple[str, ...],
    images_dir: Path | None,
    fmt: str,
    list_images: bool,
    list_dependencies: bool,
    **kwargs: object,
) -> None:
    """Build images (all, or those named by PATTERNS and --profile), parents first.

    PATTERNS are image names or regular expressions matched against whole names.
    """
    try:
        catalog = load_catalog(images_dir)
        names = graph.select(catalog, patterns, profiles)
        if list_images or list_dependencies:
            click.echo(_listing(catalog.images, names, list_dependencies, fmt))
            return
        options = make_options(catalog, **kwargs)  # type: ignore[arg-type]
        engine = connect()
        progress = BuildProgress(names)
        try:
            result = Builder(engine, catalog, options, progress).build(names)
        finally:
            progress.close()
    except StackyardError as exc:
        _fail(exc)
        return
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(result), indent=2))
    else:
        click.echo(report.render_text(result))
    sys.exit(0 if result.ok else 1)


def _listing(images: dict[str, ImageSpec], names: list[str], tree: bool, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({n: {"parent": images[n].parent} for n in names}, indent=2)
    if not tree:
        return "\n".join(names)
    kids = graph.children({n: images[n] for n in names})
    lines: list[str] = []

    def walk(name: str, depth: int) -> None:
        lines.append("  " * depth + name)
        for kid in kids[name]:
            walk(kid, depth + 1)

    for name in names:
        if images[name].parent not in names:
            walk(name, 0)
    return "\n".join(lines)
