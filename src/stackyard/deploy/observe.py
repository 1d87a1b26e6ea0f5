"""What the hosts' engines run, as one ObservedState: per host its containers (one list call),
volumes (one list call) and which image each desired reference names now; hosts side by side."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from stackyard.deploy.model import ObservedContainer, ObservedState, RunState
from stackyard.engine.port import ContainerRecord, Engine
from stackyard.errors import EngineError


def observed_container(record: ContainerRecord, host: str) -> ObservedContainer:
    """One container as the planner sees it (pure): a restarting container counts as running
    but unhealthy ("restarting"), so it is replaced."""
    return ObservedContainer(
        name=record.name,
        host=host,
        id=record.id,
        state=RunState.RUNNING if record.running else RunState.STOPPED,
        labels=dict(record.labels),
        health="restarting" if record.restarting else record.health,
        created=record.created,
        exit_code=None if record.running else record.exit_code,
        image_id=record.image_id,
    )


def observe(engine: Engine, host: str, images: frozenset[str] = frozenset()) -> ObservedState:
    """The engine's containers and volumes, and what each of `images` (references) names."""
    containers = {r.name: observed_container(r, host) for r in engine.managed_containers()}
    volumes = {name: _unix_time(created) for name, created in engine.managed_volumes().items()}
    named = engine.image_ids(set(images))
    return ObservedState(
        {host: containers} if containers else {},
        {host: volumes} if volumes else {},
        {host: named} if named else {},
    )


def observe_hosts(
    engines: Mapping[str, Engine], images: frozenset[str] = frozenset()
) -> ObservedState:
    """Every host's state, observed in parallel (a no-op run waits for the slowest host, not
    for the sum of them). A host whose engine does not answer fails the whole observation,
    named, so a run changes nothing anywhere until every host is reachable."""

    def one(host: str) -> ObservedState:
        try:
            return observe(engines[host], host, images)
        except EngineError as exc:
            raise EngineError(f"host {host}: {exc}") from None

    with ThreadPoolExecutor(max_workers=max(1, min(len(engines), 16))) as pool:
        futures = {host: pool.submit(one, host) for host in sorted(engines)}
        failures = [e for f in futures.values() if (e := f.exception()) is not None]
        for failure in failures:
            if not isinstance(failure, EngineError):
                raise failure  # a defect, not an unreachable host: with its traceback
        if failures:
            raise EngineError("\n".join(str(f) for f in failures))
        states = [f.result() for f in futures.values()]
    return ObservedState(
        {h: c for state in states for h, c in state.containers.items()},
        {h: v for state in states for h, v in state.volumes.items()},
        {h: i for state in states for h, i in state.images.items()},
    )


def _unix_time(text: str) -> float:
    """A volume's creation stamp; 0 when absent or unreadable (a volume stackyard did not
    create looks old, so no job reruns because of it)."""
    try:
        return float(text)
    except ValueError:
        return 0.0
