"""The bad-input corpus: every mistake an operator can make in the config dir (or a developer in
a service definition) is a ConfigError that says where (file and line or key) and what would be
valid, all problems at once, and loading never writes to the config dir.

Expected messages use `{dir}` for the config dir and `{root}` for a copied services folder.
"""

from __future__ import annotations

import contextlib
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackyard.config import deployment as deployment_module
from stackyard.config.deployment import load_deployment, secret_names
from stackyard.config.globals import Globals
from stackyard.deploy.desired import HostFacts, compute
from stackyard.errors import ConfigError
from stackyard.images.catalog import load_catalog
from stackyard.services.catalog import default_root, load_services

FACTS = HostFacts(default_address="10.0.0.5", local_addresses=frozenset({"10.0.0.5"}))
SERVICE_GROUPS = tuple(sorted({s.definition.group for s in load_services().values()}))
MERGED_FILES = sorted({
    Path(c.dest).name for s in load_services().values()
    for d in s.definition.containers for c in d.config_files if c.merge == "ini"
})  # fmt: skip
LOCAL = "localhost ansible_connection=local"


@cache
def secret_keys() -> tuple[str, ...]:
    return tuple(sorted(secret_names(load_services())))


def passwords_text(*, without: tuple[str, ...] = ()) -> str:
    return "".join(f"{k}: Secret-{k}-0\n" for k in secret_keys() if k not in without)


def inventory(hosts: str = LOCAL, without: tuple[str, ...] = ()) -> str:
    """[control] with the given host lines, every service group a child of it."""
    groups = "".join(f"\n[{g}:children]\ncontrol\n" for g in SERVICE_GROUPS if g not in without)
    return f"[control]\n{hosts}\n{groups}"


@dataclass(frozen=True)
class Case:
    files: dict[str, str | bytes | None]  # path in the config dir -> content (None: no file)
    expected: tuple[str, ...]  # substrings of the message, `{dir}` for the config dir
    lines: int | None = None  # how many lines the message has, when that matters
    compute: bool = False  # the error comes from compute(), after a successful load


