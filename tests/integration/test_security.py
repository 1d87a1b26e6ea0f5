"""A default deployment tried as an attacker would: an unprivileged user on the host, a client
on the deployment network without credentials, a service user inside its container, and the
images run the way Kolla Ansible runs them. Every test here failed on the code before the
hardening (see the issue "Harden what exists"); the audit in deployment.py checks the rest
(secrets, capabilities, no-new-privileges, log and process limits) after every deploy."""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import time

import docker
import pytest

from stackyard.facts import default_route_address
from tests.integration.conftest import NAMESPACE
from tests.integration.deployment import MANAGED, Cloud, memcached_stats

VIP = default_route_address()
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
# Connect to each (address, port) given as JSON; print what happened to each.
PROBE = """
import json, socket, sys
result = {}
for address, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((address, port), timeout=3).close()
        result[f"{address}:{port}"] = "open"
    except OSError as exc:
        result[f"{address}:{port}"] = type(exc).__name__
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def deployed(cloud: Cloud) -> Cloud:
    cloud.run("deploy")
    return cloud


# Loopback listeners in /proc/net/tcp{,6} (127.x.x.x little-endian, ::1): not reachable from
# outside the container anyway (Docker's DNS resolver listens on one).
LOOPBACK = re.compile(r"^([0-9A-F]{6}7F|0{24}01000000):")


def listening(container: docker.models.containers.Container) -> set[int]:
    """TCP ports a container listens on beyond its loopback, from its own /proc/net/tcp."""
    code, output = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    assert code == 0, output
    ports = set()
    for line in output.decode().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and not LOOPBACK.match(fields[1]):
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def backends(client: docker.DockerClient) -> dict[str, tuple[str, set[int]]]:
    """Every running container on the deployment network: its address and listening ports."""
    found = {}
    for container in client.containers.list(filters=MANAGED):
        network = container.attrs["NetworkSettings"]["Networks"].get("stackyard")
        if network:
            found[container.name] = (network["IPAddress"], listening(container))
    return found


def probe(targets: list[tuple[str, int]], user: list[str]) -> dict[str, str]:
    run = subprocess.run([*user, "/usr/bin/python3", "-c", PROBE, json.dumps(targets)],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    result: dict[str, str] = json.loads(run.stdout)
    return result


def test_host_users_reach_only_the_published_frontends(deployed: Cloud) -> None:
    """An unprivileged host user is refused by every backend port on the deployment network
    (databases, cache, broker, keystone itself), and reaches keystone through HAProxy's
    frontend on the VIP, as designed. Root (the engine and its port proxy) still gets in."""
    found = backends(deployed.client)
    targets = sorted((address, port) for address, ports in found.values() for port in ports)
    expected = {"mariadb": 3306, "memcached": 11211, "rabbitmq": 5672, "keystone": 5000}
    for name, port in expected.items():
        assert port in found[name][1], f"{name} does not listen on {port}: not a real probe"
    assert {4369, 25672} <= found["rabbitmq"][1]
    as_nobody = probe(targets, NOBODY)
    assert set(as_nobody.values()) == {"ConnectionRefusedError"}, as_nobody
    assert probe([(VIP, 5000)], NOBODY) == {f"{VIP}:5000": "open"}
    # The broker's frontend on the VIP is for the deployment (services on the host network):
    # root only, not a host user.
    assert probe([(VIP, 5672)], NOBODY) == {f"{VIP}:5672": "ConnectionRefusedError"}
    assert probe([(VIP, 5672)], []) == {f"{VIP}:5672": "open"}
    front = subprocess.run([*NOBODY, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://{VIP}:5000/v3"], capture_output=True, text=True)  # fmt: skip
    assert front.stdout == "200"
    assert set(probe(targets, []).values()) == {"open"}


def memcached_request(address: str, opcode: int, key: bytes, value: bytes = b"") -> int:
    """One binary-protocol request without authenticating; the response's status."""
    extras = struct.pack(">II", 0, 0) if opcode == 1 else b""
    body = extras + key + value
    header = struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0, len(body), 0, 0)
    with socket.create_connection((address, 11211), timeout=5) as connection:
        connection.sendall(header + body)
        answer = connection.recv(24)
    assert answer[0] == 0x81, answer
    status: int = struct.unpack(">H", answer[6:8])[0]
    return status


