"""The core cloud on the real engine, deployed on defaults (enable_openstack_core): every API
behind HAProxy, registered in keystone's catalog by its own service user, and used the way an
operator uses it. Tests run in file order and share one deployment (module fixture)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from stackyard import operations
from stackyard.deploy.desired import image_reference
from stackyard.deploy.model import CONFIG_MOUNT
from stackyard.deploy.report import NO_CHANGES
from stackyard.engine.docker_engine import DockerEngine
from stackyard.facts import default_route_address
from tests.integration import tempest
from tests.integration.browser import chromium
from tests.integration.deployment import (
    Cloud,
    accepted_on,
    connected_to,
    managed,
    memcached_stats,
)
from tests.integration.keystone_client import Api

VIP = default_route_address()
FULL = os.environ.get("STACKYARD_TEST_FULL") == "1"
CLOUD_GLOBALS: dict[str, str] = {}  # the defaults: the core cloud
APIS = {
    "keystone": 5000,
    "glance": 9292,
    "placement": 8778,
    "heat": 8004,
    "heat_cfn": 8000,
    "neutron": 9696,
    "nova": 8774,
}


@pytest.fixture(scope="module")
def deployed(cloud: Cloud) -> Cloud:
    seconds, _ = cloud.timed("deploy")
    print(f"cold deploy of the core cloud: {seconds:.1f} s")
    return cloud


def api(name: str) -> Api:
    return Api(f"http://{VIP}:{APIS[name]}", timeout=60)


def stack_outputs(
    cloud: Cloud, name: str, template: dict[str, object], seconds: float
) -> list[dict[str, Any]]:
    """Create a heat stack as the admin, wait for it, delete it again; its outputs (the
    create must complete, the delete too, each within `seconds`)."""
    token = cloud.admin_token(VIP)
    project = cloud.keystone(VIP).find(token, "project", "admin")
    heat = api("heat")
    body = {"stack_name": name, "template": template}
    status, _, created = heat.request("POST", f"/v1/{project}/stacks", body, token)
    assert status == 201, created
    stack = f"/v1/{project}/stacks/{name}/{created['stack']['id']}"
    deadline = time.monotonic() + seconds
    while (shown := heat.request("GET", stack, token=token)[2]["stack"])["stack_status"] in (
        "CREATE_IN_PROGRESS",
    ):
        assert time.monotonic() < deadline, "the stack was not created in time"
        time.sleep(1)
    assert shown["stack_status"] == "CREATE_COMPLETE", shown["stack_status_reason"]
    assert heat.request("DELETE", stack, token=token)[0] == 204
    deadline = time.monotonic() + seconds
    while heat.request("GET", stack, token=token)[2]["stack"]["stack_status"] != "DELETE_COMPLETE":
        assert time.monotonic() < deadline, "the stack was not deleted in time"
        time.sleep(1)
    outputs: list[dict[str, Any]] = shown["outputs"]
    return outputs


def test_every_api_answers_through_haproxy_and_is_in_the_catalog(deployed: Cloud) -> None:
    check = deployed.run("check").stdout
    assert "FAIL" not in check, check
    for port in APIS.values():
        assert f"({VIP}:{port})" in check, check
    token = deployed.admin_token(VIP)
    status, _, answer = deployed.keystone(VIP).request("GET", "/v3/auth/catalog", token=token)
    assert status == 200
    catalog = {entry["type"]: entry for entry in answer["catalog"]}
    project = deployed.keystone(VIP).find(token, "project", "admin")
    paths = {
        "image": f"http://{VIP}:9292",
        "placement": f"http://{VIP}:8778",
        "orchestration": f"http://{VIP}:8004/v1/{project}",
        "cloudformation": f"http://{VIP}:8000/v1",
        "network": f"http://{VIP}:9696",
        "compute": f"http://{VIP}:8774/v2.1",
    }
    for kind, url in paths.items():
        urls = {(e["interface"], e["url"]) for e in catalog[kind]["endpoints"]}
        assert urls == {("internal", url), ("public", url)}, kind
    # Each service has its own keystone user, which works with its password from passwords.yml.
    for user in ("glance", "placement", "heat", "neutron", "nova"):
        deployed.keystone(VIP).token(user, deployed.passwords[f"{user}_keystone_password"],
                                     project="service")  # fmt: skip


def test_an_image_uploads_and_downloads_unchanged(deployed: Cloud) -> None:
    """In one body and in chunked transfer encoding with chunks of 8 MiB (nova uploads
    snapshots so: glance under uWSGI once refused chunks over 1 MiB)."""
    token = deployed.admin_token(VIP)
    glance = api("glance")
    data = os.urandom(20 * 2**20)
    chunks = (data[start : start + 8 * 2**20] for start in range(0, len(data), 8 * 2**20))
    for upload in (data, chunks):
        status, _, image = glance.request("POST", "/v2/images", {
            "name": "round-trip", "disk_format": "raw", "container_format": "bare",
        }, token)  # fmt: skip
        assert status == 201, image
        status, _, answer = glance.request("PUT", f"/v2/images/{image['id']}/file", upload, token)
        assert status == 204, answer
        status, _, shown = glance.request("GET", f"/v2/images/{image['id']}", token=token)
        assert shown["status"] == "active" and shown["size"] == len(data)
        assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
        status, _, back = glance.request("GET", f"/v2/images/{image['id']}/file", token=token)
        assert status == 200 and hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
        assert glance.request("DELETE", f"/v2/images/{image['id']}", token=token)[0] == 204


def test_placement_answers_for_the_admin(deployed: Cloud) -> None:
    token = deployed.admin_token(VIP)
    status, _, answer = api("placement").request(
        "GET", "/resource_providers", token=token, extra={"OpenStack-API-Version": "placement 1.6"}
    )
    assert status == 200 and "resource_providers" in answer
    assert api("placement").request("GET", "/resource_providers")[0] == 401


def test_a_heat_stack_is_created_and_deleted(deployed: Cloud) -> None:
    """A stack with a resource heat makes itself and a wait condition handle (a user in heat's
    own domain, made with its domain admin)."""
    template = {
        "heat_template_version": "2021-04-16",
        "resources": {
            "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 8}},
            "handle": {"type": "OS::Heat::WaitConditionHandle"},
        },
        "outputs": {"value": {"value": {"get_attr": ["secret", "value"]}}},
    }
    [output] = stack_outputs(deployed, "s1", template, 120)
    assert len(output["output_value"]) == 8


def test_noop_deploy_restarts_nothing(deployed: Cloud) -> None:
    before = deployed.containers()
    seconds, result = deployed.timed("deploy")
    print(f"no-op deploy of the core cloud: {seconds:.2f} s")
    assert result.stdout.strip() == NO_CHANGES
    assert deployed.containers() == before
    assert json.loads(deployed.run("plan", "--format", "json").stdout)["empty"]


def test_an_override_restarts_only_its_service(deployed: Cloud) -> None:
    before = deployed.containers()
    override = deployed.config_dir / "config" / "glance-api.conf"
    override.parent.mkdir(exist_ok=True)
    override.write_text("[DEFAULT]\nimage_size_cap = 10737418240\n")
    try:
        deployed.run("reconfigure")
        after = deployed.containers()
        assert {n for n in after if after[n]["id"] != before[n]["id"]} == {"glance_api"}
        code, output = deployed.client.containers.get("glance_api").exec_run(
            ["grep", "image_size_cap", "/etc/glance/glance-api.conf"]
        )
        assert code == 0 and b"10737418240" in output
    finally:
        override.unlink()
    deployed.run("deploy")


def login(cloud: Cloud, server: str, address: str, command: str, seconds: float = 600) -> str:
    """command's output in the server, over SSH to its floating IP as cirros with the key of
    init-runonce, retried until the guest answers (its console log in the error if never)."""
    ssh = ["ssh", "-i", str(cloud.config_dir / "id_ed25519"), "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
           "-o", "LogLevel=ERROR", f"cirros@{address}", command]  # fmt: skip
    deadline = time.monotonic() + seconds
    while True:
        answer = subprocess.run(ssh, capture_output=True, text=True, timeout=60, check=False)
        if answer.returncode == 0:
            return answer.stdout.strip()
        assert time.monotonic() < deadline, answer.stderr + cloud.openstack(
            "console", "log", "show", server
        )
        time.sleep(5)


def test_a_server_boots_and_is_reached_over_its_floating_ip(deployed: Cloud) -> None:
    """init-runonce's networks, router, flavor, image and key; a server on the tenant network
    gets its address (OVN's DHCP), its key and name (the metadata agent and nova's metadata
    API), and answers ping and SSH from this host through its floating IP (the router's NAT on
    the provider network, whose bridge holds this host's address)."""
    key = deployed.config_dir / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True, timeout=60)  # fmt: skip
    first = deployed.run("init-runonce", "--public-key", f"{key}.pub", timeout=900)
    assert "creating provider network public1" in first.stdout, first.stdout
    again = deployed.run("init-runonce", "--public-key", f"{key}.pub", timeout=900)
    assert "creating" not in again.stdout and "ready:" in again.stdout, again.stdout
    started = time.monotonic()
    server = deployed.openstack("server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                                "--key-name", "mykey", "--network", "demo-net", "--wait",
                                "demo1", "-f", "value", "-c", "id", timeout=900)  # fmt: skip
    active = time.monotonic() - started
    address = deployed.openstack("floating", "ip", "create", "public1", "-f", "value",
                                 "-c", "floating_ip_address")  # fmt: skip
    deployed.openstack("server", "add", "floating", "ip", server, address)
    answer = login(deployed, server, address, "hostname")
    reached = time.monotonic() - started
    print(f"server ACTIVE after {active:.0f} s, SSH over its floating IP after {reached:.0f} s")
    assert answer.split(".")[0] == "demo1"
    ping = subprocess.run(["ping", "-c", "3", "-W", "2", address], capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    assert ping.returncode == 0, ping.stdout
    console = deployed.openstack("console", "log", "show", server)
    assert "stackyard-guest: " in console
    deployed.openstack("server", "delete", "--wait", server, timeout=300)
    deployed.openstack("floating", "ip", "delete", address)


def test_two_servers_security_groups_and_server_actions(deployed: Cloud) -> None:
    """Two servers on demo-net in a security group of their own that lets SSH in, nothing
    else: the first (with a floating IP) cannot ping the second until an ICMP rule is added,
    and cannot again once it is removed. The second stops (SHUTOFF, unreachable) and starts
    again (reachable); the first reboots and answers SSH after it; both are deleted."""
    group = deployed.openstack("security", "group", "create", "probe", "-f", "value", "-c", "id")
    deployed.openstack("security", "group", "rule", "create", "--protocol", "tcp",
                       "--dst-port", "22", group)  # fmt: skip
    boot = ("server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--key-name",
            "mykey", "--network", "demo-net", "--security-group", group, "-f", "value", "-c",
            "id")  # fmt: skip
    servers = [deployed.openstack(*boot, name) for name in ("probe1", "probe2")]
    address = ""
    try:
        for server in servers:
            wait_for_status(deployed, server, "ACTIVE")
        for server in servers:  # each gets its address by DHCP
            deadline = time.monotonic() + 180
            while "lease of" not in deployed.openstack("console", "log", "show", server):
                assert time.monotonic() < deadline, f"server {server} got no DHCP lease"
                time.sleep(5)
        first, second = servers
        address = deployed.openstack("floating", "ip", "create", "public1", "-f", "value",
                                     "-c", "floating_ip_address")  # fmt: skip
        deployed.openstack("server", "add", "floating", "ip", first, address)
        fixed = json.loads(deployed.openstack("server", "show", second, "-f", "json", "-c",
                                              "addresses"))["addresses"]["demo-net"][0]  # fmt: skip
        # busybox ping: 0 when the second answered, 1 when it did not.
        ping = f"sudo ping -c 2 -W 2 {fixed} > /dev/null; echo $?"

        def pings(expected: str) -> None:
            """The first pings the second (or not) within 3 minutes: a rule takes effect once OVN
            has its flows, a started server once it has booted."""
            deadline = time.monotonic() + 180
            while (answer := login(deployed, first, address, ping)) != expected:
                assert time.monotonic() < deadline, f"ping gave {answer}, not {expected}"

        assert login(deployed, first, address, ping) == "1"
        icmp = deployed.openstack("security", "group", "rule", "create", "--protocol", "icmp",
                                  group, "-f", "value", "-c", "id")  # fmt: skip
        pings("0")
        deployed.openstack("security", "group", "rule", "delete", icmp)
        pings("1")
        deployed.openstack("security", "group", "rule", "create", "--protocol", "icmp", group)
        pings("0")
        deployed.openstack("server", "stop", second)
        wait_for_status(deployed, second, "SHUTOFF")
        pings("1")
        deployed.openstack("server", "start", second)
        wait_for_status(deployed, second, "ACTIVE")
        pings("0")
        boot_id = "cat /proc/sys/kernel/random/boot_id"
        before = login(deployed, first, address, boot_id)
        deployed.openstack("server", "reboot", "--wait", first, timeout=600)
        assert login(deployed, first, address, boot_id, seconds=240) not in ("", before)
    finally:
        deployed.openstack("server", "delete", "--wait", *servers, timeout=300)
        if address:
            deployed.openstack("floating", "ip", "delete", address)
        deployed.openstack("security", "group", "delete", group)
    assert deployed.openstack("server", "list", "--name", "^probe", "-f", "value") == ""


def wait_for_status(cloud: Cloud, server: str, status: str) -> None:
    deadline = time.monotonic() + 600
    while (
        now := cloud.openstack("server", "show", server, "-f", "value", "-c", "status")
    ) != status:
        assert now != "ERROR" and time.monotonic() < deadline, f"{server}: {now}, not {status}"
        time.sleep(2)


def test_a_heat_stack_with_a_server_and_a_floating_ip(deployed: Cloud) -> None:
    """Heat drives nova and neutron: a port on demo-net, a server on it and a floating IP
    (init-runonce's resources, made by the test above), created and deleted as one stack."""
    template = {
        "heat_template_version": "2021-04-16",
        "resources": {
            "port": {"type": "OS::Neutron::Port", "properties": {"network": "demo-net"}},
            "server": {
                "type": "OS::Nova::Server",
                "properties": {
                    "image": "cirros",
                    "flavor": "m1.tiny",
                    "networks": [{"port": {"get_resource": "port"}}],
                },
            },
            "address": {
                "type": "OS::Neutron::FloatingIP",
                "properties": {"floating_network": "public1", "port_id": {"get_resource": "port"}},
            },
        },
        "outputs": {"address": {"value": {"get_attr": ["address", "floating_ip_address"]}}},
    }
    [output] = stack_outputs(deployed, "s2", template, 600)
    assert output["output_value"].startswith("198.51.100.")


# Once the cloud has been used, these hold connections to memcached and to RabbitMQ. Services
# work without their cache (keystone, keystonemiddleware), so only the servers' side shows it.
CACHE_USERS = {"keystone", "horizon", "glance_api", "placement_api", "nova_api", "neutron_server",
               "heat_api"}  # fmt: skip
QUEUE_USERS = {"nova_api", "nova_conductor", "nova_scheduler", "nova_compute", "neutron_server",
               "heat_api", "heat_engine"}  # fmt: skip
# Containers whose configuration names the cache or the broker but that need not have used it,
# and why. Kept exact by the test: a new user of either must be added above or here.
NO_API = "no API: the [keystone_authtoken] it never uses is in the file it shares with the API"
IDLE_CACHE = {
    "heat_api_cfn": "validates a token only for a signed CloudFormation request",
    "nova_metadata": "guests' requests come signed by neutron's metadata agent, not with a token",
    **dict.fromkeys(("heat_engine", "nova_conductor", "nova_scheduler", "nova_compute",
                     "nova_novncproxy"), NO_API),
}  # fmt: skip
IDLE_QUEUE = {
    "glance_api": "its notifications are off (driver noop): it sends nothing",
    "heat_api_cfn": "calls heat-engine only for a CloudFormation request",
    "nova_metadata": "reads the databases itself to answer a guest",
    "nova_novncproxy": "checks a console's token with nova only when a console opens",
}


def rabbitmqctl(rabbitmq: Container, *args: str) -> list[dict[str, Any]]:
    code, output = rabbitmq.exec_run(["rabbitmqctl", "-q", *args, "--formatter", "json"])
    assert code == 0, output
    rows: list[dict[str, Any]] = json.loads(output)
    return rows


def configured_with(client: docker.DockerClient, text: str) -> set[str]:
    """Running service containers whose mounted configuration files contain `text`."""
    found = set()
    for container in client.containers.list(filters={"label": "stackyard.kind=service"}):
        for mount in container.attrs["Mounts"]:
            if mount["Destination"] == CONFIG_MOUNT and any(
                text in f.read_text(errors="replace")
                for f in Path(mount["Source"]).rglob("*")
                if f.is_file()
            ):
                found.add(container.name)
    return found


def test_every_cache_and_queue_user_is_connected(deployed: Cloud) -> None:
    """Each service that should use memcached or RabbitMQ holds connections to it, counted by
    the kernel per container; the servers accepted exactly those (RabbitMQ through HAProxy)
    and authenticated them: every RabbitMQ connection is running as the openstack user, and
    memcached, which takes SASL only, saw no failed authentication, at least as many as it
    holds connections, and cache hits."""
    token = deployed.admin_token(VIP)
    project = deployed.keystone(VIP).find(token, "project", "admin")
    for name, path in (("glance", "/v2/images"), ("placement", "/resource_providers"),
                       ("nova", "/v2.1/servers"), ("neutron", "/v2.0/networks"),
                       ("heat", f"/v1/{project}/stacks")):  # fmt: skip
        assert api(name).request("GET", path, token=token)[0] == 200, name
    client = deployed.client
    assert configured_with(client, ":11211") - {"memcached"} == CACHE_USERS | set(IDLE_CACHE)
    assert configured_with(client, "rabbit://") == QUEUE_USERS | set(IDLE_QUEUE)
    rabbitmq = client.containers.get("rabbitmq")
    for _ in range(30):  # connections open and close: take views until they agree
        cache = connected_to(client, 11211)
        queue = connected_to(client, 5672)
        proxied = queue.pop("haproxy", 0)  # HAProxy's side of the connections it forwards
        listing = rabbitmqctl(rabbitmq, "list_connections", "user", "state")
        views = (sum(queue.values()), proxied, accepted_on(client, "rabbitmq", 5672), len(listing))
        served = accepted_on(client, "memcached", 11211)
        # A connection still opening is listed before it has a user: not settled yet.
        states = {(c["user"], c["state"]) for c in listing}
        settled = states == {("openstack", "running")} and sum(cache.values()) == served
        if settled and len(set(views)) == 1:
            break
        time.sleep(1)
    print(f"memcached clients: {dict(cache)}; RabbitMQ clients: {dict(queue)}")
    assert set(cache) == CACHE_USERS, cache
    assert set(queue) == QUEUE_USERS, queue
    assert sum(cache.values()) == served, (dict(cache), served)
    assert len(set(views)) == 1, f"clients, HAProxy, RabbitMQ's socket table, its list: {views}"
    assert states == {("openstack", "running")}, listing
    stats = memcached_stats(client)
    assert stats["auth_errors"] == 0 and stats["get_hits"] > 0, stats
    assert stats["auth_cmds"] >= sum(cache.values()), stats


def test_tempest(deployed: Cloud, engine: DockerEngine, tmp_path: Path) -> None:
    """Upstream Tempest's identity, image and network API tests, nova's server API tests and
    the network basic-ops scenario (a server reached over its floating IP, SSH, and its
    network changed under it): CI runs every group with the server tests cut to the create
    and show ones; `scripts/test --full` runs all of them. No test may fail."""
    guest = tmp_path / "cirros.qcow2"
    image = image_reference(operations.load(deployed.config_dir), operations.GUEST_IMAGE)
    disk = engine.read_file(image, operations.GUEST_DISK)
    assert disk is not None
    guest.write_bytes(disk)
    # The guest for web-download, from the host's address on the provider bridge (defaults).
    with tempest.served(guest, "198.51.100.1") as url:
        settings = tempest.settings(deployed, VIP, guest, url)
        folder = tempest.workspace(tmp_path / "tempest", settings)
        totals, output = tempest.run(folder, tempest.FULL if FULL else tempest.CI, 2, 5400)
    print(f"tempest {tempest.VERSION}: {totals}")
    assert totals.failed == 0 and totals.passed > 0, output[-20000:]


def test_the_dashboard_in_a_browser(deployed: Cloud) -> None:
    """Horizon in headless Chromium: log in as the admin, launch a server with the launch
    wizard (init-runonce's image, flavor and network), see it Active on the instances page, and
    open its console page, whose noVNC frame connects to the server's display through HAProxy
    and nova's noVNC proxy. Screenshots of each page are kept (browser.ARTIFACTS)."""
    dashboard = f"http://{VIP}"
    in_modal = "//div[contains(@class,'modal')]"
    with chromium("dashboard") as (driver, shots):
        wait = WebDriverWait(driver, 120)
        driver.get(f"{dashboard}/")
        driver.find_element(By.ID, "id_username").send_keys("admin")
        driver.find_element(By.ID, "id_password").send_keys(
            deployed.passwords["keystone_admin_password"]
        )
        driver.save_screenshot(str(shots / "1-login.png"))
        driver.find_element(By.ID, "loginBtn").click()
        wait.until(EC.url_contains("/project/"))
        driver.get(f"{dashboard}/project/instances/")
        wait.until(EC.element_to_be_clickable((By.ID, "instances__action_launch-ng"))).click()
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "input[name='name']")))
        driver.find_element(By.CSS_SELECTOR, "input[name='name']").send_keys("dashboard1")
        for step, choice in (("Source", "cirros"), ("Flavor", "m1.tiny"), ("Networks", "demo-net")):
            driver.find_element(
                By.XPATH, f"{in_modal}//a[starts-with(normalize-space(), '{step}')]"
            ).click()
            wait.until(EC.element_to_be_clickable(
                (By.XPATH, f"{in_modal}//tr[td[normalize-space()='{choice}']]//button")
            )).click()  # fmt: skip
            driver.save_screenshot(str(shots / f"2-launch-{step.lower()}.png"))
        driver.find_element(
            By.XPATH,
            "//div[contains(@class,'modal-footer')]//button[contains(., 'Launch Instance')]",
        ).click()
        wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, ".modal-dialog")))
        row = "//tr[td//a[normalize-space()='dashboard1']]"
        deadline = time.monotonic() + 600
        while "Active" not in driver.find_element(By.XPATH, row).text:
            assert time.monotonic() < deadline, driver.find_element(By.XPATH, row).text
            time.sleep(3)
            driver.get(f"{dashboard}/project/instances/")
            wait.until(EC.presence_of_element_located((By.XPATH, row)))
        driver.save_screenshot(str(shots / "3-instances.png"))
        server = driver.find_element(By.LINK_TEXT, "dashboard1").get_attribute("href")
        assert server
        driver.get(f"{server.rstrip('/')}/?tab=instance_details__console")
        frame = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "iframe")))
        assert (frame.get_attribute("src") or "").startswith(f"http://{VIP}:6080/vnc_lite.html")
        driver.switch_to.frame(frame)
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Connected"))
        driver.switch_to.default_content()
        driver.save_screenshot(str(shots / "4-console.png"))
    deployed.openstack("server", "delete", "--wait", "dashboard1", timeout=300)


