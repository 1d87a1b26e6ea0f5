"""Server benchmark on a deployed core cloud: from `openstack server create` to an SSH login
over the server's floating IP, one server at a time, then ten servers at once (the time until
the last of them answers). Prints figures; not a test.

    python -m benchmarks.servers [--config-dir /etc/stackyard] [--runs 3] [--many 10]

It runs `stackyard init-runonce` first (idempotent: image, flavors, networks), uses a key pair
of its own (`bench`, removed at the end) and deletes the servers and floating IPs it made.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

STACKYARD = str(Path(sys.executable).with_name("stackyard"))


class Cloud:
    """The openstack CLI as the admin of a config dir (its clouds.yaml), and SSH with a key."""

    def __init__(self, config_dir: Path, key: Path) -> None:
        self.env = {"OS_CLIENT_CONFIG_FILE": str(config_dir / "clouds.yaml"),
                    "OS_CLOUD": "stackyard-admin", "PATH": "/usr/sbin:/usr/bin:/bin"}  # fmt: skip
        self.key = key

    def openstack(self, *args: str) -> str:
        result = subprocess.run(["openstack", *args], capture_output=True, text=True,
                                env=self.env, timeout=900, check=False)  # fmt: skip
        if result.returncode != 0:
            raise SystemExit(f"openstack {' '.join(args)}: {result.stderr}")
        return result.stdout.strip()

    def answers(self, address: str, deadline: float) -> float:
        """When (time.monotonic()) an SSH login to address first worked."""
        ssh = ["ssh", "-i", str(self.key), "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3",
               "-o", "LogLevel=ERROR", f"cirros@{address}", "true"]  # fmt: skip
        while time.monotonic() < deadline:
            if subprocess.run(ssh, capture_output=True, timeout=60, check=False).returncode == 0:
                return time.monotonic()
            time.sleep(1)
        raise SystemExit(f"no SSH login to {address} in time")

    def boot(self, name: str, count: int) -> tuple[list[str], list[str]]:
        """Servers (ids) made by one create command, each with a floating IP (addresses)."""
        many = ["--min", str(count), "--max", str(count)] if count > 1 else []
        self.openstack("server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                       "--key-name", "bench", "--network", "demo-net", *many, "--wait", name,
                       "-f", "value", "-c", "id")  # fmt: skip
        listed = self.openstack("server", "list", "--name", f"^{name}", "-f", "value", "-c", "ID")
        servers = listed.split()
        for server in servers:  # --wait waits for the first of several only
            while (status := self.status(server)) != "ACTIVE":
                if status == "ERROR":
                    raise SystemExit(f"server {server} failed to build")
                time.sleep(1)
        addresses = []
        for server in servers:
            address = self.openstack("floating", "ip", "create", "public1", "-f", "value",
                                     "-c", "floating_ip_address")  # fmt: skip
            self.openstack("server", "add", "floating", "ip", server, address)
            addresses.append(address)
        return servers, addresses

    def status(self, server: str) -> str:
        return self.openstack("server", "show", server, "-f", "value", "-c", "status")

    def remove(self, servers: list[str], addresses: list[str]) -> None:
        self.openstack("server", "delete", "--wait", *servers)
        self.openstack("floating", "ip", "delete", *addresses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", type=Path, default=Path("/etc/stackyard"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--many", type=int, default=10)
    args = parser.parse_args()
    env = {"STACKYARD_CONFIG_DIR": str(args.config_dir), "PATH": "/usr/sbin:/usr/bin:/bin"}
    subprocess.run([STACKYARD, "init-runonce"], env=env, check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="stackyard-bench-") as tmp:
        key = Path(tmp) / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        cloud = Cloud(args.config_dir, key)
        cloud.openstack("keypair", "create", "--public-key", f"{key}.pub", "bench")
        try:
            single = []
            for number in range(args.runs):
                started = time.monotonic()
                servers, addresses = cloud.boot(f"bench{number}", 1)
                single.append(cloud.answers(addresses[0], started + 600) - started)
                cloud.remove(servers, addresses)
            shown = " / ".join(f"{value:.1f}" for value in single)
            print(
                f"server create to SSH login: {shown} s (median {statistics.median(single):.1f} s)"
            )
            started = time.monotonic()
            servers, addresses = cloud.boot("benchmany", args.many)
            with ThreadPoolExecutor(len(addresses)) as pool:
                answered = list(pool.map(lambda a: cloud.answers(a, started + 1200), addresses))
            first, last = min(answered) - started, max(answered) - started
            print(f"{args.many} servers at once, create to SSH login: first {first:.1f} s, "
                  f"all {last:.1f} s")  # fmt: skip
            cloud.remove(servers, addresses)
        finally:
            cloud.openstack("keypair", "delete", "bench")


if __name__ == "__main__":
    main()
