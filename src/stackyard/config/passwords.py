"""passwords.yml: the deployment's secrets (side effects kept to `generate`).

`generate` fills every missing secret with a strong random value and never changes one that
is set; the file is written atomically with mode 0600 in a 0700 directory. Secret values are
never printed: errors name keys only.
"""

from __future__ import annotations

import os
import secrets
import string
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

from stackyard.config.yamlfile import load_mapping
from stackyard.errors import ConfigError

ALPHABET = string.ascii_letters + string.digits
LENGTH = 40
# What a password written into a URL may hold unescaped (RFC 3986 "unreserved").
URL_SAFE = frozenset(ALPHABET + "-._~")


def load_passwords(path: Path, missing_ok: bool = False) -> dict[str, str | None]:
    mapping = load_mapping(path, missing_ok=missing_ok)
    result: dict[str, str | None] = {}
    for key, value in mapping.values.items():
        if value is not None and not isinstance(value, str | int | float):
            raise ConfigError(f"{mapping.where(key)}: {key} must be a string (or empty)")
        result[key] = None if value in (None, "") else str(value)
    return result


def missing_secrets(passwords: dict[str, str | None], required: Iterable[str]) -> list[str]:
    return sorted(k for k in set(required) if not passwords.get(k))


def new_secret(length: int = LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def generate(path: Path, required: Iterable[str]) -> list[str]:
    """Fill the missing secrets in path (creating it); returns the keys that were added."""
    passwords = load_passwords(path, missing_ok=True)
    added = missing_secrets(passwords, required)
    for key in added:
        passwords[key] = new_secret()
    if added or not path.exists() or (path.stat().st_mode & 0o777) != 0o600:
        write_private(path, yaml.safe_dump(passwords, default_flow_style=False, sort_keys=True))
    return added


def private_dir(path: Path) -> None:
    """Create path and any missing parents, each 0700 (mkdir(parents=True) would give the
    parents the default mode). Existing folders are left as they are."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write text to path atomically, readable by its owner only."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