G = "globals.yml"
CASES: dict[str, Case] = {
    # --- globals.yml -------------------------------------------------------------------------
    "unknown-key-did-you-mean": Case(
        {G: 'docker_namespace: sytest\nopenstak_release: "2025.1"\n'},
        ("{dir}/globals.yml:2: unknown key 'openstak_release'; did you mean 'openstack_release'?",),
    ),
    "unknown-key-no-suggestion": Case(
        {G: "flavour: vanilla\n"}, ("{dir}/globals.yml:1: unknown key 'flavour'",)
    ),
    "wrong-type": Case(
        {G: "database_port: abc\n"},
        (
            "{dir}/globals.yml:1: database_port: Input should be a valid integer, unable to "
            "parse string as an integer (got 'abc')",
        ),
    ),
    "wrong-type-string-expected": Case(
        {G: "docker_namespace: [a, b]\n"},
        ("{dir}/globals.yml:1: docker_namespace: Input should be a valid string (got ['a', 'b'])",),
    ),
    "bad-flag": Case(
        {G: "enable_keystone: maybe\n"},
        ('{dir}/globals.yml:1: enable_keystone: expected "yes" or "no", got \'maybe\'',),
    ),
    "bad-healthcheck-flag": Case(
        {G: "enable_container_healthchecks: sometimes\n"},
        (
            '{dir}/globals.yml:1: enable_container_healthchecks: expected "yes" or "no", '
            "got 'sometimes'",
        ),
    ),
    "unknown-enable-switch": Case(
        {G: "enable_octavia: yes\n"}, ("{dir}/globals.yml:1: unknown key 'enable_octavia'",)
    ),
    "enable-switch-typo": Case(
        {G: "enable_keystnoe: no\n"},
        ("{dir}/globals.yml:1: unknown key 'enable_keystnoe'; did you mean 'enable_keystone'?",),
    ),
    "unknown-release": Case(
        {G: 'openstack_release: "2024.2"\n'},
        (
            "{dir}/globals.yml: openstack_release: '2024.2' has no images; "
            "valid: 2025.1 (trixie), zed (bookworm)",
        ),
    ),
    "release-unquoted-number": Case(
        {G: "openstack_release: 2025.1\n"},
        ("{dir}/globals.yml:1: openstack_release: Input should be a valid string (got 2025.1)",),
    ),
    "base-distro": Case(
        {G: "kolla_base_distro: rocky\n"},
        ("{dir}/globals.yml:1: kolla_base_distro: Input should be 'debian' (got 'rocky')",),
    ),
    "globals-invalid-yaml": Case(
        {G: "docker_namespace: sytest\nnetwork_interface: [eth0\n"},
        ("{dir}/globals.yml:3: invalid YAML (",),
    ),
    "globals-bad-indent": Case(
        {G: "docker_namespace: sytest\n  network_interface: eth0\n"},
        # the rest of the sentence differs between libyaml ("in this context") and PyYAML ("here")
        ("{dir}/globals.yml:2: invalid YAML (mapping values are not allowed ",),
    ),
    "globals-top-level-list": Case(
        {G: "- docker_namespace: sytest\n"},
        ("{dir}/globals.yml: expected `key: value` lines at the top level",),
    ),
    "globals-top-level-scalar": Case(
        {G: "just some words\n"},
        ("{dir}/globals.yml: expected `key: value` lines at the top level",),
    ),
    "globals-key-not-a-name": Case(
        {G: "1: one\n"}, ("{dir}/globals.yml: keys must be names, not 1",)
    ),
    "fernet-expiry-too-small": Case(
        {G: "fernet_token_expiry: 30\n"},
        (
            "{dir}/globals.yml:1: fernet_token_expiry: Input should be greater than or equal "
            "to 60 (got 30)",
        ),
    ),
    "virtual-router-id-300": Case(
        {G: "keepalived_virtual_router_id: 300\n"},
        (
            "{dir}/globals.yml:1: keepalived_virtual_router_id: Input should be less than or "
            "equal to 255 (got 300)",
        ),
    ),
    "virtual-router-id-0": Case(
        {G: "keepalived_virtual_router_id: 0\n"},
        (
            "{dir}/globals.yml:1: keepalived_virtual_router_id: Input should be greater than or "
            "equal to 1 (got 0)",
        ),
    ),
    "bad-vip": Case(
        {G: "kolla_internal_vip_address: 10.0.0.1/24\n"},
        (
            "{dir}/globals.yml:1: kolla_internal_vip_address: '10.0.0.1/24' is not an IP "
            "address (got '10.0.0.1/24')",
        ),
    ),
    "bad-external-vip": Case(
        {G: "kolla_external_vip_address: 'not an address!'\n"},
        (
            "{dir}/globals.yml:1: kolla_external_vip_address: 'not an address!' is not an IP "
            "address",
        ),
    ),
    "bad-database-address": Case(
        {G: "database_address: db_1\n"},
        ("{dir}/globals.yml:1: database_address: 'db_1' is not an IP address or host name",),
    ),
    "config-strategy": Case(
        {G: "config_strategy: COPY_SOMETIMES\n"},
        (
            "{dir}/globals.yml:1: config_strategy: Input should be 'COPY_ALWAYS' or 'COPY_ONCE' "
            "(got 'COPY_SOMETIMES')",
        ),
    ),
    "container-engine": Case(
        {G: "kolla_container_engine: podman\n"},
        ("{dir}/globals.yml:1: kolla_container_engine: Input should be 'docker' (got 'podman')",),
    ),
    "two-bad-keys-at-once": Case(
        {G: "openstak_release: zed\ndocker_namespace: sytest\ndatabase_port: abc\n"},
        (
            "{dir}/globals.yml:1: unknown key 'openstak_release'; did you mean "
            "'openstack_release'?",
            "{dir}/globals.yml:3: database_port: Input should be a valid integer",
        ),
        lines=2,
    ),
    "external-db-without-address": Case(
        {G: 'enable_mariadb: "no"\n'},
        (
            "{dir}/globals.yml: enable_mariadb is no, so database_address (and database_port, "
            "database_user, and database_password in passwords.yml) must name the external "
            "database server",
        ),
    ),
    # --- passwords.yml -----------------------------------------------------------------------
    "missing-secrets": Case(
        {"passwords.yml": passwords_text(without=("keystone_admin_password", "rabbitmq_password"))},
        (
            "{dir}/passwords.yml: no value for keystone_admin_password, rabbitmq_password; run "
            "`stackyard genpwd` to generate the missing secrets",
        ),
    ),
    "empty-secret": Case(
        {"passwords.yml": passwords_text(without=("database_password",)) + "database_password:\n"},
        ("{dir}/passwords.yml: no value for database_password; run `stackyard genpwd`",),
    ),
    "no-passwords-file": Case(
        {"passwords.yml": None},
        (
            f"{{dir}}/passwords.yml: no value for {', '.join(secret_keys())}; run "
            "`stackyard genpwd`",
        ),
    ),
    "database-password-outside-url-characters": Case(
        {
            "passwords.yml": passwords_text(without=("keystone_database_password",))
            + "keystone_database_password: pass@word/1\n"
        },
        (
            "{dir}/passwords.yml: keystone_database_password may hold only letters, digits and "
            "- . _ ~: it is written into a database connection URL, where other characters need "
            "%-escapes that keystone-manage db_sync cannot read; choose another value, or delete "
            "the line and run `stackyard genpwd`",
        ),
    ),
    "passwords-not-a-mapping": Case(
        {"passwords.yml": "- database_password\n- rabbitmq_password\n"},
        ("{dir}/passwords.yml: expected `key: value` lines at the top level",),
    ),
    "passwords-invalid-yaml": Case(
        {"passwords.yml": passwords_text() + "rabbitmq_password: 'unclosed\n"},
        (
            f"{{dir}}/passwords.yml:{len(secret_keys()) + 2}: invalid YAML in or after the value "
            "of rabbitmq_password (found unexpected end of stream); the value is not shown, as it "
            "may be a secret: write it in single quotes, doubling any ' inside",
        ),
        lines=1,
    ),
    "passwords-value-is-a-list": Case(
        {
            "passwords.yml": "database_password: [a, b]\n"
            + passwords_text(without=("database_password",))
        },
        ("{dir}/passwords.yml:1: database_password must be a string (or empty)",),
    ),
    "passwords-value-is-a-mapping": Case(
        {"passwords.yml": passwords_text() + "extra:\n  nested: 1\n"},
        (f"{{dir}}/passwords.yml:{len(secret_keys()) + 1}: extra must be a string (or empty)",),
    ),
    # --- inventory ---------------------------------------------------------------------------
    "inventory-host-without-address": Case(
        {"inventory": inventory(f"{LOCAL}\nnode2")},
        (
            "{dir}/inventory:3: host `node2` has no address; add ansible_host=ADDRESS to the "
            "host line, or name the host by its IP address",
        ),
    ),
    "inventory-group-missing": Case(
        {"inventory": inventory(without=("keystone",))},
        (
            "{dir}/inventory: service keystone runs on group `keystone`, which the inventory "
            "does not define; add [keystone] or [keystone:children]",
        ),
        lines=1,
    ),
    "inventory-remote-host": Case(
        {"inventory": inventory(f"{LOCAL}\nnode2 ansible_host=10.0.0.12")},
        (
            "{dir}/inventory:3: host `node2` is not this machine; this version deploys on the "
            "local host only (ansible_connection=local)",
        ),
    ),
    "inventory-unclosed-header": Case(
        {"inventory": "[control\n" + LOCAL + "\n"},
        (
            "{dir}/inventory:1: section header `[control` is not closed; write `[group]`, "
            "`[group:children]` or `[group:vars]`",
        ),
    ),
    "inventory-unbalanced-quote": Case(
        {"inventory": inventory('localhost ansible_connection="local')},
        ('{dir}/inventory:2: unbalanced quote (") in `localhost ansible_connection="local`',),
    ),
    "inventory-undefined-child": Case(
        {"inventory": inventory() + "\n[keystone:children]\ncontroller\n"},
        (
            f"{{dir}}/inventory:{3 + 3 * len(SERVICE_GROUPS) + 2}: `[keystone:children]` names "
            "group `controller`, which is never defined; defined groups: all, ungrouped, "
            f"control, {', '.join(SERVICE_GROUPS)}",
        ),
    ),
    # --- config/ override files --------------------------------------------------------------
    "override-ini-syntax": Case(
        {"config/keystone.conf": "[DEFAULT]\ndebug True\n"},
        (
            "{dir}/config/keystone.conf:2: cannot read `debug True`; expected `key = value`, a "
            "`[section]` header",
        ),
    ),
    "override-key-before-section": Case(
        {"config/global.conf": "debug = True\n"},
        (
            "{dir}/config/global.conf:1: `debug` comes before any section header; put it under "
            "a section such as `[DEFAULT]`",
        ),
    ),
    "override-matches-nothing": Case(
        {"config/keystne.conf": "[DEFAULT]\ndebug = True\n"},
        (
            "{dir}/config/keystne.conf: matches no generated file; an override is "
            "config/global.conf, config/FILE, config/SERVICE/FILE or config/SERVICE/HOST/FILE, "
            f"where FILE is one of: {', '.join(MERGED_FILES)}",
        ),
    ),
    "override-for-the-wrong-service": Case(
        {"config/mariadb/keystone.conf": "[DEFAULT]\ndebug = True\n"},
        ("{dir}/config/mariadb/keystone.conf: matches no generated file",),
    ),
    "override-of-a-file-that-is-not-ini": Case(
        {"config/haproxy/haproxy.cfg": "global\n"},
        ("{dir}/config/haproxy/haproxy.cfg: matches no generated file",),
    ),
    "override-per-host-bad-ini": Case(
        {"config/keystone/localhost/keystone.conf": "[token]\nexpiration = 60\n[DEFAULT\n"},
        (
            "{dir}/config/keystone/localhost/keystone.conf:3: section header `[DEFAULT` is not "
            "closed; write it as `[name]`",
        ),
    ),
    "override-not-utf8": Case(
        {"config/keystone.conf": b"[DEFAULT]\ndebug = \xff\n"},
        ("{dir}/config/keystone.conf:2: not UTF-8 text (byte 0xff); save the file as UTF-8",),
    ),
    "overrides-all-reported": Case(
        {"config/keystone.conf": "oops\n", "config/octavia.conf": "[DEFAULT]\n"},
        (
            "{dir}/config/keystone.conf:1: cannot read `oops`",
            "{dir}/config/octavia.conf: matches no generated file",
        ),
        lines=2,
    ),
    # --- several files at once ---------------------------------------------------------------
    "every-file-at-once": Case(
        {
            G: "openstak_release: zed\n",
            "passwords.yml": "- a\n",
            "inventory": "[control\n",
            "config/keystone.conf": "debug = True\n",
        },
        (
            "{dir}/globals.yml:1: unknown key 'openstak_release'",
            "{dir}/passwords.yml: expected `key: value` lines",
            "{dir}/inventory:1: section header `[control` is not closed",
            "{dir}/config/keystone.conf:1: `debug` comes before any section header",
        ),
        lines=4,
    ),
    "release-and-secrets-at-once": Case(
        {G: "openstack_release: master\n", "passwords.yml": ""},
        ("openstack_release: 'master' has no images", "no value for database_password"),
        lines=2,
    ),
    # --- errors only compute() can find ------------------------------------------------------
    "keepalived-without-interface": Case(
        {G: "kolla_internal_vip_address: 10.0.0.100\n"},
        ("{dir}/globals.yml: network_interface must be set when keepalived is deployed",),
        compute=True,
    ),
}

