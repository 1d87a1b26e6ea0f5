"""The core cloud on the real engine, deployed on defaults (enable_openstack_core): every API
behind HAProxy, registered in keystone's catalog by its own service user, and used the way an
operator uses it. Tests run in file order and share one deployment (module fixture)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from typing import Any

import pytest

from stackyard.deploy.report import NO_CHANGES
from stackyard.facts import default_route_address
from tests.integration.deployment import Cloud
from tests.integration.keystone_client import Api

VIP = default_route_address()
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
    token = deployed.admin_token(VIP)
    glance = api("glance")
    status, _, image = glance.request("POST", "/v2/images", {
        "name": "round-trip", "disk_format": "raw", "container_format": "bare",
    }, token)  # fmt: skip
    assert status == 201, image
    data = os.urandom(3 * 2**20)
    status, _, answer = glance.request("PUT", f"/v2/images/{image['id']}/file", data, token)
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


def openstack(cloud: Cloud, *args: str, timeout: float = 300) -> str:
    """The openstack CLI on this host as the admin (clouds.yaml from post-deploy)."""
    env = {**cloud.env(), "OS_CLIENT_CONFIG_FILE": str(cloud.config_dir / "clouds.yaml"),
           "OS_CLOUD": "stackyard-admin"}  # fmt: skip
    run = subprocess.run(["openstack", *args], capture_output=True, text=True, env=env,
                         timeout=timeout, check=False)  # fmt: skip
    assert run.returncode == 0, f"openstack {' '.join(args)}: {run.stderr}"
    return run.stdout.strip()


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
    server = openstack(deployed, "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                       "--key-name", "mykey", "--network", "demo-net", "--wait", "demo1",
                       "-f", "value", "-c", "id", timeout=900)  # fmt: skip
    active = time.monotonic() - started
    address = openstack(deployed, "floating", "ip", "create", "public1", "-f", "value",
                        "-c", "floating_ip_address")  # fmt: skip
    openstack(deployed, "server", "add", "floating", "ip", server, address)
    deadline = time.monotonic() + 600
    ssh = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o",
           "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
           f"cirros@{address}"]  # fmt: skip
    while True:
        answer = subprocess.run([*ssh, "hostname"], capture_output=True, text=True,
                                timeout=60, check=False)  # fmt: skip
        if answer.returncode == 0:
            break
        assert time.monotonic() < deadline, answer.stderr + openstack(
            deployed, "console", "log", "show", server
        )
        time.sleep(5)
    reached = time.monotonic() - started
    print(f"server ACTIVE after {active:.0f} s, SSH over its floating IP after {reached:.0f} s")
    assert answer.stdout.strip().split(".")[0] == "demo1"
    ping = subprocess.run(["ping", "-c", "3", "-W", "2", address], capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    assert ping.returncode == 0, ping.stdout
    console = openstack(deployed, "console", "log", "show", server)
    assert "stackyard-guest: " in console
    openstack(deployed, "server", "delete", "--wait", server, timeout=300)
    openstack(deployed, "floating", "ip", "delete", address)


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
