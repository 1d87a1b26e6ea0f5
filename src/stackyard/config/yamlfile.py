"""Read an operator's YAML file into a mapping, keeping the line of every top-level key, so
errors can say `globals.yml:12:` (pure: reads the one file it is given).

Every YAML file stackyard reads goes through here, so the limits hold for all of them: the
size of the file (see `read_text`), the nesting depth, and the number of values once aliases
are expanded (a "billion laughs" document is a few lines that expand to billions of values).
A key that appears twice in a mapping is an error: YAML would silently keep the last one.

`strings=True` reads a file as written, for passwords.yml: every value is the exact text of
the file (`012345` stays `012345`, `yes` stays `yes`), anchors, aliases and tags are refused,
and no error shows any text of a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, Event, NodeEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner, ScannerError

from stackyard.config.ini import read_text
from stackyard.errors import ConfigError

# Settings files are a few levels deep: deeper flow nesting (`[[[...`) is refused before
# parsing, as composing and constructing recurse once per level.
MAX_DEPTH = 64
# Values in a document with its aliases expanded; the packaged service files hold a few hundred.
MAX_NODES = 100_000
# How YAML writes "no value" when it is not quoted (a plain scalar: style None, or "" from
# libyaml).
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_ESCAPE = "remove it, or write it as an escape such as \\x01 inside double quotes"
# What PyYAML's own parser quotes from the file in a message, left out for secrets: anything
# quoted, except in a parser's message a token ('<scalar>', ',', ']', ...). libyaml's messages
# never quote the file.
_QUOTED = re.compile(r""" ?(?:'(?:<[^'>]*>|[][{},?:-])'|('[^']*'|"[^"]*"|#x[0-9a-fA-F]+))""")


@dataclass(frozen=True, slots=True)
class YamlMapping:
    path: Path
    values: dict[str, Any]
    lines: dict[str, int]
    # Where each top-level value is in the text (start, end offsets), so that one can be filled
    # in without rewriting the rest of the file.
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def load_mapping(path: Path, missing_ok: bool = False, *, strings: bool = False) -> YamlMapping:
    if missing_ok and _absent(path):
        return YamlMapping(path, {}, {})
    return parse_mapping(read_text(path, secret=strings), path, strings=strings)


def parse_mapping(text: str, path: Path, *, strings: bool = False) -> YamlMapping:
    depth = _flow_depth(text)
    if depth > MAX_DEPTH:
        raise ConfigError(f"{path}: nested {depth} levels deep; at most {MAX_DEPTH} are allowed")
    # A character YAML refuses stops its reader before any key is known; for secrets it is
    # replaced (offsets stay) and reported after parsing, naming the value that holds it.
    refused = Reader.NON_PRINTABLE.search(text) if strings else None
    text = Reader.NON_PRINTABLE.sub("x", text) if refused else text
    loader: _Composing | None = None
    try:
        loader = _Loader(text, path, strings)
        node = loader.get_single_node()
        loader.report_duplicates()
        if node is None:
            return YamlMapping(path, {}, {})
        values = _as_written(node, path) if strings else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(_invalid(exc, text, path, loader, strings)) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply (settings are a few levels deep)") from None
    except ValueError as exc:  # e.g. a date that does not exist
        raise ConfigError(f"{path}: invalid value ({exc})") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(values, dict) or not isinstance(node, MappingNode):
        raise ConfigError(f"{path}: expected `key: value` lines at the top level")
    lines = {}
    spans = {}
    for key_node, value_node in node.value:
        lines[str(key_node.value)] = key_node.start_mark.line + 1
        spans[str(key_node.value)] = (value_node.start_mark.index, value_node.end_mark.index)
    bad = [k for k in values if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}: keys must be names, not {bad[0]!r}")
    if refused:
        at = refused.start()
        line = text.count("\n", 0, at) + 1
        key = next((f": {k}" for k, (start, end) in spans.items() if start <= at < end), "")
        raise ConfigError(
            f"{path}:{line}{key}: a control character, which YAML does not allow; the value is "
            f"not shown, as it may be a secret: {_ESCAPE}"
        )
    return YamlMapping(path, values, lines, spans)


def _absent(path: Path) -> bool:
    """Whether nothing is at path, not even a broken symlink (which is read, to say so)."""
    try:
        path.lstat()
    except FileNotFoundError:
        return True
    except OSError:  # such as a folder that cannot be searched: reading it says so
        return False
    return False


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


def _as_written(node: Node, path: Path) -> dict[str, str | None] | None:
    """The top-level mapping with each value the text of the file: None when it is empty or a
    plain null. None when node is not a mapping."""
    if not isinstance(node, MappingNode):
        return None
    values: dict[str, str | None] = {}
    errors = []
    for key_node, value_node in node.value:
        where = f"{path}:{key_node.start_mark.line + 1}"
        if not isinstance(key_node, ScalarNode):
            raise ConfigError(f"{where}: keys must be names, not lists or mappings")
        key = key_node.value
        if not isinstance(value_node, ScalarNode):
            errors.append(f"{where}: {key} must be a string (or empty)")
        elif value_node.value == "" or (not value_node.style and value_node.value in _NULLS):
            values[key] = None
        else:
            values[key] = value_node.value
    if errors:
        raise ConfigError("\n".join(errors))
    return values


