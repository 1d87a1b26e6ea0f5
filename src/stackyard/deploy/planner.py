"""Desired state + observed state -> Plan (pure, deterministic).

Each step says why it exists and, for a recreate, which fields changed (from the spec label the
container carries). Services are ordered by their dependencies (ties by name); removals of
containers no longer wanted come last, dependents first. A plan computed against a deployment
that already matches is empty.

A run killed half-way leaves traces the next plan picks up: a `-previous` container means a
replacement did not finish (it is resumed, with the old container still there for rollback); a
job container still running is waited for; a service still starting is waited for (WAIT).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any

from stackyard.deploy.model import (
    LABEL_HASH,
    LABEL_SPEC,
    PREVIOUS,
    Action,
    Change,
    ContainerSpec,
    DesiredState,
    Kind,
    ObservedContainer,
    ObservedState,
    Plan,
    RunState,
    ServiceState,
    Step,
    Wave,
    parse_json,
)
from stackyard.ordering import dependency_order

_NAME = attrgetter("name")
_FIELD_RANK = {f.name: i for i, f in enumerate(fields(ContainerSpec))}
# A job runs again when what it runs changes, not when a config file it shares with the
# service changes (a keystone.conf override must not redo db_sync and bootstrap).
JOB_IGNORED = frozenset({"config_digest"})


def service_order(desired: DesiredState) -> list[str]:
    """Services, each after the ones it depends on; a dependency that is not deployed (an
    external database, a disabled service) imposes no order."""
    graph = {
        name: sorted(d for d in state.starts_after if d in desired.services)
        for name, state in desired.services.items()
    }
    return dependency_order(graph, "service dependencies")


def plan(
    desired: DesiredState,
    observed: ObservedState,
    serial: int = 0,
    limit: frozenset[str] = frozenset(),
) -> Plan:
    """The plan is the whole program apply runs: each wave says which waves it waits for, each
    step which steps of its wave (removal waves run last, one after the other, once every
    other wave has succeeded). With `serial` (kolla_serial), a service's changes roll across
    its hosts: at most that many hosts at a time, each batch after the one before. With
    `limit`, only those hosts are touched; the steps of the others are listed as skipped."""
    with _without_cycle_collection():
        order = service_order(desired)
        runners = {name: _runners(desired.services[name], observed, limit) for name in order}
        steps = {name: _service_steps(desired, observed, name, runners[name]) for name in order}
        skipped: list[Step] = []
        for name in order:
            steps[name] = _within(steps[name], limit, skipped)
        planned = {name for name in order if steps[name]}
        waves = [
            wave
            for name in order
            if steps[name]
            for wave in _batched(
                Wave(name, _ordered(steps[name], desired.services[name].containers,
                                    runners[name]),
                     _waits_for(desired, name, planned)),
                _budget(serial, desired.services[name].serial),
            )
        ]  # fmt: skip
        for removal in _removals(desired, observed, order):
            if kept := _within(list(removal.steps), limit, skipped):
                waves.append(replace(removal, steps=tuple(kept)))
        return Plan(tuple(waves), tuple(skipped), tuple(sorted(limit)))


def _within(steps: list[Step], limit: frozenset[str], skipped: list[Step]) -> list[Step]:
    """The steps on the limited hosts (all without a limit); the others go to `skipped`."""
    if not limit:
        return steps
    skipped += [s for s in steps if s.host not in limit]
    return [s for s in steps if s.host in limit]


def _budget(serial: int, own: int) -> int:
    """Hosts of a service changed at a time: the smaller of kolla_serial and the service's own
    budget, where set (0: every host at once)."""
    return min((n for n in (serial, own) if n > 0), default=0)


def _batched(wave: Wave, serial: int) -> list[Wave]:
    """The wave split by host into batches of at most `serial` hosts (hosts by name); a step
    waits only for steps of its own batch (the batches before it have finished)."""
    hosts = sorted({step.host for step in wave.steps})
    if serial <= 0 or len(hosts) <= serial:
        return [wave]
    groups = [set(hosts[i : i + serial]) for i in range(0, len(hosts), serial)]
    return [
        replace(wave, batch=number, batches=len(groups), steps=tuple(
            replace(s, after=tuple(a for a in s.after if a[0] in group))
            for s in wave.steps if s.host in group
        ))
        for number, group in enumerate(groups, 1)
    ]  # fmt: skip


def _waits_for(desired: DesiredState, name: str, planned: set[str]) -> tuple[str, ...]:
    """The nearest planned services a service starts after: directly, or through services
    this plan does not touch (nova waits for keystone through placement when placement is
    done); a planned one's own wave waits for those before it."""
    seen: set[str] = set()
    todo = list(desired.services[name].starts_after)
    while todo:
        current = todo.pop()
        if current in seen or current not in desired.services:
            continue
        seen.add(current)
        if current not in planned:
            todo.extend(desired.services[current].starts_after)
    return tuple(sorted(seen & planned))


