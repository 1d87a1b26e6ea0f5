"""prechecks says what it checked: the addresses globals.yml names (against canned `ip -json`
answers), and a published port counts as stackyard's own only when the engine's record of the
running stackyard container publishes exactly that address and port. Ports are bound on
127.0.0.1 only; no packet leaves this machine."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackyard import facts, operations
from stackyard.config.globals import Globals
from stackyard.deploy.model import LABEL_MANAGED
from stackyard.engine.containers import inspected_record
from stackyard.engine.port import ContainerRecord
from stackyard.errors import ConfigError
from stackyard.operations import Finding, _port_free, prechecks
from tests.unit.test_addresses import ADDRESSES, ANSWERED, UNKNOWN

IMAGE = "stackyard/haproxy:2025.1-trixie"
ADDRESS_IN_USE = (
    "cannot be used (Address already in use); free it or change kolla_internal_vip_address"
)


def record(
    address: str,
    port: int,
    running: bool = True,
    managed: bool = True,
    published: bool = True,
) -> dict[str, Any]:
    """A container as `docker inspect` shows it (the fields prechecks may read)."""
    bindings = {f"{port}/tcp": [{"HostIp": address, "HostPort": str(port)}]}
    return {
        "Id": "4f1c0ffee",
        "Name": "/haproxy",
        "State": {"Status": "running" if running else "exited", "Running": running},
        "Config": {
            "Image": IMAGE,
            "Labels": {LABEL_MANAGED: "true", "stackyard.service": "haproxy"} if managed else {},
        },
        "HostConfig": {"PortBindings": bindings},
        "NetworkSettings": {"Ports": bindings if running and published else {}},
    }


class StubEngine:
    """Stands in for ContainerEngine: inspect() answers from canned records; every image is
    present and privileged mode allowed. prechecks reaches images and engine info through
    `engine.engine` and `engine.engine.api`, so those are this object too."""

    def __init__(self, root: Path, containers: dict[str, dict[str, Any]]) -> None:
        self.containers = containers
        self.root = root
        self.engine = self
        self.api = self
        self.inspected: list[str] = []

    def inspect(self, ref: str) -> ContainerRecord | None:
        """The canned engine record, as ContainerEngine reads it."""
        self.inspected.append(ref)
        found = self.containers.get(ref)
        return None if found is None else inspected_record({"Id": ref, **found})

    def managed_containers(self) -> list[ContainerRecord]:
        return [
            inspected_record({"Id": name, **r})
            for name, r in self.containers.items()
            if LABEL_MANAGED in r["Config"]["Labels"]
        ]

    def inspect_image(self, image: str) -> dict[str, Any]:
        return {"Id": "sha256:0", "RepoTags": [image]}

    def info(self) -> dict[str, Any]:
        return {"DockerRootDir": str(self.root)}

    def try_privileged(self, image: str) -> bool:
        return True


@pytest.fixture
def held() -> Iterator[int]:
    """A port of 127.0.0.1 another process (this test) listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- ports ---------------------------------------------------------------------------------


def test_a_port_our_running_container_publishes_is_ours(tmp_path: Path, held: int) -> None:
    engine = StubEngine(tmp_path, {"haproxy": record("127.0.0.1", held)})
    assert _port_free(engine, "haproxy", "127.0.0.1", held) == Finding(
        f"port 127.0.0.1:{held}", True, "in use by stackyard's own haproxy, which publishes it"
    )
    assert engine.inspected == ["haproxy"]


@pytest.mark.parametrize(
    "container",
    [
        pytest.param(lambda port: record("127.0.0.2", port), id="another-address"),
        pytest.param(lambda port: record("0.0.0.0", port), id="every-address"),
        pytest.param(lambda port: record("127.0.0.1", port + 1), id="another-port"),
        pytest.param(lambda port: record("127.0.0.1", port, managed=False), id="not-stackyards"),
        pytest.param(lambda port: record("127.0.0.1", port, running=False), id="stopped"),
        pytest.param(
            lambda port: record("127.0.0.1", port, published=False), id="asked-for-not-published"
        ),
        pytest.param(lambda port: None, id="no-such-container"),
    ],
)
def test_a_port_is_ours_only_if_the_record_says_so(
    tmp_path: Path, held: int, container: Callable[[int], dict[str, Any] | None]
) -> None:
    """Otherwise prechecks tries to bind it, which fails: another process holds it."""
    found = container(held)
    engine = StubEngine(tmp_path, {} if found is None else {"haproxy": found})
    assert _port_free(engine, "haproxy", "127.0.0.1", held) == Finding(
        f"port 127.0.0.1:{held}", False, ADDRESS_IN_USE
    )
    assert engine.inspected == ["haproxy"]


def test_a_free_port_is_free(tmp_path: Path) -> None:
    port = free_port()
    assert _port_free(StubEngine(tmp_path, {}), "haproxy", "127.0.0.1", port) == Finding(
        f"port 127.0.0.1:{port}", True, "free"
    )


