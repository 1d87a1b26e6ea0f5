"""The cirros image (data/images/cirros): how it is declared and rendered, the pure parts of
make_guest.py (the program its build stage runs to make the disk) and the guest's shell
scripts that can run here (the DHCP event script and the command shims, with stand-ins for
the commands they call). The disk itself is booted in tests/integration/test_guest_image.py.
"""

from __future__ import annotations

import importlib.util
import lzma
import os
import stat
import struct
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.options import make_options
from stackyard.images.plan import plan_images
from stackyard.images.render import Renderer

FOLDER = default_root() / "cirros"
ROOTFS = FOLDER / "rootfs"


@cache
def make_guest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_guest", FOLDER / "make_guest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_guest"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- declared and rendered ---------------------------------------------------------------------


def test_the_guest_image_is_in_the_catalog_and_the_core_profile() -> None:
    catalog = load_catalog(default_root())
    spec = catalog.images["cirros"]
    assert (spec.parent, spec.user, spec.config_paths, spec.oslo_config) == ("base", "root", (), ())
    assert "cirros" in catalog.profiles["core"]


@pytest.mark.parametrize("suite", ["trixie", "bookworm"])
def test_the_disk_is_made_in_a_build_stage_and_only_it_is_kept(suite: str) -> None:
    catalog = load_catalog(default_root())
    options = make_options(catalog, suite=suite)
    planned = plan_images(
        catalog, options, ["base", "cirros"], options.root_reference, "k", Renderer(catalog)
    )
    text = planned["cirros"].dockerfile
    parent = planned["cirros"].parent_reference
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    # the build stage and the image itself, both on the parent (squash and the contract)
    assert stages == [f"FROM {parent} AS guest", f"FROM {parent}"]
    image = text.split(f"\nFROM {parent}\n", 1)[1]
    assert "COPY --from=guest /guest/ /usr/share/stackyard/guest/" in image
    assert "apt-get" not in image and 'stackyard.image="cirros"' in image
    assert "make_guest.py /guest --kernel-package linux-image-cloud-amd64 --epoch " in text
    assert " --check" in text  # the build fails unless the disk comes out the same twice
    for line in text.splitlines():  # what the build stage copies is in the folder
        if line.startswith("COPY ") and "--from" not in line:
            for name in line.split()[1:-1]:
                assert (FOLDER / name).exists(), name


def test_an_override_extends_the_build_stage_packages(tmp_path: Path) -> None:
    catalog = load_catalog(default_root())
    override = tmp_path / "override.j2"
    override.write_text("{% block cirros_packages %}{{ super() }} strace{% endblock %}")
    options = make_options(catalog, template_override=override)
    renderer = Renderer(catalog, override)
    planned = plan_images(
        catalog, options, ["base", "cirros"], options.root_reference, "k", renderer
    )
    assert "tcc libc6-dev strace\n" in planned["cirros"].dockerfile


# --- make_guest.py: the initramfs -------------------------------------------------------------


Entry = tuple[str, int, int, int, int, bytes, tuple[int, int]]


