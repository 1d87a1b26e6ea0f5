"""Planning benchmark: the pure planner on generated deployments of 10, 100 and 1,000 hosts with
30 containers each, against a fake engine (an observed state built in memory). Prints figures.

    python -m benchmarks.planning

Two cases per size: a no-op (every container deployed as desired; the plan is empty) and a
rolling change (one option changed in one service on every host: 1 recreate per host).
"""

from __future__ import annotations

import time

from stackyard.deploy.model import (
    ContainerSpec,
    DesiredState,
    HealthCheck,
    ObservedContainer,
    ObservedState,
    RunState,
    ServiceState,
)
from stackyard.deploy.planner import plan

SERVICES = 10
PER_SERVICE = 3  # 30 containers per host


def desired(hosts: int, digest: str = "c0ffee") -> DesiredState:
    services = {}
    for s in range(SERVICES):
        name = f"service{s:02d}"
        specs = tuple(
            ContainerSpec(
                name=f"{name}_{c}", service=name, image=f"stackyard/{name}:2025.1-trixie",
                command=f"{name}-server --port {8000 + c}",
                environment=(("KOLLA_CONFIG_STRATEGY", "COPY_ALWAYS"), ("DEBUG", "false")),
                volumes=(f"{name}_{c}:/var/lib/{name}",),
                healthcheck=HealthCheck(("healthcheck_curl", f"http://localhost:{8000 + c}")),
                config_digest=digest if s == 0 else "beef00",
            )
            for c in range(PER_SERVICE)
        )  # fmt: skip
        depends = (f"service{s - 1:02d}",) if s else ()
        containers = {f"node{h:04d}": specs for h in range(hosts)}
        services[name] = ServiceState(name, depends, containers)
    return DesiredState(services)


def observed_from(state: DesiredState) -> ObservedState:
    containers: dict[str, dict[str, ObservedContainer]] = {}
    for service in state.services.values():
        for host, specs in service.containers.items():
            for spec in specs:
                containers.setdefault(host, {})[spec.name] = ObservedContainer(
                    spec.name, host, f"id-{host}-{spec.name}", RunState.RUNNING, spec.labels()
                )
    return ObservedState(containers)


def timed(state: DesiredState, observed: ObservedState) -> tuple[float, int]:
    best = float("inf")
    steps = 0
    for _ in range(3):
        started = time.perf_counter()
        result = plan(state, observed)
        best = min(best, time.perf_counter() - started)
        steps = len(result.steps)
    return best, steps


def main() -> None:
    print(f"{'hosts':>6} {'containers':>10} {'no-op plan':>12} {'1 change/host':>14} {'steps':>6}")
    for hosts in (10, 100, 1000):
        state = desired(hosts)
        observed = observed_from(state)
        noop, empty = timed(state, observed)
        assert empty == 0
        changed = desired(hosts, digest="d1ff")
        rolling, steps = timed(changed, observed)
        assert steps == hosts * PER_SERVICE
        print(f"{hosts:>6} {hosts * SERVICES * PER_SERVICE:>10} {noop:>11.3f}s {rolling:>13.3f}s "
              f"{steps:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
