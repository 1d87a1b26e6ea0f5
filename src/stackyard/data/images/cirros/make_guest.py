"""Make the stackyard guest: a CirrOS-compatible disk image, from Debian packages.

    python3 make_guest.py OUTPUT [--kernel-package NAME] [--epoch SECONDS] [--check]

The cirros image's build stage runs this (as root, on Debian's python3: standard library only)
with busybox-static, dropbear-bin, syslinux, syslinux-common, mtools, qemu-utils, tcc and
libc6-dev installed and fresh package lists. It reads the files beside it and writes
OUTPUT/cirros.qcow2 and OUTPUT/cirros.json (size, sha256, versions, logins). Steps:

1. The kernel package (the one --kernel-package depends on), fetched with `apt-get download`
   and unpacked with `dpkg-deb -x` (no initramfs-tools, no maintainer scripts): its vmlinuz,
   and the modules modules.txt names with every module they depend on (read from each
   module's .modinfo section), decompressed, with a modules.dep for busybox's modprobe.
2. The initramfs, which is the guest's whole root file system: busybox (setuid: it keeps root
   only for the applets that need it, such as ping) with a link per applet, dropbear and the
   sudo helper (sudo.c, built with tcc) with the libraries ldd finds, the files under rootfs/
   (/init, which moves the root to a tmpfs and starts busybox init; inittab; rcS, the boot;
   the DHCP script; command shims for what Tempest runs), the users root and cirros with
   CirrOS's password (hashed by perl's crypt), written as a newc cpio by this program
   (sorted, every timestamp SOURCE_DATE_EPOCH, numeric owners) and xz-compressed.
3. The disk: a FAT file system made with mtools (no loop mount) holding the kernel, the
   initramfs and syslinux.cfg, made bootable with syslinux, converted to qcow2 with qemu-img.
   SeaBIOS boots it as any Glance image (disk_format qcow2, container_format bare).

The same inputs give the same bytes. With --check everything is made twice, in two folders,
and the build fails when the two disks differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DISK = "cirros.qcow2"
METADATA = "cirros.json"
KERNEL_PACKAGE = "linux-image-cloud-amd64"
DEFAULT_EPOCH = 1735689600  # 2025-01-01T00:00:00Z, when SOURCE_DATE_EPOCH is not set
PASSWORD = "gocubsgo"  # CirrOS's
SALT = "$6$stackyardguest$"  # fixed: the hash is part of the reproducible bytes
FAT_LABEL = "CIRROS"
FAT_SERIAL = "5354594B"
SECTOR = 512
MIB = 1 << 20
# Programs copied from the build stage, with the libraries ldd finds for them.
PROGRAMS = {
    "usr/sbin/dropbear": "/usr/sbin/dropbear",
    "usr/bin/dropbearkey": "/usr/bin/dropbearkey",
}
# (name, uid, gid, home); each user has a group of its own name and id.
USERS = (("root", 0, 0, "/root"), ("cirros", 1000, 1000, "/home/cirros"))
# Groups besides the users' own: (name, gid, members).
GROUPS = (("tty", 5, ""), ("sudo", 27, "cirros"))
# Paths the guest's tools are looked for at, besides busybox's own places.
EXTRA_LINKS = {
    "bin/ip": "/sbin/ip",  # Tempest runs `sudo /bin/ip ...`
    "usr/sbin/mke2fs": "/sbin/mke2fs",  # ... and `sudo /usr/sbin/mke2fs -t ext4 ...`
    "var/run": "/run",
}
EXECUTABLE_FOLDERS = (
    "bin/",
    "sbin/",
    "usr/bin/",
    "usr/sbin/",
    "etc/init.d/",
    "etc/udhcpc/",
    "etc/acpi/",
)
KERNEL_COMMAND_LINE = re.compile(r"^\s*APPEND\s+(.*)$", re.MULTILINE)


# --- the initramfs as data -------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One entry of the initramfs: st_mode (type and permissions), the content of a file or
    the target of a symlink, numeric owner, and a device's major and minor numbers."""

    mode: int
    data: bytes = b""
    uid: int = 0
    gid: int = 0
    rdev: tuple[int, int] = (0, 0)


Tree = dict[str, Node]  # relative path (no leading /) -> node


def directory(mode: int = 0o755, uid: int = 0, gid: int = 0) -> Node:
    return Node(stat.S_IFDIR | mode, uid=uid, gid=gid)


