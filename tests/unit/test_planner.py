"""The planner on fixture states (pure): golden plans, and properties that hold for any input.

Golden files live in tests/golden/<case>.plan; STACKYARD_UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.deploy.model import (
    LABEL_HASH,
    LABEL_SPEC,
    PREVIOUS,
    Action,
    ContainerSpec,
    DesiredState,
    HealthCheck,
    Kind,
    ObservedContainer,
    ObservedState,
    Plan,
    RunState,
    ServiceState,
)
from stackyard.deploy.planner import diff, plan, service_order
from stackyard.deploy.report import NO_CHANGES, render_text, to_dict
from stackyard.errors import ConfigError

GOLDEN = Path(__file__).parent.parent / "golden"
SECRET = "s3cr3t-database-password"


def spec(name: str, service: str, **kwargs: object) -> ContainerSpec:
    base = ContainerSpec(
        name=name, service=service, image=f"stackyard/{service}:2025.1-trixie",
        command=f"{service}-server", healthcheck=HealthCheck(("CMD-SHELL", f"check {name}")),
        config_digest="c0ffee",
    )  # fmt: skip
    return replace(base, **kwargs)


def desired_aio() -> DesiredState:
    """mariadb <- keystone, memcached <- keystone; haproxy alone; one host."""

    def svc(name: str, deps: tuple[str, ...], *specs: ContainerSpec) -> ServiceState:
        return ServiceState(name, deps, {"node1": specs})

    return DesiredState({
        "mariadb": svc("mariadb", (), spec("mariadb", "mariadb",
                                           environment=(("DB_PASSWORD", SECRET),))),
        "memcached": svc("memcached", (), spec("memcached", "memcached")),
        "keystone": svc("keystone", ("mariadb", "memcached"), spec("keystone", "keystone"),
                        spec("keystone_fernet", "keystone", command="rotate")),
        "haproxy": svc("haproxy", ("keystone",), spec("haproxy", "haproxy")),
    })  # fmt: skip


def deployed(desired: DesiredState, state: RunState = RunState.RUNNING) -> ObservedState:
    """What the engine reports after the desired state was applied exactly."""
    containers: dict[str, dict[str, ObservedContainer]] = {}
    for service in desired.services.values():
        for host, specs in service.containers.items():
            for s in specs:
                containers.setdefault(host, {})[s.name] = ObservedContainer(
                    s.name, host, f"id-{s.name}", state, s.labels()
                )
    return ObservedState(containers)


def apply_to(observed: ObservedState, result: Plan) -> ObservedState:
    """The plan carried out on a simulated engine (for the convergence property)."""
    containers = {h: dict(c) for h, c in observed.containers.items()}
    for step in result.steps:
        host = containers.setdefault(step.host, {})
        if step.action is Action.REMOVE:
            del host[step.container]
        else:
            host.pop(step.container + PREVIOUS, None)
            assert step.spec is not None
            host[step.container] = ObservedContainer(
                step.container, step.host, "new", RunState.RUNNING, step.spec.labels()
            )
    return ObservedState(containers)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.plan"
    if os.environ.get("STACKYARD_UPDATE_GOLDEN") == "1":
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text(), f"plan differs from {path}"


def test_fresh_deploy_creates_everything_in_dependency_order() -> None:
    result = plan(desired_aio(), ObservedState({}))
    assert [w.service for w in result.waves] == ["mariadb", "memcached", "keystone", "haproxy"]
    check_golden("fresh-deploy", render_text(result, [SECRET]))


def test_the_plan_says_what_waits_for_what() -> None:
    """apply runs the plan alone: each wave names the waves it waits for, through services
    the plan does not touch (haproxy waits for mariadb through keystone when keystone is
    done), and each step the steps of its wave it waits for."""
    desired = desired_aio()
    fresh = plan(desired, ObservedState({}))
    assert [(w.service, w.after) for w in fresh.waves] == [
        ("mariadb", ()), ("memcached", ()), ("keystone", ("mariadb", "memcached")),
        ("haproxy", ("keystone",)),
    ]  # fmt: skip
    node = dict(deployed(desired).containers["node1"])
    del node["mariadb"], node["haproxy"]
    partial = plan(desired, ObservedState({"node1": node}))
    assert [(w.service, w.after) for w in partial.waves] == [
        ("mariadb", ()), ("haproxy", ("mariadb",))
    ]  # fmt: skip
    staged = replace(desired.services["keystone"], containers={"node1": (
        spec("keystone_db_sync", "keystone", kind=Kind.JOB),
        spec("keystone", "keystone", after=("keystone_db_sync",)),
        spec("keystone_fernet", "keystone", command="rotate"),
    )})  # fmt: skip
    steps = plan(DesiredState({"keystone": staged}), ObservedState({})).steps
    assert [(s.container, s.after) for s in steps] == [
        ("keystone_db_sync", ()), ("keystone_fernet", ()),
        ("keystone", (("node1", "keystone_db_sync"),)),
    ]  # fmt: skip


def three_controllers() -> tuple[DesiredState, ObservedState]:
    """mariadb and keystone on three hosts, deployed; keystone's config then changed."""
    hosts = ("ctl1", "ctl2", "ctl3")
    keystone = spec("keystone", "keystone")
    before = DesiredState({
        "mariadb": ServiceState("mariadb", (), dict.fromkeys(hosts, (spec("mariadb", "mariadb"),))),
        "keystone": ServiceState("keystone", ("mariadb",), dict.fromkeys(hosts, (keystone,))),
    })  # fmt: skip
    changed = replace(keystone, config_digest="d1ff")
    after = replace(before.services["keystone"], containers=dict.fromkeys(hosts, (changed,)))
    return DesiredState({**before.services, "keystone": after}), deployed(before)


