"""Everything an operator configures, loaded and validated as one (reads files, no engine).

The config directory holds globals.yml, passwords.yml, an optional `inventory` (the packaged
all-in-one otherwise) and `config/` override files. Every problem found is reported at once,
each with its file and key or line, before anything is changed.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from stackyard.config.globals import Globals, Settings, load_globals
from stackyard.config.ini import IniDocument, parse_ini, read_text, unreadable
from stackyard.config.inventory import Inventory, load_inventory, validate_addresses
from stackyard.config.passwords import URL_SAFE, load_passwords, missing_secrets
from stackyard.errors import ConfigError
from stackyard.images.catalog import load_catalog
from stackyard.images.model import Catalog, default_tag
from stackyard.services.catalog import load_services
from stackyard.services.model import Service, SettingDef

DEFAULT_CONFIG_DIR = Path("/etc/stackyard")
CONFIG_DIR_ENV = "STACKYARD_CONFIG_DIR"
OVERRIDES = "config"
T = TypeVar("T")
GLOBAL_OVERRIDE = "global.conf"
# passwords.yml key of the HMAC key that makes config digests safe to show in labels.
DIGEST_KEY = "stackyard_digest_key"


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
    image_users: dict[str, tuple[str, int, int]]  # image -> user it runs as: name, uid, gid

    @property
    def values(self) -> dict[str, object]:
        return {**self.settings.values.model_dump(), **self.settings.declared}


def secret_names(services: dict[str, Service], names: tuple[str, ...] | None = None) -> set[str]:
    """passwords.yml keys the given services (default: all) need."""
    chosen = tuple(services) if names is None else names
    definitions = [services[name].definition for name in chosen]
    keys = {key for d in definitions for key in d.secrets}
    keys |= {d.identity.password for d in definitions if d.identity is not None}
    keys |= {x.password for d in definitions if d.identity for x in d.identity.domains}
    # Creating a service's database needs the server's admin password.
    admin = {"database_password"} if any(d.databases for d in definitions) else set()
    return keys | url_secret_names(services, chosen) | admin | {DIGEST_KEY}


def url_secret_names(services: dict[str, Service], names: tuple[str, ...]) -> set[str]:
    """passwords.yml keys that end up inside the given services' URLs (database connections,
    message bus transport URLs)."""
    definitions = [services[name].definition for name in names]
    return {db.password for d in definitions for db in d.databases} | {
        key for d in definitions for key in d.url_secrets
    }


def load_deployment(
    directory: Path,
    inventory_path: Path | None = None,
    services_root: Path | None = None,
    images_root: Path | None = None,
) -> Deployment:
    check_config_dir(directory)
    images = load_catalog(images_root)
    services = load_services(services_root, images=images.images)
    errors: list[str] = []
    settings = _collect(errors, lambda: service_settings(directory, services))
    inventory = _collect(errors, lambda: _inventory(directory, inventory_path))
    passwords_path = directory / "passwords.yml"
    passwords = _collect(errors, lambda: load_passwords(passwords_path, missing_ok=True))
    overrides = _collect(errors, lambda: load_overrides(directory / OVERRIDES, services))
    if settings is None or inventory is None or passwords is None or overrides is None:
        raise ConfigError("\n".join(errors))

    values = settings.values
    enabled = tuple(name for name in services if settings.enabled[name])
    suite = release_suite(directory, values.openstack_release, images, errors)
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
    if "mariadb" not in enabled and values.database_address and _local(values.database_address):
        errors.append(
            f"{directory / 'globals.yml'}: database_address: {values.database_address!r} is "
            "this machine's own address, and the services run in containers, where it means "
            "the container itself; with enable_mariadb: no, use an address the containers can "
            "reach (the database server's, or this host's address on network_interface)"
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
    databases = {db.password for n in enabled for db in services[n].definition.databases}
    for key in sorted(url_secret_names(services, enabled)):
        if not set(passwords.get(key) or "") <= URL_SAFE:
            where = (
                "a database connection URL, where other characters need %-escapes that "
                "keystone-manage db_sync cannot read"
                if key in databases
                else "a connection URL (transport_url), where other characters need %-escapes"
            )
            errors.append(
                f"{passwords_path}: {key} may hold only letters, digits and - . _ ~: it is "
                f"written into {where}; choose another value, or delete the line and run "
                "`stackyard genpwd`"
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
        image_tag=values.openstack_tag or default_tag(values.openstack_release, suite),
        image_users={name: _image_user(spec.user, images) for name, spec in images.images.items()},
    )


def service_settings(directory: Path, services: dict[str, Service]) -> Settings:
    """globals.yml read with what the services bring: their switches and defaults, the core
    cloud's members, their declared settings."""
    return load_globals(
        directory / "globals.yml",
        {name: s.definition.enabled for name, s in services.items()},
        frozenset(name for name, s in services.items() if s.definition.core),
        declared=declared_settings(services),
    )


