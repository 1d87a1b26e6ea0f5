"""The importable API: load a deployment, plan, deploy, check, stop and destroy.

The CLI is a thin layer over these functions. Planning needs the engine only to observe it
(and to read the option lists of the images that override files reach); nothing here depends
on any OpenStack service already running.
"""

from __future__ import annotations

import http.client
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from stackyard import facts
from stackyard.config import addresses, options
from stackyard.config.deployment import (
    OVERRIDES,
    Deployment,
    check_config_dir,
    config_dir,
    load_deployment,
    release_suite,
    secret_names,
    service_settings,
)
from stackyard.config.ini import read_text
from stackyard.config.passwords import generate, write_private
from stackyard.deploy import strategies
from stackyard.deploy.apply import Applier, StepResult, gated
from stackyard.deploy.desired import (
    Desired,
    HostFacts,
    compute,
    image_reference,
    override_layers,
)
from stackyard.deploy.model import (
    LABEL_MANAGED,
    Kind,
    ObservedContainer,
    ObservedState,
    Plan,
    RunState,
)
from stackyard.deploy.observe import observe_hosts
from stackyard.deploy.planner import plan as make_plan
from stackyard.deploy.strategies.database import TOOLBOX_IMAGE
from stackyard.engine.containers import ContainerEngine, shared_sources
from stackyard.engine.port import ContainerRecord, Engine
from stackyard.errors import ConfigError, EngineError
from stackyard.images.catalog import load_catalog
from stackyard.images.model import Catalog
from stackyard.releases import refusal
from stackyard.services.catalog import load_services
from stackyard.services.model import ContainerDef

Say = Callable[[str], None]
GENERATED = "generated"
CLOUD_NAME = "stackyard-admin"
INIT_RUNONCE = Path(__file__).parent / "data" / "tools" / "init-runonce.sh"
# init-runonce's settings an operator may give in the environment (kolla-ansible's names).
INIT_RUNONCE_SETTINGS = frozenset(
    ["EXT_NET_CIDR", "EXT_NET_RANGE", "EXT_NET_GATEWAY", "EXT_NET_PHYSNET", "DEMO_NET_CIDR",
     "DEMO_NET_GATEWAY", "IMAGE_NAME", "IMAGE_FORMAT"]
)  # fmt: skip
GUEST_IMAGE = "cirros"
LABEL_RELEASE = "stackyard.openstack-release"  # on every image stackyard builds
GUEST_DISK = "/usr/share/stackyard/guest/cirros.qcow2"


def _quiet(_line: str) -> None:
    return None


def genpwd(directory: Path | None = None) -> tuple[Path, list[str]]:
    """Fill every missing secret of every known service in passwords.yml."""
    path = config_dir(directory) / "passwords.yml"
    return path, generate(path, secret_names(load_services()))


@dataclass(frozen=True, slots=True)
class ConfiguredBuild:
    """What `stackyard build --config-dir` builds: the images, suite, tag, namespace and
    registry of the configuration `stackyard deploy` reads, so it builds what deploy runs."""

    images: tuple[str, ...]
    suite: str
    tag: str | None  # None: the suite's default (<openstack_release>-<suite>)
    namespace: str
    registry: str | None


def configured_build(
    directory: Path | None = None, catalog: Catalog | None = None
) -> ConfiguredBuild:
    """The images of the enabled services (their containers and jobs, strategies' jobs
    included), the toolbox (operations run in it) and, with nova, the guest image
    (init-runonce's default); the suite that ships `openstack_release`. Reads globals.yml
    only: building needs no secrets and no inventory."""
    folder = config_dir(directory)
    check_config_dir(folder)
    catalog = catalog or load_catalog()
    services = load_services(images=catalog.images)
    settings = service_settings(folder, services)
    errors: list[str] = []
    suite = release_suite(folder, settings.values.openstack_release, catalog, errors)
    if suite is None:
        raise ConfigError("\n".join(errors))
    enabled = [name for name in services if settings.enabled[name]]
    images = {TOOLBOX_IMAGE} | {GUEST_IMAGE for name in enabled if name == "nova"}
    for name in enabled:
        images |= strategies.images(name, services[name].definition)
    values = settings.values
    return ConfiguredBuild(
        tuple(sorted(images)), suite, values.openstack_tag or None, values.docker_namespace,
        values.docker_registry,
    )  # fmt: skip


