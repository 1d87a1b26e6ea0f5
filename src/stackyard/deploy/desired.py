"""Deployment + host facts -> the desired state: every container on every host, with its
rendered config files (pure).

This is where service definitions become ContainerSpecs: templates are rendered, operator
overrides merged into INI files, config.json written for kolla_start, and each container's
config digest computed, so a changed override recreates exactly the containers it reaches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stackyard.config.deployment import DIGEST_KEY, GLOBAL_OVERRIDE, Deployment
from stackyard.config.ini import merge, parse_ini
from stackyard.config.ini import render as render_ini
from stackyard.deploy import strategies
from stackyard.deploy.model import (
    CONFIG_MOUNT,
    LABEL_SPEC,
    ContainerSpec,
    DesiredState,
    HealthCheck,
    Kind,
    ServiceState,
    keyed_digest,
)
from stackyard.deploy.templating import evaluate, render, render_file
from stackyard.errors import ConfigError
from stackyard.ordering import dependency_order
from stackyard.services.model import ContainerDef, Service

# Secret variables: files under this folder of the config mount, copied by kolla_set_configs
# to RUN_ENVIRONMENT (0600, the container's user), exported there by kolla_start.
ENVIRONMENT = "environment"
RUN_ENVIRONMENT = "/var/lib/kolla/run/environment"
# A word of a command string: white space outside `{{ }}` separates words.
COMMAND_WORD = re.compile(r"(?:\{\{.*?\}\}|\S)+")
# Secrets at least this long are looked for in what the engine shows (environment, command,
# labels); shorter ones would match ordinary words.
SECRET_SCAN_LENGTH = 8


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What stackyard needs to know about the machine it deploys on."""

    default_address: str  # used as the internal VIP when globals.yml sets none
    local_addresses: frozenset[str] = frozenset()
    # Every IPv4 address of this host as (interface, "address/prefix length"), in the kernel's
    # order: which subnets are local decides where a VIP can live.
    interface_addresses: tuple[tuple[str, str], ...] = ()
    # The kernel's neighbour table for the addresses keepalived would hold, as (address, who
    # answers for it: "02:fc:00:00:00:05 on eth0 (STALE)", or "" when no machine does). An
    # address not listed was not looked up.
    neighbours: tuple[tuple[str, str], ...] = ()
    interfaces: frozenset[str] = frozenset()  # every network interface's name
    # Open vSwitch's kernel datapath is loaded; else the switch runs in user space ("netdev").
    ovs_kernel_module: bool = False
    kvm: bool = False  # /dev/kvm is usable: guests run accelerated, else emulated by QEMU


@dataclass(frozen=True, slots=True)
class Frontend:
    name: str
    service: str
    port: int
    mode: str
    check: str | None
    backend_port: int
    servers: tuple[tuple[str, str], ...]  # (server name, address)
    host_only: bool = False


@dataclass(frozen=True, slots=True)
class Desired:
    """The desired state plus what applying it needs beside the specs."""

    state: DesiredState
    files: dict[tuple[str, str], dict[str, str]]  # (host, container) -> file name -> text
    volumes: dict[str, dict[str, str]]  # host -> named volume -> service
    networks: dict[str, tuple[str, ...]]  # host -> networks
    frontends: tuple[Frontend, ...]
    balancers: dict[str, tuple[tuple[str, tuple[str, ...]], ...]]  # host -> (container, status)
    vip: str
    variables: dict[str, str]  # every active service's `vars`, rendered (URLs, user names)
    secrets: tuple[str, ...] = field(repr=False, default=())

    def specs(self) -> list[tuple[str, ContainerSpec]]:
        return [
            (host, spec)
            for service in self.state.services.values()
            for host, specs in sorted(service.containers.items())
            for spec in specs
        ]


def image_reference(deployment: Deployment, image: str) -> str:
    values = deployment.settings.values
    prefix = f"{values.docker_registry}/" if values.docker_registry else ""
    return f"{prefix}{values.docker_namespace}/{image}:{deployment.image_tag}"


def base_context(deployment: Deployment, facts: HostFacts) -> dict[str, Any]:
    values = deployment.values
    vip = values["kolla_internal_vip_address"] or facts.default_address
    # Secrets first: a passwords.yml key named like a setting must not replace the setting.
    context: dict[str, Any] = dict(deployment.passwords)
    context.update(values)
    context.update({f"enable_{name}": name in deployment.enabled for name in deployment.services})
    context.update(
        kolla_internal_vip_address=vip,
        kolla_internal_vip_is_local=vip in facts.local_addresses,
        groups={g: deployment.inventory.hosts_in(g) for g in deployment.inventory.groups},
        # The bridge every container joins unless it says otherwise (its interface has the
        # same name, which the host firewall matches).
        deployment_network=ContainerDef.model_fields["network"].default,
        # This host's address on the API network (kolla-ansible's name): where services in the
        # host's network namespace listen and tunnels end.
        api_interface_address=facts.default_address,
        ovs_datapath_type="system" if facts.ovs_kernel_module else "netdev",
        nova_virt_type=values.get("nova_compute_virt_type") or ("kvm" if facts.kvm else "qemu"),
    )
    return context


