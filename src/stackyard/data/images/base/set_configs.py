#!/usr/bin/python3
"""kolla_set_configs: make a container's files match its configuration, then hand over.

kolla_start runs this before its service starts: as the container's own user when the
deployment made the config files readable for it (stackyard: no privilege needed), else as root
through the one sudo rule (Kolla Ansible). The deployment describes the container in
``config.yaml`` or ``config.json`` under /var/lib/kolla/config_files (a read-only bind mount of
the host's /etc/kolla/<service>); this script creates the declared directories and empty files,
copies the declared configuration files into place with the declared owner and mode, fixes
permissions, and writes the service command to /run_command (as root) or
/var/lib/kolla/run/command (as the service user), which kolla_start then execs. A command
given as a list is also written NUL-separated beside it (``.argv``), so kolla_start passes
each value as one argument.
Keeping this behaviour (section 2 of the Kolla container contract) is what lets Kolla Ansible
drive stackyard images and stackyard drive Kolla images.

Before a configuration file first overwrites a path, the image's own version is saved under
/etc/kolla/defaults (or recorded as absent), so that dropping the entry from the
configuration brings the image's file back on the next start. ``--check`` compares the
container with its configuration and changes nothing; Kolla Ansible uses its exit code to
decide whether a running container is stale.

The script runs on the image's system python3, so it uses only the standard library;
PyYAML is imported only when a config.yaml is present.

Exit codes: 0 done (or in sync), 1 invalid configuration (or out of sync), 2 unexpected error.
"""

import argparse
import glob
import grp
import importlib
import json
import os
import pwd
import re
import shlex
import shutil
import stat
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STRATEGIES = ("COPY_ALWAYS", "COPY_ONCE")
CONFIG_FILE_KEYS = frozenset(
    {"source", "dest", "owner", "perm", "preserve_properties", "optional", "merge"}
)
NODE_KEYS = frozenset({"path", "owner", "perm"})
PERMISSION_KEYS = frozenset({"path", "owner", "perm", "recurse", "exclude"})
SECTIONS = {
    "config_files": CONFIG_FILE_KEYS,
    "directories": NODE_KEYS,
    "files": NODE_KEYS,
    "permissions": PERMISSION_KEYS,
}
TOP_KEYS = frozenset({"command", *SECTIONS})
PERM_SYNTAX = re.compile(r"(0o)?0?[0-7]{3,4}")


class ConfigError(Exception):
    """The configuration is invalid or cannot be applied as written (exit code 1)."""


@dataclass(frozen=True)
class Paths:
    """Every path the applier reads or writes; tests point them into a scratch directory."""

    config_dir: Path = Path("/var/lib/kolla/config_files")
    run_command: Path = Path("/run_command")
    configured: Path = Path("/configured")
    defaults_dir: Path = Path("/etc/kolla/defaults")
    # Saving and restoring the image's own files needs root (they are root's); without it the
    # container is recreated whenever its configuration changes, so nothing needs restoring.
    track_defaults: bool = True

    @property
    def state(self) -> Path:
        """JSON map of each copied destination to its saved image version (None: absent)."""
        return self.defaults_dir / "state"

    @property
    def run_argv(self) -> Path:
        return self.run_command.with_name(self.run_command.name + ".argv")

    @classmethod
    def for_user(cls) -> "Paths":
        """Kolla's paths as root; a folder the image gives its user otherwise (it cannot
        write to / or to root's /etc/kolla/defaults, and must not: root reads them)."""
        if os.geteuid() == 0:
            return cls()
        run = Path("/var/lib/kolla/run")
        return cls(
            run_command=run / "command",
            configured=run / "configured",
            defaults_dir=run / "defaults",
            track_defaults=False,
        )


@dataclass(frozen=True)
class Props:
    """Numeric owner and group, and the mode to set (None: leave the mode alone)."""

    uid: int
    gid: int
    perm: int | None


