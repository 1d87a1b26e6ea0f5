"""Addresses globals.yml may name on this host: every rule with its exact message, decided from
canned `ip -json` answers (pure), and plan/deploy/prechecks refusing a bad one (exit 2) before
they use the engine. Only the last test runs `ip`, to check gathering on this machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from stackyard import cli, facts, operations
from stackyard.config.addresses import EXTERNAL, INTERNAL, Checked, check, neighbour_lookups
from stackyard.config.globals import Globals
from stackyard.deploy.desired import HostFacts
from stackyard.errors import ConfigError

GLOBALS = Path("/etc/stackyard/globals.yml")

# `ip -json -4 address show` as Debian 12's iproute2 prints it (a link without IPv4 is `{}`).
ADDRESSES = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,'
    '"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"addr_info":'
    '[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295}]},'
    '{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,'
    '"qdisc":"pfifo_fast","operstate":"UP","group":"default","txqlen":1000,"addr_info":'
    '[{"family":"inet","local":"10.0.0.5","prefixlen":24,"broadcast":"10.0.0.255",'
    '"scope":"global","label":"eth0","valid_life_time":4294967295,'
    '"preferred_life_time":4294967295}]},'
    "{},"
    '{"ifindex":3,"ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,'
    '"qdisc":"pfifo_fast","operstate":"UP","group":"default","txqlen":1000,"addr_info":'
    '[{"family":"inet","local":"192.168.50.10","prefixlen":24,"broadcast":"192.168.50.255",'
    '"scope":"global","label":"eth1","valid_life_time":86000,"preferred_life_time":86000},'
    '{"family":"inet","local":"192.168.50.11","prefixlen":24,"broadcast":"192.168.50.255",'
    '"scope":"global","secondary":true,"label":"eth1","valid_life_time":4294967295,'
    '"preferred_life_time":4294967295}]},'
    '{"ifindex":5,"ifname":"docker0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],'
    '"mtu":1500,"qdisc":"noqueue","operstate":"DOWN","group":"default","addr_info":'
    '[{"family":"inet","local":"172.17.0.1","prefixlen":16,"broadcast":"172.17.255.255",'
    '"scope":"global","label":"docker0","valid_life_time":4294967295,'
    '"preferred_life_time":4294967295}]}]\n'
)
# `ip -json neigh show to ADDRESS`: another machine answers; it did not; nothing known.
ANSWERED = '[{"dst":"10.0.0.7","dev":"eth0","lladdr":"52:54:00:12:34:56","state":["REACHABLE"]}]\n'
FAILED = '[{"dst":"10.0.0.8","dev":"eth0","state":["FAILED"]}]\n'
UNKNOWN = "[]\n"

HOSTS = (
    "an address of this host (10.0.0.5 on eth0, 192.168.50.10 on eth1, 192.168.50.11 on eth1, "
    "172.17.0.1 on docker0)"
)
VALID = f"valid: {HOSTS} or a free address inside 10.0.0.0/24 on eth0 for keepalived to hold"
EXTERNAL_VALID = (
    f"valid: {HOSTS} or an address inside 10.0.0.0/24 on eth0, 192.168.50.0/24 on eth1, "
    "172.17.0.0/16 on docker0"
)
IPV6 = "IPv6 addresses are not supported yet; use an IPv4 address"


def host(network_interface: str | None = "eth0", **neighbours: str) -> HostFacts:
    """This host as the canned answers describe it; neighbours: address -> `ip neigh` answer
    (keyword names use _ for .)."""
    found = facts.host_facts(facts.parse_addresses(ADDRESSES), network_interface, "10.0.0.5")
    looked_up = tuple(
        (key.replace("_", "."), facts.parse_neighbour(answer, key.replace("_", ".")))
        for key, answer in neighbours.items()
    )
    return dataclasses.replace(found, neighbours=looked_up)


def refusal(values: Globals, facts_: HostFacts, keepalived: bool = True) -> str:
    with pytest.raises(ConfigError) as info:
        check(values, facts_, GLOBALS, keepalived)
    return str(info.value)


# --- parsing `ip -json` ------------------------------------------------------------------------


def test_addresses_are_parsed_with_prefix_length_and_interface() -> None:
    assert facts.parse_addresses(ADDRESSES) == {
        "lo": ["127.0.0.1/8"],
        "eth0": ["10.0.0.5/24"],
        "eth1": ["192.168.50.10/24", "192.168.50.11/24"],
        "docker0": ["172.17.0.1/16"],
    }
    assert facts.parse_addresses("") == {}


def test_host_facts_keep_every_address_with_its_interface() -> None:
    found = host()
    assert found.default_address == "10.0.0.5"
    assert found.local_addresses == frozenset(
        {"127.0.0.1", "10.0.0.5", "192.168.50.10", "192.168.50.11", "172.17.0.1"}
    )
    assert found.interface_addresses == (
        ("lo", "127.0.0.1/8"),
        ("eth0", "10.0.0.5/24"),
        ("eth1", "192.168.50.10/24"),
        ("eth1", "192.168.50.11/24"),
        ("docker0", "172.17.0.1/16"),
    )
    assert host("eth1").default_address == "192.168.50.10"
    assert host(None).default_address == "10.0.0.5"  # the default route's address


def test_network_interface_must_be_an_interface_with_an_address() -> None:
    with pytest.raises(ConfigError) as info:
        facts.host_facts(facts.parse_addresses(ADDRESSES), "eth9", "10.0.0.5")
    assert str(info.value) == (
        "globals.yml: network_interface: 'eth9' is not an interface of this machine; "
        "interfaces: docker0, eth0, eth1, lo"
    )
    with pytest.raises(ConfigError) as info:
        facts.host_facts({"eth0": [], "lo": ["127.0.0.1/8"]}, "eth0", "127.0.0.1")
    assert str(info.value) == "globals.yml: network_interface: 'eth0' has no IPv4 address"


@pytest.mark.parametrize(
    ("answer", "address", "expected"),
    [
        (ANSWERED, "10.0.0.7", "52:54:00:12:34:56 on eth0 (REACHABLE)"),
        (ANSWERED.replace("REACHABLE", "STALE"), "10.0.0.7", "52:54:00:12:34:56 on eth0 (STALE)"),
        (
            ANSWERED.replace('"REACHABLE"', '"DELAY"'),
            "10.0.0.7",
            "52:54:00:12:34:56 on eth0 (DELAY)",
        ),
        (
            ANSWERED.replace('"REACHABLE"', '"PROBE"'),
            "10.0.0.7",
            "52:54:00:12:34:56 on eth0 (PROBE)",
        ),
        (
            ANSWERED.replace('"REACHABLE"', '"PERMANENT"'),
            "10.0.0.7",
            "52:54:00:12:34:56 on eth0 (PERMANENT)",
        ),
        (FAILED, "10.0.0.8", ""),
        ('[{"dst":"10.0.0.8","dev":"eth0","state":["INCOMPLETE"]}]', "10.0.0.8", ""),
        (UNKNOWN, "10.0.0.9", ""),
        ("", "10.0.0.9", ""),
        (ANSWERED, "10.0.0.70", ""),  # an entry for another address
    ],
    ids=[
        "reachable",
        "stale",
        "delay",
        "probe",
        "permanent",
        "failed",
        "incomplete",
        "none",
        "empty",
        "other-address",
    ],
)
def test_neighbour_entries(answer: str, address: str, expected: str) -> None:
    assert facts.parse_neighbour(answer, address) == expected


# --- kolla_internal_vip_address ----------------------------------------------------------------


def test_vip_that_is_an_address_of_this_host_needs_no_keepalived() -> None:
    values = Globals(kolla_internal_vip_address="10.0.0.5", network_interface="eth0")
    assert neighbour_lookups(values, host()) == ()
    assert check(values, host(), GLOBALS) == [
        Checked(
            "kolla_internal_vip_address",
            "10.0.0.5",
            "an address of this host on eth0: keepalived is not needed",
        )
    ]


def test_vip_of_another_interface_of_this_host_is_local_too() -> None:
    values = Globals(kolla_internal_vip_address="192.168.50.11", network_interface="eth0")
    assert check(values, host(), GLOBALS)[0].detail == (
        "an address of this host on eth1: keepalived is not needed"
    )


def test_unset_vip_is_the_default_address() -> None:
    assert check(Globals(), host(None), GLOBALS) == [
        Checked(
            "kolla_internal_vip_address",
            "10.0.0.5",
            "not set: the default route's address, an address of this host on eth0: "
            "keepalived is not needed",
        )
    ]
    assert check(Globals(network_interface="eth1"), host("eth1"), GLOBALS)[0].detail == (
        "not set: network_interface eth1's first address, an address of this host on eth1: "
        "keepalived is not needed"
    )


def test_unset_vip_without_a_default_route_is_refused() -> None:
    no_route = dataclasses.replace(host(None), default_address="127.0.0.1")
    assert refusal(Globals(), no_route) == (
        f"{GLOBALS}: kolla_internal_vip_address is not set, and its default, 127.0.0.1 (the "
        "default route's address), is a loopback address: in a container it is the container "
        "itself, and other machines cannot reach it; set kolla_internal_vip_address (or "
        "network_interface)"
    )


def test_free_address_in_the_subnet_of_network_interface_is_held_by_keepalived() -> None:
    values = Globals(kolla_internal_vip_address="10.0.0.50", network_interface="eth0")
    assert neighbour_lookups(values, host()) == ("10.0.0.50",)
    assert check(values, host(**{"10_0_0_50": UNKNOWN}), GLOBALS) == [
        Checked(
            "kolla_internal_vip_address",
            "10.0.0.50",
            "not an address of this host; inside 10.0.0.0/24 on eth0; not in the neighbour "
            "table: keepalived will hold it",
        )
    ]
    # A failed neighbour entry: this host asked and nobody answered.
    values = Globals(kolla_internal_vip_address="10.0.0.8", network_interface="eth0")
    assert check(values, host(**{"10_0_0_8": FAILED}), GLOBALS)[0].detail == (
        "not an address of this host; inside 10.0.0.0/24 on eth0; not in the neighbour table: "
        "keepalived will hold it"
    )
    # Facts gathered without the neighbour table: the report says so rather than "free".
    assert check(values, host(), GLOBALS)[0].detail == (
        "not an address of this host; inside 10.0.0.0/24 on eth0; neighbour table not read: "
        "keepalived will hold it"
    )


def test_address_another_machine_answers_for_is_refused() -> None:
    values = Globals(kolla_internal_vip_address="10.0.0.7", network_interface="eth0")
    assert refusal(values, host(**{"10_0_0_7": ANSWERED})) == (
        f"{GLOBALS}: kolla_internal_vip_address: '10.0.0.7' is in use by another machine: this "
        "host's neighbour table has it at 52:54:00:12:34:56 on eth0 (REACHABLE), so two "
        "machines would answer for it; choose a free address inside 10.0.0.0/24 on eth0, or an "
        "address of this host"
    )


UNUSABLE = {
    "0.0.0.0": "is the unspecified address (every address of a host), which clients cannot reach",
    "127.0.0.1": "is a loopback address: in a container it is the container itself, and other "
    "machines cannot reach it",
    "224.0.0.1": "is a multicast address (224.0.0.0/4), which no host holds as its own",
    "169.254.1.1": "is a link-local address (169.254.0.0/16), valid on one link and never routed",
    "255.255.255.255": "is a reserved address (240.0.0.0/4), not a host address",
}


@pytest.mark.parametrize("address", UNUSABLE)
def test_address_no_host_can_serve_on_is_refused(address: str) -> None:
    values = Globals(kolla_internal_vip_address=address, network_interface="eth0")
    assert neighbour_lookups(values, host()) == ()
    assert refusal(values, host()) == (
        f"{GLOBALS}: kolla_internal_vip_address: '{address}' {UNUSABLE[address]}; {VALID}"
    )


@pytest.mark.parametrize(
    ("address", "edge"), [("10.0.0.0", "network"), ("10.0.0.255", "broadcast")]
)
def test_network_and_broadcast_address_of_the_subnet_are_refused(address: str, edge: str) -> None:
    values = Globals(kolla_internal_vip_address=address, network_interface="eth0")
    assert neighbour_lookups(values, host()) == ()
    assert refusal(values, host()) == (
        f"{GLOBALS}: kolla_internal_vip_address: '{address}' is the {edge} address of "
        f"10.0.0.0/24 on eth0, not a host address; {VALID}"
    )


def test_address_in_no_local_subnet_is_refused() -> None:
    values = Globals(kolla_internal_vip_address="10.9.9.9", network_interface="eth0")
    assert neighbour_lookups(values, host()) == ()
    assert refusal(values, host()) == (
        f"{GLOBALS}: kolla_internal_vip_address: '10.9.9.9' is not an address of this host and "
        f"is in no subnet of its interfaces, so keepalived could not hold it; {VALID}"
    )


def test_address_in_the_subnet_of_another_interface_is_refused() -> None:
    values = Globals(kolla_internal_vip_address="192.168.50.99", network_interface="eth0")
    assert neighbour_lookups(values, host()) == ()
    assert refusal(values, host()) == (
        f"{GLOBALS}: kolla_internal_vip_address: '192.168.50.99' is inside 192.168.50.0/24 on "
        f"eth1, not on network_interface eth0, where keepalived holds the VIP; {VALID}"
    )


def test_without_network_interface_any_local_subnet_will_do() -> None:
    """compute() then asks for network_interface, which keepalived needs."""
    values = Globals(kolla_internal_vip_address="192.168.50.99")
    assert check(values, host(None, **{"192_168_50_99": UNKNOWN}), GLOBALS)[0].detail == (
        "not an address of this host; inside 192.168.50.0/24 on eth1; not in the neighbour "
        "table: keepalived will hold it"
    )


def test_address_nothing_would_hold_without_keepalived_is_refused() -> None:
    values = Globals(kolla_internal_vip_address="10.0.0.50", network_interface="eth0")
    assert neighbour_lookups(values, host(), keepalived=False) == ()
    assert refusal(values, host(), keepalived=False) == (
        f"{GLOBALS}: kolla_internal_vip_address: '10.0.0.50' is not an address of this host, and "
        "keepalived is not enabled (enable_keepalived), so nothing would hold it; valid: "
        f"{HOSTS}, or set enable_keepalived: yes"
    )


def test_the_most_specific_subnet_decides() -> None:
    """10.0.0.128 is a host address of 10.0.0.0/16 but the network address of 10.0.0.128/25."""
    found = facts.host_facts({"eth0": ["10.0.0.5/16", "10.0.0.130/25"]}, "eth0", "10.0.0.5")
    values = Globals(kolla_internal_vip_address="10.0.0.128", network_interface="eth0")
    assert "'10.0.0.128' is the network address of 10.0.0.128/25 on eth0" in refusal(values, found)


def test_point_to_point_subnets_have_no_network_or_broadcast_address() -> None:
    found = facts.host_facts({"eth0": ["10.0.0.4/31"]}, "eth0", "10.0.0.4")
    values = Globals(kolla_internal_vip_address="10.0.0.5", network_interface="eth0")
    assert check(values, found, GLOBALS)[0].detail.startswith(
        "not an address of this host; inside 10.0.0.4/31 on eth0;"
    )


# --- kolla_external_vip_address and database_address -----------------------------------------


def test_external_vip_of_this_host_or_in_a_local_subnet() -> None:
    values = Globals(kolla_external_vip_address="192.168.50.10", network_interface="eth0")
    assert check(values, host(), GLOBALS)[1] == Checked(
        "kolla_external_vip_address", "192.168.50.10", "an address of this host on eth1"
    )
    values = Globals(kolla_external_vip_address="192.168.50.99", network_interface="eth0")
    assert check(values, host(), GLOBALS)[1] == Checked(
        "kolla_external_vip_address",
        "192.168.50.99",
        "not an address of this host; inside 192.168.50.0/24 on eth1",
    )
    # No neighbour lookup: keepalived does not hold the external VIP.
    assert neighbour_lookups(values, host()) == ()


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        *UNUSABLE.items(),
        ("192.168.50.0", "is the network address of 192.168.50.0/24 on eth1, not a host address"),
        (
            "172.17.255.255",
            "is the broadcast address of 172.17.0.0/16 on docker0, not a host address",
        ),
        (
            "203.0.113.9",
            "is not an address of this host and is in no subnet of its interfaces",
        ),
    ],
)
def test_external_vip_refusals(address: str, problem: str) -> None:
    values = Globals(kolla_external_vip_address=address, network_interface="eth0")
    assert refusal(values, host()) == (
        f"{GLOBALS}: kolla_external_vip_address: '{address}' {problem}; {EXTERNAL_VALID}"
    )


@pytest.mark.parametrize(
    ("key", "address", "advice"),
    [
        ("kolla_internal_vip_address", "fd00::2", IPV6),
        ("kolla_external_vip_address", "2001:db8::10", IPV6),
        (
            "database_address",
            "fd00::3",
            f"{IPV6} or a host name (database URLs are written without brackets)",
        ),
    ],
)
def test_ipv6_is_refused_for_each_key(key: str, address: str, advice: str) -> None:
    values = Globals(network_interface="eth0", **{key: address})
    assert refusal(values, host()) == (
        f"{GLOBALS}: {key}: '{address}' is an IPv6 address; {advice}"
    )


def test_database_address_ipv4_or_host_name() -> None:
    checked = check(Globals(database_address="db.example.org"), host(None), GLOBALS)
    assert checked[1] == Checked(
        "database_address", "db.example.org", "a host name (not resolved here: the containers "
        "resolve it)"
    )  # fmt: skip
    checked = check(Globals(database_address="10.0.0.20"), host(None), GLOBALS)
    assert checked[1].detail == "an IPv4 address (external database)"


def test_every_problem_at_once() -> None:
    values = Globals(
        kolla_internal_vip_address="0.0.0.0",
        kolla_external_vip_address="fd00::2",
        database_address="fd00::3",
        network_interface="eth0",
    )
    assert len(refusal(values, host()).splitlines()) == 3


# --- plan, deploy and prechecks refuse before they use the engine ------------------------------


class Untouched:
    """Stands in for the engine: a refused configuration must not use it at all."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.used.append(name)
        raise AssertionError(f"the engine was used: {name}")