# Known bugs in src: (case, exception the bug raises instead, what is wrong).
# Bugs this corpus found (crashes and silent acceptances), fixed since.
FIXED: dict[str, Case] = {
    "globals-not-utf8": Case(
        {G: b"docker_namespace: caf\xe9\n"},
        ("{dir}/globals.yml:1: not UTF-8 text (byte 0xe9)",),
    ),
    "passwords-not-utf8": Case(
        {"passwords.yml": passwords_text().encode() + b"extra: \xff\n"},
        ("{dir}/passwords.yml:", "not UTF-8"),
    ),
    "globals-impossible-date": Case(
        {G: "openstack_release: 2025-13-01\n"},
        ("{dir}/globals.yml: invalid value (month must be in 1..12)",),
    ),
    "database-port-out-of-range": Case(
        {G: "database_port: 99999\n"}, ("{dir}/globals.yml:1: database_port:",)
    ),
    "vip-with-an-impossible-octet": Case(
        {G: "kolla_internal_vip_address: 10.0.0.300\n"},
        ("{dir}/globals.yml:1: kolla_internal_vip_address: '10.0.0.300'",),
    ),
    "dependency-switched-off": Case(
        {G: "enable_memcached: no\n"},
        ("{dir}/globals.yml", "enable_memcached"),
        compute=True,
    ),
    "override-for-a-host-not-in-the-inventory": Case(
        {"config/keystone/locahost/keystone.conf": "[DEFAULT]\ndebug = True\n"},
        ("{dir}/config/keystone/locahost/keystone.conf:", "localhost"),
    ),
}