def load(directory: Path | None = None, inventory: Path | None = None) -> Deployment:
    return load_deployment(config_dir(directory), inventory)


def local_host(deployment: Deployment) -> str:
    """The inventory name of this machine (every host is local in this version)."""
    return next(iter(deployment.inventory.hosts))


def desired_state(deployment: Deployment) -> Desired:
    """Addresses this host cannot use are refused (ConfigError) before anything is computed,
    so plan, deploy and prechecks stop before they change or ask the engine anything."""
    host, _ = _checked_host(deployment)
    return compute(deployment, host)


def _checked_host(deployment: Deployment) -> tuple[HostFacts, list[addresses.Checked]]:
    """This host's facts, with the addresses globals.yml names checked against them; the
    neighbour table is read only for a VIP keepalived would hold."""
    values = deployment.settings.values
    keepalived = "keepalived" in deployment.enabled
    host = facts.gather(values.network_interface)
    host = facts.with_neighbours(host, addresses.neighbour_lookups(values, host, keepalived))
    globals_yml = deployment.config_dir / "globals.yml"
    neutron = "neutron" in deployment.enabled
    return host, addresses.check(values, host, globals_yml, keepalived, neutron)


@dataclass(frozen=True, slots=True)
class Planned:
    deployment: Deployment
    desired: Desired
    observed: ObservedState
    plan: Plan


def plan(
    deployment: Deployment,
    engine: ContainerEngine,
    desired: Desired | None = None,
    limit: frozenset[str] = frozenset(),
) -> Planned:
    """What a deploy would do; with `limit` (inventory host names), only on those hosts."""
    check_limit(deployment, limit)
    desired = desired or desired_state(deployment)
    check_overrides(deployment, desired, engine)
    images = frozenset(spec.image for _, spec in desired.specs())
    observed = observe_hosts({local_host(deployment): engine}, images)
    observed = replace(observed, gated=gated(deployment.config_dir / GENERATED))
    check_releases(deployment, desired, observed, engine)
    serial = deployment.settings.values.kolla_serial
    changes = make_plan(desired.state, observed, serial, limit)
    return Planned(deployment, desired, observed, changes)


def check_releases(
    deployment: Deployment, desired: Desired, observed: ObservedState, engine: Engine
) -> None:
    """Refuse, before any change, to move an OpenStack service between releases in a way
    OpenStack does not support (two releases at once outside SLURP, or back): the releases are
    read from the images (their `stackyard.openstack-release` label), those of the running
    containers whose image is about to change and those of their successors. An image without
    the label (built elsewhere) is not judged."""
    releases: dict[str, str | None] = {}

    def release(image: str) -> str | None:
        if image not in releases:
            releases[image] = (engine.image_labels(image) or {}).get(LABEL_RELEASE)
        return releases[image]

    problems: set[str] = set()
    for name, state in desired.state.services.items():
        rules = deployment.services[name].definition.release_upgrades
        if rules is None:
            continue
        for host, specs in state.containers.items():
            for spec in specs:
                current = observed.get(host, spec.name)
                wanted = observed.images.get(host, {}).get(spec.image)
                if current is None or not current.image_id or not wanted:
                    continue
                if current.image_id == wanted:
                    continue
                before, after = release(current.image_id), release(wanted)
                if before and after:
                    problem = refusal(name, before, after, rules.also)
                    problems.update([problem] if problem else [])
    if problems:
        available = ", ".join(f"{r} ({s})" for s, r in sorted(load_catalog().suites.items()))
        raise ConfigError(
            "\n".join(sorted(problems)) + f"\nstackyard builds images for {available} only"
        )


def check_limit(deployment: Deployment, limit: frozenset[str]) -> None:
    if not limit:
        return
    unknown = sorted(limit - set(deployment.inventory.hosts))
    if unknown:
        hosts = ", ".join(deployment.inventory.hosts)
        raise ConfigError(f"--limit: {', '.join(unknown)} not in the inventory (hosts: {hosts})")


