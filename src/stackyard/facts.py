"""Facts about the machine stackyard runs on: its addresses and its neighbour table (side
effects: reads the kernel's view through sockets and `ip -json`, sends no packet). The parse_*
functions, which read `ip`'s answers, are pure."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

from stackyard.deploy.desired import HostFacts
from stackyard.errors import ConfigError, HostError

# Neighbour states in which the kernel has heard another machine answer for an address (or was
# told to believe one does); FAILED and INCOMPLETE mean nobody answered.
ANSWERING = frozenset({"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT"})


def _ip(*arguments: str) -> str:
    """The answer of `ip -json ARGUMENTS` (only ever a `show`: reads, changes nothing)."""
    command = ["ip", "-json", *arguments]
    try:
        return subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise HostError(
            f"cannot read this machine's network state ({' '.join(command)}: {exc})"
        ) from None


def parse_addresses(answer: str) -> dict[str, list[str]]:
    """`ip -json -4 address show` -> interface -> its IPv4 addresses as "address/prefix length",
    in the kernel's order (pure)."""
    return {
        str(link.get("ifname")): [
            f"{info['local']}/{info.get('prefixlen', 32)}"
            for info in link.get("addr_info", [])
            if info.get("family") == "inet" and "local" in info
        ]
        for link in json.loads(answer or "[]")
        if link.get("ifname")
    }


def parse_neighbour(answer: str, address: str) -> str:
    """`ip -json neigh show to ADDRESS` -> who answers for address ("LLADDR on DEV (STATE)"), or
    "" when no machine does: no entry, or only FAILED/INCOMPLETE ones (pure)."""
    for entry in json.loads(answer or "[]"):
        states = entry.get("state", [])
        states = [states] if isinstance(states, str) else [str(s) for s in states]
        if entry.get("dst") == address and entry.get("lladdr") and ANSWERING & set(states):
            return f"{entry['lladdr']} on {entry.get('dev', '?')} ({'/'.join(states)})"
    return ""


def interface_addresses() -> dict[str, list[str]]:
    """Every IPv4 address of this machine with its prefix length, by interface (one `ip` call)."""
    answer = _ip("-4", "address", "show")
    try:
        return parse_addresses(answer)
    except (ValueError, TypeError, AttributeError) as exc:
        raise HostError(f"cannot read this machine's addresses (ip -json address: {exc})") from None


def with_neighbours(facts: HostFacts, addresses: Iterable[str]) -> HostFacts:
    """facts plus the kernel's neighbour-table entries for addresses: whether another machine
    already answers for them. Passive: reads the table, sends no packet."""
    found = []
    for address in addresses:
        answer = _ip("neigh", "show", "to", address)
        try:
            found.append((address, parse_neighbour(answer, address)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise HostError(f"cannot read the neighbour table (ip -json neigh: {exc})") from None
    return dataclasses.replace(facts, neighbours=facts.neighbours + tuple(found))


def default_route_address() -> str:
    """The source address of the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def held_vips(found: list[str]) -> set[str]:
    """An interface's /32 addresses that lie inside another of its subnets: virtual IPs as
    keepalived adds them, not addresses of the host. Counting one as the host's would make
    the next run think keepalived unneeded and remove the very container holding it (pure)."""
    networks = [ipaddress.ip_interface(a).network for a in found if not a.endswith("/32")]
    return {
        a for a in found
        if a.endswith("/32") and any(ipaddress.ip_interface(a).ip in n for n in networks)
    }  # fmt: skip


def kvm_usable() -> bool:
    """/dev/kvm opens, on bare metal. In a virtual machine (the CPU flag `hypervisor`) nested
    KVM is not trusted: on this project's machines it opens and then fails every guest
    (QEMU cannot set the CPU's MSRs), so guests are emulated unless the operator sets
    nova_compute_virt_type: kvm."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        flags = next(
            (line for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("flags")), ""
        )  # fmt: skip
    except OSError:
        return False
    return "hypervisor" not in flags.split()


def gather(network_interface: str | None) -> HostFacts:
    """This host's addresses, the one the internal VIP defaults to (one `ip` call), and what
    its kernel offers virtual machines and switches."""
    facts = host_facts(interface_addresses(), network_interface, default_route_address())
    return dataclasses.replace(
        facts,
        interfaces=frozenset(p.name for p in Path("/sys/class/net").iterdir()),
        ovs_kernel_module=Path("/sys/module/openvswitch").is_dir(),
        kvm=kvm_usable(),
    )


def host_facts(
    addresses: dict[str, list[str]], network_interface: str | None, default_route: str
) -> HostFacts:
    """HostFacts from parse_addresses' answer: the internal VIP defaults to network_interface's
    first address when it is set, else to the default route's address (pure)."""
    addresses = {name: [a for a in found if a not in held_vips(found)]
                 for name, found in addresses.items()}  # fmt: skip
    local = frozenset(a.split("/")[0] for found in addresses.values() for a in found)
    interfaces = tuple((name, a) for name, found in addresses.items() for a in found)
    if network_interface is None:
        default = default_route
    elif network_interface not in addresses:
        raise ConfigError(
            f"globals.yml: network_interface: {network_interface!r} is not an interface of this "
            f"machine; interfaces: {', '.join(sorted(addresses))}"
        )
    elif not addresses[network_interface]:
        raise ConfigError(
            f"globals.yml: network_interface: {network_interface!r} has no IPv4 address"
        )
    else:
        default = addresses[network_interface][0].split("/")[0]
    return HostFacts(default_address=default, local_addresses=local, interface_addresses=interfaces)
