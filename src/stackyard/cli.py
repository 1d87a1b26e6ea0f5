"""The `stackyard` command: a thin layer that parses, calls one API function, renders, exits.

Exit codes: 0 success; 1 the operation failed (a build failed, ...); 2 bad input or usage.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import NoReturn

import click

from stackyard import __version__, host, operations
from stackyard.deploy import report as deploy_report
from stackyard.deploy.apply import ApplyFailed, StepResult
from stackyard.engine import connect
from stackyard.engine.containers import ContainerEngine
from stackyard.errors import ConfigError, StackyardError
from stackyard.images import graph, report
from stackyard.images.builder import Builder
from stackyard.images.catalog import load_catalog
from stackyard.images.model import Catalog, ImageSpec
from stackyard.images.options import make_options


def _fail(exc: StackyardError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2 if isinstance(exc, ConfigError) else 1)


class _Commands(click.Group):
    """Every command's StackyardError is reported one way: `error: ...` on stderr, exit 2 for
    bad input (nothing was changed), 1 for the rest."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except StackyardError as exc:
            _fail(exc)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stackyard")
def main() -> None:
    """Build and run OpenStack in containers."""


@main.group("host")
def host_group() -> None:
    """Prepare the hosts stackyard runs on."""


@host_group.command("bootstrap")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the engine.",
)
def host_bootstrap(timeout: float) -> None:
    """Install and start the container engine on this host (idempotent)."""
    host.bootstrap(timeout=timeout, say=click.echo)


@main.command()
@click.argument("patterns", nargs=-1)
@click.option("-p", "--profile", "profiles", multiple=True, help="Named set of images (repeat).")
@click.option("--suite", help="Debian suite: trixie (OpenStack 2025.1, default) or bookworm (Zed).")
@click.option("--tag", help="Image tag (default <openstack_release>-<suite>).")
@click.option("--namespace", help="Image namespace [default: stackyard].")
@click.option(
    "--config-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Build what this deployment config runs: the images of its enabled services, with "
    "the suite, tag, namespace and registry of its globals.yml.",
)
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
    catalog = load_catalog(images_dir)
    config = kwargs.pop("config_dir")
    if config is not None:
        configured = _configured(config, catalog, kwargs)
        patterns = patterns or (() if profiles else configured.images)
    kwargs["namespace"] = kwargs["namespace"] or "stackyard"
    names = graph.select(catalog, patterns, profiles)
    # Checked before listing too: a listing must not accept what the build would refuse.
    options = make_options(catalog, **kwargs)  # type: ignore[arg-type]
    if list_images or list_dependencies:
        click.echo(_listing(catalog.images, names, list_dependencies, fmt))
        return
    engine = connect()
    # rich is imported only by a build: every other command starts faster without it.
    from stackyard.progress import BuildProgress

    progress = BuildProgress(names)
    try:
        result = Builder(engine, catalog, options, progress).build(names)
    finally:
        progress.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(result), indent=2))
    else:
        click.echo(report.render_text(result))
    sys.exit(0 if result.ok else 1)


def _configured(
    config: object, catalog: Catalog, options: dict[str, object]
) -> operations.ConfiguredBuild:
    """Fill the build options from the deployment config; a flag that globals.yml decides
    is refused rather than silently winning or losing."""
    assert isinstance(config, Path)
    decided = {"suite": "openstack_release", "tag": "openstack_tag",
               "namespace": "docker_namespace", "registry": "docker_registry"}  # fmt: skip
    given = [f"--{flag}" for flag in decided if options[flag] is not None]
    if given:
        settings = ", ".join(decided[g[2:]] for g in given)
        raise ConfigError(
            f"{', '.join(given)}: not with --config-dir, whose {config / 'globals.yml'} "
            f"decides {settings} (set there, or left at the default)"
        )
    configured = operations.configured_build(config, catalog)
    if options["push"] and not configured.registry:
        raise ConfigError(
            f"--push needs docker_registry HOST[:PORT] in {config / 'globals.yml'} (with "
            "--config-dir, it is the registry pushed to)"
        )
    options.update(suite=configured.suite, tag=configured.tag,
                   namespace=configured.namespace, registry=configured.registry)  # fmt: skip
    return configured


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


# deploy and operate -------------------------------------------------------------------------

