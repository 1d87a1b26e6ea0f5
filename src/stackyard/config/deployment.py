"""Everything an operator configures, loaded and validated as one (reads files, no engine).

The config directory holds globals.yml, passwords.yml, an optional `inventory` (the packaged
all-in-one otherwise) and `config/` override files. Every problem found is reported at once,
each with its file and key or line, before anything is changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from stackyard.config.globals import Settings, load_globals
from stackyard.config.ini import IniDocument, parse_ini, read_text
from stackyard.config.inventory import Inventory, load_inventory, validate_addresses
from stackyard.config.passwords import URL_SAFE, load_passwords, missing_secrets
from stackyard.errors import ConfigError
from stackyard.images.catalog import load_catalog
from stackyard.services.catalog import load_services
from stackyard.services.model import Service

DEFAULT_CONFIG_DIR = Path("/etc/stackyard")
CONFIG_DIR_ENV = "STACKYARD_CONFIG_DIR"
OVERRIDES = "config"
T = TypeVar("T")
GLOBAL_OVERRIDE = "global.conf"


def config_dir(option: Path | None = None) -> Path:
    """--config-dir, else $STACKYARD_CONFIG_DIR, else /etc/stackyard."""
    return option or Path(os.environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR)


def packaged_inventory() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "inventory" / "all-in-one"


@dataclass(frozen=True, slots=True)
class Deployment:
    """The validated configuration of one deployment."""

    config_dir: Path
    settings: Settings
    passwords: dict[str, str]
    inventory: Inventory
    services: dict[str, Service]  # every known service
    enabled: tuple[str, ...]  # switched on in globals.yml (their `when:` is decided later)
    overrides: dict[str, IniDocument]  # path relative to config/ -> document
    suite: str
    image_tag: str

    @property
    def values(self) -> dict[str, object]:
        return self.settings.values.model_dump()


def secret_names(services: dict[str, Service], names: tuple[str, ...] | None = None) -> set[str]:
    """passwords.yml keys the given services (default: all) need."""
    chosen = tuple(services) if names is None else names
    keys = {key for name in chosen for key in services[name].definition.secrets}
    in_urls = url_secret_names(services, chosen)
    # Creating a service's database needs the server's admin password.
    return keys | in_urls | ({"database_password"} if in_urls else set())


def url_secret_names(services: dict[str, Service], names: tuple[str, ...]) -> set[str]:
    """passwords.yml keys that end up inside the given services' database URLs."""
    definitions = [services[name].definition for name in names]
    return {d.database.password for d in definitions if d.database is not None}


def load_deployment(
    directory: Path,
    inventory_path: Path | None = None,
    services_root: Path | None = None,
    images_root: Path | None = None,
) -> Deployment:
    images = load_catalog(images_root)
    services = load_services(services_root, images=images.images)
    defaults = {name: s.definition.enabled for name, s in services.items()}
    errors: list[str] = []

    settings = _collect(errors, lambda: load_globals(directory / "globals.yml", defaults))
    inventory = _collect(errors, lambda: _inventory(directory, inventory_path))
    passwords_path = directory / "passwords.yml"
    passwords = _collect(errors, lambda: load_passwords(passwords_path, missing_ok=True))
    overrides = _collect(errors, lambda: load_overrides(directory / OVERRIDES, services))
    if settings is None or inventory is None or passwords is None or overrides is None:
        raise ConfigError("\n".join(errors))

    values = settings.values
    enabled = tuple(name for name in services if settings.enabled[name])
    release_suites = {release: suite for suite, release in images.suites.items()}
    suite = release_suites.get(values.openstack_release)
    if suite is None:
        known = ", ".join(f"{r} ({s})" for r, s in sorted(release_suites.items()))
        errors.append(
            f"{directory / 'globals.yml'}: openstack_release: {values.openstack_release!r} has "
            f"no images; valid: {known}"
        )
    for name in enabled:
        definition = services[name].definition
        if definition.group not in inventory.groups:
            errors.append(
                f"{inventory.source}: service {name} runs on group `{definition.group}`, which the "
                f"inventory does not define; add [{definition.group}] or "
                f"[{definition.group}:children]"
            )
    if "mariadb" not in enabled and values.database_address is None:
        errors.append(
            f"{directory / 'globals.yml'}: enable_mariadb is no, so database_address (and "
            "database_port, database_user, and database_password in passwords.yml) must name "
            "the external database server"
        )
    for key in overrides:
        parts = Path(key).parts
        if len(parts) == 3 and parts[1] not in inventory.hosts:
            errors.append(
                f"{directory / OVERRIDES / key}: no host `{parts[1]}` in {inventory.source}; "
                f"hosts: {', '.join(inventory.hosts)}"
            )
    remote = [h for h in inventory.hosts.values() if not h.is_local]
    if remote:
        errors.append(
            f"{inventory.source}:{remote[0].line}: host `{remote[0].name}` is not this machine; "
            "this version deploys on the local host only (ansible_connection=local)"
        )
    missing = missing_secrets(passwords, secret_names(services, enabled))
    if missing:
        errors.append(
            f"{passwords_path}: no value for {', '.join(missing)}; run `stackyard genpwd` to "
            "generate the missing secrets"
        )
    for key in sorted(url_secret_names(services, enabled)):
        if not set(passwords.get(key) or "") <= URL_SAFE:
            errors.append(
                f"{passwords_path}: {key} may hold only letters, digits and - . _ ~: it is "
                "written into a database connection URL, where other characters need %-escapes "
                "that keystone-manage db_sync cannot read; choose another value, or delete the "
                "line and run `stackyard genpwd`"
            )
    if errors:
        raise ConfigError("\n".join(errors))
    assert suite is not None
    return Deployment(
        config_dir=directory,
        settings=settings,
        passwords={k: v for k, v in passwords.items() if v is not None},
        inventory=inventory,
        services=services,
        enabled=enabled,
        overrides=overrides,
        suite=suite,
        image_tag=values.openstack_tag or f"{values.openstack_release}-{suite}",
    )


def _collect(errors: list[str], load: Callable[[], T]) -> T | None:
    try:
        return load()
    except ConfigError as exc:
        errors.append(str(exc))
        return None


def _inventory(directory: Path, option: Path | None) -> Inventory:
    path = option or (directory / "inventory")
    inventory = load_inventory(path if path.exists() or option else packaged_inventory())
    validate_addresses(inventory)
    return inventory


def load_overrides(root: Path, services: dict[str, Service]) -> dict[str, IniDocument]:
    """Parse every override file; one that would merge into nothing is an error (a typo)."""
    if not root.is_dir():
        return {}
    mergeable = {
        (name, Path(config.dest).name)
        for name, service in services.items()
        for spec in service.definition.containers
        for config in spec.config_files
        if config.merge == "ini"
    }
    basenames = sorted({base for _, base in mergeable})
    overrides: dict[str, IniDocument] = {}
    errors: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        parts = relative.parts
        fits = (
            parts == (GLOBAL_OVERRIDE,)
            or (len(parts) == 1 and parts[0] in basenames)
            or (len(parts) in (2, 3) and (parts[0], parts[-1]) in mergeable)
        )
        if not fits:
            errors.append(
                f"{path}: matches no generated file; an override is config/global.conf, "
                f"config/FILE, config/SERVICE/FILE or config/SERVICE/HOST/FILE, where FILE is "
                f"one of: {', '.join(basenames)}"
            )
            continue
        try:
            overrides[str(relative)] = parse_ini(read_text(path), str(path))
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    return overrides
