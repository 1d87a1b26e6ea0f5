"""The core cloud on the real engine, deployed on defaults (enable_openstack_core): every API
behind HAProxy, registered in keystone's catalog by its own service user, and used the way an
operator uses it. Tests run in file order and share one deployment (module fixture)."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from stackyard.deploy.report import NO_CHANGES
from stackyard.facts import default_route_address
from tests.integration.deployment import Cloud
from tests.integration.keystone_client import Api

VIP = default_route_address()
CLOUD_GLOBALS: dict[str, str] = {}  # the defaults: the core cloud
APIS = {"keystone": 5000, "glance": 9292, "placement": 8778, "heat": 8004, "heat_cfn": 8000}


@pytest.fixture(scope="module")
def deployed(cloud: Cloud) -> Cloud:
    seconds, _ = cloud.timed("deploy")
    print(f"cold deploy of the core cloud: {seconds:.1f} s")
    return cloud


def api(name: str) -> Api:
    return Api(f"http://{VIP}:{APIS[name]}", timeout=60)


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
    }
    for kind, url in paths.items():
        urls = {(e["interface"], e["url"]) for e in catalog[kind]["endpoints"]}
        assert urls == {("internal", url), ("public", url)}, kind
    # Each service has its own keystone user, which works with its password from passwords.yml.
    for user in ("glance", "placement", "heat"):
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
    token = deployed.admin_token(VIP)
    project = deployed.keystone(VIP).find(token, "project", "admin")
    heat = api("heat")
    template = {
        "heat_template_version": "2021-04-16",
        "resources": {
            "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 8}},
            "handle": {"type": "OS::Heat::WaitConditionHandle"},
        },
        "outputs": {"value": {"value": {"get_attr": ["secret", "value"]}}},
    }
    body = {"stack_name": "s1", "template": template}
    status, _, created = heat.request("POST", f"/v1/{project}/stacks", body, token)
    assert status == 201, created
    stack = f"/v1/{project}/stacks/s1/{created['stack']['id']}"
    deadline = time.monotonic() + 120
    while (shown := heat.request("GET", stack, token=token)[2]["stack"])["stack_status"] in (
        "CREATE_IN_PROGRESS",
    ):
        assert time.monotonic() < deadline
        time.sleep(1)
    assert shown["stack_status"] == "CREATE_COMPLETE", shown
    assert len(shown["outputs"][0]["output_value"]) == 8
    assert heat.request("DELETE", stack, token=token)[0] == 204
    while heat.request("GET", stack, token=token)[2]["stack"]["stack_status"] != "DELETE_COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(1)


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