def _ordered(
    steps: list[Step], specs: dict[str, tuple[ContainerSpec, ...]], runners: dict[str, str]
) -> tuple[Step, ...]:
    if not any(spec.after for host_specs in specs.values() for spec in host_specs):
        return tuple(steps)
    graph = step_dependencies(steps, specs, runners)
    return tuple(replace(step, after=tuple(graph[(step.host, step.container)])) for step in steps)


def step_dependencies(
    steps: list[Step],
    specs: dict[str, tuple[ContainerSpec, ...]],
    runners: dict[str, str] | None = None,
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(host, container) -> the steps it waits for: every step that precedes it through
    `after`, directly or through containers that need no step this time (bootstrap waits for
    the database job even when db_sync, between them, is already done). A job run once is
    waited for on the host it runs on (`runners`), by the containers of every host."""
    runners = runners or {}
    after = {(host, s.name): s.after for host, host_specs in specs.items() for s in host_specs}
    planned = {(step.host, step.container) for step in steps}
    graph: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def before(host: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(runners.get(name, host), name) for name in names]

    for key in sorted(planned):
        seen: set[tuple[str, str]] = set()
        todo = before(key[0], after.get(key, ()))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(before(current[0], after.get(current, ())))
        graph[key] = sorted(seen & planned)
    return graph


def _runners(state: ServiceState, observed: ObservedState, limit: frozenset[str]) -> dict[str, str]:
    """Job run once -> the host it runs on: one where it already ran to the end with its
    present spec (nothing to do then), else the service's first host by name (of those a
    limited run may touch, so the containers there do not start without it)."""
    hosts = sorted(state.containers)
    allowed = [h for h in hosts if h in limit] if limit else hosts
    runners = {}
    for host in hosts:
        for spec in state.containers[host]:
            if not spec.once or spec.name in runners:
                continue
            done = [
                h for h in hosts
                if (c := observed.get(h, spec.name)) is not None
                and c.labels.get(LABEL_HASH) == spec.spec_hash() and c.exit_code == 0
            ]  # fmt: skip
            runners[spec.name] = done[0] if done else (allowed or hosts)[0]
    return runners


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Planning makes no reference cycles, only many objects that live on (steps, changes,
    records read from labels): each time they grow by a quarter, the cycle collector would walk
    every object, the whole desired and observed state included (a fifth of the time of
    planning 10,000 hosts). Reference counting still frees what planning drops."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _service_steps(
    desired: DesiredState, observed: ObservedState, name: str, runners: dict[str, str]
) -> list[Step]:
    steps = []
    state = desired.services[name]
    has_jobs = any(s.kind is Kind.JOB for specs in state.containers.values() for s in specs)
    data = data_volumes(desired, name) if has_jobs else set()
    for host, specs in sorted(state.containers.items()):
        present = observed.containers.get(host, {})
        images = observed.images.get(host, {})
        for spec in staged(specs):
            if spec.once and runners[spec.name] != host:
                continue  # run once, on another host
            current = present.get(spec.name)
            step = _step(host, spec, current, images.get(spec.image))
            if spec.kind is Kind.JOB:
                if (step is None or step.adopt) and current is not None:
                    # A job left running is not adopted when its data was made again since.
                    step = _data_recreated(host, spec, current, data, observed.volumes) or step
            elif spec.name + PREVIOUS in present:
                step = _resume(host, spec, step)
            elif step is None and current is not None:
                step = _starting(host, spec, current, observed.gated)
            if step is not None:
                steps.append(step)
    return steps


def staged(specs: tuple[ContainerSpec, ...]) -> list[ContainerSpec]:
    """Specs in the order they run: each after the ones it names in `after`, ties by name."""
    if not any(s.after for s in specs):  # most services: no graph to sort, on every host
        return sorted(specs, key=_NAME)
    by_name = {s.name: s for s in specs}
    graph = {s.name: sorted(a for a in s.after if a in by_name) for s in specs}
    return [by_name[n] for n in dependency_order(graph, "container order")]


def data_volumes(desired: DesiredState, name: str) -> set[tuple[str, str]]:
    """The named volumes (host, name) of a service and of every service it depends on,
    transitively, wherever they run: the data its jobs may have set up (keystone's database
    job wrote into mariadb's volume, on mariadb's host)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in desired.services:
            continue
        seen.add(current)
        todo.extend(desired.services[current].depends_on)
    return {
        (host, volume.split(":", 1)[0])
        for service in seen
        for host, specs in desired.services[service].containers.items()
        for spec in specs
        for volume in spec.volumes
        if not volume.startswith("/")
    }


