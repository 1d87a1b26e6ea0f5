"""The core cloud's desired state (pure): networks (Open vSwitch, OVN, neutron) and compute
(nova, libvirt) on one all-in-one host, the facts that choose their datapath and
hypervisor, the devices they get and the ports the host firewall keeps for the deployment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import docker
import pytest

from stackyard import operations
from stackyard.config.deployment import load_deployment
from stackyard.config.ini import get, parse_ini
from stackyard.deploy.desired import compute
from stackyard.deploy.model import ContainerSpec
from stackyard.deploy.planner import service_order
from stackyard.engine.containers import (
    create_arguments,
    is_devpts,
    is_mount_point,
    is_shared_mount,
    shared_sources,
    terminal_sources,
)
from stackyard.errors import ConfigError
from tests.unit.test_desired import (
    FACTS,
    GLOBALS,
    config_dir,
    desired_for,
    desired_with,
    rendered,
    specs_by_name,
)

CORE = "docker_namespace: sytest\n"
NETWORK_AND_COMPUTE = {
    "openvswitch",
    "ovn",
    "ovn_controller",
    "neutron",
    "neutron_metadata_agent",
    "nova",
    "nova_compute",
}


def test_the_core_cloud_runs_network_and_compute_on_the_one_host(tmp_path: Path) -> None:
    desired = desired_with(tmp_path, CORE)
    assert set(desired.state.services) >= NETWORK_AND_COMPUTE
    specs = specs_by_name(desired)
    # The switch, the metadata agent, libvirt and nova-compute share the host's network
    # namespace: a guest's tap made by libvirt is plugged into the switch by nova.
    for name in ("openvswitch_vswitchd", "neutron_ovn_metadata_agent", "nova_libvirt",
                 "nova_compute"):  # fmt: skip
        assert specs[name].network == "host", name
    assert specs["ovn_nb_db"].network == "stackyard"
    assert specs["openvswitch_vswitchd"].cap_add == ("NET_ADMIN", "NET_RAW")
    # Root without DAC_OVERRIDE reaches the switch database's socket through its group.
    assert specs["openvswitch_vswitchd"].group_add == ("openvswitch",)
    assert specs["neutron_ovn_metadata_agent"].group_add == ("openvswitch",)
    # A compute host holds no database password: nova-compute goes through the conductor.
    compute = rendered(desired, "nova_compute", "nova.conf")
    assert "[database]" not in compute and "[api_database]" not in compute
    assert "[database]" in rendered(desired, "nova_conductor", "nova.conf")
    assert specs["neutron_server"].cap_add == ()
    assert specs["ovn_controller"].cap_add == ()


def test_without_kvm_or_the_kernel_switch_guests_are_emulated_in_a_userspace_switch(
    tmp_path: Path,
) -> None:
    desired = desired_with(tmp_path, CORE)
    specs = specs_by_name(desired)
    assert specs["nova_libvirt"].devices == ("/dev/net/tun",)
    assert specs["openvswitch_vswitchd"].devices == ("/dev/net/tun",)
    assert dict(specs["openvswitch_settings"].environment)["OVS_DATAPATH"] == "netdev"
    nova = parse_ini(rendered(desired, "nova_compute", "nova.conf"), "nova.conf")
    assert get(nova, "libvirt", "virt_type") == "qemu"
    assert get(nova, "DEFAULT", "my_ip") == FACTS.default_address


def test_with_kvm_and_the_kernel_switch_they_are_used(tmp_path: Path) -> None:
    facts = replace(FACTS, kvm=True, ovs_kernel_module=True)
    desired = desired_for(config_dir(tmp_path, CORE), facts)
    specs = specs_by_name(desired)
    assert specs["nova_libvirt"].devices == ("/dev/net/tun", "/dev/kvm")
    assert dict(specs["openvswitch_settings"].environment)["OVS_DATAPATH"] == "system"
    nova = parse_ini(rendered(desired, "nova_compute", "nova.conf"), "nova.conf")
    assert get(nova, "libvirt", "virt_type") == "kvm"
    assert get(nova, "libvirt", "cpu_mode") is None


def test_the_operator_may_choose_the_hypervisor(tmp_path: Path) -> None:
    facts = replace(FACTS, kvm=True)
    desired = desired_for(config_dir(tmp_path, CORE + "nova_compute_virt_type: qemu\n"), facts)
    assert specs_by_name(desired)["nova_libvirt"].devices == ("/dev/net/tun",)
    nova = parse_ini(rendered(desired, "nova_compute", "nova.conf"), "nova.conf")
    assert get(nova, "libvirt", "virt_type") == "qemu"


def test_host_only_ports_are_kept_for_the_deployment(tmp_path: Path) -> None:
    core = desired_with(tmp_path / "core", CORE)
    frontends = {f.name: f for f in core.frontends}
    assert {name for name, f in frontends.items() if f.host_only} == {
        "rabbitmq",
        "ovn_nb_db",
        "ovn_sb_db",
    }
    nft = rendered(core, "host_firewall", "host-firewall.nft")
    assert "elements = { 5672, 5900-5999, 6641, 6642 }" in nft
    assert 'oifname "stackyard" meta l4proto tcp ct original proto-dst @host_only' in nft
    # Every service that listens on the host network and is not a public API is covered.
    identity = desired_with(tmp_path / "identity", GLOBALS)
    nft = rendered(identity, "host_firewall", "host-firewall.nft")
    assert "elements = { 5672 }" in nft


def test_services_on_the_host_network_reach_the_bus_and_ovn_through_the_vip(
    tmp_path: Path,
) -> None:
    desired = desired_with(tmp_path, CORE)
    for container in ("nova_compute", "nova_conductor"):
        nova = parse_ini(rendered(desired, container, "nova.conf"), "nova.conf")
        assert "@10.0.0.5:5672//" in (get(nova, "DEFAULT", "transport_url") or "")
    agent = parse_ini(rendered(desired, "neutron_ovn_metadata_agent",
                               "neutron_ovn_metadata_agent.ini"), "agent ini")  # fmt: skip
    assert get(agent, "ovn", "ovn_sb_connection") == "tcp:10.0.0.5:6642"
    assert get(agent, "agent", "root_helper") == "env"


def test_devices_and_groups_reach_the_engine_and_empty_lists_are_not_recorded() -> None:
    api = docker.APIClient(base_url="unix:///nonexistent", version="1.41")
    plain = ContainerSpec(name="c", service="s", image="i", command=("true",))
    assert "devices" not in plain.to_record()
    assert create_arguments(api, plain, None)["host_config"].get("Devices") is None
    assert "group_add" not in plain.to_record()
    grouped = replace(plain, group_add=("openvswitch",))
    assert grouped.to_record()["group_add"] == ["openvswitch"]
    assert create_arguments(api, grouped, None)["host_config"]["GroupAdd"] == ["openvswitch"]
    tun = replace(plain, devices=("/dev/net/tun",))
    assert tun.to_record()["devices"] == ["/dev/net/tun"]
    assert create_arguments(api, tun, None)["host_config"]["Devices"] == [
        {"PathOnHost": "/dev/net/tun", "PathInContainer": "/dev/net/tun",
         "CgroupPermissions": "rwm"}
    ]  # fmt: skip


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 / /run rw,nosuid shared:5 - tmpfs tmpfs rw
41 30 0:25 /stackyard/netns /run/stackyard/netns rw,nosuid shared:12 - tmpfs tmpfs rw
42 30 0:25 /private /run/private rw,nosuid - tmpfs tmpfs rw
43 30 0:26 / /run/with\\040space rw master:3 - tmpfs tmpfs rw
44 30 0:27 / /run/stackyard/pts rw,relatime - devpts devpts rw,mode=620,ptmxmode=666
"""


