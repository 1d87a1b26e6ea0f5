"""Test helpers for deploys on the real engine: run the `stackyard` command against a config
directory, look at what the engine runs, talk to the deployed Keystone."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml

from stackyard.deploy.model import CONFIG_MOUNT
from tests.integration.keystone_client import Keystone

STACKYARD = str(Path(sys.executable).with_name("stackyard"))
MANAGED = {"label": "stackyard.managed=true"}

# Passwords an operator chose, with what means something to SQL, shells and YAML; genpwd keeps
# them and the deploys in the suite run with them. A password that goes into a database URL may
# hold only URL-safe characters (config validation refuses others).
OPERATOR_PASSWORDS = {
    "database_password": "r00t'\"\\n$HOME@x/y:z#%;",
    "keystone_database_password": "Keystone-db_pass.word~2026",
    "keystone_admin_password": 'Adm\'n "$USER" \\%s @/:#!*{}',
}


@dataclass
class Cloud:
    config_dir: Path
    client: docker.DockerClient

    def run(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [STACKYARD, *args], capture_output=True, text=True, timeout=timeout, env=self.env()
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"stackyard {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        if (self.config_dir / "passwords.yml").exists():
            audit_output(self.passwords, result)
        converged = args[:1] in (("deploy",), ("reconfigure",)) and "--dry-run" not in args
        if converged and result.returncode == 0:
            audit_deployment(self)
        return result

    def env(self) -> dict[str, str]:
        return {"STACKYARD_CONFIG_DIR": str(self.config_dir), "PATH": "/usr/sbin:/usr/bin:/bin"}

    def openstack(self, *args: str, timeout: float = 300) -> str:
        """The openstack CLI on this host as the admin (clouds.yaml from post-deploy)."""
        env = {**self.env(), "OS_CLIENT_CONFIG_FILE": str(self.config_dir / "clouds.yaml"),
               "OS_CLOUD": "stackyard-admin"}  # fmt: skip
        run = subprocess.run(["openstack", *args], capture_output=True, text=True, env=env,
                             timeout=timeout, check=False)  # fmt: skip
        assert run.returncode == 0, f"openstack {' '.join(args)}: {run.stderr}"
        return run.stdout.strip()

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

    def write_passwords(self, values: dict[str, str]) -> None:
        path = self.config_dir / "passwords.yml"
        path.write_text(yaml.safe_dump(values))
        path.chmod(0o600)

    @property
    def passwords(self) -> dict[str, str]:
        values: dict[str, str] = yaml.safe_load((self.config_dir / "passwords.yml").read_text())
        return values

    def write_globals(self, **values: object) -> None:
        (self.config_dir / "globals.yml").write_text(yaml.safe_dump(values))

    def containers(self) -> dict[str, dict[str, object]]:
        """name -> {id, started, status, kind, exit} for every stackyard container."""
        result = {}
        # ignore_removed: right after a killed run the engine may still be finishing a
        # removal that run asked for.
        listed = self.client.containers.list(all=True, filters=MANAGED, ignore_removed=True)
        for container in listed:
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


# Who is connected to what, from the kernel's socket tables --------------------------------------


def _sockets(pid: int) -> list[tuple[int, int, bool, str]]:
    """The TCP sockets of a process's network namespace: local port, remote port, whether the
    connection is established, and the socket's inode."""
    rows = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
            rows.append((local, remote, fields[3] == "01", fields[9]))
    return rows


def connected_to(client: docker.DockerClient, port: int) -> Counter[str]:
    """Established TCP connections to `port` (any address) per running stackyard container:
    each socket is found by its inode among the open files of the container's processes, so
    containers on the host's network, which share one socket table, are told apart too."""
    found: Counter[str] = Counter()
    for container in client.containers.list(filters=MANAGED, ignore_removed=True):
        pids = [int(row[0]) for row in container.top(ps_args="-o pid")["Processes"]]
        inodes = set()
        for pid in pids:
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        target = os.readlink(fd)
                        if target.startswith("socket:["):
                            inodes.add(target[8:-1])
        count = sum(
            1
            for _, remote, established, inode in _sockets(pids[0])
            if remote == port and established and inode in inodes
        )
        if count:
            found[container.name] = count
    return found


def accepted_on(client: docker.DockerClient, name: str, port: int) -> int:
    """Established connections a container's server accepted on `port`."""
    pid = client.containers.get(name).attrs["State"]["Pid"]
    return sum(1 for local, _, established, _ in _sockets(pid) if local == port and established)


