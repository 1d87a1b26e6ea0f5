"""What one host's engine runs, as an ObservedState: its containers (one list call), volumes
(one list call) and which image each desired reference names now."""

from __future__ import annotations

from stackyard.deploy.model import ObservedContainer, ObservedState, RunState
from stackyard.engine.port import ContainerRecord, Engine


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


def _unix_time(text: str) -> float:
    """A volume's creation stamp; 0 when absent or unreadable (a volume stackyard did not
    create looks old, so no job reruns because of it)."""
    try:
        return float(text)
    except ValueError:
        return 0.0