def compute(deployment: Deployment, facts: HostFacts) -> Desired:
    context = base_context(deployment, facts)
    active = _active_services(deployment, context)
    variables: dict[str, str] = {}
    globals_yml = deployment.config_dir / "globals.yml"
    unset = [
        f"{globals_yml}: {key} must be set when {name} is deployed"
        for name in active
        for key in deployment.services[name].definition.requires
        if context.get(key) in (None, "")
    ] + [
        f"{globals_yml}: {name} depends on {dependency}; set enable_{dependency}: yes "
        f"(or enable_{name}: no)"
        for name in active
        for dependency in deployment.services[name].definition.depends_on
        if dependency not in deployment.enabled
        and not (dependency == "mariadb" and deployment.settings.values.database_address)
    ]
    if unset:
        raise ConfigError("\n".join(unset))
    for name in active:
        service = deployment.services[name]
        for key, text in service.definition.vars.items():
            context[key] = variables[key] = render(text, context, f"{_where(service)}: vars: {key}")
    frontends = _frontends(deployment, active, context)
    context["frontends"] = [
        {
            "name": f.name,
            "port": f.port,
            "mode": f.mode,
            "check": f.check,
            "backend_port": f.backend_port,
            "servers": [{"name": n, "address": a} for n, a in f.servers],
            "host_only": f.host_only,
        }
        for f in frontends
    ]
    context["host_only_ports"] = sorted(
        {str(f.port) for f in frontends if f.host_only}
        | {p for name in active for p in deployment.services[name].definition.host_only_ports},
        key=lambda p: int(p.split("-")[0]),
    )
    services: dict[str, ServiceState] = {}
    files: dict[tuple[str, str], dict[str, str]] = {}
    volumes: dict[str, dict[str, str]] = {}
    networks: dict[str, set[str]] = {}
    balancers: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for name in active:
        service = deployment.services[name]
        per_host: dict[str, tuple[ContainerSpec, ...]] = {}
        for host in deployment.inventory.hosts_in(service.definition.group):
            host_context = {**context, "inventory_hostname": host}
            identity = service.definition.identity
            if identity is not None:
                host_context["identity"] = {
                    **identity.model_dump(),
                    "secret": deployment.passwords[identity.password],
                }
            databases = [db.model_dump() for db in service.definition.databases]
            host_context["databases"] = {db["name"]: db for db in databases}
            if databases:
                host_context["database"] = databases[0]
            built = _host_containers(deployment, service, host, host_context, frontends)
            per_host[host] = tuple(spec for spec, _ in built)
            for spec, rendered in built:
                if rendered:
                    files[(host, spec.name)] = rendered
                if spec.network != "host":
                    networks.setdefault(host, set()).add(spec.network)
            balancers.setdefault(host, []).extend(
                (c.name, tuple(c.routing_status))
                for c in service.definition.containers
                if c.routing_status and c.name in {spec.name for spec in per_host[host]}
            )
            for volume in service.definition.volumes:
                volumes.setdefault(host, {})[volume] = name
        definition = service.definition
        services[name] = ServiceState(
            name, tuple(definition.depends_on), per_host, tuple(definition.after),
            definition.serial or 0,
        )  # fmt: skip
    _refuse_exposed_secrets(deployment, services)
    return Desired(
        state=DesiredState(services),
        files=files,
        volumes=volumes,
        networks={h: tuple(sorted(n)) for h, n in networks.items()},
        frontends=tuple(frontends),
        balancers={host: tuple(found) for host, found in balancers.items() if found},
        vip=context["kolla_internal_vip_address"],
        variables=variables,
        secrets=tuple(sorted(v for v in deployment.passwords.values() if v)),
    )


def _where(service: Service) -> str:
    return f"{service.folder}/service.yaml"


def _refuse_exposed_secrets(deployment: Deployment, services: dict[str, ServiceState]) -> None:
    """No secret may reach what the engine shows anyone who can inspect a container (its
    environment, command and labels): a definition that would put one there is refused, by
    key and container, before anything runs. Secrets belong in config files or
    `secret_environment`."""
    secrets = {k: v for k, v in deployment.passwords.items() if len(v) >= SECRET_SCAN_LENGTH}
    problems = []
    for state in services.values():
        for host, specs in state.containers.items():
            for spec in specs:
                shown = spec.labels()[LABEL_SPEC]
                leaked = sorted(key for key, value in secrets.items() if value in shown
                                or json.dumps(value)[1:-1] in shown)  # fmt: skip
                problems += [
                    f"{_where(deployment.services[state.name])}: {spec.name} on {host}: the "
                    f"value of {key} would be visible in the container's environment, command "
                    "or labels; pass it in a config file or `secret_environment`"
                    for key in leaked
                ]
    if problems:
        raise ConfigError("\n".join(problems))


