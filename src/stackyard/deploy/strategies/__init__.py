"""Named strategies: behaviour a service chooses in its definition (`databases:`,
`identity:`) and that is written once, here, one module each. Each turns a definition into
ordinary job definitions, which the desired state renders and the planner runs like any other
container (pure).
"""

from __future__ import annotations

from typing import Any

from stackyard.deploy.strategies import database, identity
from stackyard.services.model import ContainerDef, ServiceDef


def jobs(service: str, definition: ServiceDef, context: dict[str, Any]) -> list[ContainerDef]:
    """The jobs a service's strategies add, before its own jobs."""
    return [*database.jobs(definition, context), *identity.jobs(definition, service)]


def job_names(service: str, definition: ServiceDef) -> set[str]:
    """Their names, without rendering anything (for checks of `after:`)."""
    return {job.name for job in jobs(service, definition, {})}