# --- the whole report ----------------------------------------------------------------------


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This host from canned `ip` answers; neighbour answers by address (default: none)."""
    neighbours: dict[str, str] = {}

    def ip(*arguments: str) -> str:
        if arguments[:2] == ("-4", "address"):
            return ADDRESSES
        assert arguments[:3] == ("neigh", "show", "to"), arguments
        return neighbours.get(arguments[3], UNKNOWN)

    monkeypatch.setattr(facts, "_ip", ip)
    monkeypatch.setattr(facts, "default_route_address", lambda: "10.0.0.5")
    monkeypatch.setattr(operations, "_meminfo_gib", lambda key: 8.0)
    monkeypatch.setattr(
        operations, "_open_files", lambda: Finding("open files limit", True, "kernel allows 1")
    )
    return neighbours


def report(tmp_path: Path, engine: StubEngine, port: int, **settings: Any) -> list[Finding]:
    deployment = SimpleNamespace(
        config_dir=tmp_path,
        settings=SimpleNamespace(values=Globals(**settings)),
        enabled=("haproxy", "keepalived", "keystone"),
    )
    haproxy = SimpleNamespace(
        name="haproxy", image=IMAGE, ports=(f"127.0.0.1:{port}:{port}",), privileged=False
    )
    desired = SimpleNamespace(specs=lambda: [("localhost", haproxy)])
    return prechecks(deployment, desired, engine).findings


def test_prechecks_say_how_the_vip_was_checked(
    tmp_path: Path, canned: dict[str, str], held: int
) -> None:
    engine = StubEngine(tmp_path, {"haproxy": record("127.0.0.1", held)})
    findings = report(
        tmp_path,
        engine,
        held,
        network_interface="eth0",
        kolla_internal_vip_address="10.0.0.50",
        kolla_external_vip_address="192.168.50.10",
    )
    assert findings[:5] == [
        Finding("configuration", True, f"valid ({tmp_path})"),
        Finding(
            "kolla_internal_vip_address 10.0.0.50",
            True,
            "not an address of this host; inside 10.0.0.0/24 on eth0; not in the neighbour "
            "table: keepalived will hold it",
        ),
        Finding(
            "kolla_external_vip_address 192.168.50.10", True, "an address of this host on eth1"
        ),
        Finding(f"image {IMAGE}", True, "present"),
        Finding(
            f"port 127.0.0.1:{held}", True, "in use by stackyard's own haproxy, which publishes it"
        ),
    ]
    assert engine.inspected == ["haproxy"]


def test_prechecks_report_a_local_vip_and_the_default(
    tmp_path: Path, canned: dict[str, str]
) -> None:
    port = free_port()
    engine = StubEngine(tmp_path, {})
    local = report(tmp_path, engine, port, kolla_internal_vip_address="10.0.0.5")
    assert local[1] == Finding(
        "kolla_internal_vip_address 10.0.0.5",
        True,
        "an address of this host on eth0: keepalived is not needed",
    )
    default = report(tmp_path, engine, port)
    assert default[1] == Finding(
        "kolla_internal_vip_address 10.0.0.5",
        True,
        "not set: the default route's address, an address of this host on eth0: keepalived is "
        "not needed",
    )
    assert default[3] == Finding(f"port 127.0.0.1:{port}", True, "free")


def test_prechecks_fail_a_port_held_while_a_haproxy_publishes_another_address(
    tmp_path: Path, canned: dict[str, str], held: int
) -> None:
    """The review's case: a running stackyard haproxy, but not on the address prechecks checks."""
    engine = StubEngine(tmp_path, {"haproxy": record("127.0.0.2", held)})
    findings = report(tmp_path, engine, held, kolla_internal_vip_address="10.0.0.5")
    assert Finding(f"port 127.0.0.1:{held}", False, ADDRESS_IN_USE) in findings


def test_prechecks_refuse_a_vip_another_machine_answers_for(
    tmp_path: Path, canned: dict[str, str]
) -> None:
    canned["10.0.0.7"] = ANSWERED.replace('"REACHABLE"', '"STALE"')
    engine = StubEngine(tmp_path, {})
    with pytest.raises(ConfigError) as info:
        report(
            tmp_path,
            engine,
            free_port(),
            network_interface="eth0",
            kolla_internal_vip_address="10.0.0.7",
        )
    assert str(info.value) == (
        f"{tmp_path / 'globals.yml'}: kolla_internal_vip_address: '10.0.0.7' is in use by "
        "another machine: this host's neighbour table has it at 52:54:00:12:34:56 on eth0 "
        "(STALE), so two machines would answer for it; choose a free address inside "
        "10.0.0.0/24 on eth0, or an address of this host"
    )
    assert engine.inspected == []