def _active_services(deployment: Deployment, context: dict[str, Any]) -> list[str]:
    """Enabled services whose `when:` holds, each after the ones it depends on."""
    chosen = [
        name
        for name in deployment.enabled
        if (when := deployment.services[name].definition.when) is None
        or evaluate(when, context, f"{_where(deployment.services[name])}: when")
    ]
    definitions = {n: deployment.services[n].definition for n in chosen}
    graph = {
        n: sorted(d for d in (*definition.depends_on, *definition.after) if d in chosen)
        for n, definition in definitions.items()
    }
    return dependency_order(graph, "service dependencies")


def _frontends(
    deployment: Deployment, active: list[str], context: dict[str, Any]
) -> list[Frontend]:
    owner = {
        spec.name: name
        for name in active
        for spec in deployment.services[name].definition.containers
    }
    result = []
    for name in active:
        for f in deployment.services[name].definition.frontends:
            if f.backend not in owner:
                continue
            group = deployment.services[owner[f.backend]].definition.group
            servers = tuple((host, f.backend) for host in context["groups"][group])
            result.append(
                Frontend(
                    f.name, name, f.port, f.mode, f.check, f.backend_port, servers, f.host_only
                )
            )
    return result


def _host_containers(
    deployment: Deployment,
    service: Service,
    host: str,
    context: dict[str, Any],
    frontends: list[Frontend],
) -> list[tuple[ContainerSpec, dict[str, str]]]:
    definition = service.definition
    containers = {c.name: c for c in definition.containers}
    built: list[tuple[ContainerSpec, dict[str, str]]] = []
    jobs: list[str] = []
    for job in strategies.jobs(service.name, definition, context):
        built.append(_spec(deployment, service, host, job, None, True, context, frontends, ()))
        jobs.append(job.name)
    for job in definition.jobs:
        if job.when is None or evaluate(job.when, context, f"{_where(service)}: {job.name}: when"):
            base = containers[job.like] if job.like else None
            built.append(_spec(deployment, service, host, job, base, True, context, frontends, ()))
            # A job that follows one of the service's containers (it needs the running API)
            # is not one the containers wait for.
            if not set(job.after or ()) & containers.keys():
                jobs.append(job.name)
    for container in definition.containers:
        where = f"{_where(service)}: {container.name}: when"
        if container.when is None or evaluate(container.when, context, where):
            after = tuple(container.after) if container.after is not None else tuple(jobs)
            built.append(
                _spec(deployment, service, host, container, None, False, context, frontends, after)
            )
    return built