@pytest.mark.parametrize(("serial", "golden"), [(1, "rolling-one-host"), (2, "rolling-two-hosts")])
def test_a_change_rolls_across_hosts_at_most_serial_at_a_time(serial: int, golden: str) -> None:
    """kolla_serial: keystone's change on three controllers as batches of at most `serial`
    hosts, each after the one before (apply gates each batch before the next)."""
    desired, observed = three_controllers()
    result = plan(desired, observed, serial)
    check_golden(golden, render_text(result))
    document = to_dict(result)
    assert [(w["batch"], w["batches"], [s["host"] for s in w["steps"]])
            for w in document["waves"]] == {
        1: [(1, 3, ["ctl1"]), (2, 3, ["ctl2"]), (3, 3, ["ctl3"])],
        2: [(1, 2, ["ctl1", "ctl2"]), (2, 2, ["ctl3"])],
    }[serial]  # fmt: skip
    assert plan(desired, observed, 0).waves[0].batches == 1
    assert plan(desired, observed, 3).waves[0].batches == 1


@pytest.mark.parametrize(
    ("serial", "own", "batches"), [(0, 0, 1), (0, 1, 3), (2, 1, 3), (1, 2, 3), (0, 2, 2), (2, 3, 2)]
)
def test_a_service_budget_and_kolla_serial_the_smaller_applies(
    serial: int, own: int, batches: int
) -> None:
    """A service may declare its own budget (`serial` in its definition: keep a quorum)."""
    desired, observed = three_controllers()
    keystone = replace(desired.services["keystone"], serial=own)
    desired = DesiredState({**desired.services, "keystone": keystone})
    assert [w.batches for w in plan(desired, observed, serial).waves] == [batches] * batches


def test_a_job_run_once_runs_on_one_host_and_every_host_waits_for_it() -> None:
    """keystone's schema sync on three controllers: on the first host only, each keystone
    after it; where it already ran with this spec, nowhere; rolled, the later batches need
    not wait (the first batch has finished)."""
    hosts = ("ctl1", "ctl2", "ctl3")
    sync = spec("keystone_db_sync", "keystone", kind=Kind.JOB, healthcheck=None, once=True)
    api = spec("keystone", "keystone", after=("keystone_db_sync",))
    desired = DesiredState(
        {"keystone": ServiceState("keystone", (), dict.fromkeys(hosts, (sync, api)))}
    )
    fresh = plan(desired, ObservedState({}))
    check_golden("run-once", render_text(fresh))
    assert [(s.host, s.container, s.after) for s in fresh.steps] == [
        ("ctl1", "keystone_db_sync", ()),
        *((h, "keystone", (("ctl1", "keystone_db_sync"),)) for h in hosts),
    ]  # fmt: skip
    ran = ObservedContainer("keystone_db_sync", "ctl2", "j", RunState.STOPPED, sync.labels(),
                            exit_code=0)  # fmt: skip
    rest = plan(desired, ObservedState({"ctl2": {"keystone_db_sync": ran}}))
    assert [(s.host, s.container, s.after) for s in rest.steps] == [
        (h, "keystone", ()) for h in hosts
    ]  # fmt: skip
    rolled = plan(desired, ObservedState({}), serial=1)
    assert [[(s.host, s.container, s.after) for s in w.steps] for w in rolled.waves] == [
        [("ctl1", "keystone_db_sync", ()), ("ctl1", "keystone", (("ctl1", "keystone_db_sync"),))],
        [("ctl2", "keystone", ())],
        [("ctl3", "keystone", ())],
    ]  # fmt: skip


