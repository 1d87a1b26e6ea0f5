"""apply over an in-memory engine and a fake clock: rollback after a failed gate, job adoption,
a replacement resumed after a killed run, gate and job deadlines, engine errors, waves that
wait for the services they follow, and, on generated states, the real observe, plan and apply
converging. The integration suite runs the same paths on a real engine."""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.deploy.apply import Applier, ApplyFailed, gated
from stackyard.deploy.desired import Desired
from stackyard.deploy.model import (
    LABEL_HASH,
    LABEL_SPEC,
    PREVIOUS,
    Action,
    ContainerSpec,
    DesiredState,
    HealthCheck,
    Kind,
    ObservedState,
    Plan,
    ServiceState,
    Step,
    Wave,
)
from stackyard.deploy.observe import observe_hosts
from stackyard.deploy.planner import plan as make_plan
from stackyard.deploy.report import render_text
from stackyard.engine.port import ContainerRecord, Engine
from stackyard.errors import EngineError

HOST = "n1"
# What a container of each image does once started (the fake's whole behaviour):
# "good" runs and passes its check; "crash" exits 1 at once; "sick" runs and never passes;
# "job-ok" and "job-3" exit 0 and 3; "job-hang" never exits.
EXIT_AT_START = {"crash": 1}
JOB_EXIT = {"job-ok": 0, "job-3": 3}
EXITS = ("good", "crash", "sick")  # images with a health check (service containers)
IMAGE_IDS = {image: f"sha256:{image:0<64}" for image in (*EXITS, *JOB_EXIT, "job-hang")}


