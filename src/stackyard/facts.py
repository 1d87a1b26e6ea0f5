"""Facts about the machine stackyard runs on: its addresses (side effects: reads the kernel's
view through sockets and `ip -json`)."""

from __future__ import annotations

import json
import socket
import subprocess

from stackyard.deploy.desired import HostFacts
from stackyard.errors import ConfigError, HostError


def interface_addresses() -> dict[str, list[str]]:
    """Every IPv4 address of this machine, by interface, in the kernel's order (one `ip` call)."""
    try:
        answer = subprocess.run(
            ["ip", "-json", "-4", "address", "show"],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise HostError(f"cannot list this machine's addresses (ip -json address: {exc})") from None
    return {
        str(link.get("ifname")): [
            str(info["local"])
            for info in link.get("addr_info", [])
            if info.get("family") == "inet" and "local" in info
        ]
        for link in json.loads(answer)
    }


def default_route_address() -> str:
    """The source address of the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def gather(network_interface: str | None) -> HostFacts:
    addresses = interface_addresses()
    local = frozenset(a for found in addresses.values() for a in found)
    if network_interface is None:
        return HostFacts(default_address=default_route_address(), local_addresses=local)
    if network_interface not in addresses:
        raise ConfigError(
            f"globals.yml: network_interface: {network_interface!r} is not an interface of this "
            f"machine; interfaces: {', '.join(sorted(addresses))}"
        )
    if not addresses[network_interface]:
        raise ConfigError(
            f"globals.yml: network_interface: {network_interface!r} has no IPv4 address"
        )
    return HostFacts(default_address=addresses[network_interface][0], local_addresses=local)
