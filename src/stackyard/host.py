"""Make the local host ready to build and run containers (side effects: apt, daemons).

`bootstrap` is idempotent: it installs Debian's docker.io and debootstrap only when missing,
starts dockerd only when the engine does not answer (through systemd where it runs, else as a
background daemon with pid and log files) and waits for the engine's API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackyard.engine.docker_engine import connect
from stackyard.errors import EngineError, HostError

PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap"}
LOG_FILE = Path("/var/log/stackyard/dockerd.log")
PID_FILE = Path("/run/stackyard-dockerd.pid")


@dataclass(frozen=True, slots=True)
class BootstrapReport:
    installed: tuple[str, ...]
    started: str | None  # "systemd", "daemon" or None when the engine already ran
    engine_version: str


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def check_debian(os_release: dict[str, str]) -> None:
    ids = {os_release.get("ID", "")} | set(os_release.get("ID_LIKE", "").split())
    if "debian" not in ids:
        name = os_release.get("PRETTY_NAME") or os_release.get("ID") or "unknown"
        raise HostError(f"stackyard host bootstrap supports Debian hosts only; this is {name!r}")


def bootstrap(timeout: float = 60.0, say: Callable[[str], None] = print) -> BootstrapReport:
    check_debian(read_os_release())
    missing = [pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None]
    if missing:
        say(f"installing {' '.join(missing)} from Debian")
        _apt_install(missing)
    version = _engine_version()
    started = None
    if version is None:
        started = _start_dockerd(say)
        version = _wait_for_engine(timeout)
    say(f"container engine ready (Docker {version})")
    return BootstrapReport(tuple(missing), started, version)


def _apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise HostError(f"`{' '.join(command)}` failed (exit {proc.returncode}):\n{tail}")


def _engine_version() -> str | None:
    try:
        engine = connect(timeout=10)
    except EngineError:
        return None
    return str(engine.api.version().get("Version", "unknown"))


def _start_dockerd(say: Callable[[str], None]) -> str:
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        say("starting docker.service with systemd")
        subprocess.run(["systemctl", "start", "docker.service"], check=False)
        return "systemd"
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    say(f"starting dockerd in the background (log {LOG_FILE}, pid file {PID_FILE})")
    with LOG_FILE.open("ab") as log:
        subprocess.Popen(
            ["dockerd", "--pidfile", str(PID_FILE)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    return "daemon"


def _wait_for_engine(timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = _engine_version()
        if version is not None:
            return version
        time.sleep(0.5)
    raise HostError(
        f"the container engine did not come up within {timeout:.0f} s; last lines of its log:\n"
        + _log_tail()
    )


def _log_tail(lines: int = 15) -> str:
    if Path("/run/systemd/system").is_dir():
        proc = subprocess.run(
            ["journalctl", "-u", "docker.service", "-n", str(lines), "--no-pager"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return proc.stdout.strip()
    try:
        return "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({LOG_FILE} is missing)"
