"""The Docker engine's side of the port (pure): its container list and inspect answers as
records (state, exit code, health, creation time, published ports; an inspect only where the
list does not say how a container ended), and every spec field in its create call."""

from __future__ import annotations

from dataclasses import fields, replace
from types import SimpleNamespace
from typing import Any, cast

import docker
import pytest

from stackyard.deploy.model import ContainerSpec, HealthCheck, Kind
from stackyard.engine.containers import (
    ContainerEngine,
    create_arguments,
    inspected_record,
    listed_record,
)
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
        ({"Running": True, "Paused": True, "StartedAt": "2026-12-05T08:00:01Z",
          "ExitCode": 0}, False, False, None, None),
    ],
    ids=["starting", "exited-3", "created-never-started", "restarting", "paused"],
)  # fmt: skip
def test_an_inspect_record(
    state: dict[str, Any], running: bool, restarting: bool, code: int | None, health: str | None
) -> None:
    """A container created and never started has no exit code (the engine says 0); a paused
    one is not running (not serving) and has not ended."""
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


# Spec fields that are not arguments of the engine's create call, and where they go instead.
NOT_ENGINE_ARGUMENTS = {
    "service": "a label",
    "command": "config.json, which kolla_start runs",
    "config_digest": "the config folder's name (create's config_dir argument) and a label",
    "secret_digest": "a label: when a job reruns",
    "after": "the plan's order",
    "deadline": "apply's gate",
    "once": "the plan: which host runs the job",
}
CHANGED = {
    "name": "other", "image": "other", "kind": Kind.JOB, "argv": ("x",),
    "environment": (("A", "1"),), "volumes": ("v:/v",), "network": "host", "hostname": "h",
    "ports": ("127.0.0.1:80:80",), "healthcheck": HealthCheck(("t",)), "user": "1:1",
    "privileged": True, "cap_add": ("NET_ADMIN",), "devices": ("/dev/net/tun",),
    "group_add": ("kvm",), "no_new_privileges": False, "sysctls": (("net.ipv4.ip_forward", "1"),),
    "tmpfs": ("/run",), "ulimits": (("nofile", 10),), "pids_limit": 64, "memory_limit": "1g",
    "log_options": (("max-size", "1m"),),
}  # fmt: skip


@pytest.mark.parametrize("name", [f.name for f in fields(ContainerSpec)])
def test_every_spec_field_reaches_the_engine_or_says_where_it_goes(name: str) -> None:
    """A field the definition accepts must not be dropped on its way to the engine (as
    `ulimits` once was): set, it changes the create call, labels aside; or it is one of the
    fields that go elsewhere, each with its reason."""
    api = docker.APIClient(base_url="unix:///nonexistent", version="1.41")
    plain = ContainerSpec(name="c", service="s", image="i", command=("true",))

    def call(spec: ContainerSpec) -> dict[str, Any]:
        return {k: v for k, v in create_arguments(api, spec, None).items() if k != "labels"}

    if name in NOT_ENGINE_ARGUMENTS:
        assert name not in CHANGED
        return
    assert call(replace(plain, **{name: CHANGED[name]})) != call(plain), name
