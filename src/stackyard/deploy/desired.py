"""Deployment + host facts -> the desired state: every container on every host, with its
rendered config files (pure).

This is where service definitions become ContainerSpecs: templates are rendered, operator
overrides merged into INI files, config.json written for kolla_start, and each container's
config digest computed, so a changed override recreates exactly the containers it reaches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from stackyard.config.deployment import GLOBAL_OVERRIDE, Deployment
from stackyard.config.ini import merge, parse_ini
from stackyard.config.ini import render as render_ini
from stackyard.deploy.model import (
    CONFIG_MOUNT,
    ContainerSpec,
    DesiredState,
    HealthCheck,
    Kind,
    ServiceState,
)
from stackyard.deploy.templating import evaluate, render
from stackyard.errors import ConfigError
from stackyard.ordering import dependency_order
from stackyard.services.model import ContainerDef, Service

TOOLBOX_IMAGE = "toolbox"

# The `database:` strategy: create the database and its user, or update the user's password,
# on the internal or an external server; retried while the server comes up.
DATABASE_SCRIPT = """\
set -o errexit -o nounset -o pipefail
password=${DB_PASSWORD//\\'/\\'\\'}
for attempt in $(seq 30); do
    if answer=$(mariadb --host="$DB_HOST" --port="$DB_PORT" --user="$DB_ADMIN_USER" \\
            --connect-timeout=5 --execute 'SELECT 1' 2>&1); then
        break
    fi
    case $answer in
        *"ERROR 2002"* | *"ERROR 2003"* | *"ERROR 2005"* | *"ERROR 2013"*)
            echo "database server $DB_HOST:$DB_PORT not reachable yet (attempt $attempt)" >&2
            sleep 2 ;;
        *)
            echo "$answer" >&2
            echo "cannot log in to $DB_HOST:$DB_PORT as $DB_ADMIN_USER: check database_user" \\
                "and database_password in passwords.yml" >&2
            exit 1 ;;
    esac
