"""Turn what the operator asked for into BuildOptions, validated (pure)."""

from __future__ import annotations

import os
from pathlib import Path

from stackyard.errors import ConfigError
from stackyard.images.model import INSTALL_TYPES, BuildOptions, Catalog, default_tag


def make_options(
    catalog: Catalog,
    *,
    suite: str | None = None,
    tag: str | None = None,
    namespace: str = "stackyard",
    install_type: str = "binary",
    mirror: str = "http://deb.debian.org/debian",
    registry: str | None = None,
    ca_bundle: Path | None = None,
    template_override: Path | None = None,
    squash: bool = False,
    push: bool = False,
    workers: int | None = None,
    logs_dir: Path = Path("/var/log/stackyard/build"),
) -> BuildOptions:
    suite = suite or catalog.default_suite
    if suite not in catalog.suites:
        raise ConfigError(
            f"unknown suite {suite!r}; choose one of {', '.join(sorted(catalog.suites))}"
        )
    if install_type not in INSTALL_TYPES:
        raise ConfigError(
            f"unknown install type {install_type!r}; choose one of {', '.join(INSTALL_TYPES)}"
        )
    if install_type == "source":
        raise ConfigError("install type 'source' is not available yet; use 'binary'")
    if not mirror.startswith(("http://", "https://")):
        raise ConfigError(f"mirror {mirror!r} must be an http:// or https:// URL")
    if push and not registry:
        raise ConfigError("--push needs --registry HOST[:PORT]")
    if ca_bundle is not None:
        _check_ca_bundle(ca_bundle)
    if template_override is not None and not template_override.is_file():
        raise ConfigError(f"{template_override}: template override file does not exist")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1 (got {workers})")
    release = catalog.suites[suite]
    return BuildOptions(
        suite=suite,
        openstack_release=release,
        tag=tag or default_tag(release, suite),
        namespace=namespace,
        install_type=install_type,
        apt_mirror=mirror.rstrip("/"),
        registry=registry,
        ca_bundle=ca_bundle,
        template_override=template_override,
        squash=squash,
        push=push,
        workers=workers or os.cpu_count() or 1,
        logs_dir=logs_dir,
    )


def _check_ca_bundle(path: Path) -> None:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read CA bundle ({exc.strerror})") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(f"{path}: not a PEM CA bundle (no BEGIN CERTIFICATE line)")
