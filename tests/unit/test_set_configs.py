"""Unit tests for kolla_set_configs (src/stackyard/data/images/base/set_configs.py).

The script is installed into images as a standalone file, not imported from the package, so
it is loaded here by path. Tests run as root, so ownership changes are real; they use users
and groups every Debian system has (root, daemon, nobody, nogroup).
"""

import grp
import importlib.util
import json
import os
import pwd
import stat
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "src/stackyard/data/images/base/set_configs.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kolla_set_configs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sc = _load_script()

NOBODY = pwd.getpwnam("nobody").pw_uid
DAEMON = pwd.getpwnam("daemon").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid
DAEMON_GROUP = pwd.getpwnam("daemon").pw_gid
NOBODY_GROUP = pwd.getpwnam("nobody").pw_gid


# --- helpers ------------------------------------------------------------------------------


class Env:
    """A scratch container: config dir, run_command/configured/defaults paths, a root."""

    def __init__(self, tmp_path: Path) -> None:
        self.paths = sc.Paths(
            config_dir=tmp_path / "config_files",
            run_command=tmp_path / "run_command",
            configured=tmp_path / "configured",
            defaults_dir=tmp_path / "defaults",
        )
        self.src: Path = self.paths.config_dir
        self.root = tmp_path / "root"
        self.src.mkdir()
        self.root.mkdir()

    def source(self, name: str, content: str = "data\n") -> Path:
        path = self.src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def write_json(self, config: dict[str, Any]) -> None:
        (self.src / "config.json").write_text(json.dumps(config))

    def apply(self, config: dict[str, Any], strategy: str = "COPY_ALWAYS") -> None:
        sc.apply(config, strategy, self.paths)

    def check(self, config: dict[str, Any]) -> list[str]:
        result: list[str] = sc.check(config, self.paths)
        return result


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def entry(source: Path | str, dest: Path | str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"source": str(source), "dest": str(dest)}
    item.update(owner="nobody", perm="0640")
    item.update(extra)
    return item


def config(*files: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"command": "/usr/bin/service --flag", "config_files": list(files), **extra}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def owner(path: Path) -> tuple[int, int]:
    status = path.lstat()
    return status.st_uid, status.st_gid


def state(env: Env) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((env.paths.defaults_dir / "state").read_text())
    return result


# --- load_config --------------------------------------------------------------------------


def test_paths_defaults_are_the_container_paths() -> None:
    paths = sc.Paths()
    assert paths.config_dir == Path("/var/lib/kolla/config_files")
    assert paths.run_command == Path("/run_command")
    assert paths.configured == Path("/configured")
    assert paths.defaults_dir == Path("/etc/kolla/defaults")
    assert paths.state == Path("/etc/kolla/defaults/state")
    assert paths.track_defaults


