"""Operator overrides checked against the options the services really have (pure).

An image whose image.yaml declares `oslo_config` carries OPTIONS_PATH: for each of those
files, every section and option name oslo.config reads from it, listed by
oslo-config-generator when the image was built (data/images/config_options.py). Before a
deploy changes anything, every section and option of every override file is looked up in the
lists of the files it is merged into, so a misspelt name is an error naming the override
file, its line and what was probably meant, instead of a setting that silently does nothing.

Names are matched as oslo.config matches them: option names exactly, section names in any
case except `[DEFAULT]`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stackyard.config.ini import IniDocument
from stackyard.errors import ConfigError

# Where an image lists its oslo.config files' options: {file path: {section: [option, ...]}}.
OPTIONS_PATH = "/usr/share/stackyard/config-options.json"
Known = Mapping[str, frozenset[str]]  # section -> the option names it accepts
_COMMENT = ("#", ";")
_CUTOFF = 0.7  # difflib similarity of a "did you mean" (as for globals.yml keys)
_SHOWN = 3  # sections named where an option is found elsewhere


@dataclass(frozen=True, slots=True)
class Override:
    """One operator override file: where it is, what it holds, and its text (for lines)."""

    path: Path
    document: IniDocument
    text: str


def parse_option_lists(data: bytes) -> dict[str, Known] | None:
    """An image's option lists (OPTIONS_PATH), file path -> section -> option names; None
    when data is not such a document (the image's files are not checked then)."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    lists: dict[str, Known] = {}
    for path, sections in document.items():
        if not isinstance(sections, dict) or not all(
            isinstance(names, list) and all(isinstance(n, str) for n in names)
            for names in sections.values()
        ):
            return None
        lists[path] = {str(s): frozenset(names) for s, names in sections.items()}
    return lists


def merged(lists: Iterable[Known]) -> dict[str, frozenset[str]]:
    """What files with these lists accept together: an override merged into several files
    (global.conf) may hold what any one of them reads."""
    result: dict[str, frozenset[str]] = {}
    for known in lists:
        for section, names in known.items():
            result[section] = result.get(section, frozenset()) | names
    return result


def problems(known: Known, override: Override, label: str) -> list[str]:
    """Every section and option of the override that the files it is merged into (`label`,
    such as "keystone.conf") do not read, each with its line and what was probably meant."""
    groups: dict[str, set[str]] = {}
    for section, names in known.items():
        groups.setdefault(_group(section), set()).update(names)
    where = _lines(override.text)
    found = []
    for section, keys in override.document.sections.items():
        accepted = groups.get(_group(section))
        if accepted is None:
            line = where.get((section, None))
            hint = _section_hint(known, section, list(keys))
            found.append((line, f"{label} has no section [{section}]{hint}"))
            continue
        for key in keys:
            if key not in accepted:
                hint = _option_hint(known, section, key, accepted)
                line = where.get((section, key))
                found.append((line, f"{label} has no option `{key}` in [{section}]{hint}"))
    return [
        f"{override.path}{'' if line is None else f':{line}'}: {message}"
        for line, message in sorted(found, key=lambda item: item[0] or 0)
    ]


def refuse(found: list[str], globals_yml: Path) -> None:
    """ConfigError listing every problem once, and how to merge options no list has."""
    if found:
        raise ConfigError(
            "\n".join(
                [
                    *dict.fromkeys(found),
                    "Overrides are checked against the options oslo-config-generator listed in "
                    "the images when they were built; to merge options it does not know (a "
                    f"plugin's), set config_override_check: no in {globals_yml}",
                ]
            )
        )


def _group(section: str) -> str:
    """A section as oslo.config looks it up: lowercase, except DEFAULT."""
    return section if section == "DEFAULT" else section.lower()


def _close(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like word, ignoring case, if one is close enough."""
    by_lower: dict[str, str] = {}
    for candidate in sorted(candidates):
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=_CUTOFF)
    return by_lower[found[0]] if found else None


def _sections(names: list[str]) -> str:
    shown = [f"[{name}]" for name in names[:_SHOWN]]
    more = len(names) - len(shown)
    if more:
        return f"{', '.join(shown)} and {more} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _section_hint(known: Known, section: str, keys: list[str]) -> str:
    close = _close(section, known)
    if close is not None:
        return f"; did you mean [{close}]?"
    holders = sorted(s for s, names in known.items() if keys and set(keys) <= names)
    if not holders or len(holders) > _SHOWN:
        return ""
    if len(keys) == 1:
        return f"; `{keys[0]}` is an option of {_sections(holders)}, not [{section}]"
    return f"; its options are those of {_sections(holders)}"


def _option_hint(known: Known, section: str, key: str, names: set[str]) -> str:
    hints = []
    close = _close(key, names)
    if close is not None:
        hints.append(f"did you mean `{close}`?")
    elsewhere = sorted(s for s, found in known.items() if key in found)
    if elsewhere:
        hints.append(f"`{key}` is an option of {_sections(elsewhere)}, not [{section}]")
    return f"; {' '.join(hints)}" if hints else ""


def _lines(text: str) -> dict[tuple[str, str | None], int]:
    """The line of each section's first header, (section, None), and of each key's first
    `key = value` line in its section, (section, key), read as config/ini.py reads them.

    config/ini.py's IniDocument keeps no line numbers, so the file's text is read again."""
    found: dict[tuple[str, str | None], int] = {}
    section: str | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENT) or line[0].isspace():
            continue
        if line.startswith("["):
            section = line[1:-1].strip()
            found.setdefault((section, None), number)
        elif section is not None and "=" in line:
            found.setdefault((section, line.partition("=")[0].strip()), number)
    return found
