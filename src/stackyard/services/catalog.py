"""Load every service definition from a folder tree and check them against each other (pure:
reads files only). Errors name the file and the key path, all at once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from stackyard.config.yamlfile import load_mapping
from stackyard.deploy import strategies
from stackyard.errors import ConfigError
from stackyard.services.model import NAME, ContainerDef, Service, ServiceDef

# A folder of config sections services include (`{% include "common/x.j2" %}`); not a service.
COMMON = "common"


def default_root() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "services"


def load_services(
    root: Path | None = None, images: Iterable[str] | None = None
) -> dict[str, Service]:
    """Services by name, in name order; `images` (known image names) enables that check."""
    root = root or default_root()
    if not root.is_dir():
        raise ConfigError(f"{root}: service definitions folder does not exist")
    services: dict[str, Service] = {}
    errors: list[str] = []
    for folder in sorted(p for p in root.iterdir() if (p / "service.yaml").is_file()):
        try:
            services[folder.name] = _load_one(folder)
        except ConfigError as exc:
            errors.append(str(exc))
    if not errors:
        errors = _cross_check(services, None if images is None else set(images))
    if errors:
        raise ConfigError("\n".join(errors))
    return services


def _load_one(folder: Path) -> Service:
    path = folder / "service.yaml"
    if not NAME.match(folder.name):
        raise ConfigError(f"{folder}: a service folder name must be lower-case letters, digits, _")
    mapping = load_mapping(path)
    try:
        definition = ServiceDef(**mapping.values)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            top = str(error["loc"][0]) if error["loc"] else ""
            where = mapping.where(top) if top in mapping.lines else str(path)
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{where}: {loc}: {message}")
        raise ConfigError("\n".join(lines)) from None
    # Every template of the folder, so one may include another (shared sections), and the
    # files every OpenStack service shares, as `common/<name>` (the `common` folder).
    templates: dict[str, str] = {}
    for file in sorted(folder.glob("*.j2")):
        templates[file.name] = file.read_text()
    for file in sorted((folder.parent / COMMON).glob("*.j2")):
        templates[f"{COMMON}/{file.name}"] = file.read_text()
    for spec in [*definition.containers, *definition.jobs]:
        for config in spec.config_files:
            template = folder / config.template
            if config.template in templates:
                continue
            if not template.is_file():
                raise ConfigError(
                    f"{path}: {spec.name}: config template {config.template!r} does not exist "
                    f"in {folder} (or, as common/NAME, in {folder.parent / COMMON})"
                )
            templates[config.template] = template.read_text()
    return Service(name=folder.name, folder=str(folder), definition=definition, templates=templates)


def _cross_check(services: dict[str, Service], images: set[str] | None) -> list[str]:
    errors: list[str] = []
    owners: dict[str, str] = {}
    for name, service in services.items():
        where = f"{service.folder}/service.yaml"
        d = service.definition
        for key, names in (("depends_on", d.depends_on), ("after", d.after)):
            errors += [
                f"{where}: {key}: unknown service {dep!r}" for dep in names if dep not in services
            ]
        containers = {c.name: c for c in d.containers}
        own = [*d.containers, *d.jobs]
        for spec in own:
            if spec.name in owners:
                errors.append(
                    f"{where}: {spec.name}: name already used by service {owners[spec.name]}"
                )
            owners[spec.name] = name
        for job in d.jobs:
            errors.extend(_check_job(where, job, containers))
        steps = {s.name for s in own} | strategies.job_names(name, d)
        for spec in own:
            for other in spec.after or []:
                if other not in steps:
                    errors.append(f"{where}: {spec.name}: after: {other!r} is not in this service")
            image = spec.image or (containers[spec.like].image if spec.like in containers else None)
            if images is not None and image is not None and image not in images:
                errors.append(f"{where}: {spec.name}: image {image!r} is not in the image catalog")
            if spec.image is None and spec.like is None:
                errors.append(f"{where}: {spec.name}: needs an `image`")
    for service in services.values():
        for frontend in service.definition.frontends:
            if frontend.backend not in owners:
                errors.append(
                    f"{service.folder}/service.yaml: frontends: {frontend.name}: backend "
                    f"{frontend.backend!r} is not a container of any service"
                )
    return errors


def _check_job(where: str, job: ContainerDef, containers: dict[str, ContainerDef]) -> list[str]:
    if job.like is not None and job.like not in containers:
        return [f"{where}: {job.name}: like: {job.like!r} is not a container of this service"]
    if job.healthcheck is not None:
        return [f"{where}: {job.name}: a job has no healthcheck (it must exit 0)"]
    return []