def check_overrides(deployment: Deployment, desired: Desired, engine: ContainerEngine) -> None:
    """Every section and option of every override file is one that a file it is merged into
    reads, as their images list them (config/options.py); ConfigError names every one that
    is not, before anything changes. An override merged into a file whose image lists
    nothing (built before the lists, or not by stackyard) is not checked: what it holds may
    be that file's. Nothing is checked with config_override_check: no. Without override
    files nothing is read; otherwise each image once."""
    if not deployment.overrides or not deployment.settings.values.config_override_check:
        return
    targets = _override_targets(deployment, desired)
    lists = _option_lists(engine, {image for reached in targets.values() for image, _ in reached})
    found = []
    for key, reached in sorted(targets.items()):
        known = [(lists[image] or {}).get(dest) for image, dest in sorted(reached)]
        if any(k is None for k in known):
            continue
        path = deployment.config_dir / OVERRIDES / key
        override = options.Override(path, deployment.overrides[key], read_text(path))
        label = " or ".join(sorted({dest.rsplit("/", 1)[1] for _, dest in reached}))
        accepted = options.merged(k for k in known if k is not None)
        found += options.problems(accepted, override, label)
    options.refuse(found, deployment.config_dir / "globals.yml")


def _override_targets(deployment: Deployment, desired: Desired) -> dict[str, set[tuple[str, str]]]:
    """Override file (relative to config/) -> the (image, file path) of every config file it
    is merged into, in the layers the desired state merges."""
    targets: dict[str, set[tuple[str, str]]] = {}
    for host, spec in desired.specs():
        definition = deployment.services[spec.service].definition
        for config in definition.merged_config_files(spec.name):
            for key in override_layers(spec.service, host, config.dest.rsplit("/", 1)[1]):
                if key in deployment.overrides:
                    targets.setdefault(key, set()).add((spec.image, config.dest))
    return targets


def _option_lists(
    engine: ContainerEngine, images: set[str]
) -> dict[str, dict[str, options.Known] | None]:
    """Image reference -> the option lists it carries (None: none), each image read once."""
    by_id: dict[str, dict[str, options.Known] | None] = {}
    lists: dict[str, dict[str, options.Known] | None] = {}
    for image in sorted(images):
        record = engine.engine.inspect_image(image)
        if record is None:
            lists[image] = None
            continue
        image_id = str(record["Id"])
        if image_id not in by_id:
            data = engine.engine.read_file(image_id, options.OPTIONS_PATH)
            by_id[image_id] = None if data is None else options.parse_option_lists(data)
        lists[image] = by_id[image_id]
    return lists


def deploy(planned: Planned, engine: ContainerEngine, say: Say = _quiet) -> list[StepResult]:
    """Apply the plan (its waits for containers still starting included); an empty plan
    changes nothing (not even files)."""
    engines = {local_host(planned.deployment): engine}
    applier = Applier(engines, planned.desired, planned.deployment.config_dir / GENERATED, say)
    return [] if planned.plan.is_empty else applier.apply(planned.plan)


def stop(engine: ContainerEngine, say: Say = _quiet) -> list[str]:
    """Stop every running stackyard container (volumes, containers and config stay)."""
    stopped = []
    for record in engine.managed_containers():
        if record.running:
            say(f"  stopping {record.name}")
            engine.stop(record.name)
            stopped.append(record.name)
    return stopped


@dataclass(frozen=True, slots=True)
class Destroyed:
    containers: list[str]
    networks: list[str]
    volumes: list[str]
    kept_volumes: list[str]


