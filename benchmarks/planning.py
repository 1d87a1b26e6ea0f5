"""Planning benchmark: the pure planner on generated deployments of 100, 1,000 and 10,000
hosts, against a fake engine (an observed state built in memory). Prints figures.

    python -m benchmarks.planning [--hosts 100 1000 10000] [--controller-every 20]

The deployments look like real ones: one controller in 20 (30 containers: 10 services of 3),
the rest compute hosts (6 containers: 2 services of 3; `--controller-every 1` makes every host
a controller, for 30 containers per host); every spec names its host (in its
environment and command) and its address, so no two hosts share a spec; one host in 10 has an
override of its own (another config digest); in the observed state one host in 50 drifted
(a container stopped, another created from an older spec). Each figure is one cold run: the
states are built anew (the planner keeps no cache), so nothing computed for an earlier run is
reused. Two cases per size: a no-op (only the drift is planned) and a rolling
change (one option changed in the compute services and in one controller service: every
container of those is replaced, on every host).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

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

CONTROL_SERVICES = [f"control{s:02d}" for s in range(10)]
COMPUTE_SERVICES = ["compute00", "compute01"]
PER_SERVICE = 3
CHANGED = {*COMPUTE_SERVICES, CONTROL_SERVICES[0]}  # what the rolling change touches


def host_name(number: int, every: int) -> str:
    return f"{'ctl' if number % every == 0 else 'cmp'}{number:05d}"


def spec(service: str, index: int, host: int, every: int, digest: str) -> ContainerSpec:
    name = host_name(host, every)
    address = f"10.{host // 65536}.{host // 256 % 256}.{host % 256}"
    port = 8000 + index
    override = "-override" if host % 10 == 3 else ""
    return ContainerSpec(
        name=f"{service}_{index}", service=service, image=f"stackyard/{service}:2025.1-trixie",
        command=f"{service}-server --host {name} --bind {address}:{port}",
        environment=(("KOLLA_CONFIG_STRATEGY", "COPY_ALWAYS"), ("HOST", name),
                     ("ADDRESS", address)),
        volumes=(f"{service}_{index}:/var/lib/{service}", "/etc/localtime:/etc/localtime:ro"),
        healthcheck=HealthCheck(("healthcheck_curl", f"http://{address}:{port}")),
        config_digest=f"{digest}{override}",
    )  # fmt: skip


def desired(hosts: int, every: int, changed_digest: str = "c0ffee") -> DesiredState:
    services: dict[str, ServiceState] = {}
    previous: tuple[str, ...] = ()
    for name in CONTROL_SERVICES + COMPUTE_SERVICES:
        controller = name in CONTROL_SERVICES
        digest = changed_digest if name in CHANGED else "beef00"
        containers = {
            host_name(h, every): tuple(spec(name, i, h, every, digest) for i in range(PER_SERVICE))
            for h in range(hosts)
            if (h % every == 0) == controller
        }
        services[name] = ServiceState(name, previous, containers)
        previous = (name,)
    return DesiredState(services)


def observed_from(state: DesiredState) -> ObservedState:
    """Everything as desired, but on one host in 50: its first container stopped, its second
    created from an older spec (another config digest)."""
    containers: dict[str, dict[str, ObservedContainer]] = {}
    for service in state.services.values():
        for host, specs in service.containers.items():
            drifted = int(host[3:]) % 50 == 7
            for index, wanted in enumerate(specs):
                was = wanted
                if drifted and index == 1:
                    was = replace(wanted, config_digest="old")
                stopped = drifted and index == 0
                containers.setdefault(host, {})[wanted.name] = ObservedContainer(
                    wanted.name, host, f"id-{host}-{wanted.name}",
                    RunState.STOPPED if stopped else RunState.RUNNING, was.labels(),
                    exit_code=0 if stopped else None,
                )  # fmt: skip
    return ObservedState(containers)


def timed(hosts: int, every: int, changed_digest: str) -> tuple[float, int, int]:
    """Seconds of one cold plan, its steps, and the containers planned."""
    observed = observed_from(desired(hosts, every))
    state = desired(hosts, every, changed_digest)
    started = time.perf_counter()
    steps = len(plan(state, observed).steps)
    seconds = time.perf_counter() - started
    return seconds, steps, sum(len(host) for host in observed.containers.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--controller-every", type=int, default=20, metavar="N")
    args = parser.parse_args()
    print(f"{'hosts':>6} {'containers':>10} {'no-op (drift only)':>19} {'steps':>6} "
          f"{'rolling change':>15} {'steps':>6}")  # fmt: skip
    for hosts in args.hosts:
        noop, drift, count = timed(hosts, args.controller_every, "c0ffee")
        rolling, steps, _ = timed(hosts, args.controller_every, "d1ff")
        print(f"{hosts:>6} {count:>10} {noop:>18.2f}s {drift:>6} "
              f"{rolling:>14.2f}s {steps:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