def read_newc(archive: bytes) -> list[Entry]:
    """(name, mode, uid, gid, mtime, data, rdev) of each entry of a newc cpio archive, with
    the format's 4-byte alignment checked."""
    entries: list[Entry] = []
    offset = 0
    while True:
        assert archive[offset : offset + 6] == b"070701"
        fields = [int(archive[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        _, mode, uid, gid, _, mtime, size, _, _, rmajor, rminor, namesize, _ = fields
        name = archive[offset + 110 : offset + 110 + namesize - 1].decode()
        offset += 110 + namesize
        offset += -offset % 4
        data = archive[offset : offset + size]
        offset += size
        offset += -offset % 4
        if name == "TRAILER!!!":
            assert offset == len(archive)
            return entries
        entries.append((name, mode, uid, gid, mtime, data, (rmajor, rminor)))


def test_the_initramfs_archive_is_sorted_timeless_and_what_the_kernel_reads() -> None:
    guest = make_guest()
    tree = {
        "usr/bin/tool": guest.regular(b"#!/bin/sh\n", 0o755),
        "bin/busybox": guest.regular(b"\x7fELF...", 0o4755),
        "bin/sh": guest.symlink("/bin/busybox"),
        "dev/console": guest.char_device(5, 1, 0o600),
        "home/cirros": guest.directory(0o755, 1000, 1000),
    }
    archive = guest.cpio_newc(tree, 1735689600)
    assert archive == guest.cpio_newc(dict(reversed(tree.items())), 1735689600)
    entries = read_newc(archive)
    assert [e[0] for e in entries] == sorted(tree)
    assert {e[4] for e in entries} == {1735689600}
    found = {e[0]: e for e in entries}
    assert found["bin/busybox"][1] == stat.S_IFREG | 0o4755
    assert found["bin/sh"][1:] == (stat.S_IFLNK | 0o777, 0, 0, 1735689600, b"/bin/busybox", (0, 0))
    assert found["dev/console"][1] == stat.S_IFCHR | 0o600 and found["dev/console"][6] == (5, 1)
    assert found["home/cirros"][2:4] == (1000, 1000)


def test_add_makes_missing_parent_folders() -> None:
    guest = make_guest()
    tree: dict[str, object] = {}
    guest.add(tree, "/usr/share/udhcpc/default.script", guest.regular(b"x", 0o755))
    assert sorted(tree) == [
        "usr",
        "usr/share",
        "usr/share/udhcpc",
        "usr/share/udhcpc/default.script",
    ]
    assert tree["usr/share"] == guest.directory()


def test_the_initramfs_is_compressed_as_the_kernel_decodes_it() -> None:
    guest = make_guest()
    data = bytes(range(256)) * 64
    packed = guest.xz(data)
    assert lzma.decompress(packed) == data
    assert packed[:6] == b"\xfd7zXZ\x00" and packed[7] == 0x01  # stream flags: CRC32 check
    assert guest.xz(data) == packed


def elf_module(strings: list[bytes]) -> bytes:
    """A minimal ELF64 little-endian file whose .modinfo section holds strings."""
    shstrtab = b"\0.shstrtab\0.modinfo\0"
    modinfo = b"\0".join(strings) + b"\0"
    header_size, entry_size = 64, 64
    shstrtab_at = header_size
    modinfo_at = shstrtab_at + len(shstrtab)
    table_at = modinfo_at + len(modinfo)
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, table_at, 0, 64, 0, 0, entry_size, 3, 1)

    def section(name: int, offset: int, size: int) -> bytes:
        return struct.pack(
            "<IIQQQQIIQQ", name, 3 if name == 1 else 1, 0, 0, offset, size, 0, 0, 1, 0
        )

    table = b"\0" * entry_size + section(1, shstrtab_at, len(shstrtab))
    table += section(11, modinfo_at, len(modinfo))
    return header + shstrtab + modinfo + table


def test_module_dependencies_are_read_from_modinfo() -> None:
    guest = make_guest()
    elf = elf_module(
        [
            b"license=GPL",
            b"depends=net_failover,failover",
            b"alias=virtio:d00000001v*",
            b"alias=pci:v1AF4*",
            b"name=virtio_net",
        ]
    )
    info = guest.modinfo(elf)
    assert info["alias"] == ["virtio:d00000001v*", "pci:v1AF4*"]
    assert guest.depends(elf) == ["net_failover", "failover"]
    assert guest.depends(elf_module([b"depends=", b"name=failover"])) == []
    with pytest.raises(ValueError):
        guest.modinfo(b"not an elf file at all")


def test_modules_load_after_what_they_need_and_modules_dep_says_so() -> None:
    guest = make_guest()
    needs = {
        "virtio_net": ["net_failover", "failover"],
        "net_failover": ["failover"],
        "failover": [],
        "sr_mod": ["cdrom", "scsi_mod"],
        "cdrom": [],
        "scsi_mod": ["scsi_common"],
        "scsi_common": [],
    }
    order = guest.load_order(["virtio_net", "sr_mod", "ext4"], needs.__getitem__, {"ext4"})
    assert order == [
        "failover",
        "net_failover",
        "virtio_net",
        "cdrom",
        "scsi_common",
        "scsi_mod",
        "sr_mod",
    ]
    paths = {name: f"kernel/{name}.ko" for name in order}
    assert guest.modules_dep(order, needs.__getitem__, paths).splitlines() == [
        "kernel/cdrom.ko:",
        "kernel/failover.ko:",
        "kernel/net_failover.ko: kernel/failover.ko",
        "kernel/scsi_common.ko:",
        "kernel/scsi_mod.ko: kernel/scsi_common.ko",
        "kernel/sr_mod.ko: kernel/scsi_mod.ko kernel/scsi_common.ko kernel/cdrom.ko",
        "kernel/virtio_net.ko: kernel/net_failover.ko kernel/failover.ko",
    ]
    with pytest.raises(KeyError):
        guest.load_order(["missing"], needs.__getitem__, set())


def test_the_shipped_module_list() -> None:
    guest = make_guest()
    assert guest.module_name("kernel/drivers/char/hw_random/virtio-rng.ko.xz") == "virtio_rng"
    listed = guest.module_list((FOLDER / "modules.txt").read_text())
    assert listed[:2] == [("virtio_pci", True), ("virtio_net", True)]
    assert {("virtio_blk", True), ("isofs", True), ("button", True), ("ahci", False)} <= set(listed)
    assert all(name and "#" not in name and " " not in name for name, _ in listed)
    text = "# comment\n\nvirtio-rng  # the device\nahci?\n"
    assert guest.module_list(text) == [("virtio_rng", True), ("ahci", False)]


def test_libraries_are_read_from_ldd() -> None:
    guest = make_guest()
    text = (
        "\tlinux-vdso.so.1 (0x00007ffd5b1f2000)\n"
        "\tlibcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007f0c8f1c4000)\n"
        "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c8efce000)\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c8f2b0000)\n"
    )
    assert guest.parse_ldd(text) == [
        "/lib/x86_64-linux-gnu/libcrypt.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]
    with pytest.raises(ValueError, match=r"libz\.so\.1 => not found"):
        guest.parse_ldd("\tlibz.so.1 => not found\n")


def test_busybox_links_leave_the_guests_own_programs() -> None:
    guest = make_guest()
    listing = "bin/sh\nsbin/ip\nsbin/mke2fs\nusr/bin/wget\nlinuxrc\n"
    links = guest.busybox_links(listing, {"sbin/mke2fs": object()})
    assert links == {
        "bin/sh": "/bin/busybox",
        "sbin/ip": "/bin/busybox",
        "usr/bin/wget": "/bin/busybox",
    }


def test_accounts_are_cirros_and_root_with_one_password() -> None:
    guest = make_guest()
    files = guest.account_files("$6$salt$hash", 1735689600)
    passwd, group, shadow = (files[f"etc/{name}"] for name in ("passwd", "group", "shadow"))
    assert passwd == (
        b"root:x:0:0:root:/root:/bin/sh\ncirros:x:1000:1000:cirros:/home/cirros:/bin/sh\n",
        0o644,
    )
    assert b"sudo:x:27:cirros\n" in group[0] and b"cirros:x:1000:\n" in group[0]
    assert shadow == (
        b"root:$6$salt$hash:20089:0:99999:7:::\ncirros:$6$salt$hash:20089:0:99999:7:::\n",
        0o600,
    )
    assert guest.PASSWORD == "gocubsgo"


def test_file_modes() -> None:
    guest = make_guest()
    assert guest.file_mode("init") == 0o755
    assert guest.file_mode("etc/init.d/rcS") == 0o755
    assert guest.file_mode("usr/bin/curl") == 0o755
    assert guest.file_mode("etc/inittab") == 0o644
    shipped = {p.relative_to(ROOTFS).as_posix() for p in ROOTFS.rglob("*") if p.is_file()}
    assert {"init", "etc/inittab", "etc/init.d/rcS", "etc/udhcpc/default.script"} <= shipped


# --- the guest's scripts, run here ---------------------------------------------------------


def stand_in(folder: Path, name: str) -> None:
    """A command that appends its name and arguments to folder/calls."""
    script = folder / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{folder}/calls"\n')
    script.chmod(0o755)


def run_script(
    script: Path, folder: Path, args: list[str], env: dict[str, str]
) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    for name in ("ip", "busybox", "wget"):
        stand_in(folder, name)
    timeout = folder / "timeout"  # records, then runs the command
    timeout.write_text(f'#!/bin/sh\necho "timeout $*" >> "{folder}/calls"\nshift\nexec "$@"\n')
    timeout.chmod(0o755)
    environment = {"PATH": f"{folder}:/usr/bin:/bin", **env}
    done = subprocess.run(
        ["/bin/sh", str(script), *args], capture_output=True, text=True, env=environment, timeout=30
    )
    calls = folder / "calls"
    return (calls.read_text().splitlines() if calls.exists() else []), done


def dhcp_event(tmp_path: Path, event: str, lease: dict[str, str]) -> tuple[list[str], str, str]:
    """Run the DHCP script for an event: the ip commands, the console and resolv.conf."""
    console, resolv = tmp_path / "console", tmp_path / "resolv.conf"
    env = {
        "STACKYARD_GUEST_CONSOLE": str(console),
        "STACKYARD_GUEST_RESOLV_CONF": str(resolv),
        **lease,
    }
    calls, done = run_script(ROOTFS / "etc/udhcpc/default.script", tmp_path, [event], env)
    assert done.returncode == 0, done.stderr
    return calls, text_of(console), text_of(resolv)


def text_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


OVN_LEASE = {
    "interface": "eth0",
    "ip": "10.0.0.5",
    "mask": "24",
    "broadcast": "10.0.0.255",
    "router": "10.0.0.1",
    "dns": "10.0.0.2 10.0.0.3",
    "domain": "openstacklocal",
    "mtu": "1442",
    "staticroutes": "169.254.169.254/32 10.0.0.2 0.0.0.0/0 10.0.0.1",
}


def test_dhcp_sets_mtu_and_classless_routes_of_an_ovn_lease(tmp_path: Path) -> None:
    calls, console, resolv = dhcp_event(tmp_path, "bound", OVN_LEASE)
    assert calls == [
        "ip link set dev eth0 mtu 1442",
        "ip -4 addr flush dev eth0",
        "ip addr add 10.0.0.5/24 broadcast 10.0.0.255 dev eth0",
        "ip route replace 169.254.169.254/32 via 10.0.0.2 dev eth0",
        "ip route replace 0.0.0.0/0 via 10.0.0.1 dev eth0",
    ]  # option 121 present: the router option is not used (RFC 3442)
    assert console == "stackyard-guest: ip 10.0.0.5 dev eth0 prefix 24 mtu 1442 router 10.0.0.1\n"
    assert resolv == "search openstacklocal\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n"


def test_dhcp_on_a_second_nic_takes_no_default_route(tmp_path: Path) -> None:
    lease = {**OVN_LEASE, "interface": "eth1", "ip": "10.1.0.7"}
    calls, _, resolv = dhcp_event(tmp_path, "bound", lease)
    assert "ip route replace 169.254.169.254/32 via 10.0.0.2 dev eth1" in calls
    assert not [call for call in calls if "0.0.0.0/0" in call or "default" in call]
    assert resolv == ""


def test_dhcp_without_classless_routes_uses_the_router(tmp_path: Path) -> None:
    lease = {
        "interface": "eth0",
        "ip": "192.168.1.20",
        "mask": "24",
        "router": "192.168.1.1",
        "dns": "192.168.1.1",
    }
    calls, console, _ = dhcp_event(tmp_path, "bound", lease)
    assert calls[-1] == "ip route replace default via 192.168.1.1 dev eth0"
    assert not [call for call in calls if "mtu" in call]
    assert console.startswith("stackyard-guest: ip 192.168.1.20 dev eth0 prefix 24 router")


def test_dhcp_renew_and_deconfig(tmp_path: Path) -> None:
    calls, console, _ = dhcp_event(tmp_path, "renew", OVN_LEASE)
    assert "ip route replace 0.0.0.0/0 via 10.0.0.1 dev eth0" in calls and console == ""
    (tmp_path / "calls").unlink()
    calls, _, _ = dhcp_event(tmp_path, "deconfig", {"interface": "eth0"})
    assert calls == ["ip -4 addr flush dev eth0", "ip link set dev eth0 up"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-t", "ext4", "/dev/vdb"], "busybox mke2fs /dev/vdb"),
        (["-F", "-text4", "-L", "data", "/dev/vdc"], "busybox mke2fs -F -L data /dev/vdc"),
        (["-T", "ext3", "-F", "/dev/vdb"], "busybox mke2fs -F /dev/vdb"),
    ],
)
def test_mke2fs_drops_the_type_busybox_does_not_know(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    calls, done = run_script(ROOTFS / "sbin/mke2fs", tmp_path, args, {})
    assert (done.returncode, calls) == (0, [expected]), done.stderr


def test_mkfs_picks_the_maker(tmp_path: Path) -> None:
    calls, done = run_script(ROOTFS / "sbin/mkfs", tmp_path, ["-t", "vfat", "/dev/vdb"], {})
    assert (done.returncode, calls) == (0, ["busybox mkdosfs /dev/vdb"])
    _, done = run_script(ROOTFS / "sbin/mkfs", tmp_path, ["-t", "xfs", "/dev/vdb"], {})
    assert done.returncode == 1 and "no maker for xfs" in done.stderr


def test_curl_is_wget_for_the_metadata_service(tmp_path: Path) -> None:
    url = "http://169.254.169.254/latest/meta-data/instance-id"
    calls, done = run_script(ROOTFS / "usr/bin/curl", tmp_path, ["-s", "-m", "10", url], {})
    assert (done.returncode, calls) == (
        0,
        [f"timeout 10 wget -q -O - {url}", f"wget -q -O - {url}"],
    )
    calls, _ = run_script(
        ROOTFS / "usr/bin/curl", tmp_path, ["-o", "/tmp/x", "169.254.169.254"], {}
    )
    assert calls[-2:] == [
        "timeout 30 wget -O /tmp/x http://169.254.169.254",
        "wget -O /tmp/x http://169.254.169.254",
    ]
    _, done = run_script(ROOTFS / "usr/bin/curl", tmp_path, ["--data", "x", url], {})
    assert done.returncode == 2


def test_shipped_scripts_parse() -> None:
    scripts = [ROOTFS / "init", ROOTFS / "etc/init.d/rcS", ROOTFS / "etc/init.d/rcK"]
    scripts += [p for p in ROOTFS.rglob("*") if p.is_file() and p.read_bytes()[:2] == b"#!"]
    for script in sorted(set(scripts)):
        done = subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, (script, done.stderr)
    assert os.access(FOLDER / "make_guest.py", os.R_OK)