def destroy(
    engine: ContainerEngine, directory: Path | None, include_volumes: bool, say: Say = _quiet
) -> Destroyed:
    """Remove every stackyard container and network, and the generated config; named volumes
    (the data) only with include_volumes. Works from the engine's labels alone."""
    containers = []
    shared: set[str] = set()
    for record in engine.managed_containers():
        say(f"  removing container {record.name}")
        engine.remove(record.name)
        containers.append(record.name)
        spec = ObservedContainer(record.name, "", "", RunState.STOPPED, dict(record.labels))
        shared.update(shared_sources(tuple((spec.recorded_spec() or {}).get("volumes", []))))
    for folder in sorted(shared):
        for namespace in engine.clear_shared_folder(folder):
            say(f"  removing {folder}/{namespace}")
    networks = engine.managed_networks()
    for network in networks:
        say(f"  removing network {network}")
        engine.remove_network(network)
    volumes = list(engine.managed_volumes())
    if include_volumes:
        for volume in volumes:
            say(f"  removing volume {volume}")
            engine.remove_volume(volume)
    shutil.rmtree(config_dir(directory) / GENERATED, ignore_errors=True)
    return Destroyed(
        containers, networks, volumes if include_volumes else [], [] if include_volumes else volumes
    )


@dataclass(frozen=True, slots=True)
class Finding:
    what: str
    ok: bool
    detail: str = ""


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


def check(planned: Planned, engine: ContainerEngine, timeout: float = 5.0) -> CheckReport:
    """Every container running and passing its health check; every frontend answering on the
    VIP through HAProxy."""
    report = CheckReport()
    host = local_host(planned.deployment)
    for _, spec in planned.desired.specs():
        if spec.kind is Kind.JOB:
            continue
        current = planned.observed.get(host, spec.name)
        if current is None or current.state is not RunState.RUNNING:
            state = "missing" if current is None else "stopped"
            report.findings.append(Finding(f"container {spec.name}", False, state))
            continue
        if spec.healthcheck is None:
            report.findings.append(Finding(f"container {spec.name}", True, "running"))
            continue
        code, output = engine.exec(spec.name, list(spec.healthcheck.test))
        detail = "healthy" if code == 0 else f"unhealthy: {output.strip()[-200:]}"
        report.findings.append(Finding(f"container {spec.name}", code == 0, detail))
    for frontend in planned.desired.frontends:
        target = f"{planned.desired.vip}:{frontend.port}"
        report.findings.append(
            _probe(frontend.name, target, frontend.mode, frontend.check, timeout)
        )
    return report


def _probe(name: str, target: str, mode: str, path: str | None, timeout: float) -> Finding:
    host, port = target.rsplit(":", 1)
    what = f"frontend {name} ({target})"
    started = time.monotonic()
    try:
        if mode == "http":
            connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
            try:
                connection.request("GET", path or "/")
                status = connection.getresponse().status
            finally:
                connection.close()
            ms = (time.monotonic() - started) * 1000
            return Finding(what, status < 400, f"GET {path or '/'} -> {status} in {ms:.0f} ms")
        with socket.create_connection((host, int(port)), timeout=timeout):
            return Finding(what, True, "accepts connections")
    except OSError as exc:
        return Finding(what, False, f"not answering ({exc})")


