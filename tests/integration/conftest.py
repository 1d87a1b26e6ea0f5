"""Integration fixtures: a real engine (never skipped; a missing engine fails the run) and one
cold build of the whole image tree per test session, in a namespace of its own."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from stackyard.engine import DockerEngine, connect
from stackyard.images import graph
from stackyard.images.builder import Builder
from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.model import BuildOptions, BuildReport, Catalog
from stackyard.images.options import make_options
from tests.integration.deployment import OPERATOR_PASSWORDS, Cloud

NAMESPACE = "sytest"
WORKERS = int(os.environ.get("STACKYARD_TEST_WORKERS", "2"))


@pytest.fixture(scope="session")
def engine() -> DockerEngine:
    return connect()


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    return docker.from_env(timeout=300)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_root())


def options_for(catalog: Catalog, logs: Path, **kwargs: object) -> BuildOptions:
    settings: dict[str, object] = {"namespace": NAMESPACE, "workers": WORKERS, "logs_dir": logs}
    return make_options(catalog, **{**settings, **kwargs})


def remove_namespace(client: docker.DockerClient, namespace: str) -> None:
    for image in client.images.list():
        for tag in image.tags:
            if tag.split("/")[0] == namespace or f"/{namespace}/" in tag:
                client.images.remove(tag, force=True)


@pytest.fixture(scope="session")
def cold_build(
    engine: DockerEngine,
    client: docker.DockerClient,
    catalog: Catalog,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BuildOptions, BuildReport]]:
    """The whole tree built from nothing: the root image is made with debootstrap."""
    if os.environ.get("STACKYARD_TEST_REUSE_IMAGES") != "1":  # a developer shortcut, never in CI
        remove_namespace(client, NAMESPACE)
    client.images.prune(filters={"dangling": True})
    options = options_for(catalog, tmp_path_factory.mktemp("logs"))
    report = Builder(engine, catalog, options).build(graph.select(catalog, [], []))
    yield options, report


@pytest.fixture
def images_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped image folders that a test may change."""
    target = tmp_path / "images"
    shutil.copytree(default_root(), target)
    return target


@pytest.fixture(scope="module")
def cloud(
    request: pytest.FixtureRequest,
    cold_build: tuple[BuildOptions, BuildReport],
    engine: DockerEngine,
    catalog: Catalog,
    client: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cloud]:
    """A fresh all-in-one config dir (globals and passwords) on an empty engine; each test
    module gets its own and destroys it, volumes included, at the end. Modules test the
    identity plane unless they set CLOUD_GLOBALS (test_core_cloud.py deploys the core cloud)."""
    options, _ = cold_build
    # Earlier tests rebuild images from modified templates: deploy the shipped ones.
    report = Builder(engine, catalog, options).build(graph.select(catalog, [], []))
    assert report.ok
    cloud = Cloud(tmp_path_factory.mktemp("etc-stackyard"), client)
    settings = getattr(request.module, "CLOUD_GLOBALS", {"enable_openstack_core": "no"})
    cloud.write_globals(docker_namespace=NAMESPACE, **settings)
    cloud.run("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
    cloud.write_passwords(OPERATOR_PASSWORDS)
    cloud.run("genpwd")
    assert OPERATOR_PASSWORDS.items() <= cloud.passwords.items()
    yield cloud
    cloud.run("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