def test_a_job_run_on_every_host_set_up_its_own_hosts_data_only() -> None:
    """A host not deployed yet (its volume missing) does not rerun the jobs of the others; a
    job run once set up data wherever it lives (a volume missing anywhere reruns it)."""
    hosts = ("ctl1", "ctl2")
    local = spec("keys", "keystone", kind=Kind.JOB, healthcheck=None, volumes=("keys:/k",))
    sync = spec("sync", "keystone", kind=Kind.JOB, healthcheck=None, volumes=("keys:/k",),
                once=True)  # fmt: skip
    desired = DesiredState(
        {"keystone": ServiceState("keystone", (), dict.fromkeys(hosts, (local, sync)))}
    )
    done = {
        name: ObservedContainer(
            name, "ctl1", name, RunState.STOPPED, s.labels(), exit_code=0, created=100.0
        )
        for name, s in (("keys", local), ("sync", sync))
    }
    observed = ObservedState({"ctl1": done}, {"ctl1": {"keys": 50.0}})
    result = plan(desired, observed, limit=frozenset({"ctl1"}))
    assert [(s.host, s.container, s.cause) for s in result.steps] == [
        ("ctl1", "sync", "volume keys on ctl2 is missing")
    ]  # fmt: skip


def test_a_job_run_once_runs_inside_the_limit() -> None:
    """Limited to ctl2, a schema sync that never ran runs there, before ctl2's keystone."""
    hosts = ("ctl1", "ctl2")
    sync = spec("keystone_db_sync", "keystone", kind=Kind.JOB, healthcheck=None, once=True)
    api = spec("keystone", "keystone", after=("keystone_db_sync",))
    desired = DesiredState(
        {"keystone": ServiceState("keystone", (), dict.fromkeys(hosts, (sync, api)))}
    )
    result = plan(desired, ObservedState({}), limit=frozenset({"ctl2"}))
    assert [(s.host, s.container, s.after) for s in result.steps] == [
        ("ctl2", "keystone_db_sync", ()), ("ctl2", "keystone", (("ctl2", "keystone_db_sync"),))
    ]  # fmt: skip
    assert [(s.host, s.container) for s in result.skipped] == [("ctl1", "keystone")]


def test_a_limited_plan_touches_only_its_hosts_and_lists_the_rest() -> None:
    """--limit ctl1 (as in kolla-ansible, without its bugs): no step on another host, and the
    plan says what it leaves there; a limit whose hosts need nothing says so."""
    desired, observed = three_controllers()
    node = dict(observed.containers["ctl3"])
    del node["mariadb"]
    observed = replace(observed, containers={**observed.containers, "ctl3": node})
    result = plan(desired, observed, limit=frozenset({"ctl1"}))
    assert {step.host for step in result.steps} == {"ctl1"}
    check_golden("limit-one-host", render_text(result))
    document = to_dict(result)
    assert document["limit"] == ["ctl1"]
    assert [(s["host"], s["container"]) for s in document["skipped"]] == [
        ("ctl3", "mariadb"), ("ctl2", "keystone"), ("ctl3", "keystone")
    ]  # fmt: skip
    done = replace(observed, containers={**observed.containers, "ctl1": {}})
    settled = plan(desired, deployed(desired), limit=frozenset({"ctl2"}))
    assert render_text(settled) == NO_CHANGES
    nothing_here = plan(replace(desired, services={}), done, limit=frozenset({"ctl1"}))
    assert render_text(nothing_here).startswith("No changes on ctl1.\nSkipped by --limit ctl1:")


def test_no_change_means_an_empty_plan() -> None:
    desired = desired_aio()
    result = plan(desired, deployed(desired))
    assert result.is_empty
    assert render_text(result) == NO_CHANGES


def test_changed_config_and_env_recreate_only_that_container_and_say_why() -> None:
    desired = desired_aio()
    observed = deployed(desired)
    keystone = desired.services["keystone"]
    changed = replace(
        keystone.containers["node1"][0], config_digest="beef00", environment=(("DEBUG", "true"),)
    )
    new = replace(
        desired,
        services={
            **desired.services,
            "keystone": replace(
                keystone, containers={"node1": (changed, keystone.containers["node1"][1])}
            ),
        },
    )
    result = plan(new, observed)
    assert [(s.action, s.container) for s in result.steps] == [(Action.RECREATE, "keystone")]
    check_golden("keystone-config-change", render_text(result))