done
mariadb --host="$DB_HOST" --port="$DB_PORT" --user="$DB_ADMIN_USER" <<SQL
CREATE DATABASE IF NOT EXISTS \\`$DB_NAME\\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$password';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \\`$DB_NAME\\`.* TO '$DB_USER'@'%';
SQL
echo "database $DB_NAME and user $DB_USER ready on $DB_HOST:$DB_PORT"
"""


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What stackyard needs to know about the machine it deploys on."""

    default_address: str  # used as the internal VIP when globals.yml sets none
    local_addresses: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Frontend:
    name: str
    service: str
    port: int
    mode: str
    check: str | None
    backend_port: int
    servers: tuple[tuple[str, str], ...]  # (server name, address)


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
        }
        for f in frontends
    ]
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
            if service.definition.database is not None:
                host_context["database"] = service.definition.database.model_dump()
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
        services[name] = ServiceState(name, tuple(service.definition.depends_on), per_host)
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


def _active_services(deployment: Deployment, context: dict[str, Any]) -> list[str]:
    """Enabled services whose `when:` holds, each after the ones it depends on."""
    chosen = [
        name
        for name in deployment.enabled
        if (when := deployment.services[name].definition.when) is None
        or evaluate(when, context, f"{_where(deployment.services[name])}: when")
    ]
    graph = {
        n: sorted(d for d in deployment.services[n].definition.depends_on if d in chosen)
        for n in chosen
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
            result.append(Frontend(f.name, name, f.port, f.mode, f.check, f.backend_port, servers))
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
    if definition.database is not None:
        built.append((_database_job(deployment, service, context), {}))
        jobs.append(built[-1][0].name)
    for job in definition.jobs:
        if job.when is None or evaluate(job.when, context, f"{_where(service)}: {job.name}: when"):
            base = containers[job.like] if job.like else None
            built.append(_spec(deployment, service, host, job, base, True, context, frontends, ()))
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

    image = pick("image")
    command = pick("command")
    argv = pick("argv")
    environment = {k: text(v, f"environment.{k}") for k, v in pick("environment").items()}
    if base is not None and "environment" in own.model_fields_set:
        environment = {
            **{k: text(v, f"environment.{k}") for k, v in base.environment.items()},
            **environment,
        }
    files: dict[str, str] = {}
    command_text = ""
    if argv is None:
        command_text = " ".join(text(command or "", "command").split())
        if not command_text:
            raise ConfigError(f"{where}: needs a `command` (run by kolla_start) or `argv`")
        files = _config_files(deployment, service, host, pick("config_files"), context, where)
        files["config.json"] = _config_json(command_text, pick("config_files"))
        environment.setdefault("KOLLA_CONFIG_STRATEGY", deployment.settings.values.config_strategy)
        environment.setdefault("KOLLA_SERVICE_NAME", service.name)
    ports = pick("ports")
    if ports == "frontends":
        vip = context["kolla_internal_vip_address"]
        ports = [f"{vip}:{f.port}:{f.port}" for f in frontends]
    check = pick("healthcheck") if not job else None
    network = pick("network")
    healthcheck = None
    if check is not None and deployment.settings.values.enable_container_healthchecks:
        healthcheck = HealthCheck(
            tuple(text(t, "healthcheck.test") for t in check.test),
            check.interval,
            check.timeout,
            check.retries,
            check.start_period,
        )
    secret_env = tuple(sorted(set(pick("secret_environment")) | set(own.secret_environment)))
    spec = ContainerSpec(
        name=own.name,
        service=service.name,
        image=image_reference(deployment, image),
        command=command_text,
        kind=Kind.JOB if job else Kind.SERVICE,
        argv=tuple(text(a, "argv") for a in argv or ()),
        environment=tuple(sorted(environment.items())),
        volumes=tuple(text(v, "volumes") for v in pick("volumes")),
        network=network,
        hostname=None if network == "host" else (pick("hostname") or own.name.replace("_", "-")),
        ports=tuple(text(p, "ports") for p in ports),
        healthcheck=healthcheck,
        privileged=pick("privileged"),
        cap_add=tuple(pick("cap_add")),
        sysctls=tuple(sorted(pick("sysctls").items())),
        tmpfs=tuple(pick("tmpfs")),
        config_digest=config_digest(files) if files else "",
        after=tuple(own.after) if own.after is not None else after,
        deadline=own.deadline if job else (check.deadline if check else 30.0),
        secret_env=secret_env,
    )
    return spec, files


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
        rendered = render(
            service.templates[config.template], context, f"{service.folder}/{config.template}"
        )
        if config.merge == "ini":
            document = parse_ini(rendered, f"{service.folder}/{config.template} (rendered)")
            layers = [
                deployment.overrides[key]
                for key in (
                    GLOBAL_OVERRIDE,
                    name,
                    f"{service.name}/{name}",
                    f"{service.name}/{host}/{name}",
                )
                if key in deployment.overrides
            ]
            rendered = render_ini(merge(document, *layers))
        files[name] = rendered
    return files


def _config_json(command: str, configs: list[Any]) -> str:
    document = {
        "command": command,
        "config_files": [
            {
                "source": f"{CONFIG_MOUNT}/{c.dest.rsplit('/', 1)[1]}",
                "dest": c.dest,
                "owner": c.owner,
                "perm": c.perm,
            }
            for c in configs
        ],
    }
    return json.dumps(document, indent=4, sort_keys=True) + "\n"


def config_digest(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()[:16]


def _database_job(
    deployment: Deployment, service: Service, context: dict[str, Any]
) -> ContainerSpec:
    database = service.definition.database
    assert database is not None
    values = deployment.settings.values
    environment = {
        "DB_HOST": str(context["database_address"]),
        "DB_PORT": str(values.database_port),
        "DB_ADMIN_USER": values.database_user,
        "MYSQL_PWD": deployment.passwords["database_password"],
        "DB_NAME": database.name,
        "DB_USER": database.user,
        "DB_PASSWORD": deployment.passwords[database.password],
    }
    return ContainerSpec(
        name=f"{service.name}_database",
        service=service.name,
        image=image_reference(deployment, TOOLBOX_IMAGE),
        command="",
        kind=Kind.JOB,
        argv=("bash", "-c", DATABASE_SCRIPT),
        environment=tuple(sorted(environment.items())),
        hostname=f"{service.name}-database",
        deadline=120.0,
        secret_env=("DB_PASSWORD", "MYSQL_PWD"),
    )