config_dir_option = click.option(
    "--config-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="STACKYARD_CONFIG_DIR",
    help="globals.yml, passwords.yml, inventory, config/ [default: /etc/stackyard].",
)
inventory_option = click.option(
    "-i",
    "--inventory",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ansible INI inventory [default: CONFIG_DIR/inventory, else the all-in-one].",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
limit_option = click.option(
    "--limit",
    default=None,
    metavar="HOST[,HOST]",
    help="Touch only these inventory hosts; the plan lists what it leaves on the others.",
)


def _containers() -> ContainerEngine:
    return ContainerEngine(connect())


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


@main.command()
@config_dir_option
def genpwd(config_dir: Path | None) -> None:
    """Fill every missing secret in passwords.yml (existing values are never changed)."""
    path, added = operations.genpwd(config_dir)
    if added:
        click.echo(f"{path}: generated {len(added)} secrets ({', '.join(added)}); mode 0600")
    else:
        click.echo(f"{path}: every secret already has a value; nothing changed")


def _planned(
    config_dir: Path | None, inventory: Path | None, limit: str | None = None
) -> tuple[ContainerEngine, operations.Planned]:
    """The configuration is loaded and checked, and the desired state computed (addresses
    validated, templates rendered), before the engine is reached, so bad input gets its own
    error whatever state the engine is in."""
    deployment = operations.load(config_dir, inventory)
    hosts = frozenset(h.strip() for h in (limit or "").split(",") if h.strip())
    if limit is not None and not hosts:
        raise ConfigError("--limit: no host named; give inventory host names, comma-separated")
    operations.check_limit(deployment, hosts)
    desired = operations.desired_state(deployment)
    engine = _containers()
    return engine, operations.plan(deployment, engine, desired, hosts)


@main.command("plan")
@config_dir_option
@inventory_option
@format_option
@limit_option
def plan_command(
    config_dir: Path | None, inventory: Path | None, fmt: str, limit: str | None
) -> None:
    """Show what a deploy would change, and why, without changing anything."""
    _, planned = _planned(config_dir, inventory, limit)
    secrets = planned.desired.secrets
    if fmt == "json":
        _echo_json(deploy_report.to_dict(planned.plan, secrets))
    else:
        click.echo(deploy_report.render_text(planned.plan, secrets))


def _deploy(
    config_dir: Path | None, inventory: Path | None, fmt: str, dry_run: bool, limit: str | None
) -> None:
    started = time.monotonic()
    try:
        engine, planned = _planned(config_dir, inventory, limit)
        secrets = planned.desired.secrets
        if fmt == "text":
            click.echo(deploy_report.render_text(planned.plan, secrets))
        if dry_run or planned.plan.is_empty:
            if fmt == "json":
                _echo_json({"plan": deploy_report.to_dict(planned.plan, secrets), "applied": []})
            return
        say = click.echo if fmt == "text" else operations._quiet
        results = operations.deploy(planned, engine, say)
    except ApplyFailed as exc:
        if fmt == "json":
            _echo_json({"error": str(exc), "applied": _results(exc.results)})
        _fail(exc)
    seconds = time.monotonic() - started
    if fmt == "text" and planned.plan.is_empty:
        return
    if fmt == "json":
        _echo_json(
            {
                "plan": deploy_report.to_dict(planned.plan, secrets),
                "applied": _results(results),
                "seconds": round(seconds, 2),
            }
        )
    else:
        click.echo(f"Done: {len(results)} steps in {seconds:.1f} s.")


def _results(results: list[StepResult]) -> list[dict[str, object]]:
    return [
        {
            "container": r.step.container,
            "action": r.step.action.value,
            "ok": r.ok,
            "seconds": round(r.seconds, 2),
            "message": r.message,
        }
        for r in results
    ]


@main.command()
@config_dir_option
@inventory_option
@format_option
@click.option("--dry-run", is_flag=True, help="Show the plan only.")
@limit_option
def deploy(
    config_dir: Path | None, inventory: Path | None, fmt: str, dry_run: bool, limit: str | None
) -> None:
    """Bring the deployment to the configuration: plan, then apply in dependency order."""
    _deploy(config_dir, inventory, fmt, dry_run, limit)


@main.command()
@config_dir_option
@inventory_option
@format_option
@click.option("--dry-run", is_flag=True, help="Show the plan only.")
@limit_option
def reconfigure(
    config_dir: Path | None, inventory: Path | None, fmt: str, dry_run: bool, limit: str | None
) -> None:
    """Apply configuration changes (the same converge as deploy)."""
    _deploy(config_dir, inventory, fmt, dry_run, limit)


@main.command("post-deploy")
@config_dir_option
@inventory_option
def post_deploy(config_dir: Path | None, inventory: Path | None) -> None:
    """Write clouds.yaml and admin-openrc.sh for the admin user."""
    deployment = operations.load(config_dir, inventory)
    paths = operations.post_deploy(deployment, operations.desired_state(deployment))
    clouds, openrc = paths
    click.echo(f"wrote {clouds} and {openrc} (mode 0600)")
    click.echo("Use the cloud with:")
    click.echo(f"  export OS_CLIENT_CONFIG_FILE={clouds}")
    click.echo(f"  openstack --os-cloud {operations.CLOUD_NAME} token issue")
    click.echo(f"or: source {openrc}; openstack endpoint list")


@main.command("init-runonce")
@config_dir_option
@inventory_option
@click.option(
    "--image",
    metavar="FILE|URL",
    help="The guest image to upload as `cirros` (default: the disk in the cirros image).",
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Key pair mykey's public key [default: ~/.ssh/id_ed25519.pub, made when missing].",
)
def init_runonce(
    config_dir: Path | None, inventory: Path | None, image: str | None, public_key: Path | None
) -> None:
    """Make what a first server needs (kolla-ansible's init-runonce): image, flavors, networks,
    router, security group rules, key pair. Settings from the environment: EXT_NET_CIDR,
    EXT_NET_RANGE, EXT_NET_GATEWAY, DEMO_NET_CIDR, ..."""
    if public_key is None:
        public_key = operations.operator_key()
    deployment = operations.load(config_dir, inventory)
    desired = operations.desired_state(deployment)
    operations.init_runonce(deployment, desired, _containers(), public_key, image, click.echo)


def _print_report(report: operations.CheckReport, fmt: str) -> None:
    if fmt == "json":
        _echo_json(
            {
                "ok": report.ok,
                "findings": [
                    {"what": f.what, "ok": f.ok, "detail": f.detail} for f in report.findings
                ],
            }
        )
    else:
        for f in report.findings:
            click.echo(f"{'ok  ' if f.ok else 'FAIL'}  {f.what}: {f.detail}")
    if not report.ok:
        sys.exit(1)


@main.command("check")
@config_dir_option
@inventory_option
@format_option
def check_command(config_dir: Path | None, inventory: Path | None, fmt: str) -> None:
    """Every container healthy and every API answering through HAProxy."""
    engine, planned = _planned(config_dir, inventory)
    report = operations.check(planned, engine)
    _print_report(report, fmt)


@main.command()
@config_dir_option
@inventory_option
@format_option
def prechecks(config_dir: Path | None, inventory: Path | None, fmt: str) -> None:
    """Check the host and the configuration before a deploy; changes nothing."""
    deployment = operations.load(config_dir, inventory)
    desired = operations.desired_state(deployment)
    report = operations.prechecks(deployment, desired, _containers())
    _print_report(report, fmt)


@main.command()
@config_dir_option
@inventory_option
def pull(config_dir: Path | None, inventory: Path | None) -> None:
    """Pull every image the deployment uses from docker_registry."""
    deployment = operations.load(config_dir, inventory)
    images = operations.pull(
        deployment, operations.desired_state(deployment), _containers(), click.echo
    )
    click.echo(f"pulled {len(images)} images")


@main.command()
def stop() -> None:
    """Stop every stackyard container; `deploy` starts them again."""
    stopped = operations.stop(_containers(), click.echo)
    click.echo(f"stopped {len(stopped)} containers")


@main.command()
@config_dir_option
@click.option(
    "--yes-i-really-really-mean-it",
    "confirmed",
    is_flag=True,
    help="Required: confirms that the containers are to be removed.",
)
@click.option("--include-volumes", is_flag=True, help="Also remove the named volumes (the data).")
def destroy(config_dir: Path | None, confirmed: bool, include_volumes: bool) -> None:
    """Remove every stackyard container and network; data volumes only with --include-volumes."""
    if not confirmed:
        _fail(
            ConfigError(
                "destroy removes every stackyard container; run it again with "
                "--yes-i-really-really-mean-it (add --include-volumes to delete the data too)"
            )
        )
    result = operations.destroy(_containers(), config_dir, include_volumes, click.echo)
    click.echo(f"removed {len(result.containers)} containers and {len(result.networks)} networks")
    if result.kept_volumes:
        kept = ", ".join(result.kept_volumes)
        click.echo(f"kept volumes: {kept} (--include-volumes removes them)")
    elif result.volumes:
        click.echo(f"removed volumes: {', '.join(result.volumes)}")
