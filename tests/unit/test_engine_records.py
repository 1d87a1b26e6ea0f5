"""The Docker engine's answers as the port's records (pure): what its container list and its
inspect say of state, exit code, health, creation time and published ports, and when the
list alone does not say how a container ended."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from stackyard.engine.containers import ContainerEngine, inspected_record, listed_record
from stackyard.engine.docker_engine import DockerEngine

NEVER = "0001-01-01T00:00:00Z"


def inspected(state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    record = {"Id": "c1", "Name": "/keystone", "Created": "2026-12-05T08:00:00.123456789Z",
              "Image": "sha256:ab", "State": state, "Config": {"Labels": {"a": "b"}}}  # fmt: skip
    return {**record, **extra}


@pytest.mark.parametrize(
    ("state", "running", "restarting", "code", "health"),
    [
        ({"Running": True, "StartedAt": "2026-12-05T08:00:01Z", "ExitCode": 0,
          "Health": {"Status": "starting"}}, True, False, 0, "starting"),
        ({"Running": False, "StartedAt": "2026-12-05T08:00:01Z", "ExitCode": 3}, False, False,
         3, None),
        ({"Running": False, "StartedAt": NEVER, "ExitCode": 0}, False, False, None, None),
        ({"Running": True, "Restarting": True, "StartedAt": "2026-12-05T08:00:01Z",
          "ExitCode": 1}, True, True, 1, None),
    ],
    ids=["starting", "exited-3", "created-never-started", "restarting"],
)  # fmt: skip
def test_an_inspect_record(
    state: dict[str, Any], running: bool, restarting: bool, code: int | None, health: str | None
) -> None:
    """A container created and never started has no exit code (the engine says 0)."""
    record = inspected_record(inspected(state))
    assert (record.running, record.restarting, record.exit_code, record.health) == (
        running, restarting, code, health
    )  # fmt: skip
    assert (record.name, record.id, record.image_id, dict(record.labels)) == (
        "keystone", "c1", "sha256:ab", {"a": "b"}
    )  # fmt: skip
    assert record.created == pytest.approx(1796457600.123456)


def test_published_ports_are_what_the_engine_bound() -> None:
    ports = {"80/tcp": [{"HostIp": "192.0.2.2", "HostPort": "80"}], "443/tcp": None}
    record = inspected_record(inspected({"Running": True}, NetworkSettings={"Ports": ports}))
    assert record.published == {("192.0.2.2", "80")}


def test_the_list_is_inspected_only_where_it_does_not_say_how_a_container_ended() -> None:
    entries = [
        {"Names": ["/done"], "Id": "d", "State": "exited", "Status": "Exited (0) 1 minute ago"},
        {"Names": ["/new"], "Id": "n", "State": "created", "Status": "Created"},
        {"Names": ["/dead"], "Id": "x", "State": "dead", "Status": "Dead"},
        {"Names": ["/up"], "Id": "u", "State": "running", "Status": "Up 1 second (healthy)"},
    ]
    inspects: list[str] = []

    def inspect_container(ref: str) -> dict[str, Any]:
        inspects.append(ref)
        return inspected({"Running": False, "StartedAt": "2026-12-05T08:00:01Z",
                          "ExitCode": 137}, Id=ref, Name="/dead")  # fmt: skip

    api = SimpleNamespace(containers=lambda **_: entries, inspect_container=inspect_container)
    engine = ContainerEngine(cast(DockerEngine, SimpleNamespace(api=api, _call=_call)))
    records = {r.name: r for r in engine.managed_containers()}
    assert inspects == ["x"]
    assert {n: (r.running, r.exit_code, r.health) for n, r in records.items()} == {
        "done": (False, 0, None), "new": (False, None, None), "dead": (False, 137, None),
        "up": (True, None, "healthy"),
    }  # fmt: skip
    assert listed_record(entries[3]).health == "healthy"


def _call(_what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)