def test_memcached_refuses_clients_without_credentials(deployed: Cloud) -> None:
    """Past the firewall (root, or a compromised container) memcached still wants SASL
    credentials: nothing can be read, and nothing planted for a service to unpickle. With the
    credentials keystone has, the cache is really used (it holds keystone's items)."""
    address = backends(deployed.client)["memcached"][0]
    auth_error = 0x20
    assert memcached_request(address, 0x00, b"keystone-key") == auth_error  # GET
    planted = b"cos\nsystem\n(S'touch /tmp/owned'\ntR."
    assert memcached_request(address, 0x01, b"keystone-key", planted) == auth_error  # SET
    with socket.create_connection((address, 11211), timeout=5) as connection:
        connection.sendall(b"stats\r\n")
        connection.settimeout(2)
        try:
            reply = connection.recv(100)
        except TimeoutError:
            reply = b""
    assert b"STAT" not in reply
    deployed.admin_token(VIP)
    assert memcached_stats(deployed.client)["curr_items"] > 0, "keystone put nothing in memcached"


def test_database_and_broker_refuse_unauthenticated_and_remote_root(deployed: Cloud) -> None:
    """MariaDB's root may log in only on the server's socket, not over the network even with
    the right password; RabbitMQ has no default guest user; keystone's API wants a token."""
    image = f"{NAMESPACE}/toolbox:2025.1-trixie"
    for user, password in (("root", deployed.passwords["database_password"]), ("root", "")):
        container = deployed.client.containers.run(
            image, ["mariadb", "--skip-ssl", "--host=mariadb", f"--user={user}", "-e", "SELECT 1"],
            environment={"MYSQL_PWD": password}, network="stackyard", detach=True, entrypoint=[],
        )  # fmt: skip
        try:
            assert container.wait(timeout=60)["StatusCode"] != 0
            assert b"Access denied" in container.logs()
        finally:
            container.remove(force=True)
    code, output = deployed.client.containers.get("mariadb").exec_run(
        ["mariadb", "--batch", "--skip-column-names", "--execute",
         "SELECT GROUP_CONCAT(host) FROM mysql.user WHERE user = 'root'; "
         "SELECT @@local_infile, @@secure_file_priv"]
    )  # fmt: skip
    assert code == 0, output
    assert output.decode().split() == ["localhost", "0", "/var/lib/mysql-files/"]
    rabbitmq = deployed.client.containers.get("rabbitmq")
    code, output = rabbitmq.exec_run(["rabbitmqctl", "-q", "list_users"])
    assert code == 0 and b"guest" not in output, output
    code, _ = rabbitmq.exec_run(["rabbitmqctl", "authenticate_user", "guest", "guest"])
    assert code != 0
    keystone = deployed.keystone(VIP)
    status, _, _ = keystone.request("GET", "/v3/users")
    assert status == 401


ESCALATIONS = {
    "BASH_ENV through sudo": "echo id | sudo -n BASH_ENV=/dev/stdin kolla_copy_cacerts",
    "sudo -E": "echo id > /tmp/env.sh; BASH_ENV=/tmp/env.sh sudo -n -E kolla_copy_cacerts",
    "PS4 through sudo": "sudo -n SHELLOPTS=xtrace PS4='$(id)' kolla_copy_cacerts",
    "PYTHONPATH through sudo": "mkdir -p /tmp/p && echo 'import os; os.system(\"id\")' "
    "> /tmp/p/sitecustomize.py && sudo -n PYTHONPATH=/tmp/p kolla_set_configs --check",
    "sudo a shell": "sudo -n -i id",
    "su": "su -c id root < /dev/null",
}