def _data_recreated(
    host: str,
    spec: ContainerSpec,
    job: ObservedContainer,
    data: set[tuple[str, str]],
    volumes: Mapping[str, Mapping[str, float]],
) -> Step | None:
    """A job that ran before one of its data volumes was (re)created, or that is about to be
    created because it is missing, must run again: what it set up was in the volume that is
    gone. A job run on every host set up its own host's volumes; one run once, the volumes of
    every host (the schema in mariadb's, wherever that runs). The engine gives container times
    in whole seconds, hence the second of slack."""
    if not spec.once:
        data = {d for d in data if d[0] == host}

    def named(pairs: list[tuple[str, str]]) -> str:
        return ", ".join(v if h == host else f"{v} on {h}" for h, v in pairs)

    missing = sorted(d for d in data if d[1] not in volumes.get(d[0], {}))
    newer = sorted(d for d in data if volumes.get(d[0], {}).get(d[1], 0.0) >= job.created + 1)
    if not missing and not newer:
        return None
    causes = [f"volume {named(missing)} is missing"] if missing else []
    causes += [f"volume {named(newer)} was created after its last run"] if newer else []
    return Step(Action.RUN, host, spec.name, "; ".join(causes), spec=spec)


def _resume(host: str, spec: ContainerSpec, step: Step | None) -> Step:
    """The replacement of this container was interrupted: do it again, keeping the old one."""
    cause = f"replacement was interrupted ({spec.name}{PREVIOUS} is kept for rollback)"
    changes = step.changes if step is not None else ()
    return Step(Action.RECREATE, host, spec.name, cause, changes, spec)


def _starting(
    host: str, spec: ContainerSpec, current: ObservedContainer, gated: frozenset[str]
) -> Step | None:
    """A container that needs no change but has not passed a health check yet (a run stopped
    while gating it, or it was started moments ago) is waited for, so a deploy never reports
    success over a container that is not healthy. One a run already gated is not: the engine
    runs its own first check only after its interval, and waiting for every container of a
    deployment made seconds ago would make a no-op run slow."""
    starting = current.state is RunState.RUNNING and current.health == "starting"
    if starting and current.id not in gated:
        return Step(Action.WAIT, host, spec.name, "health: starting", spec=spec)
    return None


