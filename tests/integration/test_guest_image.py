"""The guest disk of the cirros image, booted for real: QEMU with software emulation (TCG, no
KVM), user-mode networking and a metadata service on this machine.

The disk comes out of `<namespace>/cirros:<tag>` (the session's cold build; or the image named
by STACKYARD_TEST_GUEST_IMAGE, a developer shortcut that builds nothing). QEMU's slirp network
is link-local (169.254.0.0/16) and restricted (the guest reaches nothing beyond QEMU): its
DHCP gives the guest an address, a `guestfwd` rule hands each connection to
169.254.169.254:80 to a tiny HTTP responder started by QEMU on this machine (EC2 and OpenStack
paths, files in a folder), and SSH reaches the guest through a port forwarded from 127.0.0.1.
The guest must get its address, fetch its key, hostname and user-data, print its marker lines
on the serial console and let the cirros user in with the key and with CirrOS's password.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.engine

GUEST_DIR = "/usr/share/stackyard/guest"
IMAGE_VARIABLE = "STACKYARD_TEST_GUEST_IMAGE"
MAX_DISK_BYTES = 20 * 1024 * 1024
BOOT_TIMEOUT = 240.0  # TCG on a busy 2-core machine; alone it takes about 10 s
MARKER = "stackyard-guest: "
# slirp's network: the guest, QEMU's own address (gateway, answers ping) and the metadata service
NETWORK = "169.254.0.0/16"
GATEWAY = "169.254.0.1"
FIRST_GUEST_ADDRESS = "169.254.0.15"
METADATA_ADDRESS = "169.254.169.254"
HOSTNAME = "sytest-guest.novalocal"
PASSWORD = "gocubsgo"

# QEMU runs this for each connection to the metadata address, the connection on stdin and
# stdout: one HTTP request, answered with the file of that path under the folder (else 404).
METADATA_RESPONDER = r"""
import os, sys
root = os.path.realpath(sys.argv[1])
request = sys.stdin.buffer.readline().decode("latin-1").split()
while sys.stdin.buffer.readline() not in (b"\r\n", b"\n", b""):
    pass
path = request[1].split("?")[0] if len(request) > 1 else "/"
target = os.path.realpath(os.path.join(root, path.lstrip("/")))
if target.startswith(root + os.sep) and os.path.isfile(target):
    status, body = "200 OK", open(target, "rb").read()
else:
    status, body = "404 Not Found", b"not found\n"
head = f"HTTP/1.0 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
sys.stdout.buffer.write(head.encode() + body)
sys.stdout.buffer.flush()
with open(sys.argv[2], "a") as log:
    log.write(f"{path} {status.split()[0]}\n")
"""


@pytest.fixture(scope="module")
def guest_image(request: pytest.FixtureRequest) -> str:
    """The cirros image to take the disk from: the cold build's, unless the variable names one."""
    named = os.environ.get(IMAGE_VARIABLE)
    if named:
        return named
    _, report = request.getfixturevalue("cold_build")
    result = next(r for r in report.results if r.name == "cirros")
    assert result.image_id, result.error
    return str(result.reference)


@pytest.fixture(scope="module")
def guest_files(
    guest_image: str, client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, object]]:
    """cirros.qcow2 and its description (cirros.json), copied out of a created (never started)
    container of the image."""
    folder = tmp_path_factory.mktemp("guest")
    namespace = guest_image.split("/")[0]
    container = client.containers.create(
        guest_image, entrypoint=["true"], name=f"{namespace}-guest-extract-{os.getpid()}"
    )
    try:
        stream, _ = container.get_archive(GUEST_DIR)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    (folder / Path(member.name).name).write_bytes(source.read())
    finally:
        container.remove(force=True)
    metadata = json.loads((folder / "cirros.json").read_text())
    return folder / "cirros.qcow2", metadata


