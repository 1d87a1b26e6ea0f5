"""Value types of the deploy pipeline (pure).

A ContainerSpec is everything stackyard decides about one container on one host. Its canonical
JSON is stored on the container as a label when it is created, so the engine itself records
what was deployed: the planner compares that record with the desired spec, field by field, and
needs no local state.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

LABEL_SPEC = "stackyard.spec"
LABEL_HASH = "stackyard.spec-hash"
LABEL_SERVICE = "stackyard.service"
LABEL_MANAGED = "stackyard.managed"
LABEL_KIND = "stackyard.kind"
LABEL_CREATED = "stackyard.created"  # on volumes: Unix time, so jobs can tell new data
# Where kolla_start finds config.json and the files it copies (Kolla container contract).
CONFIG_MOUNT = "/var/lib/kolla/config_files"
# A container being replaced is kept under this suffix until its successor is healthy.
PREVIOUS = "-previous"
# Orchestration hints: they say how to run a container, not what it is, so changing them
# does not recreate anything and they are not part of the recorded spec.
NOT_RECORDED = ("after", "deadline", "once")
# Fields added after containers were first deployed: recorded only when set, so upgrading
# stackyard alone changes no recorded spec and recreates nothing.
RECORDED_WHEN_SET = ("devices", "group_add")


@dataclass(frozen=True, slots=True)
class HealthCheck:
    test: tuple[str, ...]
    interval: float = 10.0
    timeout: float = 10.0
    retries: int = 3
    start_period: float = 5.0


class Kind(enum.Enum):
    SERVICE = "service"  # runs until stopped, gated on its health check
    JOB = "job"  # one-shot step that must exit 0; kept, exited, as the record that it ran


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """One container as it should run. Field order is the order changes are reported in.

    `command` is the service command kolla_start runs (from config.json); `argv` replaces the
    image's command for containers that do not use kolla_start. Nothing here is secret: secrets
    travel in the config files, which the spec knows only by a keyed digest. Every container
    drops every capability but `cap_add`.
    """

    name: str
    service: str
    image: str
    command: tuple[str, ...]
    kind: Kind = Kind.SERVICE
    argv: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    volumes: tuple[str, ...] = ()
    network: str = "stackyard"
    hostname: str | None = None
    ports: tuple[str, ...] = ()  # HOST_IP:HOST_PORT:CONTAINER_PORT
    healthcheck: HealthCheck | None = None
    user: str | None = None  # uid:gid the container runs as (and owns its config files)
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()  # host device paths, mapped to the same path
    group_add: tuple[str, ...] = ()  # supplementary groups, by name
    no_new_privileges: bool = True
    sysctls: tuple[tuple[str, str], ...] = ()
    tmpfs: tuple[str, ...] = ()
    ulimits: tuple[tuple[str, int], ...] = ()  # name, soft and hard limit
    pids_limit: int | None = None
    memory_limit: str | None = None
    log_options: tuple[tuple[str, str], ...] = ()  # json-file driver options (rotation)
    config_digest: str = ""  # keyed digest of the rendered config files the container mounts
    # Keyed digest of the secret variables alone: a job runs again when one changes, though
    # not when a config file it shares with its service does.
    secret_digest: str = ""
    after: tuple[str, ...] = ()  # containers of the same service that must be ready first
    deadline: float = 90.0  # seconds to become healthy (service) or to exit (job)
    once: bool = False  # a job run on one host of its service, once per deployment

    def record_text(self) -> str:
        """The canonical JSON of the record: what the spec label holds."""
        record = _record(self)
        return _orjson_text(record, self.healthcheck) or canonical_json(record)

    def to_record(self) -> dict[str, Any]:
        """Canonical JSON form, exactly as it reads back from the label (tuples are lists)."""
        record: dict[str, Any] = parse_json(self.record_text())
        return record

    def spec_hash(self) -> str:
        return _sha256(self.record_text())

    def labels(self) -> dict[str, str]:
        text = self.record_text()
        return {
            LABEL_MANAGED: "true",
            LABEL_SERVICE: self.service,
            LABEL_KIND: self.kind.value,
            LABEL_HASH: _sha256(text),
            LABEL_SPEC: text,
        }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _record(spec: ContainerSpec) -> dict[str, Any]:
    """The recorded fields (all but NOT_RECORDED), named one by one: a dict built in one
    expression is twice as fast as one built from the field list, and serialising every spec
    once is most of the time of planning 10,000 hosts. tests/unit/test_spec_record.py checks it
    against the field list and pins the form."""
    check = spec.healthcheck
    record = {
        "name": spec.name, "service": spec.service, "image": spec.image,
        "command": spec.command, "kind": spec.kind.value, "argv": spec.argv,
        "environment": dict(spec.environment), "volumes": spec.volumes,
        "network": spec.network, "hostname": spec.hostname, "ports": spec.ports,
        "healthcheck": None if check is None else {
            "test": check.test, "interval": check.interval, "timeout": check.timeout,
            "retries": check.retries, "start_period": check.start_period,
        },
        "user": spec.user, "privileged": spec.privileged, "cap_add": spec.cap_add,
        "no_new_privileges": spec.no_new_privileges, "sysctls": dict(spec.sysctls),
        "tmpfs": spec.tmpfs, "ulimits": dict(spec.ulimits), "pids_limit": spec.pids_limit,
        "memory_limit": spec.memory_limit, "log_options": dict(spec.log_options),
        "config_digest": spec.config_digest, "secret_digest": spec.secret_digest,
    }  # fmt: skip
    if spec.devices:  # RECORDED_WHEN_SET
        record["devices"] = spec.devices
    if spec.group_add:
        record["group_add"] = spec.group_add
    return record


def _orjson_text(record: dict[str, Any], check: HealthCheck | None) -> str | None:
    """The record as orjson writes it, or None where that would differ from json.dumps.
    orjson writes the JSON about ten times faster than json and byte for byte the same,
    except non-ASCII text and DEL (json escapes them), floats in exponent form or not finite,
    and integers beyond 64 bits: those records take json.dumps. The health check holds a
    spec's only floats."""
    if check is not None and not (
        _plain(check.interval) and _plain(check.timeout) and _plain(check.start_period)
    ):
        return None
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return None
    return text.decode() if text.isascii() and b"\x7f" not in text else None


