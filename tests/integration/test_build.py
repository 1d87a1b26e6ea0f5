"""The image tree built on the real engine: contents, users, the start contract, caching."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker
import pytest

from stackyard.engine import DockerEngine
from stackyard.images import graph
from stackyard.images.builder import Builder
from stackyard.images.cache import LABEL
from stackyard.images.catalog import load_catalog
from stackyard.images.model import BuildOptions, BuildReport, BuildStatus, Catalog

pytestmark = pytest.mark.engine


def run(client: docker.DockerClient, image: str, command: list[str], **kwargs: object) -> str:
    output = client.containers.run(image, command, entrypoint=[], remove=True, **kwargs)
    return str(output.decode())


def ref(options: BuildOptions, name: str) -> str:
    return f"{options.repository(name)}:{options.tag}"


def test_cold_build_makes_every_image(
    cold_build: tuple[BuildOptions, BuildReport], catalog: Catalog
) -> None:
    _, report = cold_build
    assert report.ok, [(r.name, r.error) for r in report.results if r.error]
    assert report.root is not None and report.root.status is BuildStatus.BUILT
    assert {r.name for r in report.results} == set(catalog.images)
    assert report.by_status(BuildStatus.BUILT) == [r.name for r in report.results]


def test_service_binaries_run(
    cold_build: tuple[BuildOptions, BuildReport], client: docker.DockerClient
) -> None:
    options, _ = cold_build
    assert (
        run(client, ref(options, "keystone"), ["keystone-manage", "--version"]).strip()[0].isdigit()
    )
    assert "MariaDB" in run(client, ref(options, "mariadb-server"), ["mariadbd", "--version"])
    assert run(client, ref(options, "rabbitmq"), ["rabbitmqctl", "version"]).strip()[0].isdigit()
    assert "HAProxy version" in run(client, ref(options, "haproxy"), ["haproxy", "-v"])
    assert "Keepalived" in run(
        client, ref(options, "keepalived"), ["keepalived", "--version"], stderr=True
    )
    assert "openstack" in run(
        client, ref(options, "toolbox"), ["openstack", "--version"], stderr=True
    )


def test_images_run_as_their_fixed_users(
    cold_build: tuple[BuildOptions, BuildReport], catalog: Catalog, client: docker.DockerClient
) -> None:
    options, _ = cold_build
    for name, spec in catalog.images.items():
        uid = run(client, ref(options, name), ["id", "-u"]).strip()
        expected = 0 if spec.user == "root" else catalog.users[spec.user].uid
        assert uid == str(expected), name
        owner = run(client, ref(options, name), ["stat", "-c", "%U:%G %a", "/var/log/kolla"])
        assert owner.strip() == "root:kolla 2775", name


def test_no_image_carries_apt_caches(
    cold_build: tuple[BuildOptions, BuildReport], catalog: Catalog, client: docker.DockerClient
) -> None:
    options, _ = cold_build
    probe = "find /var/lib/apt/lists /var/cache/apt -type f ! -name lock | wc -l"
    for name in catalog.images:
        files = run(client, ref(options, name), ["sh", "-c", probe]).strip()
        assert files == "0", name


def kolla_container(
    client: docker.DockerClient,
    image: str,
    config_dir: Path,
    environment: dict[str, str] | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
    **kwargs: object,
) -> docker.models.containers.Container:
    """A detached container of `image` started the Kolla way, with config_dir as its config."""
    return client.containers.run(
        image,
        detach=True,
        environment={"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS", **(environment or {})},
        volumes={
            str(config_dir): {"bind": "/var/lib/kolla/config_files", "mode": "ro"},
            **(volumes or {}),
        },
        **kwargs,
    )


def write_config(folder: Path, config: dict[str, object], files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def wait_exit(container: docker.models.containers.Container) -> tuple[int, str]:
    result = container.wait(timeout=120)
    logs = container.logs().decode()
    container.remove()
    return result["StatusCode"], logs


def test_start_script_applies_config_json_and_execs(
    cold_build: tuple[BuildOptions, BuildReport], client: docker.DockerClient, tmp_path: Path
) -> None:
    options, _ = cold_build
    config = write_config(
        tmp_path / "cfg",
        {
            # kolla_start splits the command on white space (no shell quoting): use a script
            "command": "/usr/local/bin/stackyard-test",
            "config_files": [
                {
                    "source": "/var/lib/kolla/config_files/test.conf",
                    "dest": "/etc/stackyard-test.conf",
                    "owner": "toolbox",
                    "perm": "0600",
                },
                {
                    "source": "/var/lib/kolla/config_files/test.sh",
                    "dest": "/usr/local/bin/stackyard-test",
                    "owner": "root",
                    "perm": "0755",
                },
            ],
        },
        {
            "test.conf": "hello from config.json\n",
            "test.sh": "#!/bin/bash\nstat -c '%U %a' /etc/stackyard-test.conf\n"
            "cat /etc/stackyard-test.conf\nps -o comm= -p $PPID\nid -un\n",
        },
    )
    code, logs = wait_exit(kolla_container(client, ref(options, "toolbox"), config))
    assert code == 0, logs
    lines = logs.splitlines()
    assert "toolbox 600" in lines
    assert "hello from config.json" in lines
    # exec: the command replaced kolla_start, so its parent is dumb-init (PID 1)
    assert "dumb-init" in lines
    assert lines[-1] == "toolbox"


def test_bootstrap_mode_is_one_shot(
    cold_build: tuple[BuildOptions, BuildReport], client: docker.DockerClient, tmp_path: Path
) -> None:
    options, _ = cold_build
    config = write_config(tmp_path / "db", {"command": "mariadbd"}, {})
    volume = client.volumes.create()
    try:
        container = kolla_container(
            client,
            ref(options, "mariadb-server"),
            config,
            environment={
                "KOLLA_BOOTSTRAP": "",
                "DB_ROOT_PASSWORD": "secret'pw",
            },
            volumes={
                volume.name: {"bind": "/var/lib/mysql", "mode": "rw"},
            },
        )
        code, logs = wait_exit(container)
        assert code == 0, logs
        assert "MariaDB data directory initialised" in logs
        server = kolla_container(
            client,
            ref(options, "mariadb-server"),
            config,
            volumes={
                volume.name: {"bind": "/var/lib/mysql", "mode": "rw"},
            },
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                code, out = server.exec_run(["healthcheck_mariadb"])
                if code == 0:
                    break
                time.sleep(0.5)
            assert code == 0, out
            code, out = server.exec_run(
                ["mariadb", "-uroot", "-psecret'pw", "-h127.0.0.1", "-Nse", "SELECT CURRENT_USER()"]
            )
            assert code == 0 and out.decode().startswith("root@"), out
            code, out = server.exec_run(
                ["mariadb", "-uroot", "-pwrong", "-h127.0.0.1", "-Nse", "SELECT 1"]
            )
            assert code != 0 and b"Access denied" in out
            checks = {
                "healthcheck_socket mariadbd /run/mysqld/mysqld.sock": 0,
                "healthcheck_socket mariadbd /run/mysqld/other.sock": 1,
                "touch /tmp/new && healthcheck_filemod /tmp/new 60": 0,
                "touch -d 2000-01-01 /tmp/old && healthcheck_filemod /tmp/old 60": 1,
            }
            for check, expected in checks.items():
                code, out = server.exec_run(["sh", "-c", check])
                assert code == expected, (check, out)
            user = server.exec_run(["ps", "-o", "user=", "-C", "mariadbd"]).output.decode().split()
            assert user == ["mysql"]
        finally:
            server.remove(force=True)
    finally:
        volume.remove(force=True)


HAPROXY_CFG = """global
  maxconn 100
