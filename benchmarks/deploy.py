"""Deploy benchmark: cold deploy of the all-in-one from built images, no-op deploy, and a
one-option reconfigure (an override of nova.conf for the core cloud, of keystone.conf for the
identity plane). Prints figures; not a test.

    python -m benchmarks.deploy [--profile core|identity] [--namespace stackyard] [--runs 3]

Each figure is the wall time of the `stackyard` command as an operator runs it (Python start
included); for the reconfigure, the steps of the last run are listed with their times (steps of
one service run side by side, so they overlap). It REMOVES any stackyard deployment on this
engine first (destroy with volumes) and at the end; the images of --namespace must be built
(`stackyard build`).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STACKYARD = str(Path(sys.executable).with_name("stackyard"))
# Per profile: its globals.yml settings, and the override file with one option a run changes.
PROFILES = {
    "core": ("", "nova.conf", "[DEFAULT]\nreserved_host_memory_mb = {}\n", 512),
    "identity": (
        "enable_openstack_core: no\n",
        "keystone.conf",
        "[token]\nexpiration = {}\n",
        7200,
    ),
}


# A step's line in stackyard's progress output: "  replaced nova_api in 8.3 s", "  waited
# for keystone in 2.0 s".
STEP = re.compile(r"^  (\w+(?: for)?) (\S+) in ([0-9.]+) s$", re.MULTILINE)


def run(config_dir: Path, *args: str, steps: list[str] | None = None) -> float:
    """Seconds the command took; `steps` gets its steps, slowest first, where given."""
    env = {"STACKYARD_CONFIG_DIR": str(config_dir), "PATH": "/usr/sbin:/usr/bin:/bin"}
    started = time.monotonic()
    result = subprocess.run([STACKYARD, *args], capture_output=True, text=True, env=env)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"stackyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    if steps is not None:
        found = sorted(STEP.findall(result.stdout), key=lambda m: -float(m[2]))
        steps[:] = [f"{done} {name} {float(seconds):.1f} s" for done, name, seconds in found]
    return elapsed


def figures(name: str, values: list[float]) -> str:
    shown = " / ".join(f"{v:.2f}" for v in values)
    return f"{name:<28} {shown} s (median {statistics.median(values):.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="core")
    parser.add_argument("--namespace", default="stackyard")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    destroy = ("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
    cold, noop, reconfigure = [], [], []
    steps: list[str] = []
    with tempfile.TemporaryDirectory(prefix="stackyard-bench-") as tmp:
        config_dir = Path(tmp)
        settings, file, option, value = PROFILES[args.profile]
        (config_dir / "globals.yml").write_text(f"docker_namespace: {args.namespace}\n{settings}")
        run(config_dir, "genpwd")
        override = config_dir / "config" / file
        override.parent.mkdir()
        for number in range(args.runs):
            override.unlink(missing_ok=True)
            run(config_dir, *destroy)
            cold.append(run(config_dir, "deploy"))
            noop.append(run(config_dir, "deploy"))
            override.write_text(option.format(value + number))
            reconfigure.append(run(config_dir, "reconfigure", steps=steps))
        run(config_dir, *destroy)
    print(f"profile {args.profile}, {args.runs} runs")
    print(figures("cold deploy", cold))
    print(figures("no-op deploy", noop))
    print(figures(f"one-option reconfigure ({file})", reconfigure))
    print(f"  its steps in the last run, slowest first: {'; '.join(steps)}")


if __name__ == "__main__":
    main()
