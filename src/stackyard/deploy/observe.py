"""What the engine runs, as an ObservedState: one list call, plus an inspect per finished job
(the list does not carry exit codes)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from stackyard.deploy.model import LABEL_KIND, Kind, ObservedContainer, ObservedState, RunState
from stackyard.engine.containers import ContainerEngine

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def observed_container(entry: dict[str, Any], host: str) -> ObservedContainer:
    """One entry of the engine's container list (pure)."""
    state = str(entry.get("State", ""))
    match = _HEALTH.search(str(entry.get("Status", "")))
    health = None if match is None else match.group(1).removeprefix("health: ")
    if state == "restarting":
        health = "restarting"
    return ObservedContainer(
        name=str(entry["Names"][0]).lstrip("/"),
        host=host,
        id=str(entry["Id"]),
        state=RunState.RUNNING if state in ("running", "restarting") else RunState.STOPPED,
        labels=dict(entry.get("Labels") or {}),
        health=health,
    )


def observe(engine: ContainerEngine, host: str) -> ObservedState:
    containers: dict[str, ObservedContainer] = {}
    for entry in engine.managed_containers():
        container = observed_container(entry, host)
        if container.labels.get(LABEL_KIND) == Kind.JOB.value and (
            container.state is RunState.STOPPED
        ):
            record = engine.inspect(container.id)
            code = int(record["State"].get("ExitCode", -1)) if record else None
            container = replace(container, exit_code=code)
        containers[container.name] = container
    return ObservedState({host: containers} if containers else {})
