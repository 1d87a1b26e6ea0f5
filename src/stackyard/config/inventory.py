"""Ansible INI inventories, as kolla-ansible's all-in-one and multinode files (pure).

Operators describe their machines the way they do for kolla-ansible: groups of host lines with
variables, `[group:children]` to build service groups from role groups, `[group:vars]`. This
module reads such a file into hosts and fully resolved group memberships, and rejects what
Ansible would silently misread (a child group that is never defined, variables for a group
that does not exist) with the file and line, so a typo fails before anything is deployed.

Like Ansible, every inventory has the implicit groups `all` (every host) and `ungrouped` (hosts
in no other group, e.g. listed before the first header). Values stay strings.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stackyard.config.ini import read_text
from stackyard.errors import ConfigError

IMPLICIT_GROUPS = ("all", "ungrouped")
LOCAL_NAMES = ("localhost", "127.0.0.1")
# One host line may expand to at most this many hosts (a typo like [1:99999999] would hang).
MAX_RANGE_HOSTS = 10_000

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RANGE = re.compile(r"\[([^\[\]]*)\]")
_BOUND = re.compile(r"[0-9]{1,9}\Z")
_KINDS = ("", "children", "vars")


@dataclass(frozen=True, slots=True)
class Host:
    """One machine: its variables (all its lines merged, later wins) and every group it is in."""

    name: str
    vars: dict[str, str] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    line: int = 0  # where the host first appears; 0 when not read from a file

    @property
    def address(self) -> str | None:
        """`ansible_host` if set, else the name when it is an IP address, else None."""
        host = self.vars.get("ansible_host")
        if host:
            return host
        return self.name if _is_ip(self.name) else None

    @property
    def is_local(self) -> bool:
        """True when Ansible would run on this machine rather than connect to it."""
        return self.vars.get("ansible_connection") == "local" or self.name in LOCAL_NAMES


@dataclass(frozen=True, slots=True)
class Inventory:
    """Hosts in first-seen order; groups (`all`, `ungrouped`, then as defined) -> host names."""

    hosts: dict[str, Host]
    groups: dict[str, frozenset[str]]
    group_vars: dict[str, dict[str, str]]  # only groups that have a [group:vars] section
    source: str = "<inventory>"

    def hosts_in(self, group: str) -> list[str]:
        """The group's hosts in inventory order; an unknown group is a ConfigError."""
        members = self.groups.get(group)
        if members is None:
            raise ConfigError(
                f"{self.source}: no group named `{group}`; known groups: {', '.join(self.groups)}"
            )
        return [name for name in self.hosts if name in members]


def parse_inventory(text: str, source: str) -> Inventory:
    """Read Ansible INI inventory text; errors are ConfigError `source:LINE: ...`."""
    parser = _Parser(source)
    for number, raw in enumerate(text.split("\n"), start=1):
        parser.feed(number, raw.strip())
    return parser.finish()


def load_inventory(path: Path) -> Inventory:
    """Read and parse one inventory file; a missing or unreadable file is a ConfigError."""
    return parse_inventory(read_text(path), str(path))


def validate_addresses(inventory: Inventory) -> None:
    """Every host stackyard must connect to needs an address; list all that have none."""
    missing = [h for h in inventory.hosts.values() if not h.is_local and h.address is None]
    advice = (
        "add ansible_host=ADDRESS to the host line, or name the host by its IP address "
        "(ansible_connection=local for this machine)"
    )
    if len(missing) == 1:
        host = missing[0]
        raise ConfigError(
            f"{inventory.source}:{host.line}: host `{host.name}` has no address; {advice}"
        )
    if missing:
        listed = ", ".join(f"`{h.name}` (line {h.line})" for h in missing)
        raise ConfigError(f"{inventory.source}: hosts without an address: {listed}; {advice}")