@pytest.fixture
def canned_host(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """`ip` answers from ADDRESSES (no neighbour known); the `ip` calls made, in order."""
    calls: list[tuple[str, ...]] = []

    def ip(*arguments: str) -> str:
        calls.append(arguments)
        return ADDRESSES if arguments[:2] == ("-4", "address") else UNKNOWN

    monkeypatch.setattr(facts, "_ip", ip)
    monkeypatch.setattr(facts, "default_route_address", lambda: "10.0.0.5")
    return calls


def deployment_with(directory: Path, **settings: Any) -> SimpleNamespace:
    """What desired_state reads of a Deployment (the rest of loading is tested elsewhere)."""
    return SimpleNamespace(
        config_dir=directory,
        settings=SimpleNamespace(values=Globals(**settings)),
        enabled=("haproxy", "keepalived", "keystone", "mariadb", "memcached", "rabbitmq"),
    )


@pytest.mark.parametrize("command", ["plan", "deploy", "prechecks"])
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({INTERNAL: "0.0.0.0"}, "kolla_internal_vip_address: '0.0.0.0' is the unspecified"),
        ({INTERNAL: "10.9.9.9"}, "'10.9.9.9' is not an address of this host"),
        ({INTERNAL: "fd00::2"}, f"'fd00::2' is an IPv6 address; {IPV6}"),
        ({EXTERNAL: "127.0.0.1"}, "'127.0.0.1' is a loopback address"),
    ],
    ids=["unspecified", "no-subnet", "ipv6", "external-loopback"],
)
def test_commands_refuse_a_bad_address_with_exit_2_before_the_engine(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    canned_host: list[tuple[str, ...]],
    command: str,
    setting: dict[str, str],
    message: str,
) -> None:
    deployment = deployment_with(tmp_path, network_interface="eth0", **setting)
    monkeypatch.setattr(operations, "load", lambda directory, inventory: deployment)
    engines: list[Untouched] = []

    def connect() -> Untouched:
        engines.append(Untouched())
        return engines[-1]

    monkeypatch.setattr(cli, "_containers", connect)
    result = CliRunner().invoke(cli.main, [command, "--config-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {tmp_path / 'globals.yml'}: ")
    assert message in result.output
    assert [engine.used for engine in engines] == [[] for _ in engines]
    assert list(tmp_path.iterdir()) == []
    assert canned_host == [("-4", "address", "show")]


def test_the_neighbour_table_is_read_for_a_vip_keepalived_would_hold(
    tmp_path: Path, canned_host: list[tuple[str, ...]]
) -> None:
    deployment = deployment_with(
        tmp_path, network_interface="eth0", kolla_internal_vip_address="10.0.0.50"
    )
    _, checked = operations._checked_host(deployment)
    assert canned_host == [("-4", "address", "show"), ("neigh", "show", "to", "10.0.0.50")]
    assert checked[0].detail == (
        "not an address of this host; inside 10.0.0.0/24 on eth0; not in the neighbour table: "
        "keepalived will hold it"
    )


# --- this machine ------------------------------------------------------------------------------


def test_gathering_on_this_machine_finds_the_default_route_address() -> None:
    found = facts.gather(None)
    assert found.default_address == facts.default_route_address()
    assert found.default_address in found.local_addresses
    assert found.default_address in {cidr.split("/")[0] for _, cidr in found.interface_addresses}
    assert found.neighbours == ()


def test_a_vip_keepalived_holds_is_not_a_host_address() -> None:
    """keepalived adds the VIP as a /32 inside the interface's subnet: it stays a VIP (so the
    next run keeps keepalived, which holds it), and is never the default address."""
    found = facts.host_facts({"eth0": ["10.0.0.100/32", "10.0.0.5/24", "10.9.9.9/32"]}, None, "x")
    assert found.local_addresses == frozenset({"10.0.0.5", "10.9.9.9"})
    assert facts.held_vips(["10.0.0.100/32", "10.0.0.5/24"]) == {"10.0.0.100/32"}
    assert facts.host_facts(
        {"eth0": ["10.0.0.100/32", "10.0.0.5/24"]}, "eth0", "x"
    ).default_address == ("10.0.0.5")


# --- the provider network ----------------------------------------------------------------------


def provider_refusal(values: Globals, facts_: HostFacts) -> str:
    with pytest.raises(ConfigError) as info:
        check(values, facts_, GLOBALS, neutron=True)
    return str(info.value)


def test_the_default_provider_range_is_free_and_the_bridge_may_hold_it_already() -> None:
    check(Globals(), host(None), GLOBALS, neutron=True)
    deployed = dataclasses.replace(
        host(None),
        interface_addresses=(*host(None).interface_addresses, ("br-ex", "198.51.100.1/24")),
    )
    check(Globals(), deployed, GLOBALS, neutron=True)


@pytest.mark.parametrize(
    ("cidr", "clash"),
    [("10.0.0.1/16", "10.0.0.0/24 on eth0"), ("172.17.5.1/24", "172.17.0.0/16 on docker0")],
)
def test_a_provider_range_that_overlaps_a_local_network_is_refused(cidr: str, clash: str) -> None:
    values = Globals(neutron_bridge_address=cidr)
    assert provider_refusal(values, host(None)) == (
        f"{GLOBALS}: neutron_bridge_address: {cidr} overlaps {clash}, a network this host is on; "
        "choose a range no local network uses, such as 198.51.100.1/24 (a documentation range)"
    )
    check(values, host(None), GLOBALS)  # without neutron the setting is not used


def test_the_external_interface_must_exist_and_carry_no_address() -> None:
    facts_ = dataclasses.replace(host("eth0"), interfaces=frozenset({"lo", "eth0", "eth1", "eth2"}))
    check(Globals(neutron_external_interface="eth2", network_interface="eth0"), facts_, GLOBALS,
          neutron=True)  # fmt: skip
    assert provider_refusal(Globals(neutron_external_interface="eth9"), facts_) == (
        f"{GLOBALS}: neutron_external_interface: 'eth9' is not an interface of this host; "
        "interfaces: eth0, eth1, eth2, lo"
    )
    assert provider_refusal(Globals(neutron_external_interface="eth1"), facts_) == (
        f"{GLOBALS}: neutron_external_interface: 'eth1' carries this host's address "
        "192.168.50.10/24, 192.168.50.11/24: the switch takes the interface over, so give one "
        "without an address (or leave it unset on an all-in-one)"
    )