def write_files(directory: Path, files: dict[str, str | bytes | None]) -> None:
    for name, content in files.items():
        path = directory / name
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def snapshot(directory: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under directory: its mode, and a file's content."""
    return {
        str(p.relative_to(directory)): (
            p.lstat().st_mode,
            p.read_bytes() if p.is_file() else None,
        )
        for p in sorted(directory.rglob("*"))
    }


def make_config(tmp_path: Path, files: dict[str, Any]) -> Path:
    directory = tmp_path / "etc-stackyard"
    directory.mkdir()
    write_files(directory, {"passwords.yml": passwords_text(), **files})
    if (directory / "passwords.yml").exists():
        (directory / "passwords.yml").chmod(0o600)
    return directory


def load_and_compute(directory: Path) -> None:
    compute(load_deployment(directory), FACTS)


@pytest.mark.parametrize(
    "bad",
    [pytest.param(c, id=name) for name, c in {**CASES, **FIXED}.items()],
)
def test_bad_config_is_a_clear_error_and_nothing_is_written(tmp_path: Path, bad: Case) -> None:
    directory = make_config(tmp_path, bad.files)
    before = snapshot(directory)
    if bad.compute:
        deployment = load_deployment(directory)
        with pytest.raises(ConfigError) as info:
            compute(deployment, FACTS)
    else:
        with pytest.raises(ConfigError) as info:
            load_deployment(directory)
    message = str(info.value)
    for expected in bad.expected:
        assert expected.replace("{dir}", str(directory)) in message
    if bad.lines is not None:
        assert len(message.splitlines()) == bad.lines, message
    assert snapshot(directory) == before


DEEP_NESTING = """\
import sys
from pathlib import Path
from stackyard.config.deployment import load_deployment
from stackyard.errors import ConfigError
try:
    load_deployment(Path(sys.argv[1]))
except ConfigError as exc:
    print("ConfigError:", exc)
"""


def test_deeply_nested_yaml_is_a_config_error(tmp_path: Path) -> None:
    """Runs in a child process: the failure is a crash of the interpreter."""
    directory = make_config(tmp_path, {G: "a: " + "[" * 100_000 + "\n"})
    result = subprocess.run(
        [sys.executable, "-c", DEEP_NESTING, str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-300:]}"
    assert result.stdout.startswith(f"ConfigError: {directory / 'globals.yml'}: nested")


def test_a_good_config_loads_and_is_not_written(tmp_path: Path) -> None:
    """The corpus' baseline: the same files without the mistake load and compute."""
    directory = make_config(
        tmp_path,
        {
            "globals.yml": "docker_namespace: sytest\n",
            "inventory": inventory(),
            "config/global.conf": "[DEFAULT]\ndebug = True\n",
            "config/keystone/localhost/keystone.conf": "[token]\nexpiration = 3600\n",
        },
    )
    before = snapshot(directory)
    load_and_compute(directory)
    assert snapshot(directory) == before
    assert stat.S_IMODE((directory / "passwords.yml").stat().st_mode) == 0o600


def test_missing_inventory_given_on_the_command_line(tmp_path: Path) -> None:
    directory = make_config(tmp_path, {})
    with pytest.raises(ConfigError) as info:
        load_deployment(directory, inventory_path=tmp_path / "multinode")
    assert str(info.value) == f"{tmp_path / 'multinode'}: file does not exist"


# --- service definitions -----------------------------------------------------------------------


def replace_in(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        text = path.read_text()
        assert old in text, f"{old!r} is not in {path}"
        path.write_text(text.replace(old, new, 1))

    return edit


def remove(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


SERVICE_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "unknown-key": (
        replace_in("memcached/service.yaml", "group: memcached\n", "group: memcached\nport: 1\n"),
        "{root}/memcached/service.yaml:3: port: Extra inputs are not permitted",
    ),
    "unknown-container-key": (
        replace_in("memcached/service.yaml", "    image: memcached\n", "    imag: memcached\n"),
        "{root}/memcached/service.yaml:10: containers.0.imag: Extra inputs are not permitted",
    ),
    "depends-on-unknown-service": (
        replace_in("keystone/service.yaml", "[mariadb, memcached]", "[mariadb, memcache]"),
        "{root}/keystone/service.yaml: depends_on: unknown service 'memcache'",
    ),
    "like-names-a-missing-container": (
        replace_in("keystone/service.yaml", "like: keystone\n", "like: keystone_api\n"),
        "{root}/keystone/service.yaml: keystone_db_sync: like: 'keystone_api' is not a "
        "container of this service",
    ),
    "missing-config-template": (
        remove("rabbitmq/definitions.json.j2"),
        "{root}/rabbitmq/service.yaml: rabbitmq: config template 'definitions.json.j2' does not "
        "exist in {root}/rabbitmq",
    ),
    "after-names-an-unknown-step": (
        replace_in(
            "keystone/service.yaml", "after: [keystone_db_sync]", "after: [keystone_dbsync]"
        ),
        "{root}/keystone/service.yaml: keystone_bootstrap: after: 'keystone_dbsync' is not in "
        "this service",
    ),
    "bad-perm": (
        replace_in("haproxy/service.yaml", 'perm: "0600"', 'perm: "999"'),
        "{root}/haproxy/service.yaml:4: containers.0.config_files.0.perm: '999' is not an octal "
        "mode such as '0600'",
    ),
    "command-and-argv": (
        replace_in(
            "memcached/service.yaml",
            "    command: memcached",
            "    argv: [memcached]\n    command: memcached",
        ),
        "{root}/memcached/service.yaml:10: containers.0: give `command` (run by kolla_start) or "
        "`argv`, not both",
    ),
    "secret-environment-also-in-environment": (
        replace_in(
            "mariadb/service.yaml",
            '      KOLLA_BOOTSTRAP: ""\n',
            '      KOLLA_BOOTSTRAP: ""\n      DB_ROOT_PASSWORD: x\n',
        ),
        "jobs.0: ['DB_ROOT_PASSWORD'] are in both environment and secret_environment",
    ),
    "secret-environment-with-argv": (
        replace_in(
            "memcached/service.yaml",
            "    command: memcached -S",
            "    argv: [memcached]\n    #",
        ),
        "{root}/memcached/service.yaml:10: containers.0: secret_environment needs kolla_start",
    ),
    "not-a-capability": (
        replace_in("host_firewall/service.yaml", "cap_add: [NET_ADMIN]", "cap_add: [NET_ADMIM]"),
        "{root}/host_firewall/service.yaml:6: containers.0.cap_add: ['NET_ADMIM'] are not Linux "
        "capabilities (see capabilities(7))",
    ),
    "not-a-limit": (
        replace_in(
            "memcached/service.yaml",
            "    healthcheck:",
            "    ulimits: {files: 10}\n    healthcheck:",
        ),
        "containers.0.ulimits: ['files'] are not limits; valid: core, cpu",
    ),
    "limit-beyond-the-engine": (
        replace_in(
            "memcached/service.yaml",
            "    healthcheck:",
            "    ulimits: {nofile: 9223372036854775808}\n    healthcheck:",
        ),
        "containers.0.ulimits: ['nofile'] must be from -1 (unlimited) to 9223372036854775807",
    ),
    "container-name-used-twice": (
        replace_in("memcached/service.yaml", "  - name: memcached\n", "  - name: keystone\n"),
        "/service.yaml: keystone: name already used by service",
    ),
    "frontend-backend-unknown": (
        replace_in(
            "keystone/service.yaml", "    backend: keystone\n", "    backend: keystone_api\n"
        ),
        "{root}/keystone/service.yaml: frontends: keystone_internal: backend 'keystone_api' is "
        "not a container of any service",
    ),
    "invalid-yaml": (
        replace_in("memcached/service.yaml", "group: memcached\n", "group: [memcached\n"),
        "{root}/memcached/service.yaml:",
    ),
    "setting-default-of-another-type": (
        replace_in("keepalived/service.yaml", "    default: 51\n", '    default: "51"\n'),
        "{root}/keepalived/service.yaml:8: settings.keepalived_virtual_router_id: default '51' "
        "is not an integer",
    ),
    "setting-pattern-on-an-integer": (
        replace_in(
            "keepalived/service.yaml", "    default: 51\n", "    default: 51\n    pattern: x\n"
        ),
        "{root}/keepalived/service.yaml:8: settings.keepalived_virtual_router_id: `pattern` and "
        "`choices` are for strings",
    ),
    "setting-default-out-of-range": (
        replace_in("keepalived/service.yaml", "    default: 51\n", "    default: 300\n"),
        "{root}/keepalived/service.yaml:8: settings.keepalived_virtual_router_id: default 300: "
        "Input should be less than or equal to 255",
    ),
    "setting-minimum-above-maximum": (
        replace_in("keepalived/service.yaml", "    minimum: 1\n", "    minimum: 256\n"),
        "{root}/keepalived/service.yaml:8: settings.keepalived_virtual_router_id: `minimum` 256 "
        "is above `maximum` 255",
    ),
    "setting-maximum-on-a-string": (
        replace_in(
            "neutron/service.yaml",
            "    default: physnet1\n",
            "    default: physnet1\n    maximum: 3\n",
        ),
        "{root}/neutron/service.yaml:10: settings.neutron_physical_networks: `minimum` and "
        "`maximum` are for integers",
    ),
    "setting-pattern-and-choices": (
        replace_in(
            "neutron/service.yaml",
            "    default: physnet1\n",
            "    default: physnet1\n    choices: [physnet1]\n",
        ),
        "{root}/neutron/service.yaml:10: settings.neutron_physical_networks: `pattern` or "
        "`choices`, not both",
    ),
    "setting-name": (
        replace_in(
            "neutron/service.yaml", "  neutron_physical_networks:\n", "  Neutron-Networks:\n"
        ),
        "{root}/neutron/service.yaml:10: settings: ['Neutron-Networks']: a setting "
        "is named with a-z, 0-9 and _, starting a-z",
    ),
    "release-upgrade-backwards": (
        replace_in("keystone/service.yaml", '{zed: "2025.1"}', '{"2025.1": zed}'),
        "{root}/keystone/service.yaml",
    ),
    "setting-bad-pattern": (
        replace_in("neutron/service.yaml", 'pattern: "[A-Za-z]', 'pattern: "*x'),
        "{root}/neutron/service.yaml:10: settings.neutron_physical_networks: pattern "
        "'*x[A-Za-z0-9_-]*': nothing to repeat at position 0",
    ),
}


@pytest.fixture(scope="module")
def pristine_services(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("packaged") / "services"
    shutil.copytree(default_root(), root)
    load_services(root)  # the copy itself is valid
    return root


@pytest.mark.parametrize("name", SERVICE_CASES)
def test_bad_service_definition(tmp_path: Path, pristine_services: Path, name: str) -> None:
    edit, expected = SERVICE_CASES[name]
    root = tmp_path / "services"
    shutil.copytree(pristine_services, root)
    edit(root)
    before = snapshot(root)
    with pytest.raises(ConfigError) as info:
        load_services(root)
    assert expected.replace("{root}", str(root)) in str(info.value)
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("kolla_serial", "{root}/memcached/service.yaml: settings: kolla_serial is a setting of "
         "stackyard's own"),
        ("enable_keystone", "{root}/memcached/service.yaml: settings: enable_keystone is a "
         "setting of stackyard's own"),
        ("fernet_token_expiry", "{root}/memcached/service.yaml: settings: fernet_token_expiry "
         "is declared by service keystone already"),
    ],
)  # fmt: skip
def test_a_setting_is_declared_once(
    tmp_path: Path, pristine_services: Path, key: str, expected: str
) -> None:
    root = tmp_path / "services"
    shutil.copytree(pristine_services, root)
    setting = f"settings:\n  {key}:\n    description: d\n    type: integer\n"
    replace_in("memcached/service.yaml", "group: memcached\n", f"group: memcached\n{setting}")(root)
    with pytest.raises(ConfigError) as info:
        load_deployment(make_config(tmp_path, {}), services_root=root)
    assert str(info.value) == expected.replace("{root}", str(root))


def test_service_image_must_be_in_the_catalog(tmp_path: Path, pristine_services: Path) -> None:
    root = tmp_path / "services"
    shutil.copytree(pristine_services, root)
    replace_in("memcached/service.yaml", "image: memcached", "image: memcache")(root)
    load_services(root)  # without a catalog the name is not checked
    with pytest.raises(ConfigError) as info:
        load_services(root, images=load_catalog().images)
    assert (
        f"{root}/memcached/service.yaml: memcached: image 'memcache' is not in the image "
        in str(info.value)
    )


# --- any text at all ---------------------------------------------------------------------------

KEYS = sorted(Globals.model_fields) + [f"enable_{s}" for s in SERVICE_GROUPS] + ["enable_x"]
SCALARS = [
    "yes",
    "no",
    "0",
    "-1",
    "70000",
    "''",
    '"2025.1"',
    "zed",
    "10.0.0.1",
    "[a]",
    "{a: 1}",
    "~",
]


@st.composite
def yaml_like(draw: st.DrawFn) -> str:
    """Mostly `key: value` lines with known keys, some of them broken."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from([*KEYS, *secret_keys()]) | st.text(max_size=8))
        value = draw(st.sampled_from(SCALARS) | st.text(max_size=12))
        indent = draw(st.sampled_from(["", "", "", " ", "- "]))
        lines.append(f"{indent}{key}: {value}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@st.composite
def ini_like(draw: st.DrawFn) -> str:
    pieces = st.sampled_from(
        ["[DEFAULT]", "[token]", "[", "[]", "debug = True", "=x", "  more", "# c", ""]
    )
    return "\n".join(draw(st.lists(pieces | st.text(max_size=16), max_size=8)))


@cache
def packaged() -> tuple[Any, Any]:
    catalog = load_catalog()
    return catalog, load_services(images=catalog.images)


@pytest.mark.parametrize(
    ("target", "texts"),
    [
        ("globals.yml", st.text() | yaml_like()),
        ("passwords.yml", st.text() | yaml_like().map(lambda t: passwords_text() + t)),
        ("config/keystone.conf", st.text() | ini_like()),
        ("inventory", st.text()),
    ],
    ids=["globals", "passwords", "override", "inventory"],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_text_loads_or_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, target: str, texts: Any, data: st.DataObject
) -> None:
    text = data.draw(texts, label=target)
    directory = tmp_path_factory.mktemp("random")
    make = make_config(directory, {target: text})
    before = snapshot(make)
    catalog, services = packaged()  # the packaged data is not under test: load it once
    with (
        mock.patch.object(deployment_module, "load_catalog", lambda root=None: catalog),
        mock.patch.object(
            deployment_module, "load_services", lambda root=None, images=None: services
        ),
        contextlib.suppress(ConfigError),
    ):
        load_and_compute(make)
    assert snapshot(make) == before
