"""Carry out a plan on the engine: config files, networks and volumes first, then each
service's steps in dependency order (independent services in parallel), each change gated on
the container becoming healthy (or, for a job, exiting 0) within its deadline.

A replaced container is stopped and renamed, not removed, until its successor is healthy; if
the successor fails, it is removed and the previous container is started again, so a bad change
does not leave the service down. Every step can be interrupted: the next run sees what is on
the engine and finishes the work.
"""

from __future__ import annotations

import csv
import graphlib
import os
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from stackyard.config.passwords import write_private
from stackyard.deploy.desired import Desired
from stackyard.deploy.model import (
    LABEL_HASH,
    PREVIOUS,
    Action,
    ContainerSpec,
    Plan,
    Step,
    Wave,
)
from stackyard.engine.containers import shared_sources, terminal_sources
from stackyard.engine.port import Clock, Engine, SystemClock
from stackyard.errors import EngineError, StackyardError

Say = Callable[[str], None]
GATED = ".gated"  # under generated/: one empty file per container id that passed its gate
POLL = 0.25
ROUTE_DEADLINE = 20.0
LOG_LINES = 20


@dataclass(frozen=True, slots=True)
class StepResult:
    step: Step
    seconds: float
    ok: bool
    message: str = ""
    log_tail: tuple[str, ...] = ()


class ApplyFailed(StackyardError):
    """A step failed; the message names the container, the cause and its last log lines."""

    def __init__(self, message: str, results: list[StepResult]) -> None:
        super().__init__(message)
        self.results = results

    @classmethod
    def of(cls, failure: StepFailed, results: list[StepResult]) -> ApplyFailed:
        tail = "\n".join(f"    {line}" for line in failure.log_tail)
        return cls(str(failure) + (f"\n  last log lines:\n{tail}" if tail else ""), results)