@dataclass(frozen=True)
class ConfigFile:
    """A `config_files` entry; props None means preserve_properties (take the source's)."""

    where: str
    source: str
    dest: str
    props: Props | None
    optional: bool
    merge: bool


@dataclass(frozen=True)
class Node:
    """A `directories` or `files` entry."""

    where: str
    path: Path
    props: Props


@dataclass(frozen=True)
class Permission:
    """A `permissions` entry."""

    where: str
    pattern: str
    props: Props
    recurse: bool
    exclude: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Config:
    """A validated configuration."""

    command: str | tuple[str, ...]
    config_files: tuple[ConfigFile, ...]
    directories: tuple[Node, ...]
    files: tuple[Node, ...]
    permissions: tuple[Permission, ...]


@dataclass(frozen=True)
class Copy:
    """One path matched by a `config_files` source, and where it goes."""

    entry: ConfigFile
    source: Path
    dest: Path


def _log(level: str, message: str) -> None:
    print(f"{level}: {message}", file=sys.stderr)


# --- validation -------------------------------------------------------------------------


class _Entry:
    """One mapping of the configuration, read with errors that say where it is."""

    def __init__(self, data: object, where: str, keys: frozenset[str]) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a mapping with keys {', '.join(sorted(keys))}")
        self.data: dict[Any, Any] = data
        self.where = where

    def get(self, key: str, why: str = "") -> object:
        if key not in self.data:
            raise ConfigError(f"{self.where}: missing required key {key!r}{why}")
        return self.data[key]

    def path(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value.startswith("/"):
            raise ConfigError(f"{self.where}.{key}: {value!r} is not an absolute path")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}.{key}: {value!r} is not true or false")
        return value

    def props(self, perm_required: bool = True, why: str = "") -> Props:
        uid, gid = _owner(self.get("owner", why), f"{self.where}.owner")
        if not perm_required and "perm" not in self.data:
            return Props(uid, gid, None)
        return Props(uid, gid, _perm(self.get("perm", why), f"{self.where}.perm"))


def _owner(value: object, where: str) -> tuple[int, int]:
    """Resolve 'user' (with the user's primary group) or 'user:group' to numeric ids."""
    if not isinstance(value, str) or not re.fullmatch(r"[^:]+(:[^:]+)?", value):
        raise ConfigError(f"{where}: {value!r} is not 'user' or 'user:group'")
    user, _, group = value.partition(":")
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"{where}: user {user!r} does not exist") from None
    if not group:
        return account.pw_uid, account.pw_gid
    try:
        return account.pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"{where}: group {group!r} does not exist") from None


def _perm(value: object, where: str) -> int:
    if not isinstance(value, str) or not PERM_SYNTAX.fullmatch(value):
        raise ConfigError(
            f"{where}: {value!r} is not an octal mode string; quote it, e.g. '0644', '644' "
            "or '0o644'"
        )
    return int(value.removeprefix("0o"), 8)


def _regex(value: object, where: str) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {value!r} is not a regular expression string")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{where}: {value!r} is not a valid regular expression: {exc}") from None


def _items(top: _Entry, key: str, keys: frozenset[str]) -> list[_Entry]:
    value = top.data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of mappings, got {type(value).__name__}")
    return [_Entry(item, f"{key}[{index}]", keys) for index, item in enumerate(value)]


def _config_file(entry: _Entry) -> ConfigFile:
    preserve = entry.flag("preserve_properties")
    return ConfigFile(
        where=entry.where,
        source=entry.path("source"),
        dest=entry.path("dest"),
        props=None if preserve else entry.props(why=" (needed unless preserve_properties)"),
        optional=entry.flag("optional"),
        merge=entry.flag("merge"),
    )


def _node(entry: _Entry) -> Node:
    return Node(entry.where, Path(entry.path("path")), entry.props())