class _Parser:
    """Collects the file line by line; `finish` resolves and validates the groups."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.host_vars: dict[str, dict[str, str]] = {}
        self.host_lines: dict[str, int] = {}
        # Groups defined by a [group] or [group:children] header -> line of the first header.
        self.defined: dict[str, int] = {}
        self.direct: dict[str, dict[str, None]] = {}  # group -> host names (ordered set)
        self.children: dict[str, list[tuple[str, int]]] = {}
        self.vars: dict[str, dict[str, str]] = {}
        self.vars_lines: dict[str, int] = {}
        self.group = "ungrouped"
        self.kind = ""

    def feed(self, number: int, line: str) -> None:
        where = f"{self.source}:{number}"
        if not line or line.startswith(("#", ";")):
            return
        if line.startswith("["):
            self._header(line, where, number)
        elif self.kind == "children":
            self._child(line, where, number)
        elif self.kind == "vars":
            key, value = _variable_line(line, where, self.group)
            self.vars[self.group][key] = value
        else:
            self._hosts(line, where, number)

    def _header(self, line: str, where: str, number: int) -> None:
        end = line.find("]")
        if end < 0:
            raise ConfigError(
                f"{where}: section header `{line}` is not closed; "
                "write `[group]`, `[group:children]` or `[group:vars]`"
            )
        after = line[end + 1 :].strip()
        if after and not after.startswith(("#", ";")):
            raise ConfigError(
                f"{where}: unexpected `{after}` after the section header; "
                "only a `#` comment may follow the `]`"
            )
        name, colon, kind = line[1:end].partition(":")
        if not name:
            raise ConfigError(f"{where}: empty group name in `{line}`; write `[group]`")
        if any(c.isspace() for c in name):
            raise ConfigError(
                f"{where}: group name `{name}` contains whitespace; use letters, digits, `_` or `-`"
            )
        if colon and kind not in _KINDS[1:]:
            raise ConfigError(
                f"{where}: unknown section suffix `:{kind}` in `{line}`; "
                f"valid are `[{name}]`, `[{name}:children]` and `[{name}:vars]`"
            )
        self.group, self.kind = name, kind
        if kind == "vars":
            self.vars.setdefault(name, {})
            self.vars_lines.setdefault(name, number)
        else:
            self.defined.setdefault(name, number)
            self.direct.setdefault(name, {})
            self.children.setdefault(name, [])

    def _child(self, line: str, where: str, number: int) -> None:
        tokens = _tokens(line, where)
        if len(tokens) != 1 or not tokens[0]:
            raise ConfigError(
                f"{where}: `{line}` in `[{self.group}:children]` is not a group name; "
                "write one group name per line"
            )
        child = tokens[0]
        if child in IMPLICIT_GROUPS:
            raise ConfigError(
                f"{where}: `{child}` is an implicit group and cannot be a child of "
                f"`{self.group}`; list the groups or hosts it should contain instead"
            )
        self.children[self.group].append((child, number))

    def _hosts(self, line: str, where: str, number: int) -> None:
        tokens = _tokens(line, where)
        if not tokens:
            return
        pattern, *assignments = tokens
        if "=" in pattern:
            raise ConfigError(
                f"{where}: a host line starts with a host name, not `{pattern}`; "
                "write `name key=value ...`"
            )
        pattern, port = _split_port(pattern, where)
        values: dict[str, str] = {"ansible_port": port} if port else {}
        for token in assignments:
            key, value = _assignment(token, where)
            values[key] = value
        self.direct.setdefault(self.group, {})
        for name in _expand(pattern, where):
            if not name or any(c.isspace() for c in name):
                raise ConfigError(
                    f"{where}: host name `{name}` is empty or contains whitespace; "
                    "a host name is one word such as `node1` or `10.0.0.11`"
                )
            self.host_vars.setdefault(name, {}).update(values)
            self.host_lines.setdefault(name, number)
            self.direct[self.group][name] = None

    def finish(self) -> Inventory:
        known = [g for g in IMPLICIT_GROUPS if g not in self.defined] + list(self.defined)
        known_text = ", ".join(known)
        for group, line in self.vars_lines.items():
            if group not in known:
                raise ConfigError(
                    f"{self.source}:{line}: `[{group}:vars]` sets variables for group `{group}`, "
                    f"which is never defined; defined groups: {known_text}"
                )
        for group, entries in self.children.items():
            for child, line in entries:
                if child not in self.defined:
                    raise ConfigError(
                        f"{self.source}:{line}: `[{group}:children]` names group `{child}`, "
                        f"which is never defined; defined groups: {known_text}"
                    )
        members: dict[str, set[str]] = {}
        for group in self._children_first():
            resolved = set(self.direct.get(group, {}))
            for child, _ in self.children.get(group, []):
                resolved |= members[child]
            members[group] = resolved
        grouped = {h for g, hosts in members.items() if g not in IMPLICIT_GROUPS for h in hosts}
        groups = {
            "all": frozenset(self.host_vars),
            "ungrouped": frozenset(
                members.get("ungrouped", set()) | (set(self.host_vars) - grouped)
            ),
        }
        for group in self.defined:
            groups.setdefault(group, frozenset(members[group]))
        hosts = {
            name: Host(
                name=name,
                vars=values,
                groups=frozenset(g for g, hosts in groups.items() if name in hosts),
                line=self.host_lines[name],
            )
            for name, values in self.host_vars.items()
        }
        return Inventory(hosts=hosts, groups=groups, group_vars=self.vars, source=self.source)

    def _children_first(self) -> list[str]:
        """Defined groups, every child before its parents; a cycle is a ConfigError."""
        order: list[str] = []
        done: set[str] = set()
        for root in self.defined:
            if root in done:
                continue
            path = [root]
            pending: list[Iterator[tuple[str, int]]] = [iter(self.children[root])]
            while pending:
                step = next(pending[-1], None)
                if step is None:
                    pending.pop()
                    done.add(path[-1])
                    order.append(path.pop())
                    continue
                child, line = step
                if child in path:
                    cycle = " -> ".join([*path[path.index(child) :], child])
                    raise ConfigError(
                        f"{self.source}:{line}: `[{path[-1]}:children]` makes a cycle: {cycle}; "
                        "a group cannot contain itself"
                    )
                if child not in done:
                    path.append(child)
                    pending.append(iter(self.children[child]))
        return order


def _tokens(line: str, where: str) -> list[str]:
    """Split like a shell: whitespace separates, quotes group (and are removed), `#` at the
    start of a word begins a comment; inside double quotes `\\"` and `\\\\` are escapes."""
    tokens: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    chars = iter(line)
    for c in chars:
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                nxt = next(chars, "")
                word.append(nxt if nxt in ('"', "\\") else c + nxt)
            else:
                word.append(c)
        elif c.isspace():
            if in_word:
                tokens.append("".join(word))
                word, in_word = [], False
        elif c == "#" and not in_word:
            break
        elif c in ("'", '"'):
            quote, in_word = c, True
        else:
            word.append(c)
            in_word = True
    if quote:
        raise ConfigError(
            f"{where}: unbalanced quote ({quote}) in `{line}`; close every quote, "
            f"e.g. key={quote}a value{quote}"
        )
    if in_word:
        tokens.append("".join(word))
    return tokens


def _assignment(token: str, where: str) -> tuple[str, str]:
    key, eq, value = token.partition("=")
    if not eq:
        raise ConfigError(
            f"{where}: malformed variable `{token}`; expected key=value "
            '(quote values with spaces: key="a b")'
        )
    _check_variable(key, token, where)
    return key, value


def _variable_line(line: str, where: str, group: str) -> tuple[str, str]:
    key, eq, value = line.partition("=")
    if not eq:
        raise ConfigError(
            f"{where}: `{line}` in `[{group}:vars]` has no `=`; write one key=value per line"
        )
    key, value = key.strip(), value.strip()
    _check_variable(key, line, where)
    if value.startswith(("'", '"')):
        if len(value) < 2 or value[-1] != value[0]:
            raise ConfigError(
                f"{where}: unbalanced quote ({value[0]}) in `{line}`; a quoted value must end "
                "with the same quote at the end of the line"
            )
        value = value[1:-1]
    return key, value


def _check_variable(key: str, text: str, where: str) -> None:
    if not _VARIABLE.match(key):
        raise ConfigError(
            f"{where}: malformed variable `{text}`: `{key}` is not a variable name; "
            "expected key=value with a key of letters, digits and `_`, not starting with a digit"
        )


def _split_port(pattern: str, where: str) -> tuple[str, str | None]:
    """`name:port` -> (name, port); IPv6 literals (several colons) are left alone."""
    depth = 0
    colons: list[int] = []
    for index, c in enumerate(pattern):
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(depth - 1, 0)
        elif c == ":" and depth == 0:
            colons.append(index)
    if len(colons) != 1:
        return pattern, None
    name, port = pattern[: colons[0]], pattern[colons[0] + 1 :]
    if not (_BOUND.match(port) and 0 < int(port) < 65536):
        raise ConfigError(
            f"{where}: `{pattern}`: `{port}` after `:` is not a port number (1-65535); "
            "write `name:port` or set ansible_port=PORT"
        )
    return name, port


def _expand(pattern: str, where: str) -> list[str]:
    """`node[01:03]` -> node01, node02, node03 (numeric, optional `:step`, padding kept)."""
    match = _RANGE.search(pattern)
    if match is None:
        if "[" in pattern or "]" in pattern:
            raise ConfigError(
                f"{where}: unbalanced bracket in host `{pattern}`; a range is written `node[01:03]`"
            )
        return [pattern]
    parts = match.group(1).split(":")
    if len(parts) not in (2, 3) or not all(_BOUND.match(p) for p in parts):
        raise ConfigError(
            f"{where}: host range `{match.group(0)}` in `{pattern}` is not numeric; "
            "write `[START:END]` or `[START:END:STEP]` with digits, e.g. node[01:03]"
        )
    first, last, step = int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 1
    if last < first or step < 1:
        raise ConfigError(
            f"{where}: host range `{match.group(0)}` is empty; "
            "START must not exceed END and STEP must be at least 1"
        )
    width = len(parts[0]) if parts[0].startswith("0") else 1
    count = (last - first) // step + 1
    tails = _expand(pattern[match.end() :], where)
    if count * len(tails) > MAX_RANGE_HOSTS:
        raise ConfigError(
            f"{where}: `{pattern}` expands to {count * len(tails)} hosts; "
            f"at most {MAX_RANGE_HOSTS} per line"
        )
    head = pattern[: match.start()]
    return [
        f"{head}{str(n).zfill(width)}{tail}" for n in range(first, last + 1, step) for tail in tails
    ]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