def post_deploy(deployment: Deployment, desired: Desired) -> list[Path]:
    """Write clouds.yaml and admin-openrc.sh (mode 0600: they hold the admin password)."""
    url = desired.variables.get("keystone_internal_url")
    if url is None:
        raise ConfigError("post-deploy needs keystone: enable_keystone is no in globals.yml")
    values = deployment.settings.values
    user, project = (
        str(deployment.values[k]) for k in ("keystone_admin_user", "keystone_admin_project")
    )
    password = deployment.passwords["keystone_admin_password"]
    auth = {
        "auth_url": url,
        "username": user,
        "password": password,
        "project_name": project,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    cloud = {
        "auth": auth,
        "region_name": values.openstack_region_name,
        "interface": "internal",
        "identity_api_version": 3,
    }
    clouds = deployment.config_dir / "clouds.yaml"
    write_private(clouds, yaml.safe_dump({"clouds": {CLOUD_NAME: cloud}}, sort_keys=False))
    openrc = deployment.config_dir / "admin-openrc.sh"
    write_private(
        openrc,
        "\n".join(
            [
                "# Admin credentials for the openstack CLI: source this file.",
                "export OS_PROJECT_DOMAIN_NAME=Default",
                "export OS_USER_DOMAIN_NAME=Default",
                f"export OS_PROJECT_NAME={shlex.quote(project)}",
                f"export OS_USERNAME={shlex.quote(user)}",
                f"export OS_PASSWORD={shlex.quote(password)}",
                f"export OS_AUTH_URL={shlex.quote(url)}",
                "export OS_INTERFACE=internal",
                "export OS_ENDPOINT_TYPE=internalURL",
                "export OS_IDENTITY_API_VERSION=3",
                f"export OS_REGION_NAME={shlex.quote(values.openstack_region_name)}",
                "",
            ]
        ),
    )
    return [clouds, openrc]


def operator_key() -> Path:
    """The operator's SSH public key, ~/.ssh/id_ed25519.pub, made (with its private key, by
    ssh-keygen) when missing."""
    private = Path.home() / ".ssh" / "id_ed25519"
    public = private.with_name("id_ed25519.pub")
    if not public.is_file():
        private.parent.mkdir(mode=0o700, exist_ok=True)
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(private)],
                           check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigError(
                f"cannot make an SSH key in {private} ({exc}); give one with --public-key"
            ) from None
    return public


def init_runonce(
    deployment: Deployment,
    desired: Desired,
    engine: ContainerEngine,
    public_key: Path,
    image: str | None = None,
    say: Say = _quiet,
) -> None:
    """What a new core cloud needs before its first server boots (kolla-ansible's
    init-runonce: image, flavors, networks, router, security group rules, key pair), made by
    the deployment's toolbox on the deployment network; idempotent. `image` is a file or an
    http(s) URL; by default the guest disk in the deployment's cirros image."""
    if "neutron" not in desired.state.services or "nova" not in desired.state.services:
        raise ConfigError("init-runonce needs the core cloud: enable_neutron and enable_nova")
    if not public_key.is_file():
        raise ConfigError(f"{public_key}: no such public key (give one with --public-key)")
    clouds, _ = post_deploy(deployment, desired)
    toolbox = image_reference(deployment, TOOLBOX_IMAGE)
    name, uid, gid = deployment.image_users.get(TOOLBOX_IMAGE, ("root", 0, 0))
    environment = {k: v for k, v in os.environ.items() if k in INIT_RUNONCE_SETTINGS}
    with tempfile.TemporaryDirectory(prefix="stackyard-init-") as work:
        folder = Path(work)
        files = {"clouds.yaml": clouds.read_bytes(), "key.pub": public_key.read_bytes(),
                 "init-runonce.sh": INIT_RUNONCE.read_bytes()}  # fmt: skip
        if image is not None and image.startswith(("http://", "https://")):
            environment["IMAGE_URL"] = image
        elif image is not None:
            files["image"] = Path(image).read_bytes()
        else:
            guest = image_reference(deployment, GUEST_IMAGE)
            data = engine.engine.read_file(guest, GUEST_DISK)
            if data is None:
                raise ConfigError(
                    f"{guest} has no {GUEST_DISK}: build it (stackyard build cirros) or give "
                    "--image FILE|URL"
                )
            files["image"] = data
        for file_name, data in files.items():  # the folder is the caller's only (0700)
            (folder / file_name).write_bytes(data)
            (folder / file_name).chmod(0o600)
        for path in [folder, *folder.iterdir()]:
            os.chown(path, uid, gid)
        code = engine.run_tool(
            toolbox,
            ["bash", "/init/init-runonce.sh"],
            user=f"{uid}:{gid}",
            binds=[f"{folder}:/init:ro"],
            environment=environment,
            network=ContainerDef.model_fields["network"].default,
            on_line=say,
        )
    if code != 0:
        raise EngineError(f"init-runonce failed in {toolbox} as {name} (exit {code})")


