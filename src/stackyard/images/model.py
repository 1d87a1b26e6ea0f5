"""Value types of the build pipeline (pure)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

INSTALL_TYPES = ("binary", "source")


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One image folder: its Dockerfile template, its parent, the user it runs as, the
    folders that user must own to put its configuration in place without privilege, and its
    oslo.config files, whose options the build lists (path, and the namespaces that register
    them; None: every namespace installed)."""

    name: str
    folder: Path
    parent: str | None
    user: str
    config_paths: tuple[str, ...] = ()
    oslo_config: tuple[tuple[str, tuple[str, ...] | None], ...] = ()

    @property
    def template(self) -> Path:
        return self.folder / "Dockerfile.j2"


@dataclass(frozen=True, slots=True)
class UserSpec:
    name: str
    uid: int
    gid: int
    home: str | None = None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Everything the image data folder declares: images, users, profiles and suites."""

    root: Path
    images: dict[str, ImageSpec]
    users: dict[str, UserSpec]
    profiles: dict[str, tuple[str, ...]]
    suites: dict[str, str]  # Debian suite -> OpenStack release it ships
    default_suite: str


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What a build is asked for. Every field that changes image content is in the cache key."""

    suite: str
    openstack_release: str
    tag: str
    namespace: str = "stackyard"
    base_distro: str = "debian"
    base_arch: str = "x86_64"
    install_type: str = "binary"
    apt_mirror: str = "http://deb.debian.org/debian"
    registry: str | None = None
    ca_bundle: Path | None = None
    template_override: Path | None = None
    squash: bool = False
    push: bool = False
    workers: int = 1
    logs_dir: Path = Path("/var/log/stackyard/build")

    def repository(self, image: str) -> str:
        """The local repository name of an image (tags are `self.tag`)."""
        return f"{self.namespace}/{image}"

    def remote_repository(self, image: str) -> str:
        if not self.registry:
            raise ValueError("no registry configured")
        return f"{self.registry}/{self.namespace}/{image}"

    @property
    def root_repository(self) -> str:
        """The distro root image made by debootstrap (or pulled), parent of `base`."""
        return f"{self.namespace}/{self.base_distro}"

    @property
    def root_reference(self) -> str:
        return f"{self.root_repository}:{self.suite}"


class BuildStatus(enum.Enum):
    BUILT = "built"
    CACHED = "cached"
    PULLED = "pulled"  # the root image, taken from the registry
    FAILED = "failed"
    PARENT_FAILED = "parent-failed"


@dataclass(frozen=True, slots=True)
class ImageResult:
    name: str
    status: BuildStatus
    reference: str
    cache_key: str
    seconds: float = 0.0
    image_id: str | None = None
    error: str | None = None
    log: Path | None = None
    pushed: str | None = None


@dataclass(frozen=True, slots=True)
class BuildReport:
    results: tuple[ImageResult, ...]
    seconds: float
    root: ImageResult | None = None

    @property
    def ok(self) -> bool:
        return all(
            r.status in (BuildStatus.BUILT, BuildStatus.CACHED) and r.error is None
            for r in self.results
        )

    def by_status(self, status: BuildStatus) -> list[str]:
        return [r.name for r in self.results if r.status is status]


def default_tag(openstack_release: str, suite: str) -> str:
    """The tag images get unless one is given: build and deploy agree through this alone."""
    return f"{openstack_release}-{suite}"
