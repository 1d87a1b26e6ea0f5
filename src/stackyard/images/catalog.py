"""Load the image data folder into a Catalog (pure: reads files, nothing else).

Layout: `<root>/<image>/image.yaml` + `Dockerfile.j2` (+ files the build copies), and at the
root `users.yaml`, `profiles.yaml`, `distros.yaml`, `macros.j2`. Adding an image adds a folder.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from stackyard.config.yamlfile import load_mapping
from stackyard.errors import ConfigError
from stackyard.images.graph import check_acyclic
from stackyard.images.model import Catalog, ImageSpec, UserSpec

IMAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Written into a build step's command: plain paths and entry point names only.
OSLO_CONFIG_FILE = re.compile(r"^(/[A-Za-z0-9_.@+-]+)+$")
NAMESPACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def default_root() -> Path:
    """The image folders shipped with stackyard."""
    return Path(str(resources.files("stackyard") / "data" / "images"))


def load_catalog(root: Path | None = None) -> Catalog:
    root = root or default_root()
    if not root.is_dir():
        raise ConfigError(f"{root}: image folder does not exist")
    images = {spec.name: spec for spec in _load_images(root)}
    for spec in images.values():
        if spec.parent is not None and spec.parent not in images:
            raise ConfigError(
                f"{spec.folder / 'image.yaml'}: parent {spec.parent!r} is not an image "
                f"(known: {', '.join(sorted(images))})"
            )
    check_acyclic(images)
    users = _load_users(root / "users.yaml")
    for spec in images.values():
        if spec.user != "root" and spec.user not in users:
            raise ConfigError(
                f"{spec.folder / 'image.yaml'}: user {spec.user!r} is not in {root / 'users.yaml'}"
            )
    profiles = _load_profiles(root / "profiles.yaml", images)
    suites, default_suite = _load_suites(root / "distros.yaml")
    return Catalog(root, images, users, profiles, suites, default_suite)


def _mapping(path: Path) -> dict[str, Any]:
    return load_mapping(path).values


def _load_images(root: Path) -> list[ImageSpec]:
    specs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta = folder / "image.yaml"
        if not meta.is_file():
            continue
        if not IMAGE_NAME.match(folder.name):
            raise ConfigError(f"{folder}: image names use lowercase letters, digits and '-'")
        if not (folder / "Dockerfile.j2").is_file():
            raise ConfigError(f"{folder}: image folder has no Dockerfile.j2")
        data = _mapping(meta)
        unknown = set(data) - {"parent", "user", "config_paths", "oslo_config"}
        if unknown:
            raise ConfigError(
                f"{meta}: unknown key(s) {sorted(unknown)}; valid: parent, user, config_paths, "
                "oslo_config"
            )
        parent = data.get("parent")
        user = data.get("user")
        paths = data.get("config_paths", [])
        if parent is not None and not isinstance(parent, str):
            raise ConfigError(f"{meta}: parent must be an image name or null")
        if not isinstance(user, str):
            raise ConfigError(f"{meta}: user must name the user the image runs as (or root)")
        if not isinstance(paths, list) or not all(
            isinstance(p, str) and p.startswith("/") and " " not in p for p in paths
        ):
            raise ConfigError(f"{meta}: config_paths must be a list of absolute folder paths")
        oslo_config = _oslo_config(meta, data.get("oslo_config", {}))
        specs.append(ImageSpec(folder.name, folder, parent, user, tuple(paths), oslo_config))
    return specs


def _oslo_config(meta: Path, value: object) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
    """`oslo_config`: {absolute file path: `installed` or a list of oslo.config namespaces}."""
    usage = (
        f"{meta}: oslo_config maps each oslo.config file (an absolute path) to `installed` "
        "(every namespace in the image's oslo.config.opts entry points) or a list of namespaces"
    )
    if not isinstance(value, dict):
        raise ConfigError(usage)
    files: list[tuple[str, tuple[str, ...] | None]] = []
    for path, namespaces in sorted(value.items(), key=lambda item: str(item[0])):
        if not isinstance(path, str) or not OSLO_CONFIG_FILE.match(path):
            raise ConfigError(f"{usage}; got {path!r}")
        if namespaces == "installed":
            files.append((path, None))
        elif (
            isinstance(namespaces, list)
            and namespaces
            and all(isinstance(n, str) and NAMESPACE.match(n) for n in namespaces)
        ):
            files.append((path, tuple(dict.fromkeys(namespaces))))
        else:
            raise ConfigError(f"{usage}; got {path}: {namespaces!r}")
    return tuple(files)


def _load_users(path: Path) -> dict[str, UserSpec]:
    users = {}
    for name, entry in _mapping(path).items():
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), int) for k in ("uid", "gid")
        ):
            raise ConfigError(f"{path}: user {name!r} needs integer uid and gid")
        users[name] = UserSpec(name, entry["uid"], entry["gid"], entry.get("home"))
    return users


def _load_profiles(path: Path, images: dict[str, ImageSpec]) -> dict[str, tuple[str, ...]]:
    profiles = {}
    for name, members in _mapping(path).items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError(f"{path}: profile {name!r} must be a list of image names")
        unknown = [m for m in members if m not in images]
        if unknown:
            raise ConfigError(f"{path}: profile {name!r} names unknown image(s) {unknown}")
        profiles[name] = tuple(members)
    return profiles


def _load_suites(path: Path) -> tuple[dict[str, str], str]:
    data = _mapping(path)
    suites = data.get("suites")
    if not isinstance(suites, dict) or not suites:
        raise ConfigError(f"{path}: 'suites' must map Debian suites to their settings")
    releases = {}
    for suite, entry in suites.items():
        if not isinstance(entry, dict) or "openstack_release" not in entry:
            raise ConfigError(f"{path}: suite {suite!r} needs openstack_release")
        releases[str(suite)] = str(entry["openstack_release"])
    default = data.get("default")
    if default not in releases:
        raise ConfigError(f"{path}: default {default!r} is not one of {sorted(releases)}")
    return releases, str(default)