def _permission(entry: _Entry) -> Permission:
    excludes = entry.data.get("exclude", [])
    if not isinstance(excludes, list):
        raise ConfigError(f"{entry.where}.exclude: expected a list of regular expressions")
    return Permission(
        where=entry.where,
        pattern=entry.path("path"),
        props=entry.props(perm_required=False),
        recurse=entry.flag("recurse"),
        exclude=tuple(
            _regex(item, f"{entry.where}.exclude[{index}]") for index, item in enumerate(excludes)
        ),
    )


def _parse(config: object) -> Config:
    top = _Entry(config, "config", TOP_KEYS)
    command = top.get("command")
    if isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        command = tuple(command)
    elif not isinstance(command, str) or not command.strip():
        raise ConfigError(f"command: {command!r} is not a non-empty string or list of strings")
    return Config(
        command=command,
        config_files=tuple(map(_config_file, _items(top, "config_files", CONFIG_FILE_KEYS))),
        directories=tuple(map(_node, _items(top, "directories", NODE_KEYS))),
        files=tuple(map(_node, _items(top, "files", NODE_KEYS))),
        permissions=tuple(map(_permission, _items(top, "permissions", PERMISSION_KEYS))),
    )


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        found = f"got {strategy!r}" if strategy else "it is not set"
        raise ConfigError(f"KOLLA_CONFIG_STRATEGY must be COPY_ALWAYS or COPY_ONCE; {found}")


def _read_yaml(path: Path) -> object:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise ConfigError(
            f"{path} needs PyYAML, which is not installed (Debian: python3-yaml); "
            "install it or provide config.json instead"
        ) from None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None


def _warn_unknown_keys(config: dict[str, Any]) -> None:
    """Unknown keys are ignored (later Kolla versions may add some) but named: likely typos."""
    places = [("config", config, TOP_KEYS)] + [
        (f"{section}[{index}]", item, keys)
        for section, keys in SECTIONS.items()
        for index, item in enumerate(config.get(section) or [])
    ]
    for where, data, keys in places:
        for key in sorted(set(map(str, data)) - keys):
            _log("WARNING", f"{where}: ignoring unknown key {key!r}")


def load_config(config_dir: Path) -> dict[str, Any]:
    """Read and validate config.yaml (preferred) or config.json from config_dir."""
    yaml_path, json_path = config_dir / "config.yaml", config_dir / "config.json"
    if yaml_path.is_file():
        path, config = yaml_path, _read_yaml(yaml_path)
    elif json_path.is_file():
        path, config = json_path, _read_json(json_path)
    else:
        raise ConfigError(f"no configuration: neither {yaml_path} nor {json_path} exists")
    _log("INFO", f"Loaded the configuration from {path}")
    if not isinstance(config, dict):
        raise ConfigError(f"{path} must hold a mapping, not {type(config).__name__}")
    _parse(config)
    _warn_unknown_keys(config)
    return config


# --- file system helpers ----------------------------------------------------------------


def _kind(path: Path, keep_links: bool = True) -> str:
    """What path is; symlinks count as such only when keep_links (else they are followed)."""
    if keep_links and path.is_symlink():
        return "a symlink"
    if path.is_dir():
        return "a directory"
    return "a file" if path.exists() else "missing"


def _walk(root: Path, keep_links: bool) -> list[Path]:
    """Paths of root's tree relative to root, parents first; Path('.') is root itself."""
    found = [Path()]
    if _kind(root, keep_links) == "a directory":
        for child in sorted(root.iterdir()):
            found += [child.name / rel for rel in _walk(child, keep_links)]
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _mode_for(perm: int, is_dir: bool) -> int:
    """A directory also gets search (x) permission wherever perm grants read."""
    return perm | (perm & 0o444) >> 2 if is_dir else perm


def _set_props(path: Path, props: Props) -> None:
    """Set owner and mode without following symlinks (a symlink's mode cannot be set)."""
    os.chown(path, props.uid, props.gid, follow_symlinks=False)
    if props.perm is not None and not path.is_symlink():
        path.chmod(_mode_for(props.perm, path.is_dir()))


