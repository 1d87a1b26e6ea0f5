"""Facts about the machine stackyard runs on: its addresses (side effects: reads the kernel's
view through sockets and `ip -json`)."""

from __future__ import annotations

import json
import socket
import subprocess

from stackyard.deploy.desired import HostFacts
from stackyard.errors import ConfigError, HostError


def local_addresses() -> frozenset[str]:
    """Every IPv4 address configured on this machine."""
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
    return frozenset(
        info["local"]
        for link in json.loads(answer)
        for info in link.get("addr_info", [])
        if info.get("family") == "inet" and "local" in info
    )


def interface_address(interface: str) -> str:
    try:
        answer = subprocess.run(
            ["ip", "-json", "-4", "address", "show", "dev", interface],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        raise ConfigError(
            f"globals.yml: network_interface: {interface!r} is not an interface of this machine"
        ) from None
    for link in json.loads(answer):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                return str(info["local"])
    raise ConfigError(f"globals.yml: network_interface: {interface!r} has no IPv4 address")


def default_route_address() -> str:
    """The source address of the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def gather(network_interface: str | None) -> HostFacts:
    address = interface_address(network_interface) if network_interface else default_route_address()
    return HostFacts(default_address=address, local_addresses=local_addresses())
