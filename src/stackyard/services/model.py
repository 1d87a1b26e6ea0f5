"""The schema of a service definition (`data/services/<name>/service.yaml`), validated by pydantic.

A service is data: its containers, one-shot jobs, volumes, health checks, config templates,
HAProxy frontends, database and secrets. String values may use Jinja2 (`{{ database_address }}`)
and `when:` takes a Jinja2 expression, so a new service needs files only. The few behaviours
that cannot be data are named strategies: `databases:` (each a database and its user, created
by a toolbox job), `identity:` (a keystone user, roles and catalog entries, made by a toolbox
job) and `ports: frontends` (publish every HAProxy frontend on the internal VIP).

What a container may do is declared here too: every container starts with no capability and
with no-new-privileges; `cap_add` names the few a service needs, and `no_new_privileges: false`
is for the rare one whose start contract needs sudo. Secrets reach a container only as files
(`secret_environment`), never in its environment, command or labels.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from stackyard.releases import RELEASES

NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
TRUE = {"yes", "true", "on", "1"}
FALSE = {"no", "false", "off", "0"}
PERM = re.compile(r"0?[0-7]{3}\Z")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SIZE = re.compile(r"[1-9][0-9]*[kmg]\Z")
ENGINE_INT = 2**63 - 1  # the engine's integers are 64-bit
# Linux capabilities a container may ask for (capabilities(7)), without the CAP_ prefix.
CAPABILITIES = frozenset(
    [
        "AUDIT_CONTROL",
        "AUDIT_READ",
        "AUDIT_WRITE",
        "BLOCK_SUSPEND",
        "BPF",
        "CHECKPOINT_RESTORE",
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "IPC_LOCK",
        "IPC_OWNER",
        "KILL",
        "LEASE",
        "LINUX_IMMUTABLE",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "MKNOD",
        "NET_ADMIN",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_RAW",
        "PERFMON",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_CHROOT",
        "SYS_MODULE",
        "SYS_NICE",
        "SYS_PACCT",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "SYSLOG",
        "WAKE_ALARM",
    ]
)
ULIMITS = frozenset(
    [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ]
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheckDef(_Strict):
    """The engine's health check (CMD form) and how long a deploy waits for it to pass."""

    test: list[str] = Field(min_length=1)
    interval: float = Field(10.0, gt=0)
    timeout: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=1, le=ENGINE_INT)
    start_period: float = Field(5.0, ge=0)
    deadline: float = Field(90.0, gt=0)