def escalation_script() -> str:
    lines = [f"echo '== {name}'; ({command}) 2>&1 | grep -F 'uid=0' || true"
             for name, command in ESCALATIONS.items()]  # fmt: skip
    lines.append("echo '== setuid'; find / -xdev -type f -perm /6000 2> /dev/null || true")
    return "\n".join(lines)


def results(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for block in output.split("== ")[1:]:
        name, *rest = block.strip().splitlines()
        found[name] = rest
    return found


def test_service_users_cannot_become_root(deployed: Cloud, client: docker.DockerClient) -> None:
    """Inside every running service container (no-new-privileges, no capability), and in
    every image run as Kolla Ansible runs it (the engine's default capabilities, no flag), a
    service user cannot become root: sudo keeps no environment but KOLLA_CONFIG_STRATEGY, and
    no setuid file but sudo is left."""
    script = escalation_script()
    for container in client.containers.list(filters=MANAGED):
        if container.attrs["Config"]["User"] == "0:0":
            continue  # runs as root by design, with only its declared capabilities
        found = results(container.exec_run(["bash", "-c", script]).output.decode())
        assert all(found[name] == [] for name in ESCALATIONS), (container.name, found)
        assert found["setuid"] == ["/usr/bin/sudo"], (container.name, found)
    catalog_users = {"haproxy", "keystone", "keystone-fernet", "mariadb-server", "memcached",
                     "rabbitmq", "toolbox"}  # fmt: skip
    for image in sorted(catalog_users):
        output = client.containers.run(
            f"{NAMESPACE}/{image}:2025.1-trixie", ["bash", "-c", script], entrypoint=[],
            remove=True, stderr=True,
        ).decode()  # fmt: skip
        found = results(output)
        assert all(found[name] == [] for name in ESCALATIONS), (image, found)
        assert found["setuid"] == ["/usr/bin/sudo"], (image, found)


def test_key_rotation_is_not_postponed_by_a_new_container(deployed: Cloud) -> None:
    """keystone_fernet rotates when the key repository is a rotation interval old, whatever
    the age of the container: a repository last rotated 4 days ago (the default interval is
    3 days) is rotated as soon as a new keystone_fernet starts, and tokens issued before it
    still validate."""
    client = deployed.client
    token = deployed.admin_token(VIP)
    fernet = client.containers.get("keystone_fernet")

    def keys() -> list[str]:
        code, output = fernet.exec_run(["ls", "/etc/keystone/fernet-keys"])
        assert code == 0, output
        return sorted(output.decode().split(), key=int)

    before = keys()
    code, output = fernet.exec_run(["touch", "-d", "4 days ago", "/etc/keystone/fernet-keys"])
    assert code == 0, output
    fernet.remove(force=True)
    assert "create keystone_fernet" in deployed.run("deploy").stdout
    fernet = client.containers.get("keystone_fernet")
    deadline = time.monotonic() + 60
    while keys() == before:
        assert time.monotonic() < deadline, f"no rotation: {before}"
        time.sleep(1)
    assert int(keys()[-1]) == int(before[-1]) + 1
    assert re.search(r"fernet keys rotated at .* \(the last rotation was 3456\d\d s ago\)",
                     fernet.logs().decode())  # fmt: skip
    assert deployed.keystone(VIP).validate(token, token) == 200


def test_haproxy_logs_errors_not_every_request(deployed: Cloud) -> None:
    """Requests that went well (and HAProxy's own health checks) leave no log line; a request
    HAProxy could not serve does."""
    haproxy = deployed.client.containers.get("haproxy")
    before = len(haproxy.logs().splitlines())
    keystone = deployed.keystone(VIP)
    for _ in range(20):
        assert keystone.request("GET", "/v3")[0] == 200
    time.sleep(11)  # one health check interval
    assert len(haproxy.logs().splitlines()) == before
    with socket.create_connection((VIP, 5000), timeout=5) as connection:
        connection.sendall(b"GARBAGE\r\n\r\n")
        assert connection.recv(100).startswith(b"HTTP/1.1 400")
    time.sleep(0.5)
    assert b'"<BADREQ>"' in haproxy.logs().splitlines()[-1]