def declared_settings(services: dict[str, Service]) -> dict[str, SettingDef]:
    """The settings every service declares, by key: a key is declared once, and is not one of
    stackyard's own settings or switches (a definition that says otherwise is refused)."""
    declared: dict[str, SettingDef] = {}
    owners: dict[str, str] = {}
    switches = {f"enable_{name}" for name in services}
    for name, service in services.items():
        where = Path(service.folder) / "service.yaml"
        for key, setting in service.definition.settings.items():
            if key in Globals.model_fields or key in switches:
                raise ConfigError(f"{where}: settings: {key} is a setting of stackyard's own")
            if key in owners:
                raise ConfigError(
                    f"{where}: settings: {key} is declared by service {owners[key]} already"
                )
            declared[key], owners[key] = setting, name
    return declared


def release_suite(directory: Path, release: str, images: Catalog, errors: list[str]) -> str | None:
    """The Debian suite whose images ship `release` (an error for the list if none does)."""
    release_suites = {r: suite for suite, r in images.suites.items()}
    suite = release_suites.get(release)
    if suite is None:
        known = ", ".join(f"{r} ({s})" for r, s in sorted(release_suites.items()))
        errors.append(
            f"{directory / 'globals.yml'}: openstack_release: {release!r} has no images; "
            f"valid: {known}"
        )
    return suite


def _image_user(user: str, images: Catalog) -> tuple[str, int, int]:
    if user == "root":
        return "root", 0, 0
    return user, images.users[user].uid, images.users[user].gid


def check_config_dir(directory: Path) -> None:
    """A missing folder is said as such (rather than as missing secrets), with how to start."""
    try:
        mode = directory.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"{directory}: the config folder does not exist; `stackyard genpwd --config-dir "
            f"{directory}` creates it with the secrets (passwords.yml); globals.yml, for "
            "settings other than the defaults, and inventory are optional"
        ) from None
    except OSError as exc:
        raise ConfigError(unreadable(directory, exc)) from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(
            f"{directory}: not a folder; the config folder holds globals.yml, passwords.yml, "
            "inventory and config/"
        )


def _local(address: str) -> bool:
    """Whether address means "this machine" (a loopback or unspecified address, localhost)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        name = address.lower().rstrip(".")
        return (
            name in ("localhost", "ip6-localhost", "ip6-loopback")
            or name.startswith("localhost.")
            or name.endswith(".localhost")
        )
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback or parsed.is_unspecified


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
    """Parse every override file; one that would merge into nothing is an error (a typo), and
    so is anything under config/ that cannot be read (a broken symlink, an unreadable folder):
    left out, it would silently not apply."""
    if not os.path.lexists(root):
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
    for path in sorted(_files(root, errors, frozenset())):
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


def _files(folder: Path, errors: list[str], above: frozenset[tuple[int, int]]) -> Iterator[Path]:
    """Every file under folder, symlinks followed; what cannot be read is added to errors."""
    try:
        info = folder.stat()
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        errors.append(unreadable(folder, exc))
        return
    here = (info.st_dev, info.st_ino)
    if here in above:
        errors.append(f"{folder}: a symlink to a folder that contains it (a loop); remove it")
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            mode = path.stat().st_mode  # follows a symlink
        except OSError as exc:  # a broken symlink or a loop
            errors.append(unreadable(path, exc))
            continue
        if stat.S_ISDIR(mode):
            yield from _files(path, errors, above | {here})
        else:
            yield path