def test_stopped_missing_unreadable_and_unwanted() -> None:
    desired = desired_aio()
    observed = deployed(desired)
    node = dict(observed.containers["node1"])
    node["memcached"] = replace(node["memcached"], state=RunState.STOPPED)
    del node["haproxy"]
    unreadable = {**node["mariadb"].labels, LABEL_SPEC: "{", LABEL_HASH: "0"}
    node["mariadb"] = replace(node["mariadb"], labels=unreadable)
    node["old_glance"] = ObservedContainer(
        "old_glance", "node1", "x", RunState.RUNNING, {"stackyard.service": "glance"}
    )
    result = plan(desired, ObservedState({"node1": node}))
    text = render_text(result, [SECRET])
    assert SECRET not in text
    check_golden("mixed-repairs", text)


def with_keystone(desired: DesiredState, **changes: object) -> DesiredState:
    keystone = desired.services["keystone"]
    changed = replace(keystone.containers["node1"][0], **changes)
    containers = {"node1": (changed, keystone.containers["node1"][1])}
    return replace(desired, services={
        **desired.services, "keystone": replace(keystone, containers=containers)})  # fmt: skip


@pytest.mark.parametrize("new_container", ["running", "absent"])
def test_an_interrupted_replacement_is_resumed_not_removed(new_container: str) -> None:
    """A killed run left keystone-previous (the old spec) and maybe the new keystone."""
    old = desired_aio()
    new = with_keystone(old, config_digest="beef00")
    node = dict(deployed(new).containers["node1"])
    node["keystone-previous"] = replace(
        deployed(old).containers["node1"]["keystone"], name="keystone-previous",
        state=RunState.STOPPED)  # fmt: skip
    if new_container == "absent":
        del node["keystone"]
    observed = ObservedState({"node1": node})
    result = plan(new, observed)
    assert [(s.action, s.container, s.cause) for s in result.steps] == [(
        Action.RECREATE, "keystone",
        "replacement was interrupted (keystone-previous is kept for rollback)")]  # fmt: skip
    assert plan(new, apply_to(observed, result)).is_empty


def test_the_previous_container_of_an_unwanted_service_is_removed() -> None:
    desired = desired_aio()
    node = dict(deployed(desired).containers["node1"])
    node["glance-previous"] = ObservedContainer(
        "glance-previous", "node1", "x", RunState.STOPPED, {"stackyard.service": "glance"}
    )
    result = plan(desired, ObservedState({"node1": node}))
    assert [(s.action, s.container) for s in result.steps] == [(Action.REMOVE, "glance-previous")]


def test_unchanged_containers_still_starting_are_waited_for_not_changed() -> None:
    """A wait is a step of its service's wave; one a run saw pass its gate is not waited for
    again (the engine's own first check comes only after its interval)."""
    desired = desired_aio()
    node = dict(deployed(desired).containers["node1"])
    node["keystone"] = replace(node["keystone"], health="starting")
    node["keystone_fernet"] = replace(node["keystone_fernet"], health="starting")
    node["memcached"] = replace(node["memcached"], health="healthy")
    node["haproxy"] = replace(node["haproxy"], health="starting", state=RunState.STOPPED)
    observed = ObservedState({"node1": node}, gated=frozenset({"id-keystone_fernet"}))
    result = plan(desired, observed)
    assert [(w.service, s.action, s.container, s.cause) for w in result.waves for s in w.steps] == [
        ("keystone", Action.WAIT, "keystone", "health: starting"),
        ("haproxy", Action.START, "haproxy", "stopped"),
    ]  # fmt: skip
    assert result.waves[1].after == ("keystone",)


def test_jobs_run_again_when_the_data_they_set_up_was_recreated() -> None:
    """keystone's job wrote into mariadb's volume; memcached's volume is not its data."""
    job = spec("keystone_db_sync", "keystone", kind=Kind.JOB, healthcheck=None)
    desired = DesiredState({
        "mariadb": ServiceState("mariadb", (), {"node1": (
            spec("mariadb", "mariadb", volumes=("mariadb:/var/lib/mysql", "/etc/localtime:/x")),)}),
        "memcached": ServiceState("memcached", (), {"node1": (
            spec("memcached", "memcached", volumes=("cache:/cache",)),)}),
        "keystone": ServiceState("keystone", ("mariadb",), {"node1": (job,)}),
    })  # fmt: skip
    node = dict(deployed(desired).containers["node1"])
    node["keystone_db_sync"] = replace(node["keystone_db_sync"], state=RunState.STOPPED,
                                       exit_code=0, created=1000.0)  # fmt: skip

    def steps(volumes: dict[str, float]) -> list[tuple[Action, str, str]]:
        observed = ObservedState({"node1": node}, {"node1": volumes})
        return [(s.action, s.container, s.cause) for s in plan(desired, observed).steps]

    assert steps({"mariadb": 900.0, "cache": 2000.0}) == []
    assert steps({"mariadb": 1000.9, "cache": 2000.0}) == []  # the same second
    cause = "volume mariadb was created after its last run"
    assert steps({"mariadb": 1001.0, "cache": 2000.0}) == [(Action.RUN, "keystone_db_sync", cause)]
    missing = "volume mariadb is missing"
    assert steps({"cache": 2000.0}) == [(Action.RUN, "keystone_db_sync", missing)]