@dataclass
class Guest:
    """A running QEMU guest: its console log, SSH port, key and metadata folder."""

    process: subprocess.Popen[bytes]
    folder: Path
    port: int
    key: Path
    started: float

    @property
    def console(self) -> str:
        path = self.folder / "console.log"  # QEMU makes it once it runs
        return path.read_bytes().decode(errors="replace") if path.exists() else ""

    def markers(self) -> list[str]:
        return [
            line.split(MARKER, 1)[1].strip() for line in self.console.splitlines() if MARKER in line
        ]

    def ssh_argv(self, user: str = "cirros", key: bool = True) -> list[str]:
        options = [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=20",
            "-p",
            str(self.port),
        ]
        if key:
            options += ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(self.key)]
        else:
            options += [
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "PreferredAuthentications=password,keyboard-interactive",
            ]
        return ["ssh", *options, f"{user}@127.0.0.1"]

    def ssh(self, command: str, user: str = "cirros") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.ssh_argv(user), command],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def ssh_with_password(
        self, password: str, command: str, user: str = "cirros"
    ) -> subprocess.CompletedProcess[str]:
        """ssh answering the password prompt through SSH_ASKPASS (no terminal, no sshpass)."""
        askpass = self.folder / "askpass"
        askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
        askpass.chmod(0o700)
        environment = {
            **os.environ,
            "SSH_ASKPASS": str(askpass),
            "SSH_ASKPASS_REQUIRE": "force",
            "DISPLAY": ":0",
        }
        return subprocess.run(
            [*self.ssh_argv(user, key=False), command],
            capture_output=True,
            text=True,
            timeout=120,
            env=environment,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def monitor(self, command: str) -> None:
        """A command to QEMU's human monitor (its unix socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.folder / "monitor.sock"))
            sock.settimeout(10)
            sock.recv(4096)  # the banner and prompt
            sock.sendall(command.encode() + b"\n")
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metadata_folder(folder: Path, public_key: str) -> Path:
    """What the metadata service serves: the EC2 paths the guest reads and OpenStack's
    meta_data.json."""
    root = folder / "metadata"
    files = {
        "latest/meta-data/instance-id": "i-00000001\n",
        "latest/meta-data/hostname": HOSTNAME + "\n",
        "latest/meta-data/public-keys/0/openssh-key": public_key,
        "latest/user-data": '#!/bin/sh\necho "user-data ran as $(id -u)" > /run/user-data-ran\n',
        "openstack/latest/meta_data.json": json.dumps(
            {
                "uuid": "00000000-0000-0000-0000-000000000001",
                "hostname": HOSTNAME,
                "name": HOSTNAME.split(".")[0],
                "public_keys": {"sytest": public_key},
            }
        ),
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def start_guest(disk: Path, folder: Path) -> Guest:
    qemu = shutil.which("qemu-system-x86_64")
    assert qemu, "qemu-system-x86_64 is not installed (scripts/test installs qemu-system-x86)"
    key = folder / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sytest-guest", "-f", str(key)],
        check=True,
    )
    root = metadata_folder(folder, key.with_suffix(".pub").read_text())
    responder = folder / "metadata.py"
    responder.write_text(METADATA_RESPONDER)
    serve = f"{sys.executable} {responder} {root} {folder}/requests.log"
    port = free_port()
    for path in (folder, root, responder, sys.executable):
        assert "," not in str(path) and " " not in str(path), path  # QEMU's option syntax
    network = ",".join(
        [
            "user",
            "id=net0",
            f"net={NETWORK}",
            f"host={GATEWAY}",
            f"dhcpstart={FIRST_GUEST_ADDRESS}",
            "restrict=on",
            f"hostfwd=tcp:127.0.0.1:{port}-:22",
            f"guestfwd=tcp:{METADATA_ADDRESS}:80-cmd:{serve}",
        ]
    )
    argv = [
        qemu, "-machine", "pc,accel=tcg", "-m", "256", "-smp", "1",
        "-display", "none", "-nodefaults", "-no-user-config",
        *["-serial", f"file:{folder}/console.log"],
        *["-monitor", f"unix:{folder}/monitor.sock,server=on,wait=off"],
        *["-drive", f"file={disk},format=qcow2,if=virtio,snapshot=on"],
        *["-netdev", network, "-device", "virtio-net-pci,netdev=net0,romfile="],
    ]  # fmt: skip
    log = (folder / "qemu.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return Guest(process, folder, port, key, time.monotonic())


def stop(guest: Guest) -> None:
    if guest.process.poll() is None:
        guest.process.terminate()
        try:
            guest.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            guest.process.kill()
            guest.process.wait()


@dataclass
class Boot:
    guest: Guest
    ssh_ready: float  # seconds from QEMU's start to the marker
    first_login: float  # seconds from QEMU's start to a command run over SSH


@pytest.fixture(scope="module")
def boot(
    guest_files: tuple[Path, dict[str, object]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Boot]:
    disk, _ = guest_files
    guest = start_guest(disk, tmp_path_factory.mktemp("vm"))
    try:
        deadline = guest.started + BOOT_TIMEOUT
        while not any(m.startswith("ssh ready") for m in guest.markers()):
            assert guest.process.poll() is None, (guest.folder / "qemu.log").read_text()
            assert time.monotonic() < deadline, guest.console[-3000:]
            time.sleep(0.5)
        ssh_ready = time.monotonic() - guest.started
        while (result := guest.ssh("true")).returncode != 0:
            assert time.monotonic() < deadline, (result.stderr, guest.console[-3000:])
            time.sleep(1)
        first_login = time.monotonic() - guest.started
        print(f"guest: ssh ready {ssh_ready:.1f} s, first login {first_login:.1f} s after start")
        yield Boot(guest, ssh_ready, first_login)
    finally:
        stop(guest)


def test_disk_is_small_and_described(guest_files: tuple[Path, dict[str, object]]) -> None:
    disk, metadata = guest_files
    data = disk.read_bytes()
    assert len(data) < MAX_DISK_BYTES
    assert metadata["size"] == len(data)
    assert metadata["sha256"] == hashlib.sha256(data).hexdigest()
    assert data[:4] == b"QFI\xfb"  # qcow2
    assert (metadata["disk_format"], metadata["container_format"]) == ("qcow2", "bare")
    assert metadata["reproducible_checked"] is True  # the build made it twice, byte for byte
    assert metadata["logins"] == {"cirros": PASSWORD, "root": PASSWORD}
    modules = metadata["modules"]
    assert isinstance(modules, list) and {"virtio_net", "virtio_blk"} <= set(modules)


def test_boot_prints_its_steps_on_the_console(boot: Boot) -> None:
    markers = boot.guest.markers()
    address = next(m for m in markers if m.startswith("ip "))
    assert re.match(rf"ip {re.escape(FIRST_GUEST_ADDRESS)} dev eth0 prefix 16\b", address), markers
    assert f"metadata from http://{METADATA_ADDRESS}" in markers
    assert f"hostname {HOSTNAME}" in markers
    assert "ssh key for cirros: ssh-ed25519 sytest-guest" in markers
    assert any(m.startswith("ssh host key ed25519 SHA256:") for m in markers)
    assert markers.index(f"hostname {HOSTNAME}") < next(
        i for i, m in enumerate(markers) if m.startswith("ssh ready")
    )
    assert boot.ssh_ready < BOOT_TIMEOUT
    requests = (boot.guest.folder / "requests.log").read_text().splitlines()
    assert "/latest/meta-data/public-keys/0/openssh-key 200" in requests


def test_key_login_runs_what_tempest_runs(boot: Boot) -> None:
    """Tempest's remote client prefixes its commands like this; it reads the hostname, the
    addresses and the NICs, pings, and runs ip, modprobe and the console write with sudo."""
    prologue = "set -eu -o pipefail; PATH=$PATH:/sbin;"
    commands = [
        "hostname",
        "id -un",
        "ip -o addr",
        "ip -o link | awk '/ether/ {print $2}'",
        f"ping -c1 -w1 -s56 {GATEWAY}",
        "sudo id -u",
        "sudo /bin/ip -o link show eth0",
        "sudo /sbin/modprobe 8021q && /sbin/lsmod | grep -c ^8021q",
        "grep -c ^processor /proc/cpuinfo",
        "cat /proc/net/dev | wc -l",
        "df -k / | wc -l",
        "lsblk -lb --nodeps | awk '$6 == \"disk\"' | wc -l",
        "cut -f1 -d. /proc/uptime",
        "cat /var/run/udhcpc.eth0.pid",
        "cat /run/user-data-ran",
        f"curl -s http://{METADATA_ADDRESS}/latest/meta-data/instance-id",
        "sudo sh -c 'echo \"written by tempest\" > /dev/console'",
    ]
    outputs = []
    for command in commands:
        result = boot.guest.ssh(f"{prologue} {command}")
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        outputs.append(result.stdout.strip())
    found = dict(zip(commands, outputs, strict=True))
    assert found["hostname"] == HOSTNAME
    assert found["id -un"] == "cirros"
    assert f"inet {FIRST_GUEST_ADDRESS}/16" in found["ip -o addr"]
    assert "1 packets received" in found[f"ping -c1 -w1 -s56 {GATEWAY}"]
    assert found["sudo id -u"] == "0"
    assert found["sudo /sbin/modprobe 8021q && /sbin/lsmod | grep -c ^8021q"] == "1"
    assert found["df -k / | wc -l"] == "2"
    assert found["lsblk -lb --nodeps | awk '$6 == \"disk\"' | wc -l"] == "1"
    assert found["cat /var/run/udhcpc.eth0.pid"].isdigit()
    assert found["cat /run/user-data-ran"] == "user-data ran as 0"
    assert found[f"curl -s http://{METADATA_ADDRESS}/latest/meta-data/instance-id"] == "i-00000001"
    assert "written by tempest" in boot.guest.console


def test_password_login_for_cirros_and_root(boot: Boot) -> None:
    for user in ("cirros", "root"):
        result = boot.guest.ssh_with_password(PASSWORD, "id -un", user)
        assert (result.returncode, result.stdout.strip()) == (0, user), result.stderr
    refused = boot.guest.ssh_with_password("not-" + PASSWORD, "id -un")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr


def test_power_button_shuts_the_guest_down(boot: Boot) -> None:
    """Nova's soft stop and reboot press the ACPI power button; the guest powers off."""
    boot.guest.monitor("system_powerdown")
    boot.guest.process.wait(timeout=120)
    assert "shutting down" in boot.guest.markers()