def _step(
    host: str, spec: ContainerSpec, current: ObservedContainer | None, image_id: str | None
) -> Step | None:
    """What one container needs; `image_id` is what its image reference names now, so a
    rebuilt or pulled image under the same tag replaces the container (and reruns a job)."""
    job = spec.kind is Kind.JOB
    again = Action.RUN if job else Action.RECREATE
    if current is None:
        cause = "not run yet" if job else "not present"
        return Step(Action.RUN if job else Action.CREATE, host, spec.name, cause, spec=spec)
    changes: list[Change] = []
    text = spec.record_text()
    if current.labels.get(LABEL_SPEC) != text:  # the same text, so the same hash
        recorded = current.recorded_spec()
        if recorded is None:
            cause = "created without a readable spec label"
            return Step(again, host, spec.name, cause, spec=spec)
        changes = diff(recorded, parse_json(text), JOB_IGNORED if job else frozenset())
    if image_id and current.image_id and image_id != current.image_id:
        changes.append(Change("image_id", current.image_id[7:19], image_id[7:19]))
    if changes:
        cause = "changed: " + ", ".join(sorted({c.field.split(".")[0] for c in changes}))
        return Step(again, host, spec.name, cause, tuple(changes), spec)
    if job:
        if current.state is RunState.RUNNING:
            return Step(Action.RUN, host, spec.name, "did not finish", spec=spec, adopt=True)
        if current.exit_code is None:
            return Step(Action.RUN, host, spec.name, "never started", spec=spec)
        if current.exit_code != 0:
            cause = f"failed (exit {current.exit_code})"
            return Step(Action.RUN, host, spec.name, cause, spec=spec)
        return None
    if current.state is RunState.STOPPED:
        return Step(Action.START, host, spec.name, "stopped", spec=spec)
    if current.health in ("unhealthy", "restarting"):
        return Step(Action.RECREATE, host, spec.name, current.health, spec=spec)
    return None


def diff(
    current: Mapping[str, Any], desired: Mapping[str, Any], ignore: frozenset[str] = frozenset()
) -> list[Change]:
    """Field-level differences, in spec field order; mappings are compared key by key."""
    differing = {k for k, v in desired.items() if current.get(k) != v}
    differing.update(k for k in current.keys() - desired.keys() if current[k] is not None)
    changes: list[Change] = []
    for name in sorted(differing & _FIELD_RANK.keys() - ignore, key=_FIELD_RANK.__getitem__):
        old, new = current.get(name), desired.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    changes.append(Change(f"{name}.{key}", old.get(key), new.get(key)))
        else:
            changes.append(Change(name, old, new))
    return changes


def _removals(desired: DesiredState, observed: ObservedState, order: list[str]) -> list[Wave]:
    wanted: dict[str, set[str]] = {}  # host -> names of the containers wanted there
    for state in desired.services.values():
        for host, specs in state.containers.items():
            wanted.setdefault(host, set()).update(map(_NAME, specs))
    by_service: dict[str, list[Step]] = {}
    for host, containers in sorted(observed.containers.items()):
        names = wanted.get(host, set())
        for name in sorted(containers.keys() - names):
            # A wanted container's `-previous` belongs to its resumed replacement.
            if name.endswith(PREVIOUS) and name[: -len(PREVIOUS)] in names:
                continue
            service = containers[name].service or "unknown"
            cause = (
                f"service {service} is not enabled"
                if service not in desired.services
                else f"not wanted on {host}"
            )
            by_service.setdefault(service, []).append(Step(Action.REMOVE, host, name, cause))
    rank = {name: i for i, name in enumerate(order)}
    services = sorted(by_service, key=lambda s: (-rank.get(s, len(rank)), s))
    return [Wave(name, tuple(by_service[name])) for name in services]
