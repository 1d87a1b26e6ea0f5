"""Each kind of bad input, through the command line: `stackyard plan` prints the one message,
exits 2 and writes nothing (it stops before the container engine is reached)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackyard.cli import main
from tests.unit.test_config_errors import make_config, passwords_text, secret_keys, snapshot
from tests.unit.test_input_yaml import LAUGHS, laughs

KEY = "keystone_admin_password"


def dangling_override(directory: Path) -> None:
    (directory / "config").mkdir()
    (directory / "config" / "global.conf").symlink_to(directory / "shared.conf")


CASES: dict[str, tuple[dict[str, str], Callable[[Path], None] | None, str]] = {
    "alias-bomb": ({"globals.yml": laughs(9, 9)}, None, f"{{dir}}/globals.yml:6: {LAUGHS}"),
    "repeated-key": (
        {"globals.yml": "docker_namespace: a\ndocker_namespace: b\n"},
        None,
        "{dir}/globals.yml:2: key 'docker_namespace' appears again (first at line 1); YAML "
        "would keep only the last: keep one",
    ),
    "secret-tag": (
        {"passwords.yml": passwords_text(without=(KEY,)) + f"{KEY}: !Secret123\n"},
        None,
        f"{{dir}}/passwords.yml:{len(secret_keys())}: {KEY}: a value that starts with ! is read "
        "as a YAML tag; write the value in single quotes, doubling any ' inside",
    ),
    "reference-cycle": (
        {"globals.yml": 'openstack_tag: "{{ openstack_tag }}"\n'},
        None,
        "{dir}/globals.yml:1: openstack_tag: the references form a cycle (openstack_tag -> "
        "openstack_tag); set one of them",
    ),
    "registry-scheme": (
        {"globals.yml": "docker_registry: http://reg:5000\n"},
        None,
        "{dir}/globals.yml:1: docker_registry: a registry is HOST[:PORT], so drop the scheme: "
        "docker_registry: reg:5000 (got 'http://reg:5000')",
    ),
    "database-at-localhost": (
        {"globals.yml": "enable_mariadb: no\ndatabase_address: localhost\n"},
        None,
        "{dir}/globals.yml: database_address: 'localhost' is this machine's own address, and the "
        "services run in containers, where it means the container itself; with enable_mariadb: "
        "no, use an address the containers can reach (the database server's, or this host's "
        "address on network_interface)",
    ),
    "dangling-override": (
        {},
        dangling_override,
        "{dir}/config/global.conf: a symlink to {dir}/shared.conf, which does not exist; point "
        "it at an existing file or remove it",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_plan_refuses_bad_input_with_exit_2(tmp_path: Path, case: str) -> None:
    files, build, message = CASES[case]
    directory = make_config(tmp_path, files)
    if build is not None:
        build(directory)
    before = snapshot(directory)
    result = CliRunner().invoke(main, ["plan", "--config-dir", str(directory)])
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {message}\n".replace("{dir}", str(directory))
    assert snapshot(directory) == before
    assert "Secret" not in result.output
    assert len(result.output) < 400 + len(str(directory)) * 2  # even the alias bomb's
