"""What the engine runs, as an ObservedState: one container list call (a finished job's exit
code is read from its status line, "Exited (0) 2 minutes ago"; an inspect only where that
line does not say), one volume list call and one image list call (which image each desired
reference names now)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from stackyard.deploy.model import LABEL_KIND, Kind, ObservedContainer, ObservedState, RunState
from stackyard.engine.containers import ContainerEngine

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXITED = re.compile(r"^Exited \((-?\d+)\)")


def observed_container(entry: dict[str, Any], host: str) -> ObservedContainer:
    """One entry of the engine's container list (pure)."""
    state, status = str(entry.get("State", "")), str(entry.get("Status", ""))
    match = _HEALTH.search(status)
    health = None if match is None else match.group(1).removeprefix("health: ")
    exited = _EXITED.match(status)
    if state == "restarting":
        health = "restarting"
    return ObservedContainer(
        name=str(entry["Names"][0]).lstrip("/"),
        host=host,
        id=str(entry["Id"]),
        state=RunState.RUNNING if state in ("running", "restarting") else RunState.STOPPED,
        labels=dict(entry.get("Labels") or {}),
        health=health,
        created=float(entry.get("Created") or 0),
        exit_code=int(exited.group(1)) if exited else None,
        image_id=str(entry.get("ImageID") or ""),
    )


def observe(
    engine: ContainerEngine, host: str, images: frozenset[str] = frozenset()
) -> ObservedState:
    """The engine's containers and volumes, and what each of `images` (references) names."""
    containers: dict[str, ObservedContainer] = {}
    for entry in engine.managed_containers():
        container = observed_container(entry, host)
        # A job created but never started (a run killed in between) has no exit code here
        # (the engine would say 0, as for one that succeeded), so it runs again.
        if (
            container.labels.get(LABEL_KIND) == Kind.JOB.value
            and container.state is RunState.STOPPED
            and container.exit_code is None
            and entry.get("State") != "created"
        ):
            record = engine.inspect(container.id)
            code = int(record["State"].get("ExitCode", -1)) if record else None
            container = replace(container, exit_code=code)
        containers[container.name] = container
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
