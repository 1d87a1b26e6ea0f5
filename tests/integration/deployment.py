"""Test helpers for deploys on the real engine: run the `stackyard` command against a config
directory, look at what the engine runs, talk to the deployed Keystone."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml

from tests.integration.keystone_client import Keystone

STACKYARD = str(Path(sys.executable).with_name("stackyard"))
MANAGED = {"label": "stackyard.managed=true"}


@dataclass
class Cloud:
    config_dir: Path
    client: docker.DockerClient

    def run(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        env = {"STACKYARD_CONFIG_DIR": str(self.config_dir), "PATH": "/usr/sbin:/usr/bin:/bin"}
        result = subprocess.run(
            [STACKYARD, *args], capture_output=True, text=True, timeout=timeout, env=env
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"stackyard {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def run_with(self, path: Path, appended: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command with text appended to a config file, then restore the file."""
        good = path.read_text()
        path.write_text(good + appended)
        try:
            return self.run(*args, check=False)
        finally:
            path.write_text(good)

    def timed(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        started = time.monotonic()
        result = self.run(*args)
        return time.monotonic() - started, result

    @property
    def passwords(self) -> dict[str, str]:
        values: dict[str, str] = yaml.safe_load((self.config_dir / "passwords.yml").read_text())
        return values

    def write_globals(self, **values: object) -> None:
        (self.config_dir / "globals.yml").write_text(yaml.safe_dump(values))

    def containers(self) -> dict[str, dict[str, object]]:
        """name -> {id, started, status, kind, exit} for every stackyard container."""
        result = {}
        for container in self.client.containers.list(all=True, filters=MANAGED):
            state = container.attrs["State"]
            result[container.name] = {
                "id": container.id,
                "started": state.get("StartedAt"),
                "status": container.status,
                "kind": container.labels.get("stackyard.kind"),
                "exit": state.get("ExitCode"),
            }
        return result

    def services(self) -> dict[str, dict[str, object]]:
        return {n: c for n, c in self.containers().items() if c["kind"] == "service"}

    def keystone(self, vip: str) -> Keystone:
        return Keystone(f"http://{vip}:5000")

    def admin_token(self, vip: str) -> str:
        return self.keystone(vip).token("admin", self.passwords["keystone_admin_password"])


def managed(client: docker.DockerClient) -> dict[str, list[str]]:
    """Everything of stackyard's on the engine: containers, networks, volumes."""
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True, filters=MANAGED)),
        "networks": sorted(n.name for n in client.networks.list(filters=MANAGED)),
        "volumes": sorted(v.name for v in client.volumes.list(filters=MANAGED)),
    }