def prechecks(deployment: Deployment, desired: Desired, engine: ContainerEngine) -> CheckReport:
    """What must hold before a deploy: usable addresses (and how each was checked), images,
    free ports, memory, disk, engine limits."""
    report = CheckReport()
    report.findings.append(Finding("configuration", True, f"valid ({deployment.config_dir})"))
    _, checked = _checked_host(deployment)
    report.findings.extend(Finding(f"{c.key} {c.address}", True, c.detail) for c in checked)
    images = sorted({spec.image for _, spec in desired.specs()})
    for image in images:
        present = engine.engine.inspect_image(image) is not None
        hint = "present" if present else "missing: run `stackyard build` (or `stackyard pull`)"
        report.findings.append(Finding(f"image {image}", present, hint))
    for _, spec in desired.specs():
        for port in spec.ports:
            address, host_port, _ = port.rsplit(":", 2)
            report.findings.append(_port_free(engine, spec.name, address, int(host_port)))
    available = _meminfo_gib("MemAvailable")
    report.findings.append(
        Finding("memory", available >= 2.0, f"{available:.1f} GiB available (need 2)")
    )
    root = engine.engine.api.info().get("DockerRootDir", "/var/lib/docker")
    free = shutil.disk_usage(root).free / 2**30
    report.findings.append(Finding("disk", free >= 5.0, f"{free:.1f} GiB free in {root} (need 5)"))
    report.findings.append(_open_files())
    privileged = [spec.name for _, spec in desired.specs() if spec.privileged]
    report.findings.append(_privileged(engine, images, privileged))
    return report


def _port_free(engine: ContainerEngine, container: str, address: str, port: int) -> Finding:
    """Free, or already published by the stackyard container that is to publish it: the
    engine's record of that container must say so (its name alone proves nothing); otherwise
    whether this host lets the port be bound."""
    what = f"port {address}:{port}"
    if _publishes(engine.inspect(container), address, port):
        return Finding(what, True, f"in use by stackyard's own {container}, which publishes it")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError as exc:
            return Finding(
                what,
                False,
                f"cannot be used ({exc.strerror}); free it or change kolla_internal_vip_address",
            )
    return Finding(what, True, "free")


def _publishes(record: ContainerRecord | None, address: str, port: int) -> bool:
    """Whether the engine's record is of a running stackyard container that publishes exactly
    address:port (what the engine did publish, not what the spec asked)."""
    return (
        record is not None
        and record.running
        and record.labels.get(LABEL_MANAGED) == "true"
        and (address, str(port)) in record.published
    )


def _meminfo_gib(key: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 2**20
    return 0.0


def _open_files() -> Finding:
    limit = int(Path("/proc/sys/fs/nr_open").read_text())
    pid_file = Path("/run/stackyard-dockerd.pid")
    detail = f"kernel allows {limit}"
    if pid_file.exists():
        for line in Path(f"/proc/{pid_file.read_text().strip()}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                detail = f"engine's hard limit {line.split()[4]} (containers cannot exceed it)"
    return Finding("open files limit", True, detail)


def _privileged(engine: ContainerEngine, images: list[str], needed: list[str]) -> Finding:
    """Privileged mode differs between hosts; say whether it works and who would need it."""
    need = f"needed by {', '.join(needed)}" if needed else "no service needs it"
    base = next((i for i in images if engine.engine.inspect_image(i) is not None), None)
    if base is None:
        return Finding("privileged containers", not needed, f"not tested (no image); {need}")
    try:
        allowed = engine.try_privileged(base)
    except EngineError as exc:
        return Finding("privileged containers", not needed, f"could not test ({exc}); {need}")
    return Finding(
        "privileged containers",
        allowed or not needed,
        f"{'allowed' if allowed else 'refused by this host'}; {need}",
    )


def pull(
    deployment: Deployment, desired: Desired, engine: ContainerEngine, say: Say = _quiet
) -> list[str]:
    if not deployment.settings.values.docker_registry:
        raise ConfigError(
            f"{deployment.config_dir / 'globals.yml'}: docker_registry is not set, so there is "
            "nothing to pull from; build the images here with `stackyard build`"
        )
    images = sorted({spec.image for _, spec in desired.specs()})
    for image in images:
        repository, tag = image.rsplit(":", 1)
        say(f"  pulling {image}")
        engine.engine.pull(repository, tag)
    return images
