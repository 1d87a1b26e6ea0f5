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


def images(service: str, definition: ServiceDef) -> set[str]:
    """The images a service's containers and jobs run, its strategies' jobs included (a job
    `like:` a container runs that container's image), without rendering anything."""
    containers = {c.name: c for c in definition.containers}
    defined = [*jobs(service, definition, {}), *definition.jobs, *definition.containers]
    found = {
        d.image or (containers[d.like].image if d.like in containers else None) for d in defined
    }
    return {image for image in found if image}