def test_json_masks_secrets_everywhere() -> None:
    desired = desired_aio()
    observed = deployed(desired)
    mariadb = desired.services["mariadb"]
    other = replace(mariadb.containers["node1"][0], environment=(("DB_PASSWORD", "x" + SECRET),))
    new = replace(
        desired,
        services={**desired.services, "mariadb": replace(mariadb, containers={"node1": (other,)})},
    )
    document = json.dumps(to_dict(plan(new, observed), [SECRET, "x" + SECRET]))
    assert SECRET not in document
    assert '"field": "environment.DB_PASSWORD"' in document


def test_dependency_cycle_is_a_config_error() -> None:
    state = DesiredState({
        "a": ServiceState("a", ("b",), {}), "b": ServiceState("b", ("a",), {}),
    })  # fmt: skip
    with pytest.raises(ConfigError, match="service dependencies form a cycle"):
        service_order(state)


def test_external_dependency_is_ignored_for_order() -> None:
    state = DesiredState({"keystone": ServiceState("keystone", ("mariadb",), {})})
    assert service_order(state) == ["keystone"]


def test_diff_reports_mapping_keys() -> None:
    changes = diff(
        {"environment": {"A": "1", "B": "2"}, "image": "x"},
        {"environment": {"A": "1", "C": "3"}, "image": "y"},
    )
    assert [(c.field, c.current, c.desired) for c in changes] == [
        ("image", "x", "y"),
        ("environment.B", "2", None),
        ("environment.C", None, "3"),
    ]


# --- properties ------------------------------------------------------------------------------

names = st.sampled_from(["api", "worker", "db", "cache", "lb"])
services = st.sampled_from(["s1", "s2", "s3", "s4"])
hosts = st.sampled_from(["node1", "node2", "node3"])


@st.composite
def desired_states(draw: st.DrawFn) -> DesiredState:
    chosen = draw(st.lists(services, unique=True, max_size=4))
    result = {}
    for i, name in enumerate(chosen):
        deps = tuple(draw(st.lists(st.sampled_from(chosen[:i]), unique=True))) if i else ()
        per_host: dict[str, tuple[ContainerSpec, ...]] = {}
        for host in draw(st.lists(hosts, unique=True, max_size=3)):
            containers = draw(st.lists(names, unique=True, min_size=1, max_size=3))
            per_host[host] = tuple(
                spec(
                    f"{name}_{c}",
                    name,
                    command=draw(st.sampled_from(["a", "b"])),
                    config_digest=draw(st.sampled_from(["d1", "d2"])),
                )
                for c in containers
            )
        result[name] = ServiceState(name, deps, per_host)
    return DesiredState(result)


@st.composite
def observed_states(draw: st.DrawFn) -> ObservedState:
    return deployed(
        draw(desired_states()), draw(st.sampled_from([RunState.RUNNING, RunState.STOPPED]))
    )


@settings(max_examples=200, deadline=None)
@given(desired_states(), observed_states())
def test_applying_a_plan_converges(desired: DesiredState, observed: ObservedState) -> None:
    result = plan(desired, observed)
    assert plan(desired, apply_to(observed, result)).is_empty


@settings(max_examples=200, deadline=None)
@given(desired_states(), observed_states())
def test_plans_are_deterministic_and_respect_dependencies(
    desired: DesiredState, observed: ObservedState
) -> None:
    result = plan(desired, observed)
    assert render_text(result) == render_text(plan(desired, observed))
    # removals come last by design; the order that matters is of what is (re)started
    position = {
        w.service: i
        for i, w in enumerate(result.waves)
        if any(s.action is not Action.REMOVE for s in w.steps)
    }
    for name, state in desired.services.items():
        for dep in state.depends_on:
            if name in position and dep in position:
                assert position[dep] < position[name]
