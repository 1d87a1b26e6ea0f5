"""globals.yml: `{{ setting }}` references as kolla-ansible resolves them, image references
checked before any engine sees them, an external database the containers can reach, and a
config folder that does not exist. Each mistake is one exact message; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stackyard.cli import main
from stackyard.config.deployment import load_deployment
from stackyard.errors import ConfigError
from tests.unit.test_config_errors import make_config, snapshot

G = "{dir}/globals.yml"
ONLY = "only `{{ other_setting }}` references are supported, not filters, expressions, lookups "
ONLY += "or statements"


def refused(tmp_path: Path, globals_text: str) -> str:
    """The message load_deployment gives for this globals.yml; checks nothing was written."""
    directory = make_config(tmp_path, {"globals.yml": globals_text})
    before = snapshot(directory)
    with pytest.raises(ConfigError) as info:
        load_deployment(directory)
    assert snapshot(directory) == before
    return str(info.value).replace(str(directory), "{dir}")


def loaded(tmp_path: Path, globals_text: str) -> dict[str, object]:
    directory = make_config(tmp_path, {"globals.yml": globals_text})
    before = snapshot(directory)
    deployment = load_deployment(directory)
    assert snapshot(directory) == before
    return {**deployment.values, "image_tag": deployment.image_tag}


# --- references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('kolla_internal_vip_address: 10.0.0.9\n'
         'kolla_external_vip_address: "{{ kolla_internal_vip_address }}"\n',
         {"kolla_external_vip_address": "10.0.0.9"}),
        ('openstack_tag: "{{ openstack_release }}-custom"\n',
         {"openstack_tag": "2025.1-custom", "image_tag": "2025.1-custom"}),
        ('openstack_tag: "{{openstack_release}}-{{ kolla_base_distro }}-{{ database_port }}"\n',
         {"openstack_tag": "2025.1-debian-3306"}),
        ('docker_namespace: "{{ keystone_admin_project }}"\n'
         'keystone_admin_project: "{{ keystone_admin_user }}"\nkeystone_admin_user: ops\n',
         {"docker_namespace": "ops", "keystone_admin_project": "ops"}),
        ('database_port: "{{ keepalived_virtual_router_id }}"\nkeepalived_virtual_router_id: 61\n',
         {"database_port": 61}),
        ('enable_container_healthchecks: "{{ enable_haproxy }}"\nenable_haproxy: no\n',
         {"enable_container_healthchecks": False}),
        ('keystone_admin_user: "ops }} team"\n', {"keystone_admin_user": "ops }} team"}),
    ],
    ids=["vip", "default", "several", "chain", "number", "switch", "not-a-reference"],
)  # fmt: skip
def test_references_are_replaced_before_validation(
    tmp_path: Path, text: str, expected: dict[str, object]
) -> None:
    values = loaded(tmp_path, text)
    assert {key: values[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kolla_external_vip_address: "{{ kolla_internal_vip_address }}"\n'
         'kolla_internal_vip_address: "{{ kolla_external_vip_address }}"\n',
         f"{G}:1: kolla_external_vip_address: the references form a cycle "
         "(kolla_external_vip_address -> kolla_internal_vip_address -> "
         "kolla_external_vip_address); set one of them"),
        ('docker_namespace: "{{ docker_namespace }}"\n',
         f"{G}:1: docker_namespace: the references form a cycle (docker_namespace -> "
         "docker_namespace); set one of them"),
        ('keystone_admin_user: "{{ keystone_admin_project }}"\n'
         'docker_namespace: "{{ keystone_admin_user }}"\n'
         'keystone_admin_project: "x{{ docker_namespace }}"\n',
         f"{G}:1: keystone_admin_user: the references form a cycle (keystone_admin_user -> "
         "keystone_admin_project -> docker_namespace -> keystone_admin_user); set one of them"),
        ('kolla_external_vip_address: "{{ kolla_internal_vip_adress }}"\n',
         f"{G}:1: kolla_external_vip_address: {{{{ kolla_internal_vip_adress }}}} is not a "
         "setting; did you mean 'kolla_internal_vip_address'?"),
        ('openstack_tag: "{{ ansible_hostname }}"\n',
         f"{G}:1: openstack_tag: {{{{ ansible_hostname }}}} is not a setting"),
        ('kolla_external_vip_address: "{{ kolla_internal_vip_address }}"\n',
         f"{G}:1: kolla_external_vip_address: {{{{ kolla_internal_vip_address }}}} has no value; "
         "set kolla_internal_vip_address"),
        ('kolla_external_vip_address: "{{ network_interface }}"\nnetwork_interface: eth0\n',
         f"{G}:1: kolla_external_vip_address: 'eth0' is not an IP address (got 'eth0' from "
         "'{{ network_interface }}')"),
        ('database_port: "{{ openstack_release }}"\n',
         f"{G}:1: database_port: Input should be a valid integer, unable to parse string as an "
         "integer (got '2025.1' from '{{ openstack_release }}')"),
        ('docker_namespace: "{{ docker_namespace_x }}"\ndocker_namespace_x: [a]\n',
         f"{G}:1: docker_namespace: {{{{ docker_namespace_x }}}} is not a setting; did you mean "
         f"'docker_namespace'?\n{G}:2: unknown key 'docker_namespace_x'; did you mean "
         "'docker_namespace'?"),
        ('kolla_external_vip_address: "{{ kolla_internal_vip_address | default(\'10.0.0.1\') }}"\n',
         f"{G}:1: kolla_external_vip_address: {ONLY} (got \"{{{{ kolla_internal_vip_address | "
         "default('10.0.0.1') }}\")"),
        ('database_port: "{{ 3306 + 1 }}"\n',
         f"{G}:1: database_port: {ONLY} (got '{{{{ 3306 + 1 }}}}')"),
        ('openstack_tag: "{{ lookup(\'env\', \'TAG\') }}"\n',
         f"{G}:1: openstack_tag: {ONLY} (got \"{{{{ lookup('env', 'TAG') }}}}\")"),
        ('docker_namespace: "{% if true %}a{% endif %}"\n',
         f"{G}:1: docker_namespace: {ONLY} (got '{{% if true %}}a{{% endif %}}')"),
        ('docker_namespace: "a{# note #}"\n',
         f"{G}:1: docker_namespace: {ONLY} (got 'a{{# note #}}')"),
        ('docker_namespace: "{{- keystone_admin_user -}}"\n',
         f"{G}:1: docker_namespace: {ONLY} (got '{{{{- keystone_admin_user -}}}}')"),
        ('openstack_tag: "{{ openstack_release"\n',
         f"{G}:1: openstack_tag: {ONLY} (got '{{{{ openstack_release')"),
        ('kolla_external_vip_address: {{ kolla_internal_vip_address }}\n',
         f"{G}:1: invalid YAML (found unhashable key); a value that starts with `{{` needs "
         'quotes: key: "{{ other_setting }}"'),
    ],
    ids=["cycle", "self", "long-cycle", "did-you-mean", "not-a-setting", "unset", "validated",
         "validated-type", "unknown-key", "filter", "expression", "lookup", "statement", "comment",
         "whitespace-control", "unclosed", "unquoted"],
)  # fmt: skip
def test_bad_references(tmp_path: Path, text: str, message: str) -> None:
    assert refused(tmp_path, text) == message


def test_a_key_that_depends_on_a_bad_reference_is_not_reported_again(tmp_path: Path) -> None:
    text = (
        'kolla_internal_vip_address: "{{ nope }}"\n'
        'kolla_external_vip_address: "{{ kolla_internal_vip_address }}"\n'
    )
    assert refused(tmp_path, text) == (
        f"{G}:1: kolla_internal_vip_address: {{{{ nope }}}} is not a setting"
    )


# --- image references --------------------------------------------------------------------------

REGISTRY = "a registry is HOST[:PORT]"
NAMESPACE = (
    "a namespace is lowercase letters and digits, with single . or _, double _ or any number of "
    "- between them, in parts separated by / (such as my-org/openstack)"
)
TAG = (
    "a tag is 1 to 128 letters, digits, _ . and -, not starting with . or - (such as 2025.1-trixie)"
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("docker_registry: http://reg:5000",
         f"docker_registry: {REGISTRY}, so drop the scheme: docker_registry: reg:5000 (got "
         "'http://reg:5000')"),
        ("docker_registry: https://reg.example.com:5000/openstack/",
         f"docker_registry: {REGISTRY}, so drop the scheme and move the path to docker_namespace: "
         "docker_registry: reg.example.com:5000, docker_namespace: openstack (got "
         "'https://reg.example.com:5000/openstack/')"),
        ("docker_registry: reg:5000/kolla",
         f"docker_registry: {REGISTRY}, so move the path to docker_namespace: docker_registry: "
         "reg:5000, docker_namespace: kolla (got 'reg:5000/kolla')"),
        ("docker_registry: reg:5000/",
         f"docker_registry: {REGISTRY}, so drop the /: docker_registry: reg:5000 (got "
         "'reg:5000/')"),
        ("docker_registry: reg:port",
         f"docker_registry: {REGISTRY}: a host name (letters, digits, - and .) or an IP address, "
         "then optionally : and a port number (got 'reg:port')"),
        ("docker_registry: -reg.example.com",
         f"docker_registry: {REGISTRY}: a host name (letters, digits, - and .) or an IP address, "
         "then optionally : and a port number (got '-reg.example.com')"),
        ("docker_namespace: Kolla", "docker_namespace: a namespace is lowercase: docker_namespace: "
         "kolla (got 'Kolla')"),
        ("docker_namespace: My-Org/OpenStack", "docker_namespace: a namespace is lowercase: "
         "docker_namespace: my-org/openstack (got 'My-Org/OpenStack')"),
        ("docker_namespace: my org", f"docker_namespace: {NAMESPACE} (got 'my org')"),
        ("docker_namespace: kolla/", f"docker_namespace: {NAMESPACE} (got 'kolla/')"),
        ("docker_namespace: a//b", f"docker_namespace: {NAMESPACE} (got 'a//b')"),
        ("docker_namespace: _kolla", f"docker_namespace: {NAMESPACE} (got '_kolla')"),
        ("docker_namespace: ko___lla", f"docker_namespace: {NAMESPACE} (got 'ko___lla')"),
        ("docker_namespace: ''", f"docker_namespace: {NAMESPACE} (got '')"),
        ("openstack_tag: '2025.1:trixie'", f"openstack_tag: {TAG} (got '2025.1:trixie')"),
        ("openstack_tag: .hidden", f"openstack_tag: {TAG} (got '.hidden')"),
        ("openstack_tag: -rc1", f"openstack_tag: {TAG} (got '-rc1')"),
        ("openstack_tag: a/b", f"openstack_tag: {TAG} (got 'a/b')"),
        ("openstack_tag: " + "t" * 129, f"openstack_tag: {TAG} (got '{'t' * 129}')"),
    ],
)  # fmt: skip
def test_image_references_are_checked_up_front(tmp_path: Path, line: str, message: str) -> None:
    assert refused(tmp_path, f"{line}\n") == f"{G}:1: {message}"


@pytest.mark.parametrize(
    "text",
    [
        "docker_registry: registry.example.com:5000\n",
        "docker_registry: localhost:5000\n",
        "docker_registry: 192.0.2.7\n",
        "docker_registry: '[2001:db8::1]:5000'\n",
        "docker_namespace: my-org/openstack\n",
        "docker_namespace: a__b.c_d---e\n",
        "openstack_tag: 2025.1-trixie_2\n",
        "openstack_tag: _" + "t" * 127 + "\n",
        "docker_registry: ''\n",  # no registry, as before
        "openstack_tag: ''\n",  # the default tag, as before
    ],
)
def test_valid_image_references_load(tmp_path: Path, text: str) -> None:
    key, _, value = text.strip().partition(": ")
    assert loaded(tmp_path, text)[key] == value.strip("'")


# --- an external database at this machine's address -----------------------------------------


def local_db(address: str) -> str:
    return (
        f"{G}: database_address: {address!r} is this machine's own address, and the services run "
        "in containers, where it means the container itself; with enable_mariadb: no, use an "
        "address the containers can reach (the database server's, or this host's address on "
        "network_interface)"
    )


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.3.2.1", "localhost", "LOCALHOST.", "localhost.localdomain", "db.localhost",
     "ip6-localhost", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::"],
)  # fmt: skip
def test_an_external_database_at_localhost_is_refused(tmp_path: Path, address: str) -> None:
    text = f'enable_mariadb: "no"\ndatabase_address: "{address}"\n'
    assert refused(tmp_path, text) == local_db(address)


def test_a_reference_that_resolves_to_localhost_is_refused(tmp_path: Path) -> None:
    text = (
        'enable_mariadb: "no"\nkolla_internal_vip_address: 127.0.0.1\n'
        'database_address: "{{ kolla_internal_vip_address }}"\n'
    )
    assert refused(tmp_path, text) == local_db("127.0.0.1")


@pytest.mark.parametrize("address", ["192.0.2.10", "db.example.com", "localhostdb", "10.0.0.127"])
def test_an_external_database_the_containers_can_reach(tmp_path: Path, address: str) -> None:
    text = f'enable_mariadb: "no"\ndatabase_address: "{address}"\n'
    assert loaded(tmp_path, text)["database_address"] == address


# --- a config folder that does not exist ---------------------------------------------------


def test_a_missing_config_folder_says_how_to_start(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "stackyard"
    with pytest.raises(ConfigError) as info:
        load_deployment(folder)
    assert str(info.value) == (
        f"{folder}: the config folder does not exist; `stackyard genpwd --config-dir {folder}` "
        "creates it with the secrets (passwords.yml); globals.yml, for settings other than the "
        "defaults, and inventory are optional"
    )
    assert not (tmp_path / "etc").exists()


def test_a_config_folder_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "stackyard"
    path.write_text("")
    with pytest.raises(ConfigError) as info:
        load_deployment(path)
    assert str(info.value) == (
        f"{path}: not a folder; the config folder holds globals.yml, passwords.yml, inventory and "
        "config/"
    )


@pytest.mark.parametrize("how", ["option", "environment"])
def test_cli_plan_with_a_missing_config_folder(tmp_path: Path, how: str) -> None:
    folder = tmp_path / "nonexistent"
    args, env = (
        (["--config-dir", str(folder)], {})
        if how == "option"
        else ([], {"STACKYARD_CONFIG_DIR": str(folder)})
    )
    result = CliRunner().invoke(main, ["plan", *args], env=env)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {folder}: the config folder does not exist; `stackyard genpwd --config-dir "
        f"{folder}` creates it with the secrets (passwords.yml); globals.yml, for settings other "
        "than the defaults, and inventory are optional\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_way_to_start_works(tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent"
    assert CliRunner().invoke(main, ["genpwd", "--config-dir", str(folder)]).exit_code == 0
    assert load_deployment(folder).config_dir == folder
