"""Planning benchmark: the pure planner on generated deployments of 100, 1,000 and 10,000
hosts, against a fake engine (an observed state built in memory). Prints figures.

    python -m benchmarks.planning [--hosts 100 1000 10000]

The deployments look like real ones: one controller in 20 (30 containers: 10 services of 3),
the rest compute hosts (6 containers: 2 services of 3); every spec names its host (in its
environment and command) and its address, so no two hosts share a spec; one host in 10 has an
override of its own (another config digest); in the observed state one host in 50 drifted
(a container stopped, another created from an older spec). Each figure is one cold run: the
states are built anew and the planner's caches emptied first, so nothing computed for an
earlier run is reused. Two cases per size: a no-op (only the drift is planned) and a rolling
change (one option of the compute service changed on every compute host).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from stackyard.deploy import model
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


def host_name(number: int) -> str:
    return f"{'ctl' if number % 20 == 0 else 'cmp'}{number:05d}"


def spec(service: str, index: int, host: int, digest: str) -> ContainerSpec:
    address = f"10.{host // 65536}.{host // 256 % 256}.{host % 256}"
    port = 8000 + index
    override = "-override" if host % 10 == 3 else ""
    return ContainerSpec(
        name=f"{service}_{index}", service=service, image=f"stackyard/{service}:2025.1-trixie",
        command=f"{service}-server --host {host_name(host)} --bind {address}:{port}",
        environment=(("KOLLA_CONFIG_STRATEGY", "COPY_ALWAYS"), ("HOST", host_name(host)),
                     ("ADDRESS", address)),
        volumes=(f"{service}_{index}:/var/lib/{service}", "/etc/localtime:/etc/localtime:ro"),
        healthcheck=HealthCheck(("healthcheck_curl", f"http://{address}:{port}")),
        config_digest=f"{digest}{override}",
    )  # fmt: skip


def desired(hosts: int, compute_digest: str = "c0ffee") -> DesiredState:
    services: dict[str, ServiceState] = {}
    previous: tuple[str, ...] = ()
    for name in CONTROL_SERVICES + COMPUTE_SERVICES:
        controller = name in CONTROL_SERVICES
        digest = "beef00" if controller else compute_digest
        containers = {
            host_name(h): tuple(spec(name, i, h, digest) for i in range(PER_SERVICE))
            for h in range(hosts)
            if (h % 20 == 0) == controller
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


def cold() -> None:
    """Empty the caches the planner's spec records use, so a run computes every record."""
    for function in (model._record_json, model._record_hash):
        function.cache_clear()


def timed(hosts: int, compute_digest: str) -> tuple[float, int, int]:
    """Seconds of one cold plan, its steps, and the containers planned."""
    observed = observed_from(desired(hosts))
    state = desired(hosts, compute_digest)
    cold()
    started = time.perf_counter()
    steps = len(plan(state, observed).steps)
    seconds = time.perf_counter() - started
    return seconds, steps, sum(len(host) for host in observed.containers.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[100, 1000, 10000])
    args = parser.parse_args()
    print(f"{'hosts':>6} {'containers':>10} {'no-op (drift only)':>19} {'steps':>6} "
          f"{'rolling change':>15} {'steps':>6}")  # fmt: skip
    for hosts in args.hosts:
        noop, drift, count = timed(hosts, "c0ffee")
        rolling, steps, _ = timed(hosts, "d1ff")
        print(f"{hosts:>6} {count:>10} {noop:>18.2f}s {drift:>6} "
              f"{rolling:>14.2f}s {steps:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
