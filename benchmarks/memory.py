"""Memory benchmark: the resident memory of an idle deployment, per container and in total,
with each container's process count. Prints figures; not a test.

    python -m benchmarks.memory [--settle 60]

It reads the running stackyard containers on this engine as they are (deploy first; no server
should be running, or its QEMU counts in nova_libvirt). Memory is the container's cgroup usage
less its inactive file cache, as `docker stats` shows it; processes are those `docker top` lists.
"""

from __future__ import annotations

import argparse
import time

import docker

from stackyard.deploy.model import LABEL_MANAGED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait first")
    args = parser.parse_args()
    time.sleep(args.settle)
    client = docker.from_env(timeout=120)
    rows = []
    for container in client.containers.list(filters={"label": f"{LABEL_MANAGED}=true"}):
        stats = container.stats(stream=False)["memory_stats"]
        cache = stats.get("stats", {}).get("inactive_file", 0)
        processes = len(container.top()["Processes"] or [])
        rows.append((stats["usage"] - cache, processes, container.name))
    rows.sort(reverse=True)
    print(f"{'container':<32}{'MiB':>8}{'processes':>11}")
    for used, processes, name in rows:
        print(f"{name:<32}{used / 2**20:8.0f}{processes:11d}")
    total = sum(used for used, _, _ in rows)
    print(f"{len(rows)} containers, {sum(p for _, p, _ in rows)} processes, "
          f"{total / 2**30:.2f} GiB in all")  # fmt: skip


if __name__ == "__main__":
    main()
