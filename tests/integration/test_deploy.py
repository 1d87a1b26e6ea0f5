"""The all-in-one control plane on the real engine: deploy, use, redeploy, reconfigure, stop,
destroy. Tests run in file order and share one deployment (module fixture); each leaves it
deployed and healthy for the next."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from stackyard.deploy.report import NO_CHANGES
from stackyard.facts import default_route_address
from tests.integration.conftest import NAMESPACE
from tests.integration.deployment import Cloud, managed

VIP = default_route_address()
SERVICES = {"host_firewall", "haproxy", "mariadb", "memcached", "rabbitmq", "keystone",
            "keystone_fernet"}  # fmt: skip
JOBS = {"mariadb_bootstrap", "keystone_database", "keystone_db_sync", "keystone_fernet_setup",
        "keystone_credential_setup", "keystone_bootstrap", "keystone_cache_flush",
        "keystone_service_project"}  # fmt: skip


def test_prechecks_pass_on_this_host_and_change_nothing(cloud: Cloud) -> None:
    result = cloud.run("prechecks")
    assert "FAIL" not in result.stdout
    assert f"ok    image {NAMESPACE}/keystone:2025.1-trixie: present" in result.stdout
    assert f"ok    port {VIP}:5000: free" in result.stdout
    assert "privileged containers:" in result.stdout and "no service needs it" in result.stdout
    assert managed(cloud.client)["containers"] == []


def test_fresh_deploy_brings_up_a_working_identity_plane(cloud: Cloud) -> None:
    seconds, result = cloud.timed("deploy")
    print(f"cold deploy: {seconds:.1f} s")
    assert "Plan: 7 to create, 8 to run." in result.stdout
    containers = cloud.containers()
    assert {n for n, c in containers.items() if c["kind"] == "service"} == SERVICES
    assert {n for n, c in containers.items() if c["kind"] == "job"} == JOBS
    assert all(c["status"] == "running" for n, c in containers.items() if n in SERVICES)
    assert all(c["status"] == "exited" and c["exit"] == 0 for n, c in containers.items()
               if n in JOBS)  # fmt: skip
    check = cloud.run("check")
    assert "FAIL" not in check.stdout
    assert f"frontend keystone_internal ({VIP}:5000): GET /v3 -> 200" in check.stdout
    # RabbitMQ's user and vhost come from the definitions file loaded at boot.
    rabbitmq = cloud.client.containers.get("rabbitmq")
    password = cloud.passwords["rabbitmq_password"]
    code, output = rabbitmq.exec_run(["rabbitmqctl", "authenticate_user", "openstack", password])
    assert code == 0, output
    code, output = rabbitmq.exec_run(["rabbitmqctl", "list_permissions", "--vhost", "/"])
    assert code == 0 and b"openstack\t.*\t.*\t.*" in output, output


def test_post_deploy_credentials_work_with_the_openstack_cli(cloud: Cloud) -> None:
    result = cloud.run("post-deploy")
    clouds = cloud.config_dir / "clouds.yaml"
    openrc = cloud.config_dir / "admin-openrc.sh"
    assert "openstack --os-cloud stackyard-admin token issue" in result.stdout
    for path in (clouds, openrc):
        assert path.stat().st_mode & 0o777 == 0o600
    password = cloud.passwords["keystone_admin_password"]
    assert password not in result.stdout + result.stderr
    # clouds.yaml, and admin-openrc.sh sourced by bash: the operator's password (quotes,
    # dollars, backslashes) must reach Keystone unchanged through both.
    scripts = {
        "token": "openstack --os-cloud stackyard-admin token issue -f json",
        "endpoints": "openstack --os-cloud stackyard-admin endpoint list -f json",
        "openrc token": ". /admin-openrc.sh && openstack token issue -f json",
    }
    for what, script in scripts.items():
        run = subprocess.run(
            ["docker", "run", "--rm", "--network", "host", "--user", "root",
             "-v", f"{clouds}:/etc/openstack/clouds.yaml:ro",
             "-v", f"{openrc}:/admin-openrc.sh:ro", "--entrypoint", "bash",
             f"{NAMESPACE}/toolbox:2025.1-trixie", "-c", script],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, (what, run.stderr)
        answer = json.loads(run.stdout)
        if what == "endpoints":
            assert {(e["Interface"], e["URL"]) for e in answer} == {
                (i, f"http://{VIP}:5000") for i in ("public", "internal", "admin")
            }
        else:
            assert answer["project_id"] and answer["expires"], what


def test_users_and_projects_through_haproxy(cloud: Cloud) -> None:
    keystone = cloud.keystone(VIP)
    token = cloud.admin_token(VIP)
    project = keystone.create(token, "project", {"name": "crud-project", "domain_id": "default"})
    user = keystone.create(token, "user", {"name": "crud-user", "password": "crud-pass-1",
                                           "default_project_id": project})  # fmt: skip
    status, _, roles = keystone.request("GET", "/v3/roles?name=admin", token=token)
    role = roles["roles"][0]["id"]
    status, _, _ = keystone.request(
        "PUT", f"/v3/projects/{project}/users/{user}/roles/{role}", token=token
    )
    assert status == 204
    # A new user's first logins, all at once: each records the user's last_active_at. MariaDB
    # 11.8's default snapshot isolation failed the concurrent updates (error 1020: HTTP 500,
    # 502 through HAProxy; keystone does not retry).
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "crud-user", "domain": {"id": "default"}, "password": "crud-pass-1"}}},
        "scope": {"project": {"name": "crud-project", "domain": {"id": "default"}}},
    }}  # fmt: skip
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: keystone.request("POST", "/v3/auth/tokens", body),
                                range(8)))  # fmt: skip
    assert [status for status, _, _ in answers] == [201] * 8
    user_token = answers[0][1]["x-subject-token"]
    assert keystone.validate(token, user_token) == 200
    keystone.delete(token, "user", user)
    keystone.delete(token, "project", project)
    assert keystone.find(token, "project", "crud-project") is None
    assert keystone.validate(token, user_token) == 404
    # The password limit matches bcrypt's 72 bytes: no warning on every password check.
    log = cloud.client.containers.get("keystone").logs().decode(errors="replace")
    assert "POST /v3/auth/tokens" in log and "Truncating password" not in log


def test_noop_redeploy_restarts_nothing(cloud: Cloud) -> None:
    before = cloud.containers()
    seconds, result = cloud.timed("deploy")
    print(f"no-op deploy: {seconds:.2f} s")
    assert result.stdout.strip() == NO_CHANGES
    assert cloud.containers() == before
    plan = json.loads(cloud.run("plan", "--format", "json").stdout)
    assert plan == {"empty": True, "limit": [], "skipped": [], "waves": []}
    assert seconds < 30  # only a hang fails a test; the figures are benchmarks' business


def test_override_change_restarts_only_keystone(cloud: Cloud) -> None:
    before = cloud.containers()
    override = cloud.config_dir / "config" / "keystone.conf"
    override.parent.mkdir(exist_ok=True)
    override.write_text("[token]\nexpiration = 7200\n")
    plan = cloud.run("plan").stdout
    assert "recreate keystone on localhost: changed: config_digest" in plan
    assert "Plan: 2 to recreate." in plan
    seconds, _ = cloud.timed("reconfigure")
    print(f"one-option reconfigure: {seconds:.1f} s")
    after = cloud.containers()
    changed = {n for n in after if after[n]["id"] != before[n]["id"]}
    assert changed == {"keystone", "keystone_fernet"}
    for name in set(after) - changed:
        assert after[name]["started"] == before[name]["started"], name
    exit_code, output = cloud.client.containers.get("keystone").exec_run(
        ["grep", "-A3", r"^\[token\]", "/etc/keystone/keystone.conf"]
    )
    assert exit_code == 0 and b"expiration = 7200" in output
    cloud.admin_token(VIP)
    assert cloud.run("deploy").stdout.strip() == NO_CHANGES


def test_a_change_keystone_rejects_is_rolled_back(cloud: Cloud) -> None:
    before = cloud.containers()
    override = cloud.config_dir / "config" / "keystone.conf"
    result = cloud.run_with(override, "\n[DEFAULT]\ndebug = not-a-boolean\n", "deploy")
    assert result.returncode == 1
    assert "keystone" in result.stderr and "was restored" in result.stderr
    assert "last log lines:" in result.stderr
    assert "debug" in result.stderr  # keystone's own complaint about the value
    after = cloud.containers()
    assert after["keystone"]["id"] == before["keystone"]["id"]
    assert after["keystone"]["status"] == "running"
    assert not [name for name in after if name.endswith("-previous")]
    cloud.admin_token(VIP)
    # keystone_fernet (same file, but it does not parse that option) took the change: the
    # next deploy with the good file brings it back, and touches nothing else.
    recovery = cloud.run("deploy").stdout
    assert "Plan: 1 to recreate." in recovery and "keystone_fernet" in recovery
    assert cloud.run("deploy").stdout.strip() == NO_CHANGES


def test_stop_then_deploy_starts_everything_again(cloud: Cloud) -> None:
    token = cloud.admin_token(VIP)
    project = cloud.keystone(VIP).create(token, "project", {"name": "survives-stop"})
    cloud.run("stop")
    assert all(c["status"] == "exited" for c in cloud.services().values())
    plan = cloud.run("plan").stdout
    assert "Plan: 7 to start." in plan
    cloud.run("deploy")
    assert all(c["status"] == "running" for c in cloud.services().values())
    token = cloud.admin_token(VIP)
    assert cloud.keystone(VIP).find(token, "project", "survives-stop") == project


def test_destroy_needs_confirmation_and_changes_nothing(cloud: Cloud) -> None:
    before = cloud.containers()
    result = cloud.run("destroy", check=False)
    assert result.returncode == 2
    assert "--yes-i-really-really-mean-it" in result.stderr
    assert cloud.containers() == before


def test_destroy_keeps_volumes_and_a_new_deploy_keeps_the_data(cloud: Cloud) -> None:
    result = cloud.run("destroy", "--yes-i-really-really-mean-it")
    assert "kept volumes:" in result.stdout
    left = managed(cloud.client)
    assert left["containers"] == [] and left["networks"] == []
    assert set(left["volumes"]) == {
        "mariadb", "mariadb_socket", "rabbitmq", "keystone_fernet_tokens",
        "keystone_credential_keys",
    }  # fmt: skip
    cloud.run("deploy")
    token = cloud.admin_token(VIP)  # the admin user and its password survived
    assert cloud.keystone(VIP).find(token, "project", "survives-stop") is not None


def test_bad_config_is_refused_and_changes_nothing(cloud: Cloud) -> None:
    before = cloud.containers()
    globals_yml = cloud.config_dir / "globals.yml"
    line = len(globals_yml.read_text().splitlines()) + 1
    result = cloud.run_with(globals_yml, "openstak_release: '2025.1'\n", "deploy")
    assert result.returncode == 2
    assert (
        f"{globals_yml}:{line}: unknown key 'openstak_release'; did you mean "
        "'openstack_release'?" in result.stderr
    )
    assert cloud.containers() == before


def test_destroy_with_volumes_leaves_nothing(cloud: Cloud) -> None:
    cloud.run("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
    assert managed(cloud.client) == {"containers": [], "networks": [], "volumes": []}
    assert not (cloud.config_dir / "generated").exists()
    assert cloud.run("plan").stdout.count("not present") == 7


def test_external_database_gets_the_databases_and_users(
    cloud: Cloud, client: docker.DockerClient, tmp_path: Path
) -> None:
    """enable_mariadb: no with database_address: stackyard creates keystone's database and user
    on a MariaDB it does not manage (started here as a plain container)."""
    image = f"{NAMESPACE}/mariadb-server:2025.1-trixie"
    root_password = "ext'root\\pw\"$1@/:#;"  # the server's, as its operator set it
    volume = client.volumes.create("sytest-external-db")
    mount = {volume.name: {"bind": "/var/lib/mysql", "mode": "rw"}}
    client.containers.run(image, ["bash", "-c", ". kolla_extend_start"], remove=True,
                          environment={"KOLLA_BOOTSTRAP": "", "DB_ROOT_PASSWORD": root_password},
                          volumes=mount)  # fmt: skip
    # Its operator followed the README: snapshot isolation off (MariaDB 11.6+ turns it on, and
    # OpenStack services do not retry the errors it causes).
    server = client.containers.run(
        image, ["mariadbd", "--bind-address=0.0.0.0", "--innodb-snapshot-isolation=OFF"],
        name="sytest-external-db", detach=True, volumes=mount, ports={"3306/tcp": (VIP, 13306)},
    )  # fmt: skip
    external = Cloud(tmp_path / "etc-stackyard", client)
    try:
        deadline = time.monotonic() + 60
        while server.exec_run(["healthcheck_mariadb"]).exit_code != 0:
            assert time.monotonic() < deadline, "the external MariaDB did not start in 60 s"
            time.sleep(0.5)
        # This server's operator lets root log in over the network (stackyard's own MariaDB
        # allows root only on its socket).
        quoted = root_password.replace("\\", "\\\\").replace("'", "\\'")
        code, output = server.exec_run(["mariadb", "--execute",
            f"CREATE USER 'root'@'%' IDENTIFIED BY '{quoted}'; "
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION"])  # fmt: skip
        assert code == 0, output
        external.config_dir.mkdir()
        external.write_globals(docker_namespace=NAMESPACE, enable_openstack_core="no",
                               enable_mariadb="no", database_address=VIP,
                               database_port=13306)  # fmt: skip
        external.run("genpwd")
        external.write_passwords({**external.passwords, "database_password": root_password})
        external.run("deploy")
        assert "mariadb" not in external.containers()
        code, output = server.exec_run(["mariadb", "--batch", "--execute",
                                        "SELECT User FROM mysql.user WHERE User='keystone'; "
                                        "SHOW DATABASES LIKE 'keystone'"])  # fmt: skip
        assert code == 0 and output.decode().split() == [
            "User",
            "keystone",
            "Database",
            "(keystone)",
            "keystone",
        ]
        external.admin_token(VIP)
        assert external.run("deploy").stdout.strip() == NO_CHANGES
    finally:
        external.run("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
        server.remove(force=True)
        volume.remove(force=True)