# memcached's counters, asked from keystone's container with keystone's own cache credentials.
_MEMCACHED_STATS = """
import configparser, json, bmemcached
conf = configparser.RawConfigParser(strict=False)
conf.read("/etc/keystone/keystone.conf")
cache = conf["cache"]
client = bmemcached.Client([cache["memcache_servers"]], cache["memcache_username"],
                           cache["memcache_password"])
[stats] = client.stats().values()
text = {str(k, "ascii") if isinstance(k, bytes) else k: str(v, "ascii") if isinstance(v, bytes)
        else str(v) for k, v in stats.items()}
print(json.dumps({k: int(v) for k, v in text.items() if v.isdigit()}))
"""


def memcached_stats(client: docker.DockerClient) -> dict[str, int]:
    """memcached's numeric counters (curr_items, get_hits, auth_errors, ...)."""
    keystone = client.containers.get("keystone")
    code, output = keystone.exec_run(["python3", "-c", _MEMCACHED_STATS])
    assert code == 0, output
    stats: dict[str, int] = json.loads(output)
    return stats


# Audits run after every successful deploy in the suite (Cloud.run) --------------------------

# CRITICAL lines and tracebacks a healthy deployment may log, each matched with the line before
# it (a traceback's first line says nothing of its cause) and with the reason it is harmless.
LOG_ALLOWED: tuple[re.Pattern[str], ...] = (
    # heat-engine under eventlet: SQLAlchemy resets a pooled connection from the hub while the
    # connection is garbage-collected; pymysql may not block there, so the connection is
    # closed instead of returned to the pool (a new one is opened when needed).
    re.compile(
        r"Exception during reset or similar: RuntimeError: do not call blocking "
        r"functions from the mainloop\n.* Traceback \(most recent call last\):$"
    ),
)
LOG_FORBIDDEN = re.compile(r"CRITICAL|Traceback \(most recent call last\)")
# Allowed tracebacks known by their first frame (the traceback line and the next one):
LOG_ALLOWED_BLOCKS: tuple[re.Pattern[str], ...] = (
    # Debian's eventlet under Python 3.13: in a child that an eventlet-patched service forks
    # (privsep helpers, processutils), threading's _after_fork trips an eventlet assert, which
    # Python reports ("Exception ignored in: <function _after_fork ...>") and ignores; the child
    # goes on (nova-compute, neutron-server). That report's first line is not always the line
    # before: the engine merges the service's two output streams, and a log line of the parent
    # may come between (seen in CI on neutron-server).
    re.compile(
        r"^Traceback \(most recent call last\):\n"
        r'  File "/usr/lib/python3[.0-9]*/threading\.py", line [0-9]+, in _after_fork$'
    ),
)
PRIVATE_FILES = ("passwords.yml", "clouds.yaml", "admin-openrc.sh")


def audit_output(passwords: dict[str, str], result: subprocess.CompletedProcess[str]) -> None:
    """No secret value appears in anything stackyard prints (its only log is its output)."""
    text = result.stdout + result.stderr
    leaked = sorted(name for name, value in passwords.items() if value and str(value) in text)
    assert not leaked, f"stackyard {' '.join(map(str, result.args[1:]))} printed {leaked}"


def audit_deployment(cloud: Cloud) -> None:
    audit_files(cloud.config_dir, cloud.client)
    audit_containers(cloud.client, cloud.passwords)


def audit_files(config_dir: Path, client: docker.DockerClient) -> None:
    """Every file stackyard wrote is 0600 and every folder 0700; the credentials and the
    folders above each container's config are root's, a container's config folder belongs to
    the user the container runs as (it copies its files without privilege)."""
    paths = [config_dir / name for name in PRIVATE_FILES if (config_dir / name).exists()]
    generated = config_dir / "generated"
    owners = {c.name: c.attrs["Config"]["User"]
              for c in client.containers.list(all=True, filters=MANAGED)}  # fmt: skip
    wrong = []
    for path in [*paths, *([generated, *generated.rglob("*")] if generated.exists() else [])]:
        relative = path.relative_to(generated).parts if path.is_relative_to(generated) else ()
        user = owners.get(relative[0], "0:0") if len(relative) > 1 else "0:0"
        info = path.stat()
        wanted = 0o700 if path.is_dir() else 0o600
        if f"{info.st_uid}:{info.st_gid}" != user or info.st_mode & 0o777 != wanted:
            wrong.append(f"{path} {info.st_uid}:{info.st_gid} {info.st_mode & 0o777:o} "
                         f"(want {user} {wanted:o})")  # fmt: skip
    assert not wrong, "generated files with the wrong owner or mode:\n" + "\n".join(wrong)