class Clock:
    """Time that moves only when apply sleeps: a 90 s deadline takes no real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Box:
    """One container in the fake: what it runs and how it stands."""

    id: str
    image: str
    labels: dict[str, str]
    running: bool = False
    started: bool = False
    exit_code: int = 0
    created: float = 0.0
    health: str | None = None  # what the engine's own check says, when not the image's way


@dataclass
class MemoryEngine:
    """The engine port in memory: the calls apply and observe make, answered from Boxes;
    containers and volumes made here are stamped with a time that moves a second a call."""

    containers: dict[str, Box] = field(default_factory=dict)
    volumes: dict[str, float] = field(default_factory=dict)  # name -> created
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_create: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    # Seconds since 2000.0, shared by the engines of one test (hosts keep time together).
    ticks: itertools.count[int] = field(default_factory=itertools.count)

    def add(
        self, spec: ContainerSpec, running: bool = True, name: str | None = None, **state: Any
    ) -> Box:
        box = Box(f"id{next(self.ids)}", spec.image, spec.labels(), running, started=True)
        self.containers[name or spec.name] = replace(box, **state)
        return self.containers[name or spec.name]

    def _tick(self) -> float:
        return 2001.0 + next(self.ticks)

    def _record(self, name: str, box: Box) -> ContainerRecord:
        checked = box.image in EXITS
        health = ("healthy" if box.image == "good" else "unhealthy") if checked else None
        return ContainerRecord(
            name, box.id, box.running, box.labels, exit_code=None if box.running or not
            box.started else box.exit_code, health=(box.health or health) if box.running
            else None, created=box.created, image_id=IMAGE_IDS[box.image],
        )  # fmt: skip

    # observation
    def managed_containers(self) -> list[ContainerRecord]:
        return [self._record(name, box) for name, box in sorted(self.containers.items())]

    def inspect(self, ref: str) -> ContainerRecord | None:
        box = self.containers.get(ref)
        return None if box is None else self._record(ref, box)

    def managed_volumes(self) -> dict[str, str]:
        return {name: str(created) for name, created in self.volumes.items()}

    def managed_networks(self) -> list[str]:
        return []

    def image_ids(self, references: set[str]) -> dict[str, str]:
        return {ref: IMAGE_IDS[ref] for ref in references}

    def image_labels(self, ref: str) -> dict[str, str] | None:
        return {}

    # changes
    def ensure_network(self, name: str) -> None: ...
    def ensure_volume(self, name: str, service: str) -> None:
        if name not in self.volumes:
            self.volumes[name] = self._tick()

    def ensure_shared_folder(self, path: str) -> None: ...
    def ensure_terminals(self, path: str) -> None: ...
    def clear_shared_folder(self, path: str) -> list[str]:
        return []

    def remove_volume(self, name: str) -> None: ...
    def remove_network(self, name: str) -> None: ...

    def create(self, spec: ContainerSpec, config_dir: str | None) -> str:
        self.calls.append(("create", spec.name))
        if spec.name in self.fail_create:
            raise EngineError(f"the engine refused to create {spec.name}")
        if spec.name in self.containers:
            raise EngineError(f"Conflict: the name {spec.name} is in use")
        box = Box(f"id{next(self.ids)}", spec.image, spec.labels(), created=self._tick())
        self.containers[spec.name] = box
        return box.id

    def start(self, ref: str) -> None:
        self.calls.append(("start", ref))
        box = self.containers[ref]
        code = EXIT_AT_START.get(box.image)
        box.running, box.started, box.exit_code = code is None, True, code or 0
        box.health = "starting" if box.image in EXITS else None  # until its first check

    def stop(self, ref: str, timeout: int = 30) -> None:
        self.calls.append(("stop", ref))
        self.containers[ref].running = False

    def remove(self, ref: str) -> None:
        self.calls.append(("remove", ref))
        self.containers.pop(ref, None)

    def rename(self, ref: str, name: str) -> None:
        self.calls.append(("rename", f"{ref}>{name}"))
        self.containers[name] = self.containers.pop(ref)

    def wait(self, ref: str, timeout: float) -> int | None:
        self.calls.append(("wait", ref))
        box = self.containers[ref]
        code = JOB_EXIT.get(box.image)
        if code is not None:
            box.running, box.exit_code = False, code
        return code

    def exec(self, ref: str, argv: list[str]) -> tuple[int, str]:
        healthy = self.containers[ref].image == "good"
        return (0, "") if healthy else (1, "connection refused\n")

    def logs(self, ref: str, tail: int = 20) -> list[str]:
        return [f"last line of {ref}"]

    def running(self, ref: str) -> bool:
        box = self.containers.get(ref)
        return box is not None and box.running

    def images(self) -> dict[str, str]:
        return {name: box.image for name, box in self.containers.items()}


def service(name: str, image: str = "good", **fields: Any) -> ContainerSpec:
    check = HealthCheck(("healthcheck_curl", "http://localhost")) if image != "job" else None
    return ContainerSpec(name=name, service=name, image=image, command=("run",),
                         healthcheck=check, deadline=30.0, **fields)  # fmt: skip


def job(name: str, image: str) -> ContainerSpec:
    return ContainerSpec(name=name, service="keystone", image=image, command=("sync",),
                         kind=Kind.JOB, deadline=300.0)  # fmt: skip


def applier(
    tmp_path: Path, engine: MemoryEngine, states: dict[str, ServiceState], clock: Clock
) -> Applier:
    desired = Desired(state=DesiredState(states), files={}, volumes={}, networks={},
                      frontends=(), balancers={}, vip="", variables={})  # fmt: skip
    return Applier({HOST: engine}, desired, tmp_path / "generated", say=_quiet, clock=clock)


def _quiet(_line: str) -> None:
    return None


def one_step(action: Action, spec: ContainerSpec) -> tuple[Plan, dict[str, ServiceState]]:
    step = Step(action, HOST, spec.name, "test", spec=spec)
    return Plan((Wave(spec.service, (step,)),)), {
        spec.service: ServiceState(spec.service, (), {HOST: (spec,)})
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_replacement_that_fails_its_gate_is_rolled_back(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    engine.add(service("api", "good"))
    plan, states = one_step(Action.RECREATE, service("api", "crash"))
    with pytest.raises(ApplyFailed) as info:
        applier(tmp_path, engine, states, clock).apply(plan)
    assert "api exited (code 1) instead of becoming healthy; the previous api container was " \
        "restored" in str(info.value)  # fmt: skip
    assert "last line of api" in str(info.value)
    assert engine.images() == {"api": "good"} and engine.running("api")
    assert engine.calls == [
        ("stop", "api"), ("rename", f"api>api{PREVIOUS}"), ("create", "api"), ("start", "api"),
        ("remove", "api"), ("rename", f"api{PREVIOUS}>api"), ("start", "api"),
    ]  # fmt: skip


def test_a_rollback_whose_old_container_fails_too_says_so(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    engine.add(service("api", "sick"))
    plan, states = one_step(Action.RECREATE, service("api", "crash"))
    with pytest.raises(ApplyFailed, match="started again but is not healthy"):
        applier(tmp_path, engine, states, clock).apply(plan)
    assert engine.images() == {"api": "sick"}


def test_a_gate_ends_at_the_deadline_with_the_check_output(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    plan, states = one_step(Action.CREATE, service("api", "sick"))
    started = clock.now
    with pytest.raises(ApplyFailed) as info:
        applier(tmp_path, engine, states, clock).apply(plan)
    assert "api did not become healthy within 30 s" in str(info.value)
    assert "(health check: connection refused)" in str(info.value)
    assert 30.0 <= clock.now - started < 31.0


def test_a_healthy_container_passes_its_gate_and_is_marked(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    plan, states = one_step(Action.CREATE, service("api", "good"))
    results = applier(tmp_path, engine, states, clock).apply(plan)
    assert [(r.step.container, r.ok) for r in results] == [("api", True)]
    assert (tmp_path / "generated" / ".gated" / engine.containers["api"].id).exists()


def test_a_wait_gates_a_running_container_and_marks_it(tmp_path: Path, clock: Clock) -> None:
    """WAIT changes nothing on the engine: it gates the container as it runs; the marker of
    a container that is gone is removed once the run succeeds."""
    engine = MemoryEngine()
    engine.add(service("api", "good"))
    stale = tmp_path / "generated" / ".gated" / "gone"
    stale.parent.mkdir(parents=True)
    stale.touch()
    plan, states = one_step(Action.WAIT, service("api", "good"))
    applier(tmp_path, engine, states, clock).apply(plan)
    assert engine.calls == []
    assert gated(tmp_path / "generated") == {engine.containers["api"].id}


def test_a_replacement_resumed_after_a_kill_starts_over(tmp_path: Path, clock: Clock) -> None:
    """A killed run left the old container aside and a half-made new one under the name."""
    engine = MemoryEngine()
    engine.add(service("api", "good"), running=False, name="api" + PREVIOUS)
    engine.add(service("api", "crash"), running=False)
    plan, states = one_step(Action.RECREATE, service("api", "good", user="42:42"))
    applier(tmp_path, engine, states, clock).apply(plan)
    assert engine.calls == [
        ("remove", "api"), ("create", "api"), ("start", "api"), ("remove", "api" + PREVIOUS)
    ]  # fmt: skip
    assert engine.images() == {"api": "good"} and engine.running("api")


def test_a_running_job_of_the_same_spec_is_adopted(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    spec = job("keystone_db_sync", "job-ok")
    engine.add(spec, running=True)
    states = {"keystone": ServiceState("keystone", (), {HOST: (spec,)})}
    plan = make_plan(DesiredState(states), observe_hosts({HOST: engine}))
    assert [(s.cause, s.adopt) for s in plan.steps] == [("did not finish", True)]
    applier(tmp_path, engine, states, clock).apply(plan)
    assert engine.calls == [("wait", "keystone_db_sync")]


@pytest.mark.parametrize(
    ("code", "calls"), [(0, ["wait"]), (3, ["remove", "create", "start", "wait"])]
)
def test_a_job_to_adopt_that_ended_meanwhile(
    tmp_path: Path, clock: Clock, code: int, calls: list[str]
) -> None:
    """Between the plan and its step the job may end: done if it succeeded (no second run),
    run again if it failed."""
    engine = MemoryEngine()
    spec = job("keystone_db_sync", "job-ok")
    engine.add(spec, running=True)
    states = {"keystone": ServiceState("keystone", (), {HOST: (spec,)})}
    plan = make_plan(DesiredState(states), observe_hosts({HOST: engine}))
    box = engine.containers["keystone_db_sync"]
    box.running, box.exit_code = False, code
    applier(tmp_path, engine, states, clock).apply(plan)
    assert [call for call, _ in engine.calls] == calls


def test_a_running_job_is_run_again_when_its_data_was_made_again(
    tmp_path: Path, clock: Clock
) -> None:
    """Its work went into the volume that is gone: the plan does not adopt it, apply starts
    it again (and only what the plan says is adopted is)."""
    engine = MemoryEngine()
    spec = replace(job("keystone_db_sync", "job-ok"), volumes=("data:/data",))
    engine.add(spec, running=True, created=100.0)
    engine.volumes["data"] = 500.0
    states = {"keystone": ServiceState("keystone", (), {HOST: (spec,)})}
    plan = make_plan(DesiredState(states), observe_hosts({HOST: engine}))
    assert [(s.cause, s.adopt) for s in plan.steps] == [
        ("volume data was created after its last run", False)
    ]  # fmt: skip
    applier(tmp_path, engine, states, clock).apply(plan)
    assert [call for call, _ in engine.calls] == ["remove", "create", "start", "wait"]


def test_a_running_job_of_another_spec_is_run_again(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    engine.add(job("keystone_db_sync", "job-hang"), running=True)
    plan, states = one_step(Action.RUN, job("keystone_db_sync", "job-ok"))
    applier(tmp_path, engine, states, clock).apply(plan)
    assert [call for call, _ in engine.calls] == ["remove", "create", "start", "wait"]


@pytest.mark.parametrize(
    ("image", "message", "stopped"),
    [
        ("job-3", "keystone_db_sync on n1 failed with exit code 3", False),
        ("job-hang", "keystone_db_sync on n1 did not finish within 300 s", True),
    ],
)
def test_a_job_that_fails_or_hangs_fails_its_step(
    tmp_path: Path, clock: Clock, image: str, message: str, stopped: bool
) -> None:
    engine = MemoryEngine()
    plan, states = one_step(Action.RUN, job("keystone_db_sync", image))
    with pytest.raises(ApplyFailed) as info:
        applier(tmp_path, engine, states, clock).apply(plan)
    assert message in str(info.value) and "last line of keystone_db_sync" in str(info.value)
    assert (("stop", "keystone_db_sync") in engine.calls) is stopped


def test_an_engine_error_fails_the_step_and_restores(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine(fail_create={"api"})
    engine.add(service("api", "good"))
    plan, states = one_step(Action.RECREATE, service("api", "good", user="1:1"))
    with pytest.raises(ApplyFailed) as info:
        applier(tmp_path, engine, states, clock).apply(plan)
    assert "the engine refused to create api; the previous api container was restored" in str(
        info.value
    )
    assert engine.running("api") and f"api{PREVIOUS}" not in engine.containers


def test_a_failed_service_stops_the_services_that_follow_it(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    database, api, cache = service("db", "crash"), service("api"), service("cache")
    states = {
        "db": ServiceState("db", (), {HOST: (database,)}),
        "api": ServiceState("api", ("db",), {HOST: (api,)}),
        "cache": ServiceState("cache", (), {HOST: (cache,)}),
    }
    plan = make_plan(DesiredState(states), ObservedState({}))
    assert [(w.service, w.after) for w in plan.waves] == [
        ("cache", ()),
        ("db", ()),
        ("api", ("db",)),
    ]
    with pytest.raises(ApplyFailed, match="db exited"):
        applier(tmp_path, engine, states, clock).apply(plan, workers=1)
    assert ("create", "api") not in engine.calls
    assert engine.running("cache")


def test_a_step_waits_for_the_steps_the_plan_puts_before_it(tmp_path: Path, clock: Clock) -> None:
    """The plan alone orders apply: a service container listed first but `after` its job
    starts only once the job has finished."""
    engine = MemoryEngine()
    sync, api = job("api_sync", "job-ok"), replace(service("api"), after=("api_sync",))
    steps = (Step(Action.CREATE, HOST, "api", "new", spec=api, after=((HOST, "api_sync"),)),
             Step(Action.RUN, HOST, "api_sync", "new", spec=sync))  # fmt: skip
    states = {"api": ServiceState("api", (), {HOST: (sync, api)})}
    applier(tmp_path, engine, states, clock).apply(Plan((Wave("api", steps),)))
    assert engine.calls.index(("wait", "api_sync")) < engine.calls.index(("create", "api"))


# --- many hosts -------------------------------------------------------------------------------


def test_each_step_runs_on_its_hosts_engine(tmp_path: Path, clock: Clock) -> None:
    """A service on two hosts: each host's engine gets that host's containers and calls."""
    one, two = MemoryEngine(), MemoryEngine()
    api = service("api", "good")
    states = {"api": ServiceState("api", (), {"n1": (api,), "n2": (api,)})}
    steps = tuple(Step(Action.CREATE, host, "api", "new", spec=api) for host in ("n1", "n2"))
    run = Applier({"n1": one, "n2": two}, applier(tmp_path, one, states, clock).desired,
                  tmp_path / "generated", say=_quiet, clock=clock)  # fmt: skip
    run.apply(Plan((Wave("api", steps),)))
    assert one.calls == two.calls == [("create", "api"), ("start", "api")]
    assert one.images() == two.images() == {"api": "good"}


def test_a_step_for_a_host_without_an_engine_fails_naming_it(tmp_path: Path, clock: Clock) -> None:
    engine = MemoryEngine()
    api = service("api", "good")
    states = {"api": ServiceState("api", (), {"n2": (api,)})}
    plan = Plan((Wave("api", (Step(Action.CREATE, "n2", "api", "new", spec=api),)),))
    with pytest.raises(ApplyFailed, match=r"api on n2: no engine for host n2 \(engines: n1\)"):
        applier(tmp_path, engine, states, clock).apply(plan)
    assert engine.calls == []


@pytest.mark.parametrize(("serial", "touched"), [(1, set()), (0, {"n2", "n3"})])
def test_a_batch_that_fails_stops_the_batches_after_it(
    tmp_path: Path, clock: Clock, serial: int, touched: set[str]
) -> None:
    """Rolled one host at a time (kolla_serial 1), a change that fails on the first host
    (restored there) never reaches the others; all at once (0), it does."""
    engines = {host: MemoryEngine() for host in ("n1", "n2", "n3")}
    old = service("api", "good")
    for engine in engines.values():
        engine.add(old)
    engines["n1"].fail_create = {"api"}
    states = {"api": ServiceState("api", (), dict.fromkeys(engines, (replace(old, user="1:1"),)))}
    desired = applier(tmp_path, MemoryEngine(), states, clock).desired
    result = make_plan(desired.state, observe_hosts(engines), serial)
    run = Applier(engines, desired, tmp_path / "generated", say=_quiet, clock=clock)
    with pytest.raises(ApplyFailed, match="the previous api container was restored"):
        run.apply(result)
    assert {host for host in ("n2", "n3") if engines[host].calls} == touched
    assert all(engine.running("api") for engine in engines.values())


def test_an_unreachable_host_is_named_and_nothing_is_planned_or_changed() -> None:
    """Observation needs every host: one that does not answer fails it, named, before any
    plan exists, so no other host is touched; the next run, the host back, does the work."""

    class Gone(MemoryEngine):
        def managed_containers(self) -> list[ContainerRecord]:
            raise EngineError("cannot reach the engine at ssh://n2 (connection refused)")

    engines = {"n1": MemoryEngine(), "n2": Gone(), "n3": MemoryEngine()}
    with pytest.raises(EngineError) as info:
        observe_hosts(engines)
    assert str(info.value) == "host n2: cannot reach the engine at ssh://n2 (connection refused)"
    assert all(engine.calls == [] for engine in engines.values())


def test_a_limited_run_prepares_only_its_hosts(tmp_path: Path, clock: Clock) -> None:
    engines = {"n1": MemoryEngine(), "n2": MemoryEngine()}
    api = replace(service("api"), volumes=("api_data:/data",))
    states = {"api": ServiceState("api", (), dict.fromkeys(engines, (api,)))}
    desired = replace(applier(tmp_path, MemoryEngine(), states, clock).desired,
                      volumes={host: {"api_data": "api"} for host in engines})  # fmt: skip
    result = make_plan(desired.state, observe_hosts(engines), limit=frozenset({"n1"}))
    Applier(engines, desired, tmp_path / "generated", say=_quiet, clock=clock).apply(result)
    assert (set(engines["n1"].volumes), set(engines["n2"].volumes)) == ({"api_data"}, set())
    assert engines["n2"].calls == [] and engines["n1"].running("api")


def test_a_defect_while_observing_is_not_taken_for_an_unreachable_host() -> None:
    class Broken(MemoryEngine):
        def managed_containers(self) -> list[ContainerRecord]:
            raise KeyError("Names")

    with pytest.raises(KeyError):
        observe_hosts({"n1": Broken()})


# --- the real observe, plan and apply on generated states -------------------------------------

NAMES = ("s1", "s2", "s3", "s4")
HOSTS = ("n1", "n2", "n3")


@st.composite
def desired_states(draw: st.DrawFn) -> dict[str, ServiceState]:
    """Up to four services on one to three hosts each, each after some of those before it; a
    service has one to three containers, may keep data in a named volume, and may have a
    job its containers wait for (which set up that data)."""
    chosen = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    states = {}
    for i, name in enumerate(chosen):
        deps = tuple(draw(st.lists(st.sampled_from(chosen[:i]), unique=True))) if i else ()
        volumes = (f"{name}_data:/var/lib/{name}",) if draw(st.booleans()) else ()
        jobs = [job(f"{name}_sync", "job-ok")] if draw(st.booleans()) else []
        jobs = [replace(j, service=name, command=(draw(st.sampled_from("ab")),),
                        volumes=volumes, once=draw(st.booleans())) for j in jobs]  # fmt: skip
        containers = tuple(
            replace(service(f"{name}_{part}", "good"), service=name, volumes=volumes,
                    command=(draw(st.sampled_from("ab")),), after=tuple(j.name for j in jobs))
            for part in draw(st.lists(st.sampled_from(("api", "worker", "cache")), unique=True,
                                      min_size=1, max_size=3))
        )  # fmt: skip
        hosts = draw(st.lists(st.sampled_from(HOSTS), unique=True, min_size=1))
        states[name] = ServiceState(name, deps, dict.fromkeys(hosts, (*jobs, *containers)))
    return states


UNREADABLE = {LABEL_SPEC: "{", LABEL_HASH: "0"}  # a label no version of stackyard wrote


@st.composite
def leftovers(draw: st.DrawFn) -> dict[str, MemoryEngine]:
    """What an earlier deployment left on each host: its containers running or stopped, some
    still starting, unhealthy or with an unreadable spec label, jobs done or still running,
    now and then a container set aside by a replacement that was killed; its data volumes
    there, missing, or made again after its jobs ran."""
    ticks = itertools.count()
    engines = {host: MemoryEngine(ticks=ticks) for host in HOSTS}
    for state in draw(desired_states()).values():
        for host, specs in state.containers.items():
            engine = engines[host]
            for spec in specs:
                created = float(draw(st.integers(100, 900)))
                health = draw(st.sampled_from([None, None, "starting", "unhealthy"]))
                box = engine.add(spec, running=draw(st.booleans()), created=created,
                                 health=health if spec.kind is Kind.SERVICE else None)  # fmt: skip
                if draw(st.integers(0, 5)) == 0:
                    box.labels.update(UNREADABLE)
                if spec.kind is Kind.SERVICE and draw(st.integers(0, 4)) == 0:
                    engine.add(spec, running=False, name=spec.name + PREVIOUS)
                for volume in (v.split(":", 1)[0] for v in spec.volumes):
                    made = draw(st.sampled_from([None, 50.0, 950.0]))  # missing, old, remade
                    if made is not None and volume not in engine.volumes:
                        engine.volumes[volume] = made
    return engines


@settings(max_examples=150, deadline=None)
@given(desired_states(), leftovers())
def test_observe_plan_apply_converges(
    states: dict[str, ServiceState], engines: dict[str, MemoryEngine]
) -> None:
    """Whatever an earlier deployment left on three hosts, one run of the real code reaches
    the desired state: the next plan (gate markers read as a deploy reads them) is empty, on
    every host every container runs its desired spec, every job ran after the data volumes it
    set up were made (a job run once: on one host at least), nothing else (no set-aside
    container, no unwanted one) is left."""
    with tempfile.TemporaryDirectory() as folder:
        generated = Path(folder) / "generated"
        volumes = {host: {v.split(":", 1)[0]: name for name, state in states.items()
                          for spec in state.containers.get(host, ()) for v in spec.volumes}
                   for host in HOSTS}  # fmt: skip
        desired = replace(applier(Path(folder), MemoryEngine(), states, Clock()).desired,
                          volumes=volumes)  # fmt: skip
        run = Applier(engines, desired, generated, say=_quiet, clock=Clock())
        images = frozenset(spec.image for _, spec in desired.specs())

        def observed() -> ObservedState:
            return replace(observe_hosts(engines, images), gated=gated(generated))

        run.apply(make_plan(desired.state, observed()))
        again = make_plan(desired.state, observed())
        assert again.is_empty, render_text(again)
    once = {s.name: s for state in states.values() for specs in state.containers.values()
            for s in specs if s.once}  # fmt: skip
    for name, spec in once.items():  # ran to the end with its spec on one host at least
        assert any(
            (box := e.containers.get(name))
            and box.labels[LABEL_HASH] == spec.spec_hash()
            and not box.running
            and box.exit_code == 0
            for e in engines.values()
        ), name
    for host, engine in engines.items():
        wanted = {s.name: s for state in states.values() for s in state.containers.get(host, ())}
        assert set(engine.containers) - set(once) == set(wanted) - set(once), host
        assert set(volumes[host]) <= set(engine.volumes), host
        for name, spec in wanted.items():
            if spec.once:
                continue
            box = engine.containers[name]
            assert box.labels[LABEL_HASH] == spec.spec_hash()
            assert box.running is (spec.kind is Kind.SERVICE)
            assert box.exit_code == 0
            if spec.kind is Kind.JOB:
                made = [engine.volumes[v.split(":", 1)[0]] for v in spec.volumes]
                assert all(created < box.created + 1 for created in made), (host, name)


def _conforms(engine: MemoryEngine) -> Engine:
    """mypy checks here that the fake implements the whole engine port."""
    return engine