def _plain(number: float) -> bool:
    """A number both write alike (no exponent, finite)."""
    return number == 0 or 1e-3 <= abs(number) < 1e15


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_json(text: str) -> Any:
    """json.loads, faster: orjson reads what json.dumps writes the same way, but NaN and
    Infinity, which it refuses (json reads them then), and integers beyond 64 bits, which it
    makes floats: no spec holds one, the definitions bound every integer to the engine's."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def keyed_digest(key: str, parts: dict[str, str]) -> str:
    """HMAC-SHA256 of named texts: a digest of files that hold secrets, which a label may show
    without letting anyone confirm a guessed password (they would need the key too)."""
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    for name in sorted(parts):
        mac.update(name.encode() + b"\0" + parts[name].encode() + b"\0")
    return mac.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ServiceState:
    """The containers of one service, per host, the services it depends on, and those it
    only starts after when they are deployed too (`after` in its definition)."""

    name: str
    depends_on: tuple[str, ...]
    containers: dict[str, tuple[ContainerSpec, ...]]  # host -> containers
    after: tuple[str, ...] = ()
    serial: int = 0  # its own budget of hosts changed at a time (0: kolla_serial alone)

    @property
    def starts_after(self) -> tuple[str, ...]:
        return self.depends_on + self.after


@dataclass(frozen=True, slots=True)
class DesiredState:
    services: dict[str, ServiceState]


class RunState(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"  # created, exited, dead or paused: present but not serving


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    """What the engine reports about a container stackyard manages."""

    name: str
    host: str
    id: str
    state: RunState
    labels: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None  # for stopped containers: how they ended
    health: str | None = None  # healthy, unhealthy, starting, or None without a check
    created: float = 0.0  # Unix time the container was created
    image_id: str = ""  # the image it was created from (sha256:...)

    @property
    def service(self) -> str | None:
        return self.labels.get(LABEL_SERVICE)

    def recorded_spec(self) -> dict[str, Any] | None:
        """The spec the container was created from, or None when the label is unreadable."""
        try:
            record = parse_json(self.labels.get(LABEL_SPEC, ""))
        except json.JSONDecodeError:
            return None
        return record if isinstance(record, dict) else None


@dataclass(frozen=True, slots=True)
class ObservedState:
    containers: dict[str, dict[str, ObservedContainer]]  # host -> name -> container
    volumes: dict[str, dict[str, float]] = field(default_factory=dict)  # host -> name -> created
    # host -> image reference -> the image it names there now (a rebuild or pull moves it)
    images: dict[str, dict[str, str]] = field(default_factory=dict)
    # ids of the containers a run saw pass their health gate (marker files of the deployment)
    gated: frozenset[str] = frozenset()

    def get(self, host: str, name: str) -> ObservedContainer | None:
        return self.containers.get(host, {}).get(name)


class Action(enum.Enum):
    CREATE = "create"
    RECREATE = "recreate"
    START = "start"
    RUN = "run"  # a one-shot job
    REMOVE = "remove"
    WAIT = "wait"  # for a container that needs no change but has not passed a health check


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    current: Any
    desired: Any


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    host: str
    container: str
    cause: str
    changes: tuple[Change, ...] = ()
    spec: ContainerSpec | None = None  # what to create; None for REMOVE
    after: tuple[tuple[str, str], ...] = ()  # (host, container) of the steps before it
    adopt: bool = False  # a job of this spec left running by a killed run: wait for it


@dataclass(frozen=True, slots=True)
class Wave:
    """The steps of one service. A wave starts when the waves it comes `after` have finished;
    its steps run side by side, each once the steps it comes after have finished."""

    service: str
    steps: tuple[Step, ...]
    after: tuple[str, ...] = ()  # services whose waves in this plan come first
    # A change rolled across hosts (kolla_serial): the service's waves run one after the
    # other, each on at most that many hosts.
    batch: int = 1
    batches: int = 1

    @property
    def label(self) -> str:
        return (
            self.service
            if self.batches == 1
            else (f"{self.service}, hosts batch {self.batch} of {self.batches}")
        )


@dataclass(frozen=True, slots=True)
class Plan:
    waves: tuple[Wave, ...]
    # Steps a run limited to some hosts (--limit) leaves for later: on the other hosts.
    skipped: tuple[Step, ...] = ()
    limit: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(wave.steps for wave in self.waves)

    @property
    def steps(self) -> list[Step]:
        return [step for wave in self.waves for step in wave.steps]