def test_destroy_then_deploy_keeps_servers_networks_and_data(deployed: Cloud) -> None:
    """destroy (volumes kept) then deploy: the server runs again from its own disk (bytes
    written to it before are read back after), with the same port and floating IP on the same
    networks (neutron's database and OVN's), and the image its bytes."""
    server = deployed.openstack("server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                                "--key-name", "mykey", "--network", "demo-net", "--wait",
                                "kept1", "-f", "value", "-c", "id", timeout=900)  # fmt: skip
    address = deployed.openstack("floating", "ip", "create", "public1", "-f", "value",
                                 "-c", "floating_ip_address")  # fmt: skip
    deployed.openstack("server", "add", "floating", "ip", server, address)
    # Half way into its 1 GiB disk, far past the boot file system (15 MiB): it still boots.
    marker = f"kept-{server}"
    disk = "sudo dd if=/dev/vda bs=1M skip=512 count=1 2> /dev/null | head -n 1 | tr -d '\\0'"
    login(
        deployed, server, address, f"echo {marker} | sudo dd of=/dev/vda bs=1M seek=512 conv=fsync"
    )
    assert login(deployed, server, address, disk) == marker

    def state() -> dict[str, str]:
        ports = ("port", "list", "--server", server, "-c", "ID", "-c", "Fixed IP Addresses")
        return {
            "ports": deployed.openstack(*ports, "-f", "value"),
            "networks": deployed.openstack("network", "list", "-f", "value", "-c", "ID"),
            "image": deployed.openstack("image", "show", "cirros", "-f", "value", "-c", "checksum"),
        }

    before = state()
    deployed.run("destroy", "--yes-i-really-really-mean-it")
    assert not managed(deployed.client)["containers"]
    seconds, _ = deployed.timed("deploy")
    print(f"deploy after destroy: {seconds:.1f} s")
    assert login(deployed, server, address, disk) == marker
    assert deployed.openstack("server", "show", server, "-f", "value", "-c", "status") == "ACTIVE"
    assert state() == before
    deployed.openstack("server", "delete", "--wait", server, timeout=300)
    deployed.openstack("floating", "ip", "delete", address)
