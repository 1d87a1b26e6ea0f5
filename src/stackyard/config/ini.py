"""oslo.config-style INI files: parse, merge and render (pure: reads only the file it is given).

OpenStack services read their settings from INI files, and operators change them with override
files (`global.conf`, `keystone.conf`, `keystone/<host>/keystone.conf`) that kolla-ansible
merges key by key. This module reads those files the way oslo.config does (repeated keys are
multi-valued, indented lines continue a value), merges them per `[section] key` and writes the
result back deterministically, so a rendered file parses back to the same document.

Values are kept verbatim (quotes included): the service's own oslo.config interprets them.
Control characters other than tab are refused: they are invisible in an editor and in a log.

`read_text` is how every operator file is read: a regular file of at most MAX_BYTES, whose
problems (missing, a broken symlink, unreadable, not UTF-8) are ConfigErrors naming it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from stackyard.errors import ConfigError

Section = Mapping[str, tuple[str, ...]]

_COMMENT = ("#", ";")
_INDENT = "    "
# Below 0x20 except tab and line feed (which ends a line), and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
# Settings files are a few kilobytes; this refuses a wrong file (a log, an image) before it is
# read into memory.
MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True, eq=False)
class IniDocument:
    """Ordered sections -> ordered keys -> every value of the key, in file order.

    The mappings are read-only copies of what was passed in. Construction checks that every
    name and value can be written as INI text and read back unchanged, so `render` never fails
    and always round-trips. Equality takes the order of sections and keys into account.
    """

    sections: Mapping[str, Section] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked: dict[str, Section] = {}
        for name, keys in self.sections.items():
            _check_section(name)
            entries: dict[str, tuple[str, ...]] = {}
            for key, values in keys.items():
                _check_key(name, key)
                if isinstance(values, str):
                    raise ConfigError(
                        f"[{name}] {key}: values must be a sequence of strings, not one string"
                    )
                entries[key] = tuple(values)
                if not entries[key]:
                    raise ConfigError(f"[{name}] {key}: a key needs at least one value")
                for value in entries[key]:
                    _check_value(name, key, value)
            checked[name] = MappingProxyType(entries)
        object.__setattr__(self, "sections", MappingProxyType(checked))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IniDocument):
            return NotImplemented
        return _ordered(self) == _ordered(other)

    def __repr__(self) -> str:
        plain = {name: dict(keys) for name, keys in self.sections.items()}
        return f"IniDocument({plain!r})"


def parse_ini(text: str, source: str) -> IniDocument:
    """Read oslo.config INI text; errors are ConfigError `source:LINE: ...`."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    # The values of the key an indented line would continue (its last value), if any.
    last: list[str] | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        where = f"{source}:{number}"
        if not stripped or stripped.startswith(_COMMENT):
            last = None
            continue
        _refuse_control(line, where)
        if line[0].isspace():
            if last is None:
                raise ConfigError(
                    f"{where}: indented line {_show(stripped)} has no value to continue; "
                    "continuation lines must directly follow a `key = value` line, "
                    "otherwise remove the leading whitespace"
                )
            last[-1] = f"{last[-1]}\n{stripped}"
        elif line.startswith("["):
            last = None
            current = sections.setdefault(_header(line, where), {})
        elif "=" not in line:
            raise ConfigError(
                f"{where}: cannot read {_show(line)}; expected `key = value`, "
                "a `[section]` header, a `#` or `;` comment, or an indented continuation line"
            )
        else:
            key, _, value = line.partition("=")
            key = key.strip()
            if not key:
                raise ConfigError(
                    f"{where}: {_show(line)} has no key before `=`; write `key = value`"
                )
            if current is None:
                raise ConfigError(
                    f"{where}: `{key}` comes before any section header; "
                    "put it under a section such as `[DEFAULT]`"
                )
            last = current.setdefault(key, [])
            last.append(value.strip())
    return IniDocument(
        {name: {k: tuple(v) for k, v in keys.items()} for name, keys in sections.items()}
    )


def load_ini(path: Path) -> IniDocument:
    """Read and parse one INI file; a missing, unreadable or non-UTF-8 file is a ConfigError."""
    return parse_ini(read_text(path), str(path))


def merge(base: IniDocument, *overrides: IniDocument) -> IniDocument:
    """Later documents win per `[section] key`, replacing all values of the key.

    New sections and keys are added after the existing ones, in the override's order; existing
    ones keep their place. Nothing is ever removed.
    """
    merged: dict[str, dict[str, tuple[str, ...]]] = {
        name: dict(keys) for name, keys in base.sections.items()
    }
    for override in overrides:
        for name, keys in override.sections.items():
            merged.setdefault(name, {}).update(keys)
    return IniDocument(merged)