def regular(data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Node:
    return Node(stat.S_IFREG | mode, data, uid, gid)


def symlink(target: str) -> Node:
    return Node(stat.S_IFLNK | 0o777, target.encode())


def char_device(major: int, minor: int, mode: int) -> Node:
    return Node(stat.S_IFCHR | mode, rdev=(major, minor))


def add(tree: Tree, path: str, node: Node) -> None:
    """Put node at path, with its missing parent folders (0755, root)."""
    path = path.strip("/")
    parts = path.split("/")
    for depth in range(1, len(parts)):
        tree.setdefault("/".join(parts[:depth]), directory())
    tree[path] = node


def cpio_newc(tree: Tree, mtime: int) -> bytes:
    """The tree as a newc (SVR4, no CRC) cpio archive, as the kernel unpacks an initramfs:
    entries sorted by path (a folder before what it holds), inodes numbered in that order,
    every timestamp mtime."""

    def entry(ino: int, node: Node, nlink: int, name: bytes, size: int) -> bytes:
        fields = (
            ino,
            node.mode,
            node.uid,
            node.gid,
            nlink,
            mtime,
            size,
            0,
            0,
            node.rdev[0],
            node.rdev[1],
            len(name) + 1,
            0,
        )
        header = b"070701" + b"".join(b"%08X" % value for value in fields) + name + b"\0"
        return header + b"\0" * (-len(header) % 4)

    out = bytearray()
    for ino, (path, node) in enumerate(sorted(tree.items()), start=1):
        kind = stat.S_IFMT(node.mode)
        data = node.data if kind in (stat.S_IFREG, stat.S_IFLNK) else b""
        nlink = 2 if kind == stat.S_IFDIR else 1
        out += entry(ino, node, nlink, path.encode(), len(data))
        out += data + b"\0" * (-len(data) % 4)
    out += entry(0, Node(0), 1, b"TRAILER!!!", 0)
    return bytes(out)


def xz(data: bytes) -> bytes:
    """xz as the kernel's initramfs decoder takes it: CRC32 check, x86 BCJ and LZMA2 with a
    dictionary small enough to allocate in a 64 MiB guest."""
    filters = [
        {"id": lzma.FILTER_X86},
        {"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 8 * MIB},
    ]
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=filters)


# --- kernel modules --------------------------------------------------------------------------


def module_name(path: str) -> str:
    """The name the kernel knows a module file by: no .ko[.xz], `-` as `_`."""
    return Path(path).name.split(".ko")[0].replace("-", "_")


def modinfo(elf: bytes) -> dict[str, list[str]]:
    """The key=value strings of an (uncompressed, ELF64 little-endian) module's .modinfo."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(index: int) -> tuple[int, int, int]:
        name, _, _, _, offset, size = struct.unpack_from("<IIQQQQ", elf, shoff + index * shentsize)
        return name, offset, size

    _, names_offset, _ = section(shstrndx)
    for index in range(shnum):
        name, offset, size = section(index)
        end = elf.index(b"\0", names_offset + name)
        if elf[names_offset + name : end] == b".modinfo":
            info: dict[str, list[str]] = {}
            for item in elf[offset : offset + size].split(b"\0"):
                key, sep, value = item.decode(errors="replace").partition("=")
                if sep:
                    info.setdefault(key, []).append(value)
            return info
    return {}


def depends(elf: bytes) -> list[str]:
    """The modules a module needs loaded first (its modinfo `depends`)."""
    listed = ",".join(modinfo(elf).get("depends", []))
    return [module_name(name) for name in listed.split(",") if name]


def load_order(
    wanted: Iterable[str], depends_of: Callable[[str], list[str]], builtin: set[str]
) -> list[str]:
    """wanted and everything they depend on, each after its dependencies; modules built into
    the kernel are left out. KeyError names a module that does not exist."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in builtin or name in seen:
            return
        seen.add(name)
        for dependency in depends_of(name):
            visit(dependency)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


def modules_dep(
    order: list[str], depends_of: Callable[[str], list[str]], path_of: dict[str, str]
) -> str:
    """modules.dep as depmod writes it: each module's path, then every module it needs, the
    one to load first last (busybox's modprobe loads them from the end)."""

    def needed(name: str, found: set[str]) -> set[str]:
        for dependency in depends_of(name):
            if dependency in path_of and dependency not in found:
                found.add(dependency)
                needed(dependency, found)
        return found

    lines = []
    for name in sorted(order, key=lambda n: path_of[n]):
        wanted = needed(name, set())
        deps = [path_of[m] for m in reversed(order) if m in wanted]
        lines.append(f"{path_of[name]}:" + "".join(f" {d}" for d in deps))
    return "".join(line + "\n" for line in lines)


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if not path.name.endswith(".ko"):
        raise ValueError(f"{path}: compressed in a way this program does not read")
    return data


def module_list(text: str) -> list[tuple[str, bool]]:
    """modules.txt as (name, required): one module a line, `?` after the name when a kernel
    may lack it; `#` starts a comment."""
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [(module_name(name.rstrip("?")), not name.endswith("?")) for name in names if name]


# --- pieces taken from the build stage ------------------------------------------------------


def parse_ldd(text: str) -> list[str]:
    """The files ldd says a program loads (the dynamic loader included), in its order."""
    paths = []
    for line in text.splitlines():
        if "not found" in line:
            raise ValueError(f"ldd: {line.strip()}")
        found = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(0x", line)
        if found:
            paths.append(found.group(1))
    return paths


def busybox_links(list_full: str, taken: Iterable[str]) -> dict[str, str]:
    """A symlink to busybox at each applet's place (`busybox --list-full`), except where the
    guest has a program of its own."""
    skip = {*taken, "bin/busybox", "linuxrc"}
    paths = (line.strip().strip("/") for line in list_full.splitlines())
    return {path: "/bin/busybox" for path in sorted(paths) if path and path not in skip}


def account_files(password_hash: str, epoch: int) -> dict[str, tuple[bytes, int]]:
    """/etc/passwd, group and shadow (path -> content, mode)."""
    days = epoch // 86400
    passwd = "".join(f"{n}:x:{u}:{g}:{n}:{home}:/bin/sh\n" for n, u, g, home in USERS)
    groups = sorted([(n, g, "") for n, _, g, _ in USERS] + list(GROUPS), key=lambda item: item[1])
    group = "".join(f"{n}:x:{g}:{members}\n" for n, g, members in groups)
    shadow = "".join(f"{n}:{password_hash}:{days}:0:99999:7:::\n" for n, *_ in USERS)
    return {
        "etc/passwd": (passwd.encode(), 0o644),
        "etc/group": (group.encode(), 0o644),
        "etc/shadow": (shadow.encode(), 0o600),
    }


def file_mode(path: str) -> int:
    return 0o755 if path == "init" or path.startswith(EXECUTABLE_FOLDERS) else 0o644


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, check=False, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(
            f"make_guest: {' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return str(done.stdout)


# --- the build -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    package: str
    version: str  # the package version
    release: str  # uname -r
    vmlinuz: Path
    modules: Path  # lib/modules/<release> of the unpacked package


def fetch_kernel(meta_package: str, folder: Path) -> Kernel:
    """Download and unpack the kernel package meta_package stands for (or names)."""
    found = re.search(r"Depends:\s*(linux-image-\S+)", run(["apt-cache", "depends", meta_package]))
    package = found.group(1) if found else meta_package
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # readable for apt's sandbox user
    run(["apt-get", "download", package], cwd=folder)
    deb = next(folder.glob(f"{package}_*.deb"))
    version = run(["dpkg-deb", "--field", str(deb), "Version"]).strip()
    unpacked = folder / "unpacked"
    run(["dpkg-deb", "-x", str(deb), str(unpacked)])
    vmlinuz = next((unpacked / "boot").glob("vmlinuz-*"))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    for base in ("usr/lib/modules", "lib/modules"):
        if (unpacked / base / release).is_dir():
            return Kernel(package, version, release, vmlinuz, unpacked / base / release)
    raise SystemExit(f"make_guest: {deb.name} has no modules folder for {release}")


def add_modules(
    tree: Tree, kernel: Kernel, listed: list[tuple[str, bool]]
) -> tuple[list[str], list[str]]:
    """The listed modules the kernel has (not built in) and their dependencies, under
    lib/modules/<release>; the load order and the modules to load at boot."""
    files = {module_name(str(p)): p for p in kernel.modules.rglob("*.ko*") if ".ko" in p.name}
    builtin_file = kernel.modules / "modules.builtin"
    builtin_text = builtin_file.read_text() if builtin_file.exists() else ""
    builtin = {module_name(line) for line in builtin_text.split()}
    missing = [n for n, required in listed if required and n not in files and n not in builtin]
    if missing:
        raise SystemExit(f"make_guest: kernel {kernel.release} has no module {', '.join(missing)}")
    wanted = [name for name, _ in listed if name in files]
    elf: dict[str, bytes] = {}

    def depends_of(name: str) -> list[str]:
        if name not in elf:
            elf[name] = read_module(files[name])
        return depends(elf[name])

    order = load_order(wanted, depends_of, builtin)
    base = f"lib/modules/{kernel.release}"
    path_of = {}
    for name in order:
        relative = files[name].relative_to(kernel.modules).as_posix()
        path_of[name] = relative[: relative.index(".ko") + 3]
        add(tree, f"{base}/{path_of[name]}", regular(elf[name]))
    add(tree, f"{base}/modules.dep", regular(modules_dep(order, depends_of, path_of).encode()))
    add(tree, f"{base}/modules.builtin", regular(builtin_text.encode()))
    return order, wanted


def add_program(tree: Tree, path: str, source: str, mode: int = 0o755) -> list[str]:
    """A dynamically linked program and its libraries; the library paths."""
    add(tree, path, regular(Path(source).read_bytes(), mode))
    libraries = parse_ldd(run(["ldd", source]))
    for library in libraries:
        add(tree, library, regular(Path(library).resolve().read_bytes(), 0o755))
    return libraries


def password_hash() -> str:
    return run(["perl", "-e", "print crypt($ARGV[0], $ARGV[1])", PASSWORD, SALT]).strip()


def make_tree(kernel: Kernel, work: Path, epoch: int) -> tuple[Tree, list[str], list[str]]:
    """The guest's root file system; the modules it loads and the files it took from the
    build stage's packages."""
    tree: Tree = {}
    for folder in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/share",
        "lib",
        "etc/dropbear",
        "dev",
        "proc",
        "sys",
        "run",
        "var/log",
        "mnt",
        "home",
    ):
        add(tree, folder, directory())
    add(tree, "tmp", directory(0o1777))
    add(tree, "root", directory(0o700))
    add(tree, "home/cirros", directory(0o755, 1000, 1000))
    add(tree, "dev/console", char_device(5, 1, 0o600))
    add(tree, "dev/null", char_device(1, 3, 0o666))
    taken_from = ["/bin/busybox"]
    # setuid, as CirrOS's: busybox drops root for every applet but those that need it (ping
    # for the cirros user, su); Debian's has no fallback to unprivileged ICMP sockets.
    add(tree, "bin/busybox", regular(Path("/bin/busybox").read_bytes(), 0o4755))
    for path, program in PROGRAMS.items():
        taken_from += [program, *add_program(tree, path, program)]
    sudo = work / "sudo"
    run(["tcc", "-o", str(sudo), str(HERE / "sudo.c")])
    taken_from += add_program(tree, "usr/bin/sudo", str(sudo), 0o4755)
    for source in sorted((HERE / "rootfs").rglob("*")):
        relative = source.relative_to(HERE / "rootfs").as_posix()
        if source.is_file():
            add(tree, relative, regular(source.read_bytes(), file_mode(relative)))
    for path, (data, mode) in account_files(password_hash(), epoch).items():
        add(tree, path, regular(data, mode))
    modules, at_boot = add_modules(tree, kernel, module_list((HERE / "modules.txt").read_text()))
    etc = {
        "etc/modules": "".join(f"{name}\n" for name in at_boot),
        "etc/hostname": "cirros\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tcirros\n",
        "etc/fstab": "",
        "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
        "etc/os-release": 'NAME="stackyard guest"\nID=stackyard-guest\nID_LIKE=cirros\n'
        f'PRETTY_NAME="stackyard guest (CirrOS-compatible, Linux {kernel.release})"\n',
        "etc/issue": "stackyard guest (CirrOS-compatible) \\n \\l\n"
        f"login as 'cirros', password '{PASSWORD}'; 'sudo' for root.\n\n",
    }
    for path, text in etc.items():
        add(tree, path, regular(text.encode()))
    for path, target in EXTRA_LINKS.items():
        add(tree, path, symlink(target))
    applets = busybox_links(run(["/bin/busybox", "--list-full"]), tree)
    for path, target in applets.items():
        add(tree, path, symlink(target))
    return tree, modules, taken_from


def make_disk(boot: dict[str, bytes], work: Path, epoch: int) -> Path:
    """A FAT file system with the boot files, made bootable with syslinux, as qcow2."""
    folder = work / "boot"
    folder.mkdir()
    for name, data in boot.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (epoch, epoch))
    # the files, the ldlinux files syslinux adds, and room for the FAT and its clusters
    payload = sum(len(data) for data in boot.values()) + 256 * 1024
    size = (int(payload * 1.02) + MIB) // MIB * MIB + MIB
    image = work / "disk.raw"
    with image.open("wb") as handle:
        handle.truncate(size)
    environment = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    mformat = [
        "mformat",
        "-i",
        str(image),
        "-T",
        str(size // SECTOR),
        "-h",
        "64",
        "-s",
        "32",
        # A fixed disk's media descriptor: image format inspectors (oslo.utils, which nova
        # and glance run) then see a FAT file system, not a boot sector with no partitions.
        "-m",
        "0xf8",
        "-N",
        FAT_SERIAL,
        "-v",
        FAT_LABEL,
        "::",
    ]
    run(mformat, env=environment)
    run(
        ["mcopy", "-m", "-i", str(image), *(str(folder / name) for name in sorted(boot)), "::/"],
        env=environment,
    )
    run(["syslinux", "--install", str(image)], env=environment)
    disk = work / DISK
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(image), str(disk)])
    image.unlink()
    return disk