class StepFailed(StackyardError):
    def __init__(self, message: str, log_tail: list[str]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


@dataclass
class Applier:
    engines: Mapping[str, Engine]  # host -> its engine: each step runs on its host's
    desired: Desired
    generated: Path  # <config dir>/generated: one folder per container and config digest
    say: Say = print
    clock: Clock = field(default_factory=SystemClock)
    results: list[StepResult] = field(default_factory=list)

    # preparation -----------------------------------------------------------------------------

    def on(self, host: str) -> Engine:
        engine = self.engines.get(host)
        if engine is None:
            known = ", ".join(sorted(self.engines))
            raise EngineError(f"no engine for host {host} (engines: {known})")
        return engine

    def prepare(self, plan: Plan) -> None:
        """Networks, volumes and config files the plan's containers need (idempotent)."""
        hosts = sorted({step.host for step in plan.steps})  # a limited run touches no other
        for host in hosts:
            for network in self.desired.networks.get(host, ()):
                self.on(host).ensure_network(network)
            for volume, service in sorted(self.desired.volumes.get(host, {}).items()):
                self.on(host).ensure_volume(volume, service)
        for host in hosts:
            specs = [s.spec for s in plan.steps if s.spec is not None and s.host == host]
            binds = tuple(volume for spec in specs for volume in spec.volumes)
            for folder in sorted(set(shared_sources(binds))):
                self.on(host).ensure_shared_folder(folder)
            for folder in sorted(set(terminal_sources(binds))):
                self.on(host).ensure_terminals(folder)
        for step in plan.steps:
            if step.spec is not None and step.spec.config_digest:
                self.write_config(step.host, step.spec)

    def config_path(self, spec: ContainerSpec) -> Path:
        return self.generated / spec.name / spec.config_digest

    def write_config(self, host: str, spec: ContainerSpec) -> None:
        """The container's config folder, private to the user it runs as: its start script
        reads and copies the files itself, so it needs no privilege (and no sudo)."""
        target = self.config_path(spec)
        if target.is_dir():
            return
        staging = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        for name, text in self.desired.files[(host, spec.name)].items():
            write_private(staging / name, text)
        uid, gid = (int(part) for part in (spec.user or "0:0").split(":"))
        for path in [staging, *staging.rglob("*")]:
            os.chown(path, uid, gid, follow_symlinks=False)
        staging.rename(target)

    def collect_garbage(self) -> None:
        """Remove config folders no desired container uses, and gate markers of containers
        that are gone (after a fully successful run)."""
        wanted = {(spec.name, spec.config_digest) for _, spec in self.desired.specs()}
        if not self.generated.is_dir():
            return
        try:
            ids = {r.id for engine in self.engines.values() for r in engine.managed_containers()}
        except EngineError:
            ids = None  # the run itself succeeded: stale markers go the next time
        for marker in gated(self.generated) - ids if ids is not None else ():
            (self.generated / GATED / marker).unlink(missing_ok=True)
        for folder in self.generated.iterdir():
            if folder.name == GATED:
                continue
            for digest in folder.iterdir() if folder.is_dir() else []:
                if (folder.name, digest.name) not in wanted:
                    shutil.rmtree(digest, ignore_errors=True)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    # running ---------------------------------------------------------------------------------

    def apply(self, plan: Plan, workers: int = 4) -> list[StepResult]:
        """Run the plan: waves after the waves they wait for, steps after theirs; removals
        last, once every other wave succeeded."""
        self.prepare(plan)
        removals = [w for w in plan.waves if _only_removals(w)]
        waves = [w for w in plan.waves if not _only_removals(w)]
        sorter = graphlib.TopologicalSorter(wave_dependencies(waves))
        sorter.prepare()
        failure: StepFailed | None = None
        with ThreadPoolExecutor(max_workers=workers) as pool:
            running: dict[Future[None], int] = {}
            while sorter.is_active() and failure is None:
                for index in sorter.get_ready():
                    running[pool.submit(self._run_wave, waves[index])] = index
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    index = running.pop(future)
                    error = future.exception()
                    if isinstance(error, StepFailed):
                        failure = failure or error
                    elif error is not None:
                        raise error
                    else:
                        sorter.done(index)
            for future in running:
                error = future.exception()
                if isinstance(error, StepFailed):
                    failure = failure or error
        if failure is None:
            for wave in removals:
                for step in wave.steps:
                    self._run_step(step)
        if failure is not None:
            raise ApplyFailed.of(failure, self.results)
        self.collect_garbage()
        return self.results

    def _run_wave(self, wave: Wave) -> None:
        """The steps of one service, each after the steps it comes after."""
        graph = {(s.host, s.container): list(s.after) for s in wave.steps}
        by_key = {(step.host, step.container): step for step in wave.steps}
        sorter = graphlib.TopologicalSorter(graph)
        sorter.prepare()
        while sorter.is_active():
            ready = list(sorter.get_ready())
            # Steps of one stage run side by side (e.g. fernet and credential setup).
            if len(ready) == 1:
                self._run_step(by_key[ready[0]])
            else:
                with ThreadPoolExecutor(max_workers=len(ready)) as stage:
                    for future in [stage.submit(self._run_step, by_key[k]) for k in ready]:
                        future.result()
            sorter.done(*ready)

    def _run_step(self, step: Step) -> None:
        started = self.clock.monotonic()
        verb = {
            Action.CREATE: "creating",
            Action.RECREATE: "replacing",
            Action.START: "starting",
            Action.RUN: "running",
            Action.REMOVE: "removing",
            Action.WAIT: "waiting for",
        }[step.action]
        self.say(f"  {verb} {step.container} ({step.cause})")
        try:
            engine = self.on(step.host)
            if step.action is Action.REMOVE:
                self._remove(engine, step.container)
            elif step.action is Action.RUN:
                self._run_job(engine, step)
            elif step.action in (Action.START, Action.WAIT):
                assert step.spec is not None
                if step.action is Action.START:
                    engine.start(step.container)
                self._gate(engine, step.spec, step.container)
                self._routed(step)
            elif step.action is Action.CREATE:
                assert step.spec is not None
                self._create_and_gate(engine, step)
                self._routed(step)
            else:
                self._replace(engine, step)
                self._routed(step)
        except StepFailed as exc:
            seconds = self.clock.monotonic() - started
            self.results.append(StepResult(step, seconds, False, str(exc), tuple(exc.log_tail)))
            self.say(f"  FAILED {step.container} after {seconds:.1f} s: {exc}")
            raise
        except EngineError as exc:
            seconds = self.clock.monotonic() - started
            self.results.append(StepResult(step, seconds, False, str(exc)))
            self.say(f"  FAILED {step.container} after {seconds:.1f} s: {exc}")
            raise StepFailed(f"{step.container} on {step.host}: {exc}", []) from None
        seconds = self.clock.monotonic() - started
        self.results.append(StepResult(step, seconds, True))
        done = {
            Action.CREATE: "created",
            Action.RECREATE: "replaced",
            Action.START: "started",
            Action.RUN: "ran",
            Action.REMOVE: "removed",
            Action.WAIT: "waited for",
        }[step.action]
        self.say(f"  {done} {step.container} in {seconds:.1f} s")

    def _config_dir(self, spec: ContainerSpec) -> str | None:
        return str(self.config_path(spec)) if spec.config_digest else None

    def _create_and_gate(self, engine: Engine, step: Step) -> None:
        assert step.spec is not None
        engine.create(step.spec, self._config_dir(step.spec))
        engine.start(step.container)
        self._gate(engine, step.spec, step.container)

    def _routed(self, step: Step) -> None:
        """Wait until the load balancers send traffic to a backend container again (their own
        checks take a moment after the container is healthy), so a finished deploy is usable."""
        frontends = [f.name for f in self.desired.frontends
                     if (step.host, step.container) in f.servers]  # fmt: skip
        if not frontends:
            return
        engine = self.on(step.host)
        for balancer, status in self.desired.balancers.get(step.host, ()):
            record = engine.inspect(balancer)
            if record is not None and record.running:
                self._wait_up(engine, balancer, list(status), frontends, step)

    def _wait_up(
        self, engine: Engine, balancer: str, status: list[str], frontends: list[str], step: Step
    ) -> None:
        deadline = self.clock.monotonic() + ROUTE_DEADLINE
        while self.clock.monotonic() < deadline:
            code, output = engine.exec(balancer, status)
            # `show stat` CSV: proxy name, server name, ..., column 18 the server's status.
            up = {(row[0], row[1]) for row in csv.reader(output.splitlines()) if len(row) > 17
                  and row[17].startswith("UP")}  # fmt: skip
            if code == 0 and all((name, step.host) in up for name in frontends):
                return
            self.clock.sleep(POLL)
        raise StepFailed(f"{balancer} does not route to {step.container} on {step.host} within "
                         f"{ROUTE_DEADLINE:.0f} s of it being healthy", [])  # fmt: skip

    def _replace(self, engine: Engine, step: Step) -> None:
        """Stop the current container, keep it aside, start the new one; on failure, roll back.
        When the old container is already aside (an interrupted run), whatever that run left
        under the name is discarded at once (no graceful stop: it is not the one serving, and
        a container killed while starting may ignore SIGTERM until the stop timeout) and the
        replacement starts over."""
        assert step.spec is not None
        previous = step.container + PREVIOUS
        if engine.inspect(previous) is None:
            engine.stop(step.container)
            engine.rename(step.container, previous)
        else:
            engine.remove(step.container)
        try:
            self._create_and_gate(engine, step)
        except (StepFailed, EngineError) as exc:
            tail = exc.log_tail if isinstance(exc, StepFailed) else []
            engine.remove(step.container)
            engine.rename(previous, step.container)
            engine.start(step.container)
            try:
                self._gate(engine, step.spec, step.container)
            except StepFailed:
                failed = f"{exc}; the previous container was started again but is not healthy"
                raise StepFailed(failed, tail) from None
            restored = f"{exc}; the previous {step.container} container was restored"
            raise StepFailed(restored, tail) from None
        engine.remove(previous)

    def _remove(self, engine: Engine, name: str) -> None:
        if engine.inspect(name) is not None:
            engine.stop(name)
            engine.remove(name)

    def _run_job(self, engine: Engine, step: Step) -> None:
        spec = step.spec
        assert spec is not None
        record = engine.inspect(step.container)
        adopted = (  # as the plan says, if the engine still agrees
            step.adopt
            and record is not None
            and record.labels.get(LABEL_HASH) == spec.spec_hash()
            # it may have ended since the plan was made: done if it succeeded
            and (record.running or record.exit_code == 0)
        )
        if not adopted:  # a job an interrupted run started is waited for, not started twice
            engine.remove(step.container)
            engine.create(spec, self._config_dir(spec))
            engine.start(step.container)
        code = engine.wait(step.container, spec.deadline)
        if code is None:
            tail = engine.logs(step.container, LOG_LINES)
            engine.stop(step.container, timeout=5)
            raise StepFailed(
                f"{step.container} on {step.host} did not finish within {spec.deadline:.0f} s", tail
            )
        if code != 0:
            raise StepFailed(
                f"{step.container} on {step.host} failed with exit code {code}",
                engine.logs(step.container, LOG_LINES),
            )

    def _gate(self, engine: Engine, spec: ContainerSpec, name: str) -> None:
        """Wait until the container passes its health check (run by stackyard at a short
        interval, so a deploy does not wait for the engine's own schedule)."""
        deadline = self.clock.monotonic() + spec.deadline
        test = list(spec.healthcheck.test) if spec.healthcheck else None
        settle = self.clock.monotonic() + 1.0
        last = ""
        while True:
            record = engine.inspect(name)
            if record is None or not record.running or record.restarting:
                code = record.exit_code if record else None
                raise StepFailed(
                    f"{name} exited (code {code}) instead of becoming healthy",
                    engine.logs(name, LOG_LINES),
                )
            if test is None:
                if self.clock.monotonic() >= settle:
                    break
            else:
                code, last = engine.exec(name, test)
                if code == 0:
                    break
            if self.clock.monotonic() >= deadline:
                lines = engine.logs(name, LOG_LINES)
                if last.strip():
                    lines.append(f"(health check: {last.strip().splitlines()[-1]})")
                raise StepFailed(
                    f"{name} did not become healthy within {spec.deadline:.0f} s", lines
                )
            self.clock.sleep(POLL)
        write_private(self.generated / GATED / record.id, "")


def wave_dependencies(waves: list[Wave]) -> dict[int, list[int]]:
    """Wave (by index) -> the waves it waits for: every wave of each service it comes after,
    and the batch of its own service before it."""
    of_service: dict[str, list[int]] = {}
    for index, wave in enumerate(waves):
        of_service.setdefault(wave.service, []).append(index)
    graph = {}
    for index, wave in enumerate(waves):
        before = [i for service in wave.after for i in of_service.get(service, [])]
        before += [i for i in of_service[wave.service] if waves[i].batch == wave.batch - 1]
        graph[index] = before
    return graph


def gated(generated: Path) -> frozenset[str]:
    """Ids of the containers a run saw pass their health gate (one marker file each)."""
    folder = generated / GATED
    if not folder.is_dir():
        return frozenset()
    return frozenset(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _only_removals(wave: Wave) -> bool:
    return all(step.action is Action.REMOVE for step in wave.steps)