def _source_props(path: Path) -> Props:
    status = path.lstat()
    return Props(status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode))


def _copy_node(source: Path, dest: Path, keep_links: bool) -> None:
    """Copy one file, directory (without contents) or kept symlink; dirs already there stay."""
    if keep_links and source.is_symlink():
        _remove(dest)
        dest.symlink_to(os.readlink(source))
    elif source.is_dir():
        if dest.is_symlink() or not dest.is_dir():
            _remove(dest)
            dest.mkdir(mode=0o700)
    else:
        _remove(dest)
        # Created private, so a secret is never readable before its mode is set.
        handle = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with source.open("rb") as reader, os.fdopen(handle, "wb") as writer:
            shutil.copyfileobj(reader, writer)


def _transfer(source: Path, dest: Path, props: Props | None, merge: bool = False) -> None:
    """Copy a file or tree; props None keeps symlinks and copies owner and mode as well."""
    keep_links = props is None
    if not merge:
        _remove(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for rel in _walk(source, keep_links):
        _copy_node(source / rel, dest / rel, keep_links)
        _set_props(dest / rel, props if props is not None else _source_props(source / rel))


# --- image defaults ---------------------------------------------------------------------


def _load_state(paths: Paths) -> dict[str, str | None]:
    if not paths.state.exists():
        return {}
    try:
        state = json.loads(paths.state.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        state = None
    if not isinstance(state, dict):
        raise ConfigError(f"{paths.state} is corrupt; restore or delete it")
    return state


def _save_state(state: dict[str, str | None], paths: Paths) -> None:
    paths.defaults_dir.mkdir(parents=True, exist_ok=True)
    temporary = paths.state.with_name(paths.state.name + ".new")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(paths.state)


def _restore_defaults(state: dict[str, str | None], wanted: set[str], paths: Paths) -> None:
    """Put back the image's version of every destination no longer in the configuration."""
    dropped = sorted(set(state) - wanted, reverse=True)  # children before their parents
    for dest in dropped:
        backup = state[dest]
        if backup is None:
            _log("INFO", f"Removing {dest}: no longer configured and not in the image")
            _remove(Path(dest))
        else:
            _log("INFO", f"Restoring the image's {dest}: no longer configured")
            _transfer(Path(backup), Path(dest), None)
    backups = [state.pop(dest) for dest in dropped]
    _save_state(state, paths)
    for backup in backups:
        if backup is not None:
            _remove(Path(backup))


def _record_default(dest: Path, state: dict[str, str | None], paths: Paths) -> None:
    """Before dest is first overwritten, save the image's version or note its absence."""
    if str(dest) in state:
        return
    backup = None
    if os.path.lexists(dest):
        backup = paths.defaults_dir / dest.relative_to("/")
        _log("INFO", f"Saving the image's {dest} to {backup}")
        _transfer(dest, backup, None)
    state[str(dest)] = None if backup is None else str(backup)


# --- applying ---------------------------------------------------------------------------


def _plan(entries: tuple[ConfigFile, ...]) -> list[Copy]:
    """Expand each entry's source glob into copies; a required source must match."""
    copies: list[Copy] = []
    for entry in entries:
        sources = sorted(glob.glob(entry.source))
        if not sources and not entry.optional:
            raise ConfigError(
                f"{entry.where}.source: nothing matches {entry.source}; provide it or set "
                "optional: true"
            )
        if not sources:
            _log("INFO", f"Skipping {entry.source}: optional and not present")
        if len(sources) > 1 and not entry.dest.endswith("/"):
            raise ConfigError(
                f"{entry.where}.dest: {entry.source} matches {len(sources)} paths, so dest "
                "must be a directory ending in '/'"
            )
        copies += [Copy(entry, Path(source), _destination(entry, source)) for source in sources]
    return copies


def _destination(entry: ConfigFile, source: str) -> Path:
    """dest itself, or for a dest ending in '/' the source's name inside it."""
    return Path(entry.dest, Path(source).name) if entry.dest.endswith("/") else Path(entry.dest)


def _make_directories(nodes: tuple[Node, ...]) -> None:
    for node in nodes:
        found = _kind(node.path)
        if found not in ("a directory", "missing"):
            raise ConfigError(f"{node.where}.path: {node.path} is {found}, not a directory")
        if found == "missing":
            _log("INFO", f"Creating directory {node.path}")
            node.path.mkdir(mode=0o700, parents=True)
        _set_props(node.path, node.props)


def _make_files(nodes: tuple[Node, ...]) -> None:
    for node in nodes:
        found = _kind(node.path)
        if found not in ("a file", "missing"):
            raise ConfigError(f"{node.where}.path: {node.path} is {found}, not a regular file")
        if found == "missing":
            if not node.path.parent.is_dir():
                raise ConfigError(
                    f"{node.where}.path: parent directory {node.path.parent} does not exist"
                )
            _log("INFO", f"Creating empty file {node.path}")
            node.path.touch(mode=0o600)
        _set_props(node.path, node.props)


def _copy_config_files(copies: list[Copy], paths: Paths) -> None:
    if paths.track_defaults:
        state = _load_state(paths)
        _restore_defaults(state, {str(copy.dest) for copy in copies}, paths)
        for copy in copies:
            _record_default(copy.dest, state, paths)
        _save_state(state, paths)
    for copy in copies:
        _log("INFO", f"{'Merging' if copy.entry.merge else 'Copying'} {copy.source} to {copy.dest}")
        _transfer(copy.source, copy.dest, copy.entry.props, copy.entry.merge)


def _targets(root: Path, entry: Permission) -> Iterator[Path]:
    """root and, with recurse, its tree, skipping excluded paths and not following links."""

    def excluded(path: Path) -> bool:
        return any(pattern.search(str(path)) for pattern in entry.exclude)

    if excluded(root):
        return
    yield root
    if not entry.recurse or _kind(root) != "a directory":
        return
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if not excluded(Path(top, name)))
        names = dirs + sorted(files)
        yield from (Path(top, name) for name in names if not excluded(Path(top, name)))


def _apply_permissions(entries: tuple[Permission, ...]) -> None:
    for entry in entries:
        matches = sorted(glob.glob(entry.pattern))
        if not matches:
            _log("WARNING", f"{entry.where}: nothing matches {entry.pattern}")
        for match in matches:
            how = " recursively" if entry.recurse else ""
            _log("INFO", f"Setting permissions on {match}{how}")
            for path in _targets(Path(match), entry):
                _set_props(path, entry.props)


def _command_text(command: str | tuple[str, ...]) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def _write_command(command: str | tuple[str, ...], paths: Paths) -> None:
    _log("INFO", f"Writing the command to {paths.run_command}")
    paths.run_command.parent.mkdir(parents=True, exist_ok=True)
    paths.run_command.write_text(_command_text(command), encoding="utf-8")
    paths.run_command.chmod(0o644)
    if isinstance(command, str):
        paths.run_argv.unlink(missing_ok=True)
    else:
        paths.run_argv.write_bytes(b"".join(a.encode() + b"\0" for a in command))
        paths.run_argv.chmod(0o644)


def apply(config: dict[str, Any], strategy: str, paths: Paths) -> None:
    """Make the container match config; COPY_ONCE does so only while paths.configured is absent."""
    _check_strategy(strategy)
    parsed = _parse(config)
    if strategy == "COPY_ONCE" and paths.configured.exists():
        _log("INFO", f"{paths.configured} exists: COPY_ONCE keeps the configuration immutable")
        return
    copies = _plan(parsed.config_files)
    _make_directories(parsed.directories)
    _make_files(parsed.files)
    _copy_config_files(copies, paths)
    _apply_permissions(parsed.permissions)
    _write_command(parsed.command, paths)
    if strategy == "COPY_ONCE":
        _log("INFO", f"Creating {paths.configured}: later starts keep this configuration")
        paths.configured.touch()


# --- checking ---------------------------------------------------------------------------


def _check_command(command: str | tuple[str, ...], run_command: Path) -> list[str]:
    if not run_command.is_file():
        return [f"{run_command}: missing, so the command was never written"]
    written, text = run_command.read_text(encoding="utf-8"), _command_text(command)
    return [] if written == text else [f"{run_command}: has {written!r}, config has {text!r}"]


def _compare(source: Path, dest: Path, props: Props | None) -> list[str]:
    """How dest differs from the copy of source that applying would make."""
    want, have = _kind(source, props is None), _kind(dest)
    if want != have:
        return [f"{dest}: is {have}, expected {want} like {source}"]
    diffs = []
    if want == "a symlink" and os.readlink(source) != os.readlink(dest):
        diffs.append(f"{dest}: points to {os.readlink(dest)}, expected {os.readlink(source)}")
    if want == "a file" and source.read_bytes() != dest.read_bytes():
        diffs.append(f"{dest}: content differs from {source}")
    expected = props if props is not None else _source_props(source)
    status = dest.lstat()
    if status.st_uid != expected.uid:
        diffs.append(f"{dest}: owner uid is {status.st_uid}, expected {expected.uid}")
    if status.st_gid != expected.gid:
        diffs.append(f"{dest}: group gid is {status.st_gid}, expected {expected.gid}")
    if expected.perm is not None and want != "a symlink":
        mode, wanted = stat.S_IMODE(status.st_mode), _mode_for(expected.perm, want == "a directory")
        if mode != wanted:
            diffs.append(f"{dest}: mode is {mode:04o}, expected {wanted:04o}")
    return diffs


def _check_copy(copy: Copy) -> list[str]:
    rels = _walk(copy.source, copy.entry.props is None)
    diffs = [
        diff
        for rel in rels
        for diff in _compare(copy.source / rel, copy.dest / rel, copy.entry.props)
    ]
    if not copy.entry.merge:
        extra = sorted(set(_walk(copy.dest, True)) - set(rels))
        diffs += [f"{copy.dest / rel}: not in {copy.source}" for rel in extra]
    return diffs


def _check_state(copies: list[Copy], paths: Paths) -> list[str]:
    recorded, wanted = set(_load_state(paths)), {str(copy.dest) for copy in copies}
    return [
        f"{dest}: configured, but {paths.state} has no image default for it"
        for dest in sorted(wanted - recorded)
    ] + [
        f"{dest}: no longer configured, but {paths.state} has not restored it"
        for dest in sorted(recorded - wanted)
    ]


def check(config: dict[str, Any], paths: Paths) -> list[str]:
    """Describe every way the container differs from config; empty when in sync."""
    parsed = _parse(config)
    copies = _plan(parsed.config_files)
    diffs = _check_command(parsed.command, paths.run_command)
    for copy in copies:
        diffs += _check_copy(copy)
    return diffs + (_check_state(copies, paths) if paths.track_defaults else [])


def _report(diffs: list[str]) -> int:
    for diff in diffs:
        print(diff)
    _log("INFO", "The container differs from its configuration" if diffs else "All in sync")
    return 1 if diffs else 0


def main(argv: list[str] | None = None, paths: Paths | None = None) -> int:
    """Apply (or with --check compare) the configuration; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="kolla_set_configs",
        description="Apply the container configuration in config.yaml or config.json.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 0 if the container matches its configuration, else 1",
    )
    args = parser.parse_args(argv)
    paths = paths or Paths.for_user()
    try:
        config = load_config(paths.config_dir)
        if args.check:
            return _report(check(config, paths))
        apply(config, os.environ.get("KOLLA_CONFIG_STRATEGY", ""), paths)
    except ConfigError as exc:
        _log("ERROR", str(exc))
        return 1
    except Exception:
        _log("ERROR", "unexpected error")
        traceback.print_exc()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