def test_shared_folders_are_found_in_mountinfo() -> None:
    assert is_shared_mount(MOUNTINFO, "/run/stackyard/netns")
    assert is_shared_mount(MOUNTINFO, "/run/stackyard/netns/")
    assert not is_shared_mount(MOUNTINFO, "/run/private")
    assert is_mount_point(MOUNTINFO, "/run/private")
    assert is_mount_point(MOUNTINFO, "/run/with space")
    assert not is_shared_mount(MOUNTINFO, "/run/with space")
    assert not is_mount_point(MOUNTINFO, "/run/stackyard")
    assert is_devpts(MOUNTINFO, "/run/stackyard/pts")
    assert not is_devpts(MOUNTINFO, "/run/stackyard/netns")
    assert not is_devpts(MOUNTINFO, "/run/nowhere")


def test_libvirt_and_nova_compute_share_their_terminals(tmp_path: Path) -> None:
    specs = specs_by_name(desired_with(tmp_path, CORE))
    for name in ("nova_libvirt", "nova_compute"):
        assert terminal_sources(specs[name].volumes) == ["/run/stackyard/pts"], name
    assert terminal_sources(("/a:/dev/ptsx", "v:/dev/pts", "/b:/dev/pts:ro")) == ["/b"]


def test_the_metadata_agent_gets_a_shared_namespace_folder(tmp_path: Path) -> None:
    agent = specs_by_name(desired_with(tmp_path, CORE))["neutron_ovn_metadata_agent"]
    assert shared_sources(agent.volumes) == ["/run/stackyard/netns"]
    assert shared_sources(("/a:/b", "/c:/d:ro", "v:/e:shared", "/f:/g:rw,rshared")) == ["/f"]