def test_paths_for_an_unprivileged_user_are_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root, the command goes where the image lets its user write, and the image's
    root-owned defaults are not tracked (it could neither save nor restore them)."""
    monkeypatch.setattr(sc.os, "geteuid", lambda: 42425)
    paths = sc.Paths.for_user()
    assert paths.run_command == Path("/var/lib/kolla/run/command")
    assert paths.configured == Path("/var/lib/kolla/run/configured")
    assert not paths.track_defaults
    monkeypatch.setattr(sc.os, "geteuid", lambda: 0)
    assert sc.Paths.for_user() == sc.Paths()


def test_load_config_reads_json(env: Env) -> None:
    env.write_json({"command": "run-json"})
    assert sc.load_config(env.src) == {"command": "run-json"}


def test_load_config_prefers_yaml_over_json(env: Env) -> None:
    env.write_json({"command": "from-json"})
    (env.src / "config.yaml").write_text("command: from-yaml\nconfig_files: []\n")
    assert sc.load_config(env.src)["command"] == "from-yaml"


def test_load_config_without_any_file_names_both(env: Env) -> None:
    with pytest.raises(sc.ConfigError, match=r"config\.yaml nor .*config\.json"):
        sc.load_config(env.src)


def test_load_config_rejects_invalid_json(env: Env) -> None:
    (env.src / "config.json").write_text("{not json")
    with pytest.raises(sc.ConfigError, match="not valid JSON"):
        sc.load_config(env.src)


def test_load_config_rejects_invalid_yaml(env: Env) -> None:
    (env.src / "config.yaml").write_text("command: [unclosed\n")
    with pytest.raises(sc.ConfigError, match="not valid YAML"):
        sc.load_config(env.src)


def test_load_config_yaml_without_pyyaml_says_so(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    (env.src / "config.yaml").write_text("command: x\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    with pytest.raises(sc.ConfigError, match="PyYAML"):
        sc.load_config(env.src)


def test_load_config_json_does_not_need_pyyaml(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.write_json({"command": "x"})
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert sc.load_config(env.src) == {"command": "x"}


def test_load_config_rejects_non_mapping(env: Env) -> None:
    (env.src / "config.json").write_text("[1, 2]")
    with pytest.raises(sc.ConfigError, match="must hold a mapping, not list"):
        sc.load_config(env.src)


def test_load_config_validates(env: Env) -> None:
    env.write_json({"config_files": []})
    with pytest.raises(sc.ConfigError, match="missing required key 'command'"):
        sc.load_config(env.src)


def test_script_uses_only_the_standard_library() -> None:
    imported = {
        line.split()[1].split(".")[0]
        for line in SCRIPT.read_text().splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported <= set(sys.stdlib_module_names)
    assert SCRIPT.read_text().startswith("#!/usr/bin/python3\n")


# --- validation messages -----------------------------------------------------------------

GOOD = {"source": "/src/a", "dest": "/dst/a", "owner": "nobody", "perm": "0600"}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


INVALID: list[tuple[Any, str]] = [
    ({}, r"config: missing required key 'command'"),
    ({"command": ""}, r"command: '' is not a non-empty string"),
    ({"command": []}, r"command: \[\] is not a non-empty string or list of strings"),
    ({"command": ["ls", 1]}, r"command: \['ls', 1\] is not a non-empty string or list"),
    ({"command": "x", "config_files": {"a": 1}}, r"config_files: expected a list"),
    ({"command": "x", "config_files": ["a"]}, r"config_files\[0\] must be a mapping"),
    ({"command": "x", "config_files": [without("source")]}, r"\[0\]: .*key 'source'"),
    ({"command": "x", "config_files": [without("dest")]}, r"\[0\]: .*key 'dest'"),
    (
        {"command": "x", "config_files": [without("owner")]},
        r"config_files\[0\]: missing required key 'owner' \(needed unless preserve_prop",
    ),
    ({"command": "x", "config_files": [without("perm")]}, r"config_files\[0\]: .*'perm'"),
    ({"command": "x", "config_files": [{**GOOD, "perm": "999"}]}, r"\[0\]\.perm: '999'.*'0644'"),
    ({"command": "x", "config_files": [{**GOOD, "perm": 644}]}, r"\[0\]\.perm: 644 .*quote it"),
    ({"command": "x", "config_files": [{**GOOD, "perm": "0o77777"}]}, r"\[0\]\.perm"),
    ({"command": "x", "config_files": [{**GOOD, "owner": "a:b:c"}]}, r"\[0\]\.owner: 'a:b:c'"),
    ({"command": "x", "config_files": [{**GOOD, "owner": ":root"}]}, r"\[0\]\.owner: ':root'"),
    ({"command": "x", "config_files": [{**GOOD, "owner": 0}]}, r"\[0\]\.owner: 0 is not"),
    ({"command": "x", "config_files": [{**GOOD, "owner": "nosuchuser"}]}, r"user 'nosuchuser'"),
    (
        {"command": "x", "config_files": [{**GOOD, "owner": "root:nosuchgroup"}]},
        r"config_files\[0\]\.owner: group 'nosuchgroup' does not exist",
    ),
    ({"command": "x", "config_files": [{**GOOD, "source": "rel/a"}]}, r"\[0\]\.source: 'rel/a'"),
    ({"command": "x", "config_files": [{**GOOD, "dest": 5}]}, r"\[0\]\.dest: 5 is not an abs"),
    ({"command": "x", "config_files": [{**GOOD, "optional": "yes"}]}, r"\[0\]\.optional: 'yes'"),
    ({"command": "x", "config_files": [{**GOOD, "merge": 1}]}, r"\[0\]\.merge: 1 is not true"),
    (
        {"command": "x", "config_files": [{**GOOD, "preserve_properties": "true"}]},
        r"\[0\]\.preserve_properties: 'true' is not true or false",
    ),
    (
        {"command": "x", "directories": [{"owner": "root", "perm": "755"}]},
        r"directories\[0\]: .*'path'",
    ),
    (
        {"command": "x", "directories": [{"path": "/d", "perm": "755"}]},
        r"directories\[0\]: .*'owner'",
    ),
    (
        {"command": "x", "directories": [{"path": "/d", "owner": "root"}]},
        r"directories\[0\]: .*'perm'",
    ),
    ({"command": "x", "directories": "/d"}, r"directories: expected a list of mappings, got str"),
    ({"command": "x", "files": [{"path": "/f", "owner": "root"}]}, r"files\[0\]: .*'perm'"),
    (
        {"command": "x", "files": [{"path": "f", "owner": "root", "perm": "644"}]},
        r"files\[0\]\.path",
    ),
    ({"command": "x", "permissions": [{"path": "/p"}]}, r"permissions\[0\]: .*'owner'"),
    ({"command": "x", "permissions": [{"owner": "root"}]}, r"permissions\[0\]: .*'path'"),
    (
        {"command": "x", "permissions": [{"path": "/p", "owner": "root", "recurse": "no"}]},
        r"permissions\[0\]\.recurse: 'no' is not true or false",
    ),
    (
        {"command": "x", "permissions": [{"path": "/p", "owner": "root", "exclude": "a"}]},
        r"permissions\[0\]\.exclude: expected a list",
    ),
    (
        {"command": "x", "permissions": [{"path": "/p", "owner": "root", "exclude": ["("]}]},
        r"permissions\[0\]\.exclude\[0\]: '\(' is not a valid regular expression",
    ),
    (
        {"command": "x", "permissions": [{"path": "/p", "owner": "root", "exclude": [1]}]},
        r"permissions\[0\]\.exclude\[0\]: 1 is not a regular expression",
    ),
    ("command: x", r"config must be a mapping with keys command, config_files"),
]


@pytest.mark.parametrize(("bad", "message"), INVALID)
def test_invalid_config_is_rejected_with_its_location(env: Env, bad: Any, message: str) -> None:
    with pytest.raises(sc.ConfigError, match=message):
        env.apply(bad)
    assert not env.paths.run_command.exists()


@pytest.mark.parametrize(("bad", "message"), INVALID[:6])
def test_load_config_reports_the_same_errors(env: Env, bad: Any, message: str) -> None:
    env.write_json(bad)
    with pytest.raises(sc.ConfigError, match=message):
        sc.load_config(env.src)


def test_unknown_keys_are_warned_about_once_not_fatal(
    env: Env, strategy: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write_json(
        {
            "command": "x",
            "comand": "typo",
            "files": None,
            "directories": [{"path": str(env.root), "owner": "root", "perm": "755", "mode": 1}],
        }
    )
    assert sc.main([], env.paths) == 0
    err = capsys.readouterr().err
    assert err.count("WARNING: config: ignoring unknown key 'comand'") == 1
    assert "WARNING: directories[0]: ignoring unknown key 'mode'" in err
    assert env.paths.run_command.read_text() == "x"


@pytest.mark.parametrize("strategy", ["", "COPY_SOMETIMES", "copy_always"])
def test_strategy_must_be_valid(env: Env, strategy: str) -> None:
    with pytest.raises(sc.ConfigError, match="KOLLA_CONFIG_STRATEGY must be COPY_ALWAYS or"):
        env.apply({"command": "x"}, strategy)
    assert not env.paths.run_command.exists()


def test_unset_strategy_says_it_is_not_set(env: Env) -> None:
    with pytest.raises(sc.ConfigError, match="it is not set"):
        env.apply({"command": "x"}, "")


# --- command ------------------------------------------------------------------------------


def test_command_written_world_readable(env: Env) -> None:
    env.paths.run_command.touch(mode=0o600)
    env.apply({"command": "/usr/bin/keystone-wsgi --port 5000"})
    assert env.paths.run_command.read_text() == "/usr/bin/keystone-wsgi --port 5000"
    assert mode(env.paths.run_command) == 0o644
    assert not env.paths.run_argv.exists()


def test_command_list_keeps_each_value_one_argument(env: Env) -> None:
    """A list command is written NUL-separated for kolla_start, and as a shell-quoted line."""
    argv = ["keystone-manage", "bootstrap", "--bootstrap-region-id", "Region One *"]
    env.apply({"command": argv})
    assert env.paths.run_argv.read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]
    assert env.paths.run_command.read_text() == (
        "keystone-manage bootstrap --bootstrap-region-id 'Region One *'"
    )
    env.apply({"command": "plain string"})
    assert not env.paths.run_argv.exists()


def test_without_tracking_the_image_files_are_left_unsaved(env: Env) -> None:
    dest = env.root / "etc" / "service.conf"
    dest.parent.mkdir()
    dest.write_text("image version\n")
    env.source("service.conf", "configured\n")
    paths = sc.Paths(
        env.paths.config_dir, env.paths.run_command, env.paths.configured,
        env.paths.defaults_dir, track_defaults=False,
    )  # fmt: skip
    entry = {"source": str(env.src / "service.conf"), "dest": str(dest), "owner": "root",
             "perm": "0600"}  # fmt: skip
    sc.apply({"command": "x", "config_files": [entry]}, "COPY_ALWAYS", paths)
    assert dest.read_text() == "configured\n"
    assert not env.paths.defaults_dir.exists()
    assert sc.check({"command": "x", "config_files": [entry]}, paths) == []


# --- config_files -------------------------------------------------------------------------


def test_copies_a_file_with_owner_and_perm(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    source = env.source("keystone.conf", "[DEFAULT]\n")
    dest = env.root / "etc/keystone/keystone.conf"
    env.apply(config(entry(source, dest, owner="nobody", perm="0600")))
    assert dest.read_text() == "[DEFAULT]\n"
    assert owner(dest) == (NOBODY, NOBODY_GROUP)
    assert mode(dest) == 0o600
    assert f"INFO: Copying {source} to {dest}" in capsys.readouterr().err


@pytest.mark.parametrize(("perm", "expected"), [("644", 0o644), ("0600", 0o600), ("0o600", 0o600)])
def test_perm_formats(env: Env, perm: str, expected: int) -> None:
    dest = env.root / "f"
    env.apply(config(entry(env.source("f"), dest, perm=perm)))
    assert mode(dest) == expected


def test_owner_user_uses_the_primary_group(env: Env) -> None:
    dest = env.root / "f"
    env.apply(config(entry(env.source("f"), dest, owner="daemon")))
    assert owner(dest) == (DAEMON, DAEMON_GROUP)


def test_owner_user_and_group(env: Env) -> None:
    dest = env.root / "f"
    env.apply(config(entry(env.source("f"), dest, owner="daemon:nogroup")))
    assert owner(dest) == (DAEMON, NOGROUP)


def test_dest_ending_in_slash_copies_into_the_directory(env: Env) -> None:
    source = env.source("ceph.conf")
    env.apply(config(entry(source, f"{env.root}/etc/ceph/")))
    assert (env.root / "etc/ceph/ceph.conf").read_text() == "data\n"
    assert (env.root / "etc/ceph").is_dir()


def test_glob_source_copies_every_match(env: Env) -> None:
    for name in ("ceph.client.a.keyring", "ceph.client.b.keyring", "ceph.conf"):
        env.source(name, name)
    env.apply(config(entry(env.src / "ceph.client.*", f"{env.root}/ceph/")))
    assert sorted(p.name for p in (env.root / "ceph").iterdir()) == [
        "ceph.client.a.keyring",
        "ceph.client.b.keyring",
    ]
    assert (env.root / "ceph/ceph.client.b.keyring").read_text() == "ceph.client.b.keyring"


def test_glob_with_several_matches_needs_a_directory_dest(env: Env) -> None:
    env.source("a.conf")
    env.source("b.conf")
    with pytest.raises(sc.ConfigError, match=r"config_files\[0\]\.dest: .* matches 2 paths"):
        env.apply(config(entry(env.src / "*.conf", env.root / "x.conf")))


def test_directory_source_is_copied_recursively_with_props_everywhere(env: Env) -> None:
    env.source("policy.d/a.yaml", "a")
    env.source("policy.d/sub/b.yaml", "b")
    dest = env.root / "etc/policy.d"
    env.apply(config(entry(env.src / "policy.d", dest, owner="daemon:nogroup", perm="0640")))
    assert (dest / "sub/b.yaml").read_text() == "b"
    for path in (dest, dest / "sub", dest / "a.yaml", dest / "sub/b.yaml"):
        assert owner(path) == (DAEMON, NOGROUP), path
    assert mode(dest / "a.yaml") == 0o640
    assert mode(dest / "sub") == 0o750  # read bits on a directory bring search bits
    assert mode(dest) == 0o750


def test_existing_dest_is_replaced(env: Env) -> None:
    env.source("conf.d/new.conf")
    dest = env.root / "conf.d"
    dest.mkdir()
    (dest / "stale.conf").write_text("old")
    env.apply(config(entry(env.src / "conf.d", dest)))
    assert sorted(p.name for p in dest.iterdir()) == ["new.conf"]


def test_existing_symlink_dest_is_replaced_not_followed(env: Env) -> None:
    target = env.root / "target"
    target.write_text("image file")
    dest = env.root / "link"
    dest.symlink_to(target)
    env.apply(config(entry(env.source("f", "new"), dest)))
    assert not dest.is_symlink()
    assert dest.read_text() == "new"
    assert target.read_text() == "image file"


def test_merge_keeps_existing_files_and_overwrites_clashes(env: Env) -> None:
    env.source("conf.d/new.conf", "new")
    env.source("conf.d/shared.conf", "from config")
    dest = env.root / "conf.d"
    dest.mkdir()
    (dest / "image.conf").write_text("image")
    (dest / "shared.conf").write_text("image")
    env.apply(config(entry(env.src / "conf.d", dest, merge=True)))
    assert (dest / "image.conf").read_text() == "image"
    assert (dest / "shared.conf").read_text() == "from config"
    assert (dest / "new.conf").read_text() == "new"
    assert owner(dest / "image.conf") == (0, 0)  # only what was copied gets the props
    assert owner(dest / "new.conf") == (NOBODY, NOBODY_GROUP)


def test_merge_into_missing_dest_creates_it(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.source("conf.d/a.conf", "a")
    dest = env.root / "conf.d"
    env.apply(config(entry(env.src / "conf.d", dest, merge=True)))
    assert (dest / "a.conf").read_text() == "a"
    assert f"INFO: Merging {env.src / 'conf.d'} to {dest}" in capsys.readouterr().err


def test_optional_missing_source_is_skipped(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    dest = env.root / "absent.conf"
    env.apply(config(entry(env.src / "absent.conf", dest, optional=True)))
    assert not dest.exists()
    assert env.paths.run_command.exists()
    assert "optional and not present" in capsys.readouterr().err


def test_required_missing_source_fails_before_changing_anything(env: Env) -> None:
    directory = env.root / "made"
    with pytest.raises(sc.ConfigError, match=r"config_files\[1\]\.source: nothing matches"):
        env.apply(
            config(
                entry(env.source("here"), env.root / "here"),
                entry(env.src / "missing.conf", env.root / "missing.conf"),
                directories=[{"path": str(directory), "owner": "root", "perm": "0755"}],
            )
        )
    assert not (env.root / "here").exists()
    assert not directory.exists()
    assert not env.paths.run_command.exists()


def test_preserve_properties_copies_owner_and_mode(env: Env) -> None:
    source = env.source("secret")
    os.chown(source, DAEMON, NOGROUP)
    source.chmod(0o604)
    dest = env.root / "secret"
    env.apply(config({"source": str(source), "dest": str(dest), "preserve_properties": True}))
    assert owner(dest) == (DAEMON, NOGROUP)
    assert mode(dest) == 0o604


def test_preserve_properties_ignores_declared_owner(env: Env) -> None:
    source = env.source("f")
    os.chown(source, DAEMON, DAEMON_GROUP)
    dest = env.root / "f"
    env.apply(config(entry(source, dest, owner="nobody", preserve_properties=True)))
    assert owner(dest) == (DAEMON, DAEMON_GROUP)


def test_preserve_properties_keeps_symlinks(env: Env) -> None:
    env.source("tree/real.conf", "real")
    (env.src / "tree/alias.conf").symlink_to("real.conf")
    dest = env.root / "tree"
    env.apply(
        config({"source": str(env.src / "tree"), "dest": str(dest), "preserve_properties": True})
    )
    assert (dest / "alias.conf").is_symlink()
    assert os.readlink(dest / "alias.conf") == "real.conf"


def test_without_preserve_symlinks_are_copied_as_files(env: Env) -> None:
    env.source("tree/real.conf", "real")
    (env.src / "tree/alias.conf").symlink_to("real.conf")
    dest = env.root / "tree"
    env.apply(config(entry(env.src / "tree", dest)))
    assert not (dest / "alias.conf").is_symlink()
    assert (dest / "alias.conf").read_text() == "real"
    assert mode(dest / "alias.conf") == 0o640


# --- directories and files ----------------------------------------------------------------


def test_directories_are_created_with_parents(env: Env) -> None:
    path = env.root / "var/lib/service/state"
    env.apply(
        {"command": "x", "directories": [{"path": str(path), "owner": "daemon", "perm": "0750"}]}
    )
    assert path.is_dir()
    assert owner(path) == (DAEMON, DAEMON_GROUP)
    assert mode(path) == 0o750


def test_existing_directory_gets_owner_and_perm(env: Env) -> None:
    path = env.root / "d"
    path.mkdir(mode=0o777)
    (path / "keep").write_text("kept")
    env.apply(
        {"command": "x", "directories": [{"path": str(path), "owner": "nobody", "perm": "0700"}]}
    )
    assert (owner(path), mode(path)) == ((NOBODY, NOBODY_GROUP), 0o700)
    assert (path / "keep").read_text() == "kept"


def test_directory_path_that_is_a_file_is_an_error(env: Env) -> None:
    path = env.root / "f"
    path.write_text("")
    with pytest.raises(sc.ConfigError, match=r"directories\[0\]\.path: .* is a file, not a dir"):
        env.apply(
            {"command": "x", "directories": [{"path": str(path), "owner": "root", "perm": "755"}]}
        )


def test_files_are_created_empty(env: Env) -> None:
    path = env.root / "service.log"
    env.apply(
        {"command": "x", "files": [{"path": str(path), "owner": "nobody:nogroup", "perm": "0660"}]}
    )
    assert path.read_text() == ""
    assert (owner(path), mode(path)) == ((NOBODY, NOGROUP), 0o660)


def test_existing_file_keeps_content_and_gets_props(env: Env) -> None:
    path = env.root / "service.log"
    path.write_text("old lines\n")
    env.apply({"command": "x", "files": [{"path": str(path), "owner": "daemon", "perm": "0600"}]})
    assert path.read_text() == "old lines\n"
    assert (owner(path), mode(path)) == ((DAEMON, DAEMON_GROUP), 0o600)


def test_file_parent_must_exist(env: Env) -> None:
    path = env.root / "missing/f"
    with pytest.raises(sc.ConfigError, match=r"files\[0\]\.path: parent directory .* does not"):
        env.apply({"command": "x", "files": [{"path": str(path), "owner": "root", "perm": "644"}]})
    assert not path.parent.exists()


def test_file_path_that_is_a_directory_is_an_error(env: Env) -> None:
    with pytest.raises(sc.ConfigError, match=r"files\[0\]\.path: .* is a directory, not a reg"):
        env.apply(
            {"command": "x", "files": [{"path": str(env.root), "owner": "root", "perm": "644"}]}
        )


def test_file_path_that_is_a_symlink_is_an_error(env: Env) -> None:
    target = env.root / "target"
    target.write_text("")
    link = env.root / "link"
    link.symlink_to(target)
    with pytest.raises(sc.ConfigError, match=r"files\[0\]\.path: .* is a symlink, not a regular"):
        env.apply(
            {"command": "x", "files": [{"path": str(link), "owner": "nobody", "perm": "644"}]}
        )
    assert owner(target) == (0, 0)


# --- permissions --------------------------------------------------------------------------


@pytest.fixture
def tree(env: Env) -> Path:
    base = env.root / "log"
    (base / "sub").mkdir(parents=True)
    (base / "a.log").write_text("a")
    (base / "sub/b.log").write_text("b")
    (base / "skip").mkdir()
    (base / "skip/c.log").write_text("c")
    return base


def permission(path: Path | str, **extra: Any) -> dict[str, Any]:
    return {"command": "x", "permissions": [{"path": str(path), "owner": "nobody", **extra}]}


def test_permissions_without_recurse_change_only_the_path(env: Env, tree: Path) -> None:
    env.apply(permission(tree, perm="0700"))
    assert (owner(tree), mode(tree)) == ((NOBODY, NOBODY_GROUP), 0o700)
    assert owner(tree / "a.log") == (0, 0)


def test_permissions_recurse(env: Env, tree: Path) -> None:
    env.apply(permission(tree, recurse=True))
    for path in (tree, tree / "a.log", tree / "sub", tree / "sub/b.log", tree / "skip/c.log"):
        assert owner(path) == (NOBODY, NOBODY_GROUP), path


def test_permissions_exclude_prunes_matching_paths(env: Env, tree: Path) -> None:
    env.apply(permission(tree, recurse=True, exclude=[r"/skip$", r"\.log$"]))
    assert owner(tree) == (NOBODY, NOBODY_GROUP)
    assert owner(tree / "sub") == (NOBODY, NOBODY_GROUP)
    assert owner(tree / "a.log") == (0, 0)
    assert owner(tree / "skip") == (0, 0)
    assert owner(tree / "skip/c.log") == (0, 0)


def test_permissions_exclude_can_skip_the_matched_path_itself(env: Env, tree: Path) -> None:
    env.apply(permission(tree, recurse=True, exclude=[str(tree)]))
    assert owner(tree) == (0, 0)
    assert owner(tree / "a.log") == (0, 0)


def test_permissions_add_exec_bits_to_directories(env: Env, tree: Path) -> None:
    env.apply(permission(tree, perm="0640", recurse=True))
    assert mode(tree) == 0o750
    assert mode(tree / "sub") == 0o750
    assert mode(tree / "a.log") == 0o640


def test_permissions_without_perm_keep_the_mode(env: Env, tree: Path) -> None:
    (tree / "a.log").chmod(0o604)
    env.apply(permission(tree / "a.log"))
    assert (owner(tree / "a.log"), mode(tree / "a.log")) == ((NOBODY, NOBODY_GROUP), 0o604)


def test_permissions_path_is_a_glob(env: Env, tree: Path) -> None:
    env.apply(permission(tree / "*.log", perm="0600"))
    assert mode(tree / "a.log") == 0o600
    assert owner(tree / "sub") == (0, 0)


def test_permissions_without_match_only_warn(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.apply(permission(env.root / "nothing*"))
    assert "WARNING: permissions[0]: nothing matches" in capsys.readouterr().err
    assert env.paths.run_command.exists()


def test_permissions_do_not_follow_symlinks(env: Env, tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("secret")
    outside.chmod(0o600)
    (tree / "evil").symlink_to(outside)
    env.apply(permission(tree, perm="0644", recurse=True))
    assert (owner(outside), mode(outside)) == ((0, 0), 0o600)
    assert owner(tree / "evil") == (NOBODY, NOBODY_GROUP)  # the link itself


# --- strategies ---------------------------------------------------------------------------


def test_copy_always_reapplies_every_time(env: Env) -> None:
    source, dest = env.source("f", "one"), env.root / "f"
    env.apply(config(entry(source, dest)))
    source.write_text("two")
    dest.chmod(0o777)
    env.apply(config(entry(source, dest)))
    assert (dest.read_text(), mode(dest)) == ("two", 0o640)
    assert not env.paths.configured.exists()


def test_copy_once_applies_then_freezes(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    source, dest = env.source("f", "one"), env.root / "f"
    env.apply(config(entry(source, dest)), "COPY_ONCE")
    assert env.paths.configured.exists()
    assert dest.read_text() == "one"
    source.write_text("two")
    changed = config(entry(source, dest, perm="0600"))
    changed["command"] = "other"
    env.apply(changed, "COPY_ONCE")
    assert (dest.read_text(), mode(dest)) == ("one", 0o640)
    assert env.paths.run_command.read_text() == "/usr/bin/service --flag"
    assert "COPY_ONCE keeps the configuration immutable" in capsys.readouterr().err


# --- image defaults -----------------------------------------------------------------------


def test_existing_destination_is_backed_up_once(env: Env) -> None:
    dest = env.root / "etc/app.conf"
    dest.parent.mkdir()
    dest.write_text("image default")
    source = env.source("app.conf", "configured")
    env.apply(config(entry(source, dest)))
    backup = env.paths.defaults_dir / dest.relative_to("/")
    assert state(env) == {str(dest): str(backup)}
    assert backup.read_text() == "image default"
    env.apply(config(entry(source, dest)))  # a second run must not back up the copy
    assert backup.read_text() == "image default"


def test_missing_destination_is_recorded_as_null(env: Env) -> None:
    dest = env.root / "new.conf"
    env.apply(config(entry(env.source("new.conf"), dest)))
    assert state(env) == {str(dest): None}


def test_dropped_entry_restores_the_image_file(env: Env) -> None:
    dest = env.root / "app.conf"
    dest.write_text("image default")
    os.chown(dest, DAEMON, NOGROUP)
    dest.chmod(0o604)
    env.apply(config(entry(env.source("app.conf", "configured"), dest)))
    assert dest.read_text() == "configured"
    env.apply(config())
    assert dest.read_text() == "image default"
    assert (owner(dest), mode(dest)) == ((DAEMON, NOGROUP), 0o604)
    assert state(env) == {}
    assert not (env.paths.defaults_dir / dest.relative_to("/")).exists()


def test_dropped_entry_removes_a_file_the_image_did_not_have(env: Env) -> None:
    dest = env.root / "extra.conf"
    env.apply(config(entry(env.source("extra.conf"), dest)))
    assert dest.exists()
    env.apply(config())
    assert not dest.exists()
    assert state(env) == {}


def test_dropped_directory_entry_restores_the_image_directory(env: Env) -> None:
    dest = env.root / "conf.d"
    dest.mkdir()
    (dest / "image.conf").write_text("image")
    (dest / "link").symlink_to("image.conf")
    env.source("conf.d/config.conf")
    env.apply(config(entry(env.src / "conf.d", dest)))
    assert sorted(p.name for p in dest.iterdir()) == ["config.conf"]
    env.apply(config())
    assert sorted(p.name for p in dest.iterdir()) == ["image.conf", "link"]
    assert os.readlink(dest / "link") == "image.conf"


def test_optional_source_that_disappears_restores_the_default(env: Env) -> None:
    dest = env.root / "app.conf"
    dest.write_text("image default")
    source = env.source("app.conf", "override")
    env.apply(config(entry(source, dest, optional=True)))
    assert dest.read_text() == "override"
    source.unlink()
    env.apply(config(entry(source, dest, optional=True)))
    assert dest.read_text() == "image default"


def test_kept_entries_are_not_restored(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    kept, dropped = env.root / "kept", env.root / "dropped"
    kept.write_text("image")
    env.apply(config(entry(env.source("kept", "new"), kept), entry(env.source("d"), dropped)))
    env.apply(config(entry(env.src / "kept", kept)))
    assert kept.read_text() == "new"
    assert list(state(env)) == [str(kept)]
    assert f"INFO: Removing {dropped}" in capsys.readouterr().err


def test_corrupt_state_is_a_config_error(env: Env) -> None:
    env.paths.defaults_dir.mkdir()
    (env.paths.defaults_dir / "state").write_text("[]")
    with pytest.raises(sc.ConfigError, match="state is corrupt"):
        env.apply(config(entry(env.source("f"), env.root / "f")))


# --- check --------------------------------------------------------------------------------


@pytest.fixture
def synced(env: Env) -> dict[str, Any]:
    env.source("app.conf", "setting = 1\n")
    env.source("conf.d/a.conf", "a")
    env.source("conf.d/sub/b.conf", "b")
    cfg = config(
        entry(env.src / "app.conf", env.root / "app.conf", owner="daemon:nogroup", perm="0600"),
        entry(env.src / "conf.d", env.root / "conf.d"),
    )
    env.apply(cfg)
    return cfg


def test_check_in_sync(env: Env, synced: dict[str, Any]) -> None:
    assert env.check(synced) == []


def test_check_command_drift(env: Env, synced: dict[str, Any]) -> None:
    synced["command"] = "something else"
    assert env.check(synced) == [
        f"{env.paths.run_command}: has '/usr/bin/service --flag', config has 'something else'"
    ]


def test_check_missing_run_command(env: Env, synced: dict[str, Any]) -> None:
    env.paths.run_command.unlink()
    assert env.check(synced) == [
        f"{env.paths.run_command}: missing, so the command was never written"
    ]


def test_check_content_drift(env: Env, synced: dict[str, Any]) -> None:
    (env.root / "app.conf").write_text("setting = 2\n")
    assert env.check(synced) == [
        f"{env.root / 'app.conf'}: content differs from {env.src / 'app.conf'}"
    ]


def test_check_mode_drift(env: Env, synced: dict[str, Any]) -> None:
    (env.root / "app.conf").chmod(0o644)
    assert env.check(synced) == [f"{env.root / 'app.conf'}: mode is 0644, expected 0600"]


def test_check_owner_drift(env: Env, synced: dict[str, Any]) -> None:
    os.chown(env.root / "app.conf", NOBODY, NOGROUP)
    assert env.check(synced) == [
        f"{env.root / 'app.conf'}: owner uid is {NOBODY}, expected {DAEMON}"
    ]


def test_check_group_drift(env: Env, synced: dict[str, Any]) -> None:
    os.chown(env.root / "app.conf", DAEMON, 0)
    assert env.check(synced) == [f"{env.root / 'app.conf'}: group gid is 0, expected {NOGROUP}"]


def test_check_missing_destination(env: Env, synced: dict[str, Any]) -> None:
    (env.root / "app.conf").unlink()
    assert env.check(synced) == [
        f"{env.root / 'app.conf'}: is missing, expected a file like {env.src / 'app.conf'}"
    ]


def test_check_compares_every_file_of_a_directory(env: Env, synced: dict[str, Any]) -> None:
    (env.root / "conf.d/sub/b.conf").write_text("changed")
    (env.root / "conf.d/sub").chmod(0o700)
    assert env.check(synced) == [
        f"{env.root / 'conf.d/sub'}: mode is 0700, expected 0750",
        f"{env.root / 'conf.d/sub/b.conf'}: content differs from {env.src / 'conf.d/sub/b.conf'}",
    ]


def test_check_reports_extra_files_in_a_replaced_directory(
    env: Env, synced: dict[str, Any]
) -> None:
    (env.root / "conf.d/extra.conf").write_text("x")
    assert env.check(synced) == [f"{env.root / 'conf.d/extra.conf'}: not in {env.src / 'conf.d'}"]


def test_check_ignores_extra_files_when_merging(env: Env) -> None:
    env.source("conf.d/a.conf")
    dest = env.root / "conf.d"
    dest.mkdir()
    (dest / "image.conf").write_text("image")
    cfg = config(entry(env.src / "conf.d", dest, merge=True))
    env.apply(cfg)
    assert env.check(cfg) == []


def test_check_type_drift(env: Env, synced: dict[str, Any]) -> None:
    target = env.root / "conf.d/a.conf"
    target.unlink()
    target.mkdir()
    assert env.check(synced) == [
        f"{target}: is a directory, expected a file like {env.src / 'conf.d/a.conf'}"
    ]


def test_check_preserve_properties_compares_with_the_source(env: Env) -> None:
    source = env.source("f")
    source.chmod(0o604)
    dest = env.root / "f"
    cfg = config({"source": str(source), "dest": str(dest), "preserve_properties": True})
    env.apply(cfg)
    assert env.check(cfg) == []
    source.chmod(0o600)
    assert env.check(cfg) == [f"{dest}: mode is 0604, expected 0600"]


def test_check_symlink_target_drift(env: Env) -> None:
    env.source("tree/real")
    (env.src / "tree/link").symlink_to("real")
    dest = env.root / "tree"
    cfg = config({"source": str(env.src / "tree"), "dest": str(dest), "preserve_properties": True})
    env.apply(cfg)
    (dest / "link").unlink()
    (dest / "link").symlink_to("elsewhere")
    assert env.check(cfg) == [f"{dest / 'link'}: points to elsewhere, expected real"]


def test_check_state_missing_a_new_entry(env: Env, synced: dict[str, Any]) -> None:
    new = env.source("new.conf")
    synced["config_files"].append(entry(new, env.root / "new.conf"))
    (env.root / "new.conf").write_text("data\n")  # even a matching copy: never recorded
    os.chown(env.root / "new.conf", NOBODY, NOBODY_GROUP)
    (env.root / "new.conf").chmod(0o640)
    state_file = env.paths.defaults_dir / "state"
    assert env.check(synced) == [
        f"{env.root / 'new.conf'}: configured, but {state_file} has no image default for it"
    ]


def test_check_state_with_a_dropped_entry(env: Env, synced: dict[str, Any]) -> None:
    synced["config_files"].pop()
    state_file = env.paths.defaults_dir / "state"
    assert env.check(synced) == [
        f"{env.root / 'conf.d'}: no longer configured, but {state_file} has not restored it"
    ]


def test_check_changes_nothing(env: Env, synced: dict[str, Any]) -> None:
    (env.root / "app.conf").write_text("drift")
    synced["command"] = "new"
    assert env.check(synced)
    assert (env.root / "app.conf").read_text() == "drift"
    assert env.paths.run_command.read_text() == "/usr/bin/service --flag"


def test_check_required_source_missing_is_an_error(env: Env) -> None:
    with pytest.raises(sc.ConfigError, match=r"config_files\[0\]\.source"):
        env.check(config(entry(env.src / "nope", env.root / "nope")))


# --- main ---------------------------------------------------------------------------------


@pytest.fixture
def strategy(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("KOLLA_CONFIG_STRATEGY", "COPY_ALWAYS")
    return monkeypatch


def test_main_applies_and_returns_0(
    env: Env, strategy: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = env.source("a.conf")
    env.write_json(config(entry(source, env.root / "a.conf")))
    assert sc.main([], env.paths) == 0
    assert (env.root / "a.conf").exists()
    assert f"INFO: Copying {source} to {env.root / 'a.conf'}" in capsys.readouterr().err


def test_main_copy_once_second_run_returns_0(env: Env, strategy: pytest.MonkeyPatch) -> None:
    strategy.setenv("KOLLA_CONFIG_STRATEGY", "COPY_ONCE")
    env.write_json({"command": "first"})
    assert sc.main([], env.paths) == 0
    env.write_json({"command": "second"})
    assert sc.main([], env.paths) == 0
    assert env.paths.run_command.read_text() == "first"


def test_main_without_strategy_returns_1(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KOLLA_CONFIG_STRATEGY", raising=False)
    env.write_json({"command": "x"})
    assert sc.main([], env.paths) == 1
    assert "ERROR: KOLLA_CONFIG_STRATEGY must be" in capsys.readouterr().err


def test_main_invalid_config_returns_1(
    env: Env, strategy: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write_json({"command": "x", "config_files": [{"source": "/a"}]})
    assert sc.main([], env.paths) == 1
    assert "ERROR: config_files[0]: missing required key 'dest'" in capsys.readouterr().err


def test_main_missing_config_returns_1(env: Env, strategy: pytest.MonkeyPatch) -> None:
    assert sc.main([], env.paths) == 1


def test_main_unexpected_error_returns_2_with_traceback(
    env: Env, strategy: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env.write_json({"command": "x"})
    paths = sc.Paths(env.src, tmp_path, env.paths.configured, env.paths.defaults_dir)
    assert sc.main([], paths) == 2  # run_command is a directory: cannot be written
    err = capsys.readouterr().err
    assert "ERROR: unexpected error" in err
    assert "Traceback (most recent call last)" in err
    assert "IsADirectoryError" in err


def test_main_check_in_sync_returns_0(env: Env, strategy: pytest.MonkeyPatch) -> None:
    env.write_json(config(entry(env.source("a"), env.root / "a")))
    assert sc.main([], env.paths) == 0
    assert sc.main(["--check"], env.paths) == 0


def test_main_check_drift_returns_1_and_prints_it(
    env: Env, strategy: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write_json(config(entry(env.source("a"), env.root / "a")))
    assert sc.main([], env.paths) == 0
    (env.root / "a").write_text("drift")
    capsys.readouterr()
    assert sc.main(["--check"], env.paths) == 1
    assert "content differs" in capsys.readouterr().out


def test_main_check_needs_no_strategy(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOLLA_CONFIG_STRATEGY", raising=False)
    env.write_json({"command": "x"})
    env.paths.run_command.write_text("x")
    assert sc.main(["--check"], env.paths) == 0