class ConfigFileDef(_Strict):
    """A template rendered for the container and copied into place by kolla_set_configs."""

    template: str
    dest: str
    owner: str
    perm: str = "0600"
    merge: Literal["ini"] | None = None  # operator override files merged at section/key level

    @field_validator("perm")
    @classmethod
    def _perm(cls, value: str) -> str:
        if not PERM.match(value):
            raise ValueError(f"{value!r} is not an octal mode such as '0600'")
        return value

    @field_validator("dest")
    @classmethod
    def _dest(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/"):
            raise ValueError(f"{value!r} must be an absolute file path")
        return value


class ContainerDef(_Strict):
    """A long-running container, or (in `jobs:`) a one-shot container that must exit 0."""

    name: str
    image: str | None = None
    like: str | None = None  # jobs: start from this container's image, volumes and config
    # The service command, written to config.json for kolla_start: a list keeps each value one
    # argument; in a string, words are split on white space outside `{{ }}`, so a setting
    # holding a space stays one argument either way.
    command: str | list[str] | None = None
    argv: list[str] | None = None  # run this directly instead of kolla_start
    environment: dict[str, str] = {}
    # Variables whose values are secrets: delivered as 0600 files kolla_start exports.
    secret_environment: dict[str, str] = {}
    volumes: list[str] = []
    config_files: list[ConfigFileDef] = []
    healthcheck: HealthCheckDef | None = None
    network: str = "stackyard"
    hostname: str | None = None
    privileged: bool = False
    cap_add: list[str] = []
    # Host devices the container may use (/dev/net/tun); an item that renders empty is
    # dropped, so a device can depend on a fact ("{{ '/dev/kvm' if ... else '' }}").
    devices: list[str] = []
    # Supplementary groups (names in the image): the engine runs a container as its image's
    # uid:gid, without the groups /etc/group gives that user, so a shared socket's group is
    # granted here.
    group_add: list[str] = []
    no_new_privileges: bool = True
    sysctls: dict[str, str] = {}
    tmpfs: list[str] = []
    ulimits: dict[str, int] = {}  # soft and hard limit alike
    # default: container_pids_limit
    pids_limit: Annotated[int, Field(ge=16, le=ENGINE_INT)] | None = None
    memory_limit: str | None = None  # e.g. 512m, 2g
    ports: list[str] | Literal["frontends"] = []
    after: list[str] | None = None
    # A load balancer: this command prints its HAProxy `show stat` CSV, and a deploy waits
    # until the balancer routes to every backend it has replaced.
    routing_status: list[str] | None = None
    when: str | None = None
    deadline: float = Field(300.0, gt=0)  # jobs: seconds to exit
    # jobs: run on one host of the service, once per deployment (a schema sync), not on each
    once: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and _")
        return value

    @field_validator("cap_add")
    @classmethod
    def _caps(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c.removeprefix("CAP_") not in CAPABILITIES]
        if unknown:
            raise ValueError(f"{unknown} are not Linux capabilities (see capabilities(7))")
        return [c.removeprefix("CAP_") for c in value]

    @field_validator("ulimits")
    @classmethod
    def _ulimits(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - ULIMITS)
        if unknown:
            raise ValueError(f"{unknown} are not limits; valid: {', '.join(sorted(ULIMITS))}")
        wrong = sorted(name for name, limit in value.items() if not -1 <= limit <= ENGINE_INT)
        if wrong:
            raise ValueError(f"{wrong} must be from -1 (unlimited) to {ENGINE_INT}")
        return value

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not SIZE.match(value):
            raise ValueError(f"{value!r} is not a size such as '512m' or '2g'")
        return value

    @model_validator(mode="after")
    def _one_command(self) -> ContainerDef:
        if self.command is not None and self.argv is not None:
            raise ValueError("give `command` (run by kolla_start) or `argv`, not both")
        bad = sorted(k for k in [*self.environment, *self.secret_environment]
                     if not ENV_NAME.match(k))  # fmt: skip
        if bad:
            raise ValueError(f"{bad} are not environment variable names")
        both = sorted(set(self.environment) & set(self.secret_environment))
        if both:
            raise ValueError(f"{both} are in both environment and secret_environment")
        if self.secret_environment and self.argv is not None:
            raise ValueError(
                "secret_environment needs kolla_start (a `command`): with `argv` nothing "
                "would read the secret files"
            )
        return self


class FrontendDef(_Strict):
    """An API published through HAProxy on the internal VIP."""

    name: str
    port: int = Field(gt=0, lt=65536)
    backend: str  # container name
    backend_port: int = Field(gt=0, lt=65536)
    mode: Literal["http", "tcp"] = "http"
    check: str | None = None  # HTTP path for backend health checks
    # For the deployment's own processes only (a message bus, OVN's databases): the host
    # firewall lets this host's root and the deployment's containers reach it, nobody else.
    host_only: bool = False


class DatabaseDef(_Strict):
    """A database and a user with all privileges on it, created on the database server."""

    name: str
    user: str
    password: str  # key in passwords.yml


class CatalogEntryDef(_Strict):
    """A service in keystone's catalog, with its internal and public endpoint URLs."""

    name: str
    type: str
    description: str = ""
    internal: str
    public: str


class DomainDef(_Strict):
    """A keystone domain the service manages, with its admin user (heat's stack users)."""

    name: str
    admin: str
    password: str  # key in passwords.yml


class IdentityDef(_Strict):
    """The service's keystone user (in project `service`), its roles and catalog entries;
    roles that must exist for its users (`extra_roles`) and domains it administers."""

    user: str
    password: str  # key in passwords.yml
    roles: list[str] = ["admin", "service"]
    services: list[CatalogEntryDef] = []
    extra_roles: list[str] = []
    domains: list[DomainDef] = []


class SettingDef(_Strict):
    """A globals.yml key the service reads (kolla-ansible's name where it has one): declared
    here, so a new service's settings need no code; globals.yml is checked against it and its
    templates see the value (or the default) under the key's name."""

    description: str
    type: Literal["string", "integer", "flag"] = "string"
    default: str | int | bool | None = None
    pattern: str | None = None  # strings: the whole value must match (Python's re)
    choices: list[str] | None = None  # strings: one of these
    minimum: Annotated[int, Field(ge=-ENGINE_INT - 1)] | None = None  # integers
    maximum: Annotated[int, Field(le=ENGINE_INT)] | None = None  # integers

    def annotation(self) -> Any:
        """The type a value must have, with its constraints, for pydantic."""
        annotation: Any
        if self.type == "integer":
            low = -ENGINE_INT - 1 if self.minimum is None else self.minimum
            high = ENGINE_INT if self.maximum is None else self.maximum
            annotation = Annotated[int, BeforeValidator(_whole_number), Field(ge=low, le=high)]
        elif self.type == "flag":
            annotation = Annotated[bool, BeforeValidator(parse_flag)]
        elif self.choices:
            annotation = Literal[tuple(self.choices)]
        else:
            whole = None if self.pattern is None else rf"\A(?:{self.pattern})\Z"
            annotation = Annotated[str, Field(pattern=whole)]
        return annotation if self.default is not None else annotation | None

    @model_validator(mode="after")
    def _consistent(self) -> SettingDef:
        if self.type != "string" and (self.pattern or self.choices):
            raise ValueError("`pattern` and `choices` are for strings")
        if self.pattern and self.choices:
            raise ValueError("`pattern` or `choices`, not both")
        if self.type != "integer" and (self.minimum, self.maximum) != (None, None):
            raise ValueError("`minimum` and `maximum` are for integers")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and low > high:
            raise ValueError(f"`minimum` {low} is above `maximum` {high}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r}: {exc}") from None
        kinds = {"string": str, "integer": int, "flag": bool}
        if self.default is not None:
            # Exactly its type (a bool is an int, and must not pass as one), and valid.
            named = {
                "string": "a string",
                "integer": "an integer",
                "flag": "a flag (true or false)",
            }
            if type(self.default) is not kinds[self.type]:
                raise ValueError(f"default {self.default!r} is not {named[self.type]}")
            try:
                TypeAdapter(self.annotation(), config=SETTING_CONFIG).validate_python(self.default)
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                raise ValueError(f"default {self.default!r}: {reason}") from None
        return self


# Patterns are Python's re (what the definition is checked with), for pydantic too.
SETTING_CONFIG = ConfigDict(regex_engine="python-re")


def _whole_number(value: object) -> object:
    """pydantic reads true as 1 and 3.0 as 3: for an integer, a yes/no value or a decimal is
    a mistake (text is read, as `{{ setting }}` references give text)."""
    if isinstance(value, bool | float):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def parse_flag(value: object) -> bool:
    """Ansible-style booleans: yes/no, true/false, on/off (any case), or real booleans."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f'expected "yes" or "no", got {value!r}')


class ReleaseUpgradesDef(_Strict):
    """An OpenStack service: OpenStack's rules for moving between its releases apply (one at a
    time, or SLURP to SLURP); `also` names further moves (from release: to release) its own
    upgrade path allows (say why beside it)."""

    also: dict[str, str] = {}

    @field_validator("also")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({r for pair in value.items() for r in pair} - set(RELEASES))
        if unknown:
            raise ValueError(f"unknown releases {unknown}; known: {', '.join(RELEASES)}")
        backwards = [
            f"{a} -> {b}" for a, b in value.items() if RELEASES.index(b) <= RELEASES.index(a)
        ]
        if backwards:
            raise ValueError(f"{', '.join(backwards)}: not an upgrade")
        return value


class ServiceDef(_Strict):
    description: str
    group: str
    enabled: bool = True  # the default of `enable_<name>` in globals.yml
    core: bool = False  # part of the core cloud: `enable_openstack_core` is its default
    when: str | None = None  # deployed only when this Jinja2 expression is true
    depends_on: list[str] = []  # needed: enabling this service needs them enabled, started first
    # Started after these when they are deployed too, without needing them (neutron reports
    # port events to nova's API, which must be up to take them; neutron also runs alone).
    after: list[str] = []
    # At most this many hosts changed at a time (rolled, each batch gated), whatever
    # kolla_serial allows: a service that must keep a quorum or capacity says so here.
    serial: Annotated[int, Field(ge=1)] | None = None
    requires: list[str] = []  # globals.yml keys that must be set when the service is deployed
    settings: dict[str, SettingDef] = {}  # the globals.yml keys it declares (see SettingDef)
    # OpenStack's release rules (none for infrastructure, whose versions have rules of their own)
    release_upgrades: ReleaseUpgradesDef | None = None
    secrets: list[str] = []
    volumes: list[str] = []  # named volumes holding the service's data
    # Ports (N or N-M) the service listens on in the host's network namespace that only this
    # host's root and the deployment's containers may reach (the host firewall refuses the
    # rest): guests' VNC consoles, for example.
    host_only_ports: list[
        Annotated[str, Field(pattern=r"^[1-9][0-9]{0,4}(-[1-9][0-9]{0,4})?$")]
    ] = []
    vars: dict[str, str] = {}  # values every template can use, e.g. keystone_internal_url
    # Secrets written into URLs (besides database passwords): letters, digits and - . _ ~ only.
    url_secrets: list[str] = []
    databases: list[DatabaseDef] = []
    identity: IdentityDef | None = None
    frontends: list[FrontendDef] = []
    jobs: list[ContainerDef] = []
    containers: list[ContainerDef] = []

    @field_validator("settings")
    @classmethod
    def _setting_names(cls, value: dict[str, SettingDef]) -> dict[str, SettingDef]:
        bad = [key for key in value if not NAME.match(key)]
        if bad:
            raise ValueError(f"{bad}: a setting is named with a-z, 0-9 and _, starting a-z")
        return value

    @field_validator("containers")
    @classmethod
    def _once_is_for_jobs(cls, value: list[ContainerDef]) -> list[ContainerDef]:
        once = [c.name for c in value if c.once]
        if once:
            raise ValueError(f"{once}: `once` is for jobs (a container runs on every host)")
        return value

    def merged_config_files(self, name: str) -> list[ConfigFileDef]:
        """The config files operator overrides are merged into (`merge: ini`) of a container
        or job: a job `like:` a container has the container's unless it names its own; one
        run with `argv`, or one the service does not define (the database job), has none."""
        containers = {c.name: c for c in self.containers}
        own = containers.get(name) or next((j for j in self.jobs if j.name == name), None)
        if own is None:
            return []
        base = containers.get(own.like) if own.like else None

        def inherited(field: str) -> Any:
            use_base = base is not None and field not in own.model_fields_set
            return getattr(base if use_base else own, field)

        if inherited("argv") is not None:
            return []
        return [c for c in inherited("config_files") if c.merge == "ini"]


class Service(BaseModel):
    """A loaded definition: its name, folder and validated content."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    folder: str
    definition: ServiceDef
    templates: dict[str, str]  # file name -> template text
