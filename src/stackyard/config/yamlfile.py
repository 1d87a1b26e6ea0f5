"""Read an operator's YAML file into a mapping, keeping the line of every top-level key, so
errors can say `globals.yml:12:` (pure: reads the one file it is given)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackyard.config.ini import read_text
from stackyard.errors import ConfigError

# libyaml's parser when PyYAML was built with it (about ten times faster), else pure Python.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# libyaml composes recursively: absurd nesting would overflow the C stack, so it is refused
# before parsing (settings files are a few levels deep).
MAX_DEPTH = 64


def _flow_depth(text: str) -> int:
    """Deepest nesting of [ and { (an upper bound: quotes are not considered)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


@dataclass(frozen=True, slots=True)
class YamlMapping:
    path: Path
    values: dict[str, Any]
    lines: dict[str, int]

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def load_mapping(path: Path, missing_ok: bool = False) -> YamlMapping:
    if missing_ok and not path.exists():
        return YamlMapping(path, {}, {})
    return parse_mapping(read_text(path), path)


def parse_mapping(text: str, path: Path) -> YamlMapping:
    depth = _flow_depth(text)
    if depth > MAX_DEPTH:
        raise ConfigError(f"{path}: nested {depth} levels deep; at most {MAX_DEPTH} are allowed")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        values = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    except (ValueError, RecursionError) as exc:  # e.g. a date that does not exist
        raise ConfigError(f"{path}: invalid value ({exc})") from None
    finally:
        loader.dispose()
    if values is None:
        return YamlMapping(path, {}, {})
    if not isinstance(values, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: expected `key: value` lines at the top level")
    lines = {}
    for key_node, _ in node.value:
        lines[str(key_node.value)] = key_node.start_mark.line + 1
    bad = [k for k in values if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}: keys must be names, not {bad[0]!r}")
    return YamlMapping(path, values, lines)
