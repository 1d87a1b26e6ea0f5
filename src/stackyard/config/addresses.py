"""Which addresses globals.yml may name on this host (pure: decides from HostFacts).

The internal VIP is either an address of this host (keepalived is not needed) or a free address
inside the subnet of network_interface, for keepalived to hold; "free" means this host's
neighbour table knows no other machine answering for it. The external VIP must be an address
of this host or inside a local subnet. IPv6 is refused everywhere: endpoint URLs are written
without brackets, so an IPv6 address would make them unusable.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from stackyard.config.globals import Globals
from stackyard.deploy.desired import HostFacts
from stackyard.errors import ConfigError

INTERNAL = "kolla_internal_vip_address"
EXTERNAL = "kolla_external_vip_address"
DATABASE = "database_address"
NO_IPV6 = "IPv6 addresses are not supported yet; use an IPv4 address"


@dataclass(frozen=True, slots=True)
class Checked:
    """An address the deployment uses and what was found about it, for prechecks to report."""

    key: str
    address: str
    detail: str


@dataclass(frozen=True, slots=True)
class _Subnet:
    interface: str
    network: IPv4Network

    def __str__(self) -> str:
        return f"{self.network} on {self.interface}"


def check(
    values: Globals,
    facts: HostFacts,
    globals_yml: Path,
    keepalived: bool = True,
    neutron: bool = False,
) -> list[Checked]:
    """Every address globals.yml sets (and the internal VIP's default), checked against this
    host; all problems at once, as one ConfigError naming the file and key.

    keepalived: whether keepalived is enabled, i.e. whether anything could hold a VIP that is
    not yet an address of this host. neutron: whether the provider network's settings count.
    """
    checked: list[Checked] = []
    errors: list[str] = []
    internal = values.kolla_internal_vip_address or facts.default_address
    for key, address, (ok, text) in (
        (INTERNAL, internal, _internal(values, facts, keepalived)),
        (EXTERNAL, values.kolla_external_vip_address, _external(values, facts)),
        (DATABASE, values.database_address, _database(values.database_address)),
    ):
        if not ok:
            errors.append(f"{globals_yml}: {text}")
        elif address is not None:
            checked.append(Checked(key, address, text))
    if neutron:
        errors += [f"{globals_yml}: {text}" for text in _provider(values, facts)]
    if errors:
        raise ConfigError("\n".join(errors))
    return checked


def _provider(values: Globals, facts: HostFacts) -> list[str]:
    """The provider network's bridge address must not overlap a subnet this host already has
    (other than the bridge's own, from an earlier deploy); the external interface, when given,
    must be an interface of this host that carries no address (it is handed to the switch)."""
    problems = []
    bridge = values.neutron_bridge_name
    if values.neutron_bridge_address:
        network = IPv4Interface(values.neutron_bridge_address).network
        clash = [s for s in _subnets(facts, None)
                 if s.interface != bridge and s.network.overlaps(network)]  # fmt: skip
        if clash:
            problems.append(
                f"neutron_bridge_address: {values.neutron_bridge_address} overlaps "
                f"{_listing(clash)}, a network this host is on; choose a range no local "
                "network uses, such as 198.51.100.1/24 (a documentation range)"
            )
    interface = values.neutron_external_interface
    if interface is not None:
        held = [cidr for name, cidr in facts.interface_addresses if name == interface]
        if facts.interfaces and interface not in facts.interfaces:
            problems.append(
                f"neutron_external_interface: {interface!r} is not an interface of this host; "
                f"interfaces: {', '.join(sorted(facts.interfaces))}"
            )
        elif held or interface == values.network_interface:
            what = f"address {', '.join(held)}" if held else "network (network_interface)"
            problems.append(
                f"neutron_external_interface: {interface!r} carries this host's {what}: the "
                "switch takes the interface over, so give one without an address (or leave it "
                "unset on an all-in-one)"
            )
    return problems


def neighbour_lookups(
    values: Globals, facts: HostFacts, keepalived: bool = True
) -> tuple[str, ...]:
    """The addresses whose neighbour-table entries decide the check: an internal VIP that
    keepalived would hold (one that passes every other rule and is not this host's)."""
    address = values.kolla_internal_vip_address
    if address is None or address in facts.local_addresses:
        return ()
    ok, _ = _internal(values, facts, keepalived)
    return (address,) if ok else ()


def _internal(values: Globals, facts: HostFacts, keepalived: bool) -> tuple[bool, str]:
    """(True, what was checked) or (False, the error)."""
    address = values.kolla_internal_vip_address
    interface = values.network_interface
    if address is None:
        default = facts.default_address
        source = (
            f"network_interface {interface}'s first address"
            if interface
            else "the default route's address"
        )
        problem = _unusable(ipaddress.ip_address(default))
        if problem:
            return False, (
                f"{INTERNAL} is not set, and its default, {default} ({source}), {problem}; set "
                f"{INTERNAL} (or network_interface)"
            )
        return True, (
            f"not set: {source}, an address of this host{_on(default, facts)}: keepalived is "
            "not needed"
        )
    parsed = ipaddress.ip_address(address)
    if not isinstance(parsed, IPv4Address):
        return False, f"{INTERNAL}: {address!r} is an IPv6 address; {NO_IPV6}"
    subnets = _subnets(facts, interface)
    valid = f"valid: {_hosts(facts)}" + (
        f" or a free address inside {_listing(subnets)} for keepalived to hold"
        if keepalived
        else ""
    )
    problem = _unusable(parsed)
    if problem:
        return False, f"{INTERNAL}: {address!r} {problem}; {valid}"
    if address in facts.local_addresses:
        return True, f"an address of this host{_on(address, facts)}: keepalived is not needed"
    if not keepalived:
        return False, (
            f"{INTERNAL}: {address!r} is not an address of this host, and keepalived is not "
            f"enabled (enable_keepalived), so nothing would hold it; {valid}, or set "
            "enable_keepalived: yes"
        )
    around = _containing(parsed, _subnets(facts, None))
    if not around:
        return False, (
            f"{INTERNAL}: {address!r} is not an address of this host and is in no subnet of its "
            f"interfaces, so keepalived could not hold it; {valid}"
        )
    mine = [s for s in around if interface is None or s.interface == interface]
    if not mine:
        return False, (
            f"{INTERNAL}: {address!r} is inside {around[0]}, not on network_interface "
            f"{interface}, where keepalived holds the VIP; {valid}"
        )
    subnet = mine[0]
    edge = _edge(parsed, subnet.network)
    if edge:
        return False, f"{INTERNAL}: {address!r} is {edge} of {subnet}, not a host address; {valid}"
    answers = dict(facts.neighbours).get(address)
    if answers:
        return False, (
            f"{INTERNAL}: {address!r} is in use by another machine: this host's neighbour table "
            f"has it at {answers}, so two machines would answer for it; choose a free address "
            f"inside {subnet}, or an address of this host"
        )
    seen = "neighbour table not read" if answers is None else "not in the neighbour table"
    return True, (f"not an address of this host; inside {subnet}; {seen}: keepalived will hold it")


def _external(values: Globals, facts: HostFacts) -> tuple[bool, str]:
    address = values.kolla_external_vip_address
    if address is None:
        return True, ""
    parsed = ipaddress.ip_address(address)
    if not isinstance(parsed, IPv4Address):
        return False, f"{EXTERNAL}: {address!r} is an IPv6 address; {NO_IPV6}"
    subnets = _subnets(facts, None)
    valid = f"valid: {_hosts(facts)} or an address inside {_listing(subnets)}"
    problem = _unusable(parsed)
    if problem:
        return False, f"{EXTERNAL}: {address!r} {problem}; {valid}"
    if address in facts.local_addresses:
        return True, f"an address of this host{_on(address, facts)}"
    around = _containing(parsed, subnets)
    if not around:
        return False, (
            f"{EXTERNAL}: {address!r} is not an address of this host and is in no subnet of its "
            f"interfaces; {valid}"
        )
    edge = _edge(parsed, around[0].network)
    if edge:
        return False, (
            f"{EXTERNAL}: {address!r} is {edge} of {around[0]}, not a host address; {valid}"
        )
    return True, f"not an address of this host; inside {around[0]}"


def _database(address: str | None) -> tuple[bool, str]:
    if address is None:
        return True, ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return True, "a host name (not resolved here: the containers resolve it)"
    if not isinstance(parsed, IPv4Address):
        return False, (
            f"{DATABASE}: {address!r} is an IPv6 address; {NO_IPV6} or a host name "
            "(database URLs are written without brackets)"
        )
    return True, "an IPv4 address (external database)"


def _unusable(address: IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why no host can serve clients on this address, if it is of such a kind."""
    if address.is_unspecified:
        return "is the unspecified address (every address of a host), which clients cannot reach"
    if address.is_loopback:
        return (
            "is a loopback address: in a container it is the container itself, and other "
            "machines cannot reach it"
        )
    if address.is_multicast:
        return "is a multicast address (224.0.0.0/4), which no host holds as its own"
    if address.is_link_local:
        return "is a link-local address (169.254.0.0/16), valid on one link and never routed"
    if address.is_reserved:
        return "is a reserved address (240.0.0.0/4), not a host address"
    return None


def _subnets(facts: HostFacts, interface: str | None) -> list[_Subnet]:
    """Local subnets (of one interface when given), most specific first, loopback left out."""
    found: list[_Subnet] = []
    for name, cidr in facts.interface_addresses:
        local = IPv4Interface(cidr)
        subnet = _Subnet(name, local.network)
        wanted = interface is None or name == interface
        if wanted and not local.is_loopback and subnet not in found:
            found.append(subnet)
    return sorted(found, key=lambda s: -s.network.prefixlen)


def _containing(address: IPv4Address, subnets: list[_Subnet]) -> list[_Subnet]:
    return [s for s in subnets if address in s.network]


def _edge(address: IPv4Address, network: IPv4Network) -> str | None:
    """The network or broadcast address of a subnet that has them (/31 and /32 do not)."""
    if network.prefixlen > 30:
        return None
    if address == network.network_address:
        return "the network address"
    if address == network.broadcast_address:
        return "the broadcast address"
    return None


def _on(address: str, facts: HostFacts) -> str:
    names = [n for n, cidr in facts.interface_addresses if cidr.split("/")[0] == address]
    return f" on {', '.join(dict.fromkeys(names))}" if names else ""


def _hosts(facts: HostFacts) -> str:
    usable = [
        f"{cidr.split('/')[0]} on {name}"
        for name, cidr in facts.interface_addresses
        if not IPv4Interface(cidr).is_loopback
    ] or sorted(a for a in facts.local_addresses if not ipaddress.ip_address(a).is_loopback)
    return f"an address of this host ({', '.join(dict.fromkeys(usable)) or 'none found'})"


def _listing(subnets: list[_Subnet]) -> str:
    return ", ".join(str(s) for s in subnets) or "(no local subnet)"
