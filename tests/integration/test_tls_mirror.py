"""Builds behind this machine's TLS-intercepting proxy: an https mirror works only with the CA
bundle given by --ca-bundle (the proxy's certificate is not in Debian's CA store)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from stackyard.engine import DockerEngine
from stackyard.images import graph
from stackyard.images.builder import Builder
from stackyard.images.model import BuildStatus, Catalog
from tests.integration.conftest import options_for, remove_namespace

pytestmark = pytest.mark.engine
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MIRROR = "https://deb.debian.org/debian"


def test_https_mirror_needs_and_uses_the_ca_bundle(
    engine: DockerEngine, client: docker.DockerClient, catalog: Catalog, tmp_path: Path
) -> None:
    names = graph.select(catalog, ["base"], [])
    try:
        without = options_for(catalog, tmp_path / "a", namespace="sytest-tls", mirror=MIRROR)
        report = Builder(engine, catalog, without).build(names)
        assert report.root is not None and report.root.status is BuildStatus.BUILT
        assert report.by_status(BuildStatus.FAILED) == ["base"]
        assert report.results[0].log is not None
        assert "certificate" in report.results[0].log.read_text()

        with_ca = options_for(
            catalog, tmp_path / "b", namespace="sytest-tls", mirror=MIRROR, ca_bundle=HOST_BUNDLE
        )
        report = Builder(engine, catalog, with_ca).build(names)
        assert report.ok, [(r.name, r.error) for r in report.results]
        assert report.by_status(BuildStatus.BUILT) == ["base"]
        assert report.root is not None and report.root.status is BuildStatus.CACHED
    finally:
        remove_namespace(client, "sytest-tls")