def render(doc: IniDocument) -> str:
    """Deterministic INI text: `[section]`, then one `key = value` line per value.

    A value with newlines continues on lines indented by four spaces; sections are separated
    by one blank line; the text ends with a newline (an empty document renders as "").
    """
    blocks: list[str] = []
    for name, keys in doc.sections.items():
        lines = [f"[{name}]"]
        for key, values in keys.items():
            for value in values:
                first, *rest = value.split("\n")
                lines.append(f"{key} = {first}" if first else f"{key} =")
                lines.extend(_INDENT + line for line in rest)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def get(doc: IniDocument, section: str, key: str) -> str | None:
    """The last value of `[section] key` (what oslo.config uses for a single-valued option)."""
    values = doc.sections.get(section, {}).get(key)
    return values[-1] if values else None


def read_text(path: Path, *, secret: bool = False) -> str:
    """The UTF-8 text of an operator's file (a leading byte-order mark is dropped); `secret`
    keeps a byte of the file out of an encoding error."""
    return decode(read_bytes(path), path, secret=secret)


def read_bytes(path: Path) -> bytes:
    """The content of a regular file of at most MAX_BYTES. A FIFO or device is refused before
    it is read: reading one could block or never end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(unreadable(path, exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path}: is a directory, expected a file")
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path}: not a regular file (a pipe, socket or device)")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(unreadable(path, exc)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_BYTES // 1024 // 1024} MiB, the most a settings file "
            "may hold; check that this is the right file"
        )
    return data


def decode(data: bytes, path: Path, *, secret: bool = False) -> str:
    """UTF-8 text without a leading byte-order mark; an error names the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = "" if secret else f" (byte {data[exc.start]:#04x})"
        raise ConfigError(f"{path}:{line}: not UTF-8 text{byte}; save the file as UTF-8") from None


def unreadable(path: Path, exc: OSError) -> str:
    """Why path cannot be read, and what to do, as an error message."""
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return (
            f"{path}: a symlink to {os.readlink(path)}, which does not exist; point it at an "
            "existing file or remove it"
        )
    if exc.errno == errno.ENOENT:
        return f"{path}: file does not exist"
    if exc.errno == errno.ELOOP:
        return f"{path}: a symlink loop (following it never reaches a file); remove it"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"{path}: cannot read ({exc.strerror}); make it readable by the user running "
            "stackyard, or remove it"
        )
    return f"{path}: cannot read ({exc.strerror or exc})"


def _header(line: str, where: str) -> str:
    if not line.endswith("]"):
        raise ConfigError(
            f"{where}: section header {_show(line)} is not closed; "
            "write it as `[name]` with nothing after the `]`"
        )
    name = line[1:-1].strip()
    if not name:
        raise ConfigError(f"{where}: empty section name `[]`; write a name such as `[DEFAULT]`")
    return name


def _show(text: str, limit: int = 60) -> str:
    return f"`{text}`" if len(text) <= limit else f"`{text[: limit - 3]}...`"


def _ordered(doc: IniDocument) -> list[tuple[str, list[tuple[str, tuple[str, ...]]]]]:
    return [(name, list(keys.items())) for name, keys in doc.sections.items()]


# The checks below accept exactly what parse_ini can produce, which is what render can write.


def _check_section(name: str) -> None:
    if not name or name != name.strip() or "\n" in name or _CONTROL.search(name):
        raise ConfigError(
            f"section name {name!r} cannot be written to an INI file; it must be non-empty, "
            "one line, without leading or trailing whitespace or control characters"
        )


def _check_key(section: str, key: str) -> None:
    if (
        not key
        or key != key.strip()
        or "\n" in key
        or "=" in key
        or key.startswith(("[", *_COMMENT))
        or _CONTROL.search(key)
    ):
        raise ConfigError(
            f"[{section}] key {key!r} cannot be written to an INI file; a key is non-empty, "
            "one line without `=` or control characters, no leading or trailing whitespace, "
            "and does not start with `[`, `#` or `;`"
        )


def _check_value(section: str, key: str, value: str) -> None:
    first, *rest = value.split("\n")
    if (
        first != first.strip()
        or not all(_continuable(line) for line in rest)
        or _CONTROL.search(value)
    ):
        raise ConfigError(
            f"[{section}] {key}: value {value!r} cannot be written to an INI file; lines of "
            "a value have no leading or trailing whitespace or control characters, and lines "
            "after the first are non-empty and do not start with `#` or `;`"
        )


def _continuable(line: str) -> bool:
    return bool(line) and line == line.strip() and not line.startswith(_COMMENT)


def _refuse_control(line: str, where: str) -> None:
    found = _CONTROL.search(line)
    if found is None:
        return
    if line.startswith("["):
        part = "section header"
    elif line[0].isspace() or -1 < line.find("=") < found.start():
        part = "value"
    else:
        part = "key"
    raise ConfigError(
        f"{where}: control character {ord(found[0]):#04x} in the {part} (column "
        f"{found.start() + 1}); remove it: tab is the only one allowed"
    )