def _spec(
    deployment: Deployment,
    service: Service,
    host: str,
    own: ContainerDef,
    base: ContainerDef | None,
    job: bool,
    context: dict[str, Any],
    frontends: list[Frontend],
    after: tuple[str, ...],
) -> tuple[ContainerSpec, dict[str, str]]:
    """One container or job on one host; a job `like:` a container inherits from `base`."""
    where = f"{_where(service)}: {own.name}"

    def pick(name: str) -> Any:
        value = getattr(own, name)
        if base is not None and name not in own.model_fields_set:
            return getattr(base, name)
        return value

    def text(value: str, key: str) -> str:
        return render(value, context, f"{where}: {key}")

    def merged(name: str) -> dict[str, str]:
        """A mapping a job extends: the container's entries, then the job's own."""
        inherited = getattr(base, name) if base is not None else {}
        values = {**inherited, **getattr(own, name)}
        return {k: text(v, f"{name}.{k}") for k, v in values.items()}

    values = deployment.settings.values
    image = pick("image")
    user = deployment.image_users.get(image, ("root", 0, 0))
    argv = pick("argv")
    environment = merged("environment")
    secret_environment = merged("secret_environment")
    files: dict[str, str] = {}
    command: tuple[str, ...] = ()
    if argv is None:
        command = command_words(pick("command"), context, f"{where}: command")
        if not command:
            raise ConfigError(f"{where}: needs a `command` (run by kolla_start) or `argv`")
        files = _config_files(deployment, service, host, pick("config_files"), context, where)
        files.update({f"{ENVIRONMENT}/{k}": v for k, v in secret_environment.items()})
        files["config.json"] = _config_json(
            command, pick("config_files"), secret_environment, user[0]
        )
        environment.setdefault("KOLLA_CONFIG_STRATEGY", values.config_strategy)
        environment.setdefault("KOLLA_SERVICE_NAME", service.name)
    ports = pick("ports")
    if ports == "frontends":
        vip = context["kolla_internal_vip_address"]
        ports = [f"{vip}:{f.port}:{f.port}" for f in frontends]
    check = pick("healthcheck") if not job else None
    network = pick("network")
    healthcheck = None
    if check is not None and values.enable_container_healthchecks:
        healthcheck = HealthCheck(
            tuple(text(t, "healthcheck.test") for t in check.test),
            check.interval,
            check.timeout,
            check.retries,
            check.start_period,
        )
    spec = ContainerSpec(
        name=own.name,
        service=service.name,
        image=image_reference(deployment, image),
        command=command,
        kind=Kind.JOB if job else Kind.SERVICE,
        argv=tuple(text(a, "argv") for a in argv or ()),
        environment=tuple(sorted(environment.items())),
        volumes=tuple(text(v, "volumes") for v in pick("volumes")),
        network=network,
        hostname=None if network == "host" else (pick("hostname") or own.name.replace("_", "-")),
        ports=tuple(text(p, "ports") for p in ports),
        healthcheck=healthcheck,
        user=f"{user[1]}:{user[2]}",
        privileged=pick("privileged"),
        cap_add=tuple(sorted(pick("cap_add"))),
        devices=tuple(d for d in (text(d, "devices") for d in pick("devices")) if d),
        group_add=tuple(pick("group_add")),
        no_new_privileges=pick("no_new_privileges"),
        sysctls=tuple(sorted(pick("sysctls").items())),
        tmpfs=tuple(pick("tmpfs")),
        ulimits=tuple(sorted(pick("ulimits").items())),
        pids_limit=pick("pids_limit") or values.container_pids_limit,
        memory_limit=pick("memory_limit"),
        log_options=log_options(deployment),
        config_digest=keyed_digest(digest_key(deployment), files) if files else "",
        secret_digest=(
            keyed_digest(digest_key(deployment), secret_environment) if secret_environment else ""
        ),
        after=tuple(own.after) if own.after is not None else after,
        deadline=own.deadline if job else (check.deadline if check else 30.0),
        once=job and own.once,
    )
    return spec, files


def command_words(
    command: str | list[str] | None, context: dict[str, Any], where: str
) -> tuple[str, ...]:
    """The argv of a command: a list item, or a word of a string (white space outside
    `{{ }}` separates words), each rendered on its own, so a value holding spaces or `*`
    stays one argument and is never globbed."""
    if command is None:
        return ()
    words = COMMAND_WORD.findall(command) if isinstance(command, str) else command
    return tuple(render(word, context, where) for word in words)


def log_options(deployment: Deployment) -> tuple[tuple[str, str], ...]:
    values = deployment.settings.values
    return (("max-file", str(values.docker_log_max_file)), ("max-size", values.docker_log_max_size))


def digest_key(deployment: Deployment) -> str:
    return deployment.passwords[DIGEST_KEY]


def _config_files(
    deployment: Deployment,
    service: Service,
    host: str,
    configs: list[Any],
    context: dict[str, Any],
    where: str,
) -> dict[str, str]:
    files: dict[str, str] = {}
    for config in configs:
        name = config.dest.rsplit("/", 1)[1]
        rendered = render_file(service.folder, service.templates, config.template, context)
        if config.merge == "ini":
            document = parse_ini(rendered, f"{service.folder}/{config.template} (rendered)")
            layers = [
                deployment.overrides[key]
                for key in override_layers(service.name, host, name)
                if key in deployment.overrides
            ]
            rendered = render_ini(merge(document, *layers))
        files[name] = rendered
    return files


def override_layers(service: str, host: str, name: str) -> tuple[str, ...]:
    """The override files (relative to config/) merged into a service's config file `name`
    on a host, lowest precedence first."""
    return (GLOBAL_OVERRIDE, name, f"{service}/{name}", f"{service}/{host}/{name}")


def _config_json(
    command: tuple[str, ...], configs: list[Any], secrets: dict[str, str], user: str
) -> str:
    """kolla_set_configs' instructions: the command as a list (one value, one argument), the
    config files, and one 0600 file per secret variable for kolla_start to export."""
    entries = [
        {
            "source": f"{CONFIG_MOUNT}/{c.dest.rsplit('/', 1)[1]}",
            "dest": c.dest,
            "owner": c.owner,
            "perm": c.perm,
        }
        for c in configs
    ] + [
        {
            "source": f"{CONFIG_MOUNT}/{ENVIRONMENT}/{name}",
            "dest": f"{RUN_ENVIRONMENT}/{name}",
            "owner": user,
            "perm": "0600",
        }
        for name in sorted(secrets)
    ]
    document = {"command": list(command), "config_files": entries}
    return json.dumps(document, indent=4, sort_keys=True) + "\n"