def package_versions(paths: Iterable[str]) -> dict[str, str]:
    """Package -> version for the packages that own paths (as dpkg knows them)."""
    packages: set[str] = set()
    for path in paths:
        for candidate in dict.fromkeys([path, str(Path(path).resolve())]):
            done = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
            owners = [
                line.split(": ", 1)[0]
                for line in done.stdout.splitlines()
                if ": " in line and not line.startswith("diversion ")
            ]
            if owners:
                packages.update(name.split(":")[0] for name in owners[0].split(", "))
                break
    if not packages:
        return {}
    listed = run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *sorted(packages)])
    return dict(sorted(line.split(" ", 1) for line in listed.splitlines() if line))


def build(kernel: Kernel, work: Path, epoch: int) -> tuple[Path, dict[str, object]]:
    tree, modules, taken_from = make_tree(kernel, work, epoch)
    initrd = xz(cpio_newc(tree, epoch))
    syslinux_cfg = (HERE / "syslinux.cfg").read_bytes()
    boot = {
        "vmlinuz": kernel.vmlinuz.read_bytes(),
        "initrd.img": initrd,
        "syslinux.cfg": syslinux_cfg,
    }
    disk = make_disk(boot, work, epoch)
    command_line = KERNEL_COMMAND_LINE.search(syslinux_cfg.decode())
    versions = package_versions(
        [*taken_from, "/usr/lib/syslinux/modules/bios/ldlinux.c32", "/usr/bin/syslinux"]
    )
    details: dict[str, object] = {
        "kernel": kernel.release,
        "kernel_command_line": command_line.group(1).strip() if command_line else "",
        "kernel_size": len(boot["vmlinuz"]),
        "initramfs_size": len(initrd),
        "initramfs_files": len(tree),
        "modules": modules,
        "packages": {kernel.package: kernel.version, **versions},
    }
    return disk, details


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def virtual_size(disk: Path) -> int:
    info = json.loads(run(["qemu-img", "info", "--output=json", str(disk)]))
    return int(info["virtual-size"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--kernel-package", default=KERNEL_PACKAGE)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    parser.add_argument("--epoch", type=int, default=epoch, help="every timestamp in the disk")
    parser.add_argument(
        "--check", action="store_true", help="make it twice; fail unless the disks are equal"
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="make-guest-") as scratch:
        kernel = fetch_kernel(args.kernel_package, Path(scratch) / "kernel")
        first = Path(scratch) / "first"
        first.mkdir()
        disk, details = build(kernel, first, args.epoch)
        digest = sha256(disk)
        if args.check:
            time.sleep(1.1)  # a timestamp that leaked in would now differ
            second = Path(scratch) / "second"
            second.mkdir()
            again, _ = build(kernel, second, args.epoch)
            if sha256(again) != digest:
                print(f"make_guest: not reproducible: {disk} and {again} differ", file=sys.stderr)
                return 1
        args.output.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(disk, args.output / DISK)
    metadata = {
        "file": DISK,
        "disk_format": "qcow2",
        "container_format": "bare",
        "size": (args.output / DISK).stat().st_size,
        "virtual_size": virtual_size(args.output / DISK),
        "sha256": digest,
        "source_date_epoch": args.epoch,
        "reproducible_checked": args.check,
        "logins": {name: PASSWORD for name, *_ in USERS},
        "console_markers": {
            "ip": "stackyard-guest: ip ",
            "ssh_ready": "stackyard-guest: ssh ready",
        },
        **details,
    }
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    (args.output / METADATA).write_text(text)
    for path in (args.output / DISK, args.output / METADATA):
        path.chmod(0o644)
    print(text, end="")
    print(
        f"make_guest: {DISK} {metadata['size']} bytes, sha256 {digest}, "
        f"{time.monotonic() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
