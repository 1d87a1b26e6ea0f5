from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from stackyard.config.globals import load_globals, parse_flag
from stackyard.config.passwords import generate, load_passwords, missing_secrets
from stackyard.errors import ConfigError

SERVICES = {"mariadb": True, "keystone": True, "keepalived": False}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_need_no_file(tmp_path: Path) -> None:
    settings = load_globals(tmp_path / "globals.yml", SERVICES)
    assert settings.values.openstack_release == "2025.1"
    assert settings.enabled == SERVICES


def test_kolla_names_and_switches(tmp_path: Path) -> None:
    path = write(
        tmp_path / "globals.yml",
        'openstack_release: "zed"\nenable_mariadb: "no"\n'
        "enable_keepalived: yes\ndatabase_address: 192.0.2.10\ndatabase_port: 3307\n",
    )
    settings = load_globals(path, SERVICES)
    assert settings.values.openstack_release == "zed"
    assert settings.values.database_port == 3307
    assert settings.enabled == {"mariadb": False, "keystone": True, "keepalived": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kolla_internal_vip_adress: 10.0.0.1\n",
            ":1: unknown key 'kolla_internal_vip_adress'; "
            "did you mean 'kolla_internal_vip_address'?",
        ),
        (
            "openstack_release: zed\nenable_keystnoe: yes\n",
            ":2: unknown key 'enable_keystnoe'; did you mean 'enable_keystone'?",
        ),
        ("enable_glance: yes\n", ":1: unknown key 'enable_glance'"),
        ("enable_mariadb: maybe\n", ':1: enable_mariadb: expected "yes" or "no", got \'maybe\''),
        ("database_port: abc\n", ":1: database_port: Input should be a valid integer"),
        ("kolla_base_distro: rocky\n", ":1: kolla_base_distro: Input should be 'debian'"),
        (
            "kolla_internal_vip_address: 'not an address!'\n",
            ":1: kolla_internal_vip_address: 'not an address!' is not an IP address",
        ),
        ("- a\n- b\n", "expected `key: value` lines at the top level"),
        ("a: [1, 2\n", ":2: invalid YAML"),
    ],
)
def test_bad_globals(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "globals.yml", text)
    with pytest.raises(ConfigError) as info:
        load_globals(path, SERVICES)
    assert f"{path}" in str(info.value)
    assert message in str(info.value)


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path / "globals.yml", "foo: 1\ndatabase_port: x\nenable_mariadb: perhaps\n")
    with pytest.raises(ConfigError) as info:
        load_globals(path, SERVICES)
    assert len(str(info.value).splitlines()) == 3


def test_flags() -> None:
    assert [parse_flag(v) for v in ("yes", "No", True, "on", "0")] == [
        True,
        False,
        True,
        True,
        False,
    ]
    with pytest.raises(ValueError):
        parse_flag("sure")


def test_generate_fills_only_missing_and_is_private(tmp_path: Path) -> None:
    path = write(
        tmp_path / "passwords.yml", "keystone_admin_password: kept-value\ndatabase_password:\n"
    )
    path.chmod(0o644)
    added = generate(path, ["keystone_admin_password", "database_password", "rabbitmq_password"])
    assert added == ["database_password", "rabbitmq_password"]
    values = load_passwords(path)
    assert values["keystone_admin_password"] == "kept-value"
    assert len(values["database_password"] or "") == 40
    assert values["database_password"] != values["rabbitmq_password"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert generate(path, ["database_password"]) == []
    assert load_passwords(path) == values


def test_generate_creates_private_directories(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "passwords.yml"
    generate(path, ["a"])
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert list(yaml.safe_load(path.read_text())) == ["a"]


def test_missing_secrets_and_bad_values(tmp_path: Path) -> None:
    assert missing_secrets({"a": "x", "b": None}, ["a", "b", "c"]) == ["b", "c"]
    path = write(tmp_path / "passwords.yml", "a:\n  nested: 1\n")
    with pytest.raises(ConfigError, match=r"passwords.yml:1: a must be a string"):
        load_passwords(path)
