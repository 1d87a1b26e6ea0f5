"""Value types of the deploy pipeline (pure).

A ContainerSpec is everything stackyard decides about one container on one host. Its canonical
JSON is stored on the container as a label when it is created, so the engine itself records
what was deployed: the planner compares that record with the desired spec, field by field, and
needs no local state.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

LABEL_SPEC = "stackyard.spec"
LABEL_HASH = "stackyard.spec-hash"
LABEL_SERVICE = "stackyard.service"
LABEL_MANAGED = "stackyard.managed"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    test: tuple[str, ...]
    interval: float = 10.0
    timeout: float = 10.0
    retries: int = 3
    start_period: float = 5.0


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """One container as it should run. Field order is the order changes are reported in."""

    name: str
    service: str
    image: str
    command: str
    environment: tuple[tuple[str, str], ...] = ()
    volumes: tuple[str, ...] = ()
    network: str = "stackyard"
    hostname: str | None = None
    healthcheck: HealthCheck | None = None
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    config_digest: str = ""  # digest of the rendered config files the container mounts

    def to_record(self) -> dict[str, Any]:
        """Canonical JSON form, exactly as it reads back from the label (tuples are lists)."""
        record = asdict(self)
        record["environment"] = dict(self.environment)
        record["sysctls"] = dict(self.sysctls)
        normalized: dict[str, Any] = json.loads(canonical_json(record))
        return normalized

    def spec_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.to_record()).encode()).hexdigest()

    def labels(self) -> dict[str, str]:
        return {
            LABEL_MANAGED: "true",
            LABEL_SERVICE: self.service,
            LABEL_HASH: self.spec_hash(),
            LABEL_SPEC: canonical_json(self.to_record()),
        }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ServiceState:
    """The containers of one service, per host, and the services it depends on."""

    name: str
    depends_on: tuple[str, ...]
    containers: dict[str, tuple[ContainerSpec, ...]]  # host -> containers


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

    @property
    def service(self) -> str | None:
        return self.labels.get(LABEL_SERVICE)

    def recorded_spec(self) -> dict[str, Any] | None:
        """The spec the container was created from, or None when the label is unreadable."""
        try:
            record = json.loads(self.labels.get(LABEL_SPEC, ""))
        except json.JSONDecodeError:
            return None
        return record if isinstance(record, dict) else None


@dataclass(frozen=True, slots=True)
class ObservedState:
    containers: dict[str, dict[str, ObservedContainer]]  # host -> name -> container


class Action(enum.Enum):
    CREATE = "create"
    RECREATE = "recreate"
    START = "start"
    REMOVE = "remove"


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


@dataclass(frozen=True, slots=True)
class Wave:
    """The steps of one service; waves run in dependency order, steps in a wave in parallel."""

    service: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    waves: tuple[Wave, ...]

    @property
    def is_empty(self) -> bool:
        return not any(wave.steps for wave in self.waves)

    @property
    def steps(self) -> list[Step]:
        return [step for wave in self.waves for step in wave.steps]
