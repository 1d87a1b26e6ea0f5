"""passwords.yml: the deployment's secrets (side effects kept to `generate`).

Values are the exact text of the file: `012345` stays `012345` and `yes` stays `yes` (see the
`strings` mode of yamlfile). `generate` fills every missing secret with a strong random value
and never changes one that is set: it adds a line for each new secret (or fills an empty value
in place) and keeps every other byte of the file, comments included. A symlinked passwords.yml
stays a symlink and its target is updated, atomically, with mode 0600 in a 0700 directory.
Secret values are never printed: errors name keys only.
"""

from __future__ import annotations

import codecs
import os
import re
import secrets
import stat
import string
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

from stackyard.config.ini import decode, read_bytes
from stackyard.config.yamlfile import YamlMapping, load_mapping, parse_mapping
from stackyard.errors import ConfigError

ALPHABET = string.ascii_letters + string.digits
LENGTH = 40
# What a password written into a URL may hold unescaped (RFC 3986 "unreserved").
URL_SAFE = frozenset(ALPHABET + "-._~")
# Where Jinja would start a placeholder, a statement or a comment.
_JINJA = re.compile(r"\{\{|\{%|\{#")
# Text that can be written without quotes, unless a YAML version reads it as a boolean or a
# number: YAML 1.1 (PyYAML's rules, checked by reading it back) or YAML 1.2 (the pattern).
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NOT_TEXT_IN_YAML_1_2 = re.compile(
    r"[yYnN]|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
)


def load_passwords(path: Path, missing_ok: bool = False) -> dict[str, str | None]:
    """Each key's value as written; None when it is empty."""
    return _checked(load_mapping(path, missing_ok=missing_ok, strings=True))


def missing_secrets(passwords: dict[str, str | None], required: Iterable[str]) -> list[str]:
    return sorted(k for k in set(required) if not passwords.get(k))


def new_secret(length: int = LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def generate(path: Path, required: Iterable[str]) -> list[str]:
    """Fill the missing secrets in path (creating it and its folders); returns the keys added."""
    target = Path(os.path.realpath(path))  # a symlink stays: its target is what changes
    exists = os.path.lexists(target)
    data = read_bytes(target) if exists else b""
    text = decode(data, path, secret=True)
    mapping = parse_mapping(text, path, strings=True)
    passwords = _checked(mapping)
    added = missing_secrets(passwords, required)
    new = {key: new_secret() for key in added}
    if added or not exists:
        updated = _with_secrets(text, mapping, new)
        _check_reads_back(updated, path, {**passwords, **new}, added)
        bom = "\ufeff" if data.startswith(codecs.BOM_UTF8) else ""
        _write(target, path, bom + updated, added)
    elif stat.S_IMODE(target.stat().st_mode) != 0o600:
        try:
            os.chmod(target, 0o600)
        except OSError as exc:
            raise ConfigError(_cannot_write(target, path, exc)) from None
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
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _checked(mapping: YamlMapping) -> dict[str, str | None]:
    """The values, once none holds a Jinja placeholder (which would be used as written)."""
    errors = [
        f"{mapping.where(key)}: {key}: the value holds `{{{{`, `{{%` or `{{#`, which start "
        "Jinja placeholders; passwords.yml values are used as written, so write the secret itself"
        for key, value in mapping.values.items()
        if value is not None and _JINJA.search(value)
    ]
    if errors:
        raise ConfigError("\n".join(errors))
    return dict(mapping.values)


def _with_secrets(text: str, mapping: YamlMapping, new: dict[str, str]) -> str:
    """text with each new secret filled in where its key has an empty value, or else added as
    a line of its own; nothing else changes."""
    newline = "\r\n" if "\r\n" in text else "\n"
    in_place = sorted(new.keys() & mapping.spans.keys(), key=mapping.spans.__getitem__)
    for key in reversed(in_place):  # from the end: earlier offsets stay valid
        start, end = mapping.spans[key]
        gap = " " if start == end else ""  # `key:` with nothing after the colon
        text = f"{text[:start]}{gap}{_scalar(new[key])}{text[end:]}"
    lines = [
        f"{_scalar(key)}: {_scalar(value)}" for key, value in new.items() if key not in in_place
    ]
    if lines and text and not text.endswith("\n"):
        text += newline
    return text + "".join(line + newline for line in lines)


def _scalar(text: str) -> str:
    """text as YAML that reads back as exactly this string under any YAML version's rules."""
    if (
        _PLAIN.fullmatch(text)
        and not _NOT_TEXT_IN_YAML_1_2.fullmatch(text)
        and yaml.safe_load(text) == text
    ):
        return text
    return "'" + text.replace("'", "''") + "'"


def _check_reads_back(
    text: str, path: Path, expected: dict[str, str | None], added: list[str]
) -> None:
    """Adding lines works for `key: value` lines; an unusual layout (a `{...}` mapping, a
    document end marker) could read differently: then nothing is written."""
    try:
        reads_back = parse_mapping(text, path, strings=True).values == expected
    except ConfigError:
        reads_back = False
    if not reads_back:
        raise ConfigError(
            f"{path}: the missing secrets cannot be added as new lines to this file's layout; "
            f"write it as one `key: value` per line, or add these keys yourself: "
            f"{', '.join(added)}"
        )


def _write(target: Path, path: Path, text: str, added: list[str]) -> None:
    if os.path.lexists(target) and not os.access(target, os.W_OK):
        raise ConfigError(
            f"{_named(target, path)}: the file is read-only; make it writable (chmod 600 "
            f"{target}) and run genpwd again, or add these keys yourself: {', '.join(added)}"
        )
    try:
        write_private(target, text)
    except OSError as exc:
        raise ConfigError(_cannot_write(target, path, exc)) from None


def _cannot_write(target: Path, path: Path, exc: OSError) -> str:
    return (
        f"{_named(target, path)}: cannot write ({exc.strerror or exc}); run genpwd as a user "
        f"who may write to {target.parent} (such as root), or choose a folder of your own "
        "with --config-dir"
    )


def _named(target: Path, path: Path) -> str:
    """The file written, and the path it was named by when that is a symlink to it."""
    if str(target) == os.path.abspath(path):
        return str(target)
    return f"{target} (where {path} points)"