def test_nova_without_what_it_needs_is_a_clear_error(tmp_path: Path) -> None:
    directory = config_dir(tmp_path, CORE + "enable_neutron: no\nenable_placement: no\n")
    with pytest.raises(ConfigError) as info:
        desired_for(directory)
    globals_yml = directory / "globals.yml"
    lines = str(info.value).splitlines()
    assert (
        f"{globals_yml}: nova depends on placement; set enable_placement: yes (or enable_nova: no)"
        in lines
    )
    assert (
        f"{globals_yml}: nova_compute depends on neutron; set enable_neutron: yes "
        "(or enable_nova_compute: no)" in lines
    )
    assert all(line.startswith(f"{globals_yml}: ") for line in lines)


def test_neutron_starts_after_nova_without_needing_it(tmp_path: Path) -> None:
    """neutron reports guests' port events to nova's API, so nova starts first; neutron alone
    is still a valid choice (`after` orders, it does not require)."""
    order = service_order(desired_with(tmp_path / "core", CORE).state)
    assert order.index("nova") < order.index("neutron") < order.index("nova_compute")
    alone = CORE + "enable_nova: no\nenable_nova_compute: no\nenable_horizon: no\n"
    services = desired_with(tmp_path / "alone", alone).state.services
    assert "neutron" in services and "nova" not in services


def test_init_runonce_needs_the_core_cloud_and_a_key(tmp_path: Path) -> None:
    """Refused before anything is made or asked of the engine (None here)."""
    identity_dir = config_dir(tmp_path / "identity", GLOBALS)
    identity = load_deployment(identity_dir)
    with pytest.raises(ConfigError, match="init-runonce needs the core cloud"):
        operations.init_runonce(identity, compute(identity, FACTS), None, tmp_path / "k.pub")
    core = load_deployment(config_dir(tmp_path / "core", CORE))
    with pytest.raises(ConfigError) as info:
        operations.init_runonce(core, compute(core, FACTS), None, tmp_path / "missing.pub")
    assert (
        str(info.value)
        == f"{tmp_path / 'missing.pub'}: no such public key (give one with --public-key)"
    )
    assert not (tmp_path / "core" / "etc-stackyard" / "clouds.yaml").exists()
