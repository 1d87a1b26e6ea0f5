"""The same tree for Debian bookworm (OpenStack Zed): its own root, tag and packages."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from stackyard.engine import DockerEngine
from stackyard.images import graph
from stackyard.images.builder import Builder
from stackyard.images.model import BuildStatus, Catalog
from tests.integration.conftest import options_for

pytestmark = pytest.mark.engine


def test_bookworm_keystone_is_zed(
    engine: DockerEngine, client: docker.DockerClient, catalog: Catalog, tmp_path: Path
) -> None:
    options = options_for(catalog, tmp_path, suite="bookworm")
    report = Builder(engine, catalog, options).build(graph.select(catalog, ["keystone"], []))
    assert report.ok, [(r.name, r.error) for r in report.results]
    assert report.root is not None and report.root.reference == "sytest/debian:bookworm"
    assert [r.reference for r in report.results][-1] == "sytest/keystone:zed-bookworm"
    assert set(report.by_status(BuildStatus.BUILT)) | set(report.by_status(BuildStatus.CACHED)) == {
        "base",
        "openstack-base",
        "keystone-base",
        "keystone",
    }
    version = client.containers.run(
        "sytest/keystone:zed-bookworm",
        ["keystone-manage", "--version"],
        entrypoint=[],
        remove=True,
    ).decode()
    assert version.startswith("22."), version
    uid = client.containers.run(
        "sytest/keystone:zed-bookworm", ["id", "-u"], entrypoint=[], remove=True
    ).decode()
    assert uid.strip() == str(catalog.users["keystone"].uid)