# Capability numbers (linux/capability.h) of those any service declares.
# Linux capability numbers (linux/capability.h), in their order.
CAPABILITY_BITS = {
    name: bit
    for bit, name in enumerate(
        [
            "CHOWN",
            "DAC_OVERRIDE",
            "DAC_READ_SEARCH",
            "FOWNER",
            "FSETID",
            "KILL",
            "SETGID",
            "SETUID",
            "SETPCAP",
            "LINUX_IMMUTABLE",
            "NET_BIND_SERVICE",
            "NET_BROADCAST",
            "NET_ADMIN",
            "NET_RAW",
            "IPC_LOCK",
            "IPC_OWNER",
            "SYS_MODULE",
            "SYS_RAWIO",
            "SYS_CHROOT",
            "SYS_PTRACE",
            "SYS_PACCT",
            "SYS_ADMIN",
            "SYS_BOOT",
            "SYS_NICE",
            "SYS_RESOURCE",
            "SYS_TIME",
            "SYS_TTY_CONFIG",
            "MKNOD",
            "LEASE",
            "AUDIT_WRITE",
            "AUDIT_CONTROL",
            "SETFCAP",
            "MAC_OVERRIDE",
            "MAC_ADMIN",
            "SYSLOG",
            "WAKE_ALARM",
            "BLOCK_SUSPEND",
            "AUDIT_READ",
            "PERFMON",
            "BPF",
            "CHECKPOINT_RESTORE",
        ]
    )
}


def audit_containers(client: docker.DockerClient, passwords: dict[str, str]) -> None:
    """Services run healthy, unrestarted, as their image's user, with read-only config; jobs
    exited 0. Every container, exited ones too: no secret in what `docker inspect` shows
    (environment, command, labels), every capability dropped but those its service declares,
    no-new-privileges, a rotated log and a process limit. No log has a CRITICAL line or a
    traceback outside LOG_ALLOWED."""
    problems = []
    secrets = {k: v for k, v in passwords.items() if v}
    for container in client.containers.list(all=True, filters=MANAGED):
        name, state, attrs = container.name, container.attrs["State"], container.attrs
        host = attrs["HostConfig"]
        spec = json.loads(container.labels["stackyard.spec"])
        shown = json.dumps([attrs["Config"], attrs["Args"], attrs["Path"]])
        leaked = sorted(k for k, v in secrets.items() if v in shown)
        if leaked:
            problems.append(f"{name}: docker inspect shows the value of {leaked}")
        if host["CapDrop"] != ["ALL"] or sorted(host["CapAdd"] or []) != sorted(spec["cap_add"]):
            problems.append(f"{name}: capabilities {host['CapDrop']} {host['CapAdd']}")
        if "no-new-privileges" not in (host["SecurityOpt"] or []):
            problems.append(f"{name}: without no-new-privileges")
        if not host["LogConfig"]["Config"].get("max-size") or not host["PidsLimit"]:
            problems.append(f"{name}: log {host['LogConfig']}, pids limit {host['PidsLimit']}")
        if container.labels.get("stackyard.kind") == "job":
            if state["Status"] != "exited" or state["ExitCode"] != 0:
                problems.append(f"job {name}: {state['Status']} (exit {state['ExitCode']})")
        else:
            health = (state.get("Health") or {}).get("Status")
            if state["Status"] != "running" or health == "unhealthy":
                problems.append(f"{name}: {state['Status']}, health {health}")
            if attrs["RestartCount"]:
                problems.append(f"{name}: restarted {attrs['RestartCount']} times")
            # Every process runs as the image's user: root only where the image says so
            # (keepalived, the host firewall, libvirt), with nothing but its declared
            # capabilities; a root container's children may only drop to another user
            # (libvirt's QEMU runs as qemu).
            uid = spec["user"].split(":")[0]
            top = container.top(ps_args="-eo pid,uid,comm")
            others = [p for p in top["Processes"]
                      if p[1] != uid and not (uid == "0" and p[1] != "0")]  # fmt: skip
            if others or attrs["Config"]["User"] != spec["user"]:
                problems.append(f"{name}: processes not running as {uid}: {others}")
            code, status = container.exec_run(["cat", "/proc/1/status"])
            bounding = re.search(r"CapBnd:\s*([0-9a-f]+)", status.decode())
            wanted = sum(1 << CAPABILITY_BITS[c] for c in spec["cap_add"])
            found = int(bounding.group(1), 16) if bounding and not code else None
            if found != wanted:
                problems.append(f"{name}: capability bounding set {found}, want {wanted:x}")
        for mount in attrs["Mounts"]:
            if mount["Destination"] == CONFIG_MOUNT and mount["RW"]:
                problems.append(f"{name}: {CONFIG_MOUNT} is mounted read-write")
        lines = container.logs().decode(errors="replace").splitlines()
        for index, line in enumerate(lines):
            previous = lines[index - 1] if index else ""
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if LOG_FORBIDDEN.search(line) and not (
                any(a.search(f"{previous}\n{line}") for a in LOG_ALLOWED)
                or any(b.search(f"{line}\n{following}") for b in LOG_ALLOWED_BLOCKS)
            ):
                problems.append(f"{name} log: {previous.strip()[:200]}\n  {line.strip()[:200]}")
    assert not problems, "deployment audit:\n" + "\n".join(problems)
