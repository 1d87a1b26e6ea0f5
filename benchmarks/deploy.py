"""Deploy benchmark: cold deploy of the all-in-one control plane from built images, no-op
deploy, and a one-option reconfigure (a keystone.conf override). Prints figures; not a test.

    python -m benchmarks.deploy [--namespace stackyard] [--runs 3]

Each figure is the wall time of the `stackyard` command as an operator runs it (Python start
included). It REMOVES any stackyard deployment on this engine first (destroy with volumes) and
at the end; the images of --namespace must be built (`stackyard build`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STACKYARD = str(Path(sys.executable).with_name("stackyard"))


def run(config_dir: Path, *args: str) -> float:
    env = {"STACKYARD_CONFIG_DIR": str(config_dir), "PATH": "/usr/sbin:/usr/bin:/bin"}
    started = time.monotonic()
    result = subprocess.run([STACKYARD, *args], capture_output=True, text=True, env=env)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"stackyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def figures(name: str, values: list[float]) -> str:
    shown = " / ".join(f"{v:.2f}" for v in values)
    return f"{name:<28} {shown} s (median {statistics.median(values):.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="stackyard")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    destroy = ("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
    cold, noop, reconfigure = [], [], []
    with tempfile.TemporaryDirectory(prefix="stackyard-bench-") as tmp:
        config_dir = Path(tmp)
        (config_dir / "globals.yml").write_text(f"docker_namespace: {args.namespace}\n")
        run(config_dir, "genpwd")
        override = config_dir / "config" / "keystone.conf"
        override.parent.mkdir()
        for number in range(args.runs):
            override.unlink(missing_ok=True)
            run(config_dir, *destroy)
            cold.append(run(config_dir, "deploy"))
            noop.append(run(config_dir, "deploy"))
            override.write_text(f"[token]\nexpiration = {7200 + number}\n")
            reconfigure.append(run(config_dir, "reconfigure"))
        run(config_dir, *destroy)
    print(figures("cold deploy", cold))
    print(figures("no-op deploy", noop))
    print(figures("one-option reconfigure", reconfigure))


if __name__ == "__main__":
    main()
