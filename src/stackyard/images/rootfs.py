"""Make the distro root image without any registry: debootstrap (minbase) + docker import.

The root filesystem is cleaned of apt lists, caches and documentation before import, and gets
the files under `data/rootfs` (docker-clean apt config, no recommends, a policy-rc.d that
blocks service starts), so no image built on it carries package caches.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from stackyard.engine.docker_engine import LineSink
from stackyard.errors import HostError, MirrorError
from stackyard.images.cache import folder_digest, root_key
from stackyard.images.model import BuildOptions

# Bump when the way the root filesystem is made changes, so cached roots are rebuilt.
RECIPE = "debootstrap-minbase-1"
# Emptied before import (package lists and caches, documentation, translations); log files go
# too but their directories stay, as packages expect them.
CLEAN = (
    "var/lib/apt/lists",
    "var/cache/apt",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
KEEP = {"usr/share/locale/locale.alias"}


def overlay_root() -> Path:
    return Path(str(resources.files("stackyard") / "data" / "rootfs"))


def cache_key(options: BuildOptions) -> str:
    return root_key(options, folder_digest(overlay_root()), RECIPE)


def check_mirror(mirror: str, suite: str, timeout: float = 15.0) -> None:
    """Fail fast, with the URL, when the Debian mirror cannot serve the suite."""
    url = f"{mirror.rstrip('/')}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(1)
    except urllib.error.HTTPError as exc:
        raise MirrorError(
            f"mirror {mirror} has no suite {suite!r} ({url}: HTTP {exc.code})"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MirrorError(
            f"cannot reach the Debian mirror {mirror} ({url}: {reason}); "
            "give a reachable one with --mirror"
        ) from None


def make_root_tarball(options: BuildOptions, workdir: Path, log: LineSink) -> Path:
    """debootstrap the suite into workdir and pack it as a tarball ready for import."""
    if shutil.which("debootstrap") is None:
        raise HostError("debootstrap is not installed; run `stackyard host bootstrap`")
    target = workdir / "rootfs"
    command = [
        "debootstrap", "--variant=minbase", "--components=main",
        options.suite, str(target), options.apt_mirror,
    ]  # fmt: skip
    _run(command, log, "debootstrap")
    _clean(target)
    (target / "etc" / "resolv.conf").unlink(missing_ok=True)
    (target / "etc" / "hostname").unlink(missing_ok=True)
    (target / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (target / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    shutil.copytree(overlay_root(), target, dirs_exist_ok=True)
    tarball = workdir / "rootfs.tar"
    _run(["tar", "--numeric-owner", "-C", str(target), "-cf", str(tarball), "."], log, "tar")
    shutil.rmtree(target)
    return tarball


def _clean(target: Path) -> None:
    for rel in CLEAN:
        path = target / rel
        for child in path.iterdir() if path.is_dir() else ():
            if child.relative_to(target).as_posix() in KEEP:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for log_file in (target / "var/log").rglob("*"):
        if log_file.is_file():
            log_file.unlink()
    for stale in (target / "var/cache/debconf").glob("*-old"):
        stale.unlink()


def _run(command: list[str], log: LineSink, what: str) -> None:
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            log(line.rstrip())
            tail = [*tail[-19:], line.rstrip()]
        if proc.wait() != 0:
            raise HostError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail))
