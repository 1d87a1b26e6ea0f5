"""Push to and pull from a real registry (Debian's docker-registry), and squashed builds."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from stackyard.engine import DockerEngine
from stackyard.images import graph
from stackyard.images.builder import Builder
from stackyard.images.cache import LABEL
from stackyard.images.model import BuildOptions, BuildReport, BuildStatus, Catalog
from tests.integration.conftest import options_for
from tests.integration.deployment import Cloud

pytestmark = pytest.mark.engine
REGISTRY = "127.0.0.1:5055"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is not installed (scripts/test installs it)"
    storage = tmp_path_factory.mktemp("registry")
    config = storage / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}/data\n"
        f"http:\n  addr: {REGISTRY}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "docker-registry did not start"
                time.sleep(0.2)
        yield REGISTRY
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_push_then_pull(
    cold_build: tuple[BuildOptions, BuildReport],
    engine: DockerEngine,
    client: docker.DockerClient,
    catalog: Catalog,
    registry: str,
    tmp_path: Path,
) -> None:
    options = options_for(catalog, tmp_path, registry=registry, push=True)
    report = Builder(engine, catalog, options).build(graph.select(catalog, ["memcached"], []))
    assert report.ok, [(r.name, r.error) for r in report.results]
    assert report.by_status(BuildStatus.CACHED) == ["base", "memcached"]
    remote = f"{registry}/sytest/memcached:{options.tag}"
    assert [r.pushed for r in report.results] == [f"{registry}/sytest/base:{options.tag}", remote]
    assert report.root is not None and report.root.pushed == f"{registry}/sytest/debian:trixie"
    local_id = client.images.get(f"sytest/memcached:{options.tag}").id
    client.images.remove(remote)
    pulled = client.images.pull(remote)
    assert pulled.id == local_id
    assert pulled.labels[LABEL] == report.results[-1].cache_key


def test_root_image_is_pulled_from_the_registry_when_missing(
    cold_build: tuple[BuildOptions, BuildReport],
    engine: DockerEngine,
    client: docker.DockerClient,
    catalog: Catalog,
    registry: str,
    tmp_path: Path,
) -> None:
    options = options_for(catalog, tmp_path, registry=registry, namespace="sytest-pull", push=False)
    source = client.images.get(f"{registry}/sytest/debian:trixie")
    source.tag(f"{registry}/sytest-pull/debian", "trixie")
    client.images.push(f"{registry}/sytest-pull/debian", "trixie")
    client.images.remove(f"{registry}/sytest-pull/debian:trixie")
    try:
        report = Builder(engine, catalog, options).build(graph.select(catalog, ["base"], []))
        assert report.ok, [(r.name, r.error) for r in report.results]
        assert report.root is not None and report.root.status is BuildStatus.PULLED
        assert report.root.image_id == source.id
        assert report.root.log is not None
        assert f"pulled {registry}/sytest-pull/debian:trixie" in report.root.log.read_text()
    finally:
        pulled = f"{registry}/sytest-pull/debian:trixie"
        for ref in (f"sytest-pull/base:{options.tag}", "sytest-pull/debian:trixie", pulled):
            client.images.remove(ref, force=True)


def test_squash_keeps_parent_layers_and_labels(
    cold_build: tuple[BuildOptions, BuildReport],
    engine: DockerEngine,
    client: docker.DockerClient,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    options = options_for(catalog, tmp_path, squash=True, tag="squashed")
    report = Builder(engine, catalog, options).build(graph.select(catalog, ["memcached"], []))
    try:
        assert report.ok, [(r.name, r.error) for r in report.results]
        base = client.images.get("sytest/base:squashed")
        squashed = client.images.get("sytest/memcached:squashed")
        base_layers = base.attrs["RootFS"]["Layers"]
        layers = squashed.attrs["RootFS"]["Layers"]
        assert layers[: len(base_layers)] == base_layers
        assert len(layers) == len(base_layers) + 1
        assert squashed.labels[LABEL] == report.results[-1].cache_key
        assert squashed.attrs["Config"]["User"] == "memcached"
        again = Builder(engine, catalog, options).build(graph.select(catalog, ["memcached"], []))
        assert again.by_status(BuildStatus.CACHED) == ["base", "memcached"]
    finally:
        for ref in ("sytest/memcached:squashed", "sytest/base:squashed"):
            client.images.remove(ref, force=True)


def test_stackyard_pull_fetches_the_deployment_images(
    cold_build: tuple[BuildOptions, BuildReport],
    client: docker.DockerClient,
    registry: str,
    tmp_path: Path,
) -> None:
    """`stackyard pull` with docker_registry set: every image the deployment uses (here only
    memcached, and the host firewall it needs, are enabled) comes from the registry."""
    options, _ = cold_build
    remotes = [f"{registry}/{options.namespace}/{name}" for name in ("memcached", "host-firewall")]
    for remote in remotes:
        local = f"{options.namespace}/{remote.rsplit('/', 1)[1]}:{options.tag}"
        client.images.get(local).tag(remote, options.tag)
        client.images.push(remote, options.tag)
        client.images.remove(f"{remote}:{options.tag}")
    (tmp_path / "globals.yml").write_text(
        f"docker_registry: '{registry}'\ndocker_namespace: {options.namespace}\n"
        "enable_openstack_core: 'no'\nenable_mariadb: 'no'\ndatabase_address: 192.0.2.9\n"
        "enable_rabbitmq: 'no'\n"
        "enable_keystone: 'no'\nenable_haproxy: 'no'\nenable_keepalived: 'no'\n"
    )
    cloud = Cloud(tmp_path, client)
    cloud.run("genpwd")
    result = cloud.run("pull", check=False)
    assert result.returncode == 0, result.stderr
    for remote in remotes:
        assert f"pulling {remote}:{options.tag}" in result.stdout
        assert client.images.get(f"{remote}:{options.tag}").labels[LABEL]
        client.images.remove(f"{remote}:{options.tag}")
    assert "pulled 2 images" in result.stdout


def test_stackyard_pull_without_a_registry_says_what_to_do(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    cloud = Cloud(tmp_path, client)
    cloud.run("genpwd")
    result = cloud.run("pull", check=False)
    assert result.returncode == 2
    assert "docker_registry is not set" in result.stderr and "stackyard build" in result.stderr