def _invalid(
    exc: yaml.YAMLError, text: str, path: Path, loader: _Composing | None, strings: bool
) -> str:
    """The message for a YAML syntax error; with `strings`, one that shows nothing of a value."""
    if isinstance(exc, ReaderError):  # its position counts bytes (libyaml) or characters
        bad = Reader.NON_PRINTABLE.search(text)
        line = text.count("\n", 0, bad.start()) + 1 if bad else None
        problem = f"a control character, which YAML does not allow; {_ESCAPE}"
    else:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"{path}:{line}" if line else str(path)
    if not strings:
        hint = ""
        if "unhashable" in problem:
            hint = '; a value that starts with `{` needs quotes: key: "{{ other_setting }}"'
        return f"{where}: invalid YAML ({problem}){hint}"
    near = f" in or after the value of {loader.key}" if loader and loader.key else ""
    if isinstance(loader, _PythonLoader):
        scanner = isinstance(exc, ScannerError)
        problem = _QUOTED.sub(lambda quoted: "" if quoted[1] or scanner else quoted[0], problem)
    return (
        f"{where}: invalid YAML{near} ({problem}); the value is not shown, "
        "as it may be a secret: write it in single quotes, doubling any ' inside"
    )


class _Composing(Composer):
    """PyYAML's composer (which builds the node graph) that also counts the values with
    aliases expanded, finds repeated keys and, with `strings`, refuses anchors, aliases and
    tags. It remembers the top-level key being read, so a syntax error can name it."""

    if TYPE_CHECKING:  # provided by the parser this is mixed with

        def peek_event(self) -> Any: ...
        def dispose(self) -> None: ...
        def construct_document(self, node: Node) -> Any: ...

    def setup(self, path: Path, strings: bool) -> None:
        self.path = path
        self.strings = strings
        self.key: str | None = None
        self.expanded = 0  # values so far, aliases expanded
        self.sizes: dict[Node, int] = {}  # each finished node: its values, aliases expanded
        self.depth = 0
        self.duplicates: list[tuple[int, str]] = []

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # The top-level key whose value this node is, if it is one (set before the value is
        # read: that is when a syntax error in the value is found).
        key = str(index.value) if self.depth == 1 and isinstance(index, ScalarNode) else None
        self.key = key or self.key
        event: Event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else 0
        if self.strings:
            self._refuse_anchor_and_tag(event, f"{self.path}:{line}" + (f": {key}" if key else ""))
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)  # fails for an undefined alias
            self._expand(node, line)
            return node
        start = self.expanded
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self.expanded += 1
        if node is not None:
            self.sizes[node] = self.expanded - start
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                name = key_node.value if self.strings else (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if name in first:
                    self.duplicates.append(
                        (
                            line,
                            f"{self.path}:{line}: key {key_node.value!r} appears again (first "
                            f"at line {first[name]}); YAML would keep only the last: keep one",
                        )
                    )
                first.setdefault(name, line)
        return node

    def report_duplicates(self) -> None:
        if self.duplicates:
            raise ConfigError("\n".join(message for _, message in sorted(self.duplicates)))

    def _expand(self, node: Node | None, line: int) -> None:
        size = self.sizes.get(node) if node is not None else 0
        if size is None:  # its node is still being read: it contains the alias
            raise ConfigError(
                f"{self.path}:{line}: this alias refers to a value that contains it, which "
                "would never end; write the value out instead"
            )
        self.expanded += size
        if self.expanded > MAX_NODES:
            raise ConfigError(
                f"{self.path}:{line}: this alias takes the document past {MAX_NODES} values "
                "once aliases are expanded; settings are far smaller: write them out instead"
            )

    def _refuse_anchor_and_tag(self, event: Event, about: str) -> None:
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            raise ConfigError(
                f"{about}: anchors (&) and aliases (*) are not allowed here; write each value "
                "out, in single quotes if it starts with & or *"
            )
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.tag not in (None, "!"):
            raise ConfigError(
                f"{about}: a value that starts with ! is read as a YAML tag; write the value "
                "in single quotes, doubling any ' inside"
            )


class _PythonLoader(Reader, Scanner, Parser, _Composing, SafeConstructor, Resolver):
    """PyYAML's own parser: used when PyYAML was built without libyaml."""

    def __init__(self, text: str, path: Path, strings: bool) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Composing.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.setup(path, strings)


_Loader: Callable[[str, Path, bool], _Composing] = _PythonLoader

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _LibyamlLoader(_Composing, CParser, SafeConstructor, Resolver):
        """libyaml's parser (about ten times faster than PyYAML's) under the composer above."""

        def __init__(self, text: str, path: Path, strings: bool) -> None:
            CParser.__init__(self, text)
            _Composing.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.setup(path, strings)

    _Loader = _LibyamlLoader
