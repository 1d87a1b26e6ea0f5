"""Content keys for images (pure).

An image's key is a digest of everything that decides its content: the rendered Dockerfile,
every file in its folder, its parent's key and the build options that change what gets
installed. Equal key means the existing image is reused; the key is stored in the image label
`stackyard.cache-key`, so the engine itself holds the cache state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from stackyard.images.model import BuildOptions

LABEL = "stackyard.cache-key"


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def folder_digest(folder: Path) -> str:
    """Digest of every file below folder: relative path, executable bit and content."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        executable = b"x" if path.stat().st_mode & 0o111 else b"-"
        h.update(_digest(rel, executable, path.read_bytes()).encode())
    return h.hexdigest()


def options_fingerprint(options: BuildOptions) -> str:
    """The build options that change image content (not where images go or how many workers)."""
    ca = _digest(options.ca_bundle.read_bytes()) if options.ca_bundle else None
    fields = {
        "base_distro": options.base_distro,
        "base_arch": options.base_arch,
        "suite": options.suite,
        "openstack_release": options.openstack_release,
        "install_type": options.install_type,
        "apt_mirror": options.apt_mirror,
        "ca_bundle": ca,
        "squash": options.squash,
    }
    return _digest(json.dumps(fields, sort_keys=True))


def image_key(dockerfile: str, folder: str, parent_key: str, fingerprint: str) -> str:
    return _digest("image", dockerfile, folder, parent_key, fingerprint)


def root_key(options: BuildOptions, overlay: str, recipe: str) -> str:
    """Key of the debootstrap root image: suite, mirror, overlay files and recipe version."""
    return _digest("root", options.base_distro, options.suite, options.apt_mirror, overlay, recipe)