defaults
  mode http
  timeout connect 1s
  timeout client 1s
  timeout server 1s
frontend f
  bind :80
"""

# image -> (command, its process name, a health check that must pass, one that must fail)
SERVICES = {
    "memcached": (
        "memcached -p 11211 -l 127.0.0.1",
        "memcached",
        ["healthcheck_listen", "memcached", "11211"],
        ["healthcheck_listen", "memcached", "11299"],
    ),
    "haproxy": (
        "haproxy -W -db -f /etc/haproxy/haproxy.cfg",
        "haproxy",
        ["healthcheck_listen", "haproxy", "80"],
        ["healthcheck_curl", "http://127.0.0.1:80/"],  # no backend: 503 is a failure
    ),
    "rabbitmq": (
        "/usr/sbin/rabbitmq-server",
        "beam.smp",
        ["healthcheck_rabbitmq"],
        ["healthcheck_port", "beam.smp", "5672"],  # no client is connected
    ),
}


def wait_for(container: docker.models.containers.Container, command: list[str]) -> str:
    """Run command in the container until it succeeds (60 s at most); its output."""
    deadline = time.monotonic() + 60
    while True:
        container.reload()
        assert container.status in ("created", "running"), container.logs().decode()[-2000:]
        code, output = container.exec_run(command)
        if code == 0 and output.strip():
            return str(output.decode())
        assert time.monotonic() < deadline, (command, output, container.logs().decode()[-2000:])
        time.sleep(0.5)


@pytest.mark.parametrize("image", sorted(SERVICES))
def test_service_runs_as_its_user_and_health_checks_tell(
    image: str,
    cold_build: tuple[BuildOptions, BuildReport],
    catalog: Catalog,
    client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    options, _ = cold_build
    command, process, healthy, unhealthy = SERVICES[image]
    files = [
        {
            "source": "/var/lib/kolla/config_files/haproxy.cfg",
            "dest": "/etc/haproxy/haproxy.cfg",
            "owner": "haproxy",
            "perm": "0600",
        }
    ]
    config = write_config(
        tmp_path,
        {"command": command, "config_files": files if image == "haproxy" else []},
        {"haproxy.cfg": HAPROXY_CFG},
    )
    # a non-root haproxy binds port 80 once the container allows unprivileged low ports
    sysctls = {"net.ipv4.ip_unprivileged_port_start": "0"} if image == "haproxy" else {}
    container = kolla_container(
        client, ref(options, image), config, hostname="sytest-node", sysctls=sysctls
    )
    try:
        uids = wait_for(container, ["ps", "-o", "uid=", "-C", process]).split()
        assert set(uids) == {str(catalog.users[catalog.images[image].user].uid)}
        wait_for(container, ["sh", "-c", " ".join(healthy) + " && echo healthy"])
        code, output = container.exec_run(unhealthy)
        assert code != 0, output
    finally:
        container.remove(force=True)


def test_second_build_is_all_cached(
    cold_build: tuple[BuildOptions, BuildReport], engine: DockerEngine, catalog: Catalog
) -> None:
    options, _ = cold_build
    start = time.monotonic()
    report = Builder(engine, catalog, options).build(graph.select(catalog, [], []))
    print(f"no-op rebuild: {time.monotonic() - start:.2f} s")
    assert report.by_status(BuildStatus.CACHED) == [r.name for r in report.results]
    assert report.root is not None and report.root.status is BuildStatus.CACHED
    keystone = next(r for r in report.results if r.name == "keystone")
    labels = engine.image_labels(ref(options, "keystone"))
    assert labels is not None and labels[LABEL] == keystone.cache_key


def test_template_change_rebuilds_that_image_and_its_children(
    cold_build: tuple[BuildOptions, BuildReport],
    engine: DockerEngine,
    images_copy: Path,
) -> None:
    options, _ = cold_build
    template = images_copy / "keystone-base" / "Dockerfile.j2"
    template.write_text(template.read_text() + "RUN echo changed > /tmp/stackyard-changed\n")
    catalog = load_catalog(images_copy)
    report = Builder(engine, catalog, options).build(graph.select(catalog, [], []))
    assert report.ok
    assert set(report.by_status(BuildStatus.BUILT)) == {
        "keystone-base",
        "keystone",
        "keystone-fernet",
    }
    assert set(report.by_status(BuildStatus.CACHED)) == set(catalog.images) - {
        "keystone-base",
        "keystone",
        "keystone-fernet",
    }


def descendants(catalog: Catalog, name: str) -> set[str]:
    """Every image below name in the tree."""
    found: set[str] = set()
    changed = True
    while changed:
        more = {n for n, spec in catalog.images.items() if spec.parent in found | {name}}
        changed = not more <= found
        found |= more
    return found


def test_broken_template_fails_only_its_subtree(
    cold_build: tuple[BuildOptions, BuildReport],
    engine: DockerEngine,
    images_copy: Path,
) -> None:
    options, _ = cold_build
    before = engine.inspect_image(ref(options, "openstack-base"))
    broken_run = images_copy / "openstack-base" / "Dockerfile.j2"
    broken_run.write_text(broken_run.read_text() + "RUN echo failing on purpose && exit 3\n")
    broken_syntax = images_copy / "memcached" / "Dockerfile.j2"
    broken_syntax.write_text(broken_syntax.read_text() + "{% if %}\n")
    catalog = load_catalog(images_copy)
    report = Builder(engine, catalog, options).build(graph.select(catalog, [], []))
    results = {r.name: r for r in report.results}
    assert not report.ok
    assert results["openstack-base"].status is BuildStatus.FAILED
    assert "returned a non-zero code: 3" in (results["openstack-base"].error or "")
    assert results["memcached"].status is BuildStatus.FAILED
    assert f"{broken_syntax}:" in (results["memcached"].error or "")
    below = descendants(catalog, "openstack-base")
    assert below >= {"keystone-base", "keystone", "keystone-fernet", "toolbox"}
    assert {n for n, r in results.items() if r.status is BuildStatus.PARENT_FAILED} == below
    assert {n for n, r in results.items() if r.status is BuildStatus.CACHED} == (
        set(catalog.images) - below - {"openstack-base", "memcached"}
    )
    # nothing half-tagged: the tag still names the image it named before
    after = engine.inspect_image(ref(options, "openstack-base"))
    assert before is not None and after is not None and before["Id"] == after["Id"]
