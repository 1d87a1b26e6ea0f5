"""The `identity:` strategy (pure): a service's keystone user, its roles in the `service`
project, and its catalog entries (service and internal/public endpoints) are made by one
one-shot job, `<service>_identity`, through the keystone API with openstacksdk. The job is
idempotent: it creates what is missing, corrects an endpoint URL that changed, and sets the
user's password only when the one in passwords.yml does not work (setting it would revoke the
user's tokens for nothing).
"""

from __future__ import annotations

import json

from stackyard.deploy.strategies.database import TOOLBOX_IMAGE
from stackyard.services.model import ContainerDef, ServiceDef

IDENTITY_SCRIPT = r"""
import json, os, sys, time
import openstack
from keystoneauth1 import exceptions
from openstack.exceptions import ConflictException

spec = json.loads(os.environ["IDENTITY"])


def connect(user, project, password):
    return openstack.connect(
        auth_url=spec["auth_url"], username=user, password=password, project_name=project,
        user_domain_name="Default", project_domain_name="Default",
        region_name=spec["region"], interface="internal", identity_api_version="3")


for attempt in range(60):
    try:
        admin = connect(spec["admin_user"], spec["admin_project"], os.environ["ADMIN_PASSWORD"])
        admin.identity.get_project(admin.current_project_id)
        break
    except (exceptions.ConnectFailure, exceptions.ServiceUnavailable, exceptions.BadGateway,
            exceptions.GatewayTimeout) as exc:
        print(f"keystone not reachable yet (attempt {attempt + 1}): {exc}", file=sys.stderr)
        time.sleep(2)
else:
    sys.exit("keystone did not answer at " + spec["auth_url"])
identity = admin.identity


def ensure(find, create, what):
    # Another service's job may create the same thing at the same moment.
    found = find()
    if found is None:
        try:
            found = create()
            print(f"created {what}")
        except ConflictException:
            found = find()
    return found


project = ensure(
    lambda: identity.find_project("service", domain_id="default"),
    lambda: identity.create_project(name="service", domain_id="default",
                                    description="Service users"),
    "project service")
user = identity.find_user(spec["user"], domain_id="default")
password = os.environ["SERVICE_PASSWORD"]
if user is None:
    user = identity.create_user(name=spec["user"], domain_id="default", password=password,
                                default_project_id=project.id)
    print(f"created user {spec['user']}")
for name in spec["roles"]:
    role = ensure(lambda: identity.find_role(name), lambda: identity.create_role(name=name),
                  f"role {name}")
    identity.assign_project_role_to_user(project, user, role)
try:
    connect(spec["user"], "service", password).authorize()
except exceptions.Unauthorized:
    identity.update_user(user, password=password)
    print(f"set the password of user {spec['user']}")

for name in spec["extra_roles"]:
    ensure(lambda: identity.find_role(name), lambda: identity.create_role(name=name),
           f"role {name}")
admin_role = identity.find_role("admin")
for index, entry in enumerate(spec["domains"]):
    domain = ensure(lambda: identity.find_domain(entry["name"]),
                    lambda: identity.create_domain(name=entry["name"]),
                    f"domain {entry['name']}")
    secret = os.environ[f"DOMAIN_ADMIN_PASSWORD_{index}"]
    manager = identity.find_user(entry["admin"], domain_id=domain.id)
    if manager is None:
        manager = identity.create_user(name=entry["admin"], domain_id=domain.id,
                                       password=secret)
        print(f"created user {entry['admin']} in domain {entry['name']}")
    else:
        identity.update_user(manager, password=secret)
    identity.assign_domain_role_to_user(domain, manager, admin_role)

services = list(identity.services())
for entry in spec["services"]:
    service = next((s for s in services
                    if s.name == entry["name"] and s.type == entry["type"]), None)
    if service is None:
        service = identity.create_service(name=entry["name"], type=entry["type"],
                                          description=entry["description"], is_enabled=True)
        print(f"created service {entry['name']} ({entry['type']})")
    for interface in ("internal", "public"):
        url = entry[interface]
        found = [e for e in identity.endpoints(service_id=service.id, interface=interface)
                 if e.region_id == spec["region"]]
        if not found:
            identity.create_endpoint(service_id=service.id, interface=interface, url=url,
                                     region_id=spec["region"])
            print(f"created {interface} endpoint {url}")
        elif found[0].url != url:
            identity.update_endpoint(found[0], url=url)
            print(f"moved {interface} endpoint to {url}")
print(f"{spec['user']}: user, roles {', '.join(spec['roles'])} and "
      f"{len(spec['services'])} catalog entries ready")
"""


def jobs(definition: ServiceDef, service: str) -> list[ContainerDef]:
    """The service's identity job, or none."""
    identity = definition.identity
    if identity is None:
        return []
    spec = {
        "auth_url": "{{ keystone_internal_url }}",
        "region": "{{ openstack_region_name }}",
        "admin_user": "{{ keystone_admin_user }}",
        "admin_project": "{{ keystone_admin_project }}",
        "user": identity.user,
        "roles": identity.roles,
        "services": [entry.model_dump() for entry in identity.services],
        "extra_roles": identity.extra_roles,
        "domains": [{"name": d.name, "admin": d.admin} for d in identity.domains],
    }
    return [
        ContainerDef(
            name=f"{service}_identity",
            image=TOOLBOX_IMAGE,
            command=["python3", "-c", "{% raw %}" + IDENTITY_SCRIPT + "{% endraw %}"],
            # Rendered as one template: the URLs in it are Jinja like any other value.
            environment={"IDENTITY": json.dumps(spec, sort_keys=True)},
            secret_environment={
                "ADMIN_PASSWORD": "{{ keystone_admin_password }}",
                "SERVICE_PASSWORD": "{{ " + identity.password + " }}",
                **{
                    f"DOMAIN_ADMIN_PASSWORD_{index}": "{{ " + domain.password + " }}"
                    for index, domain in enumerate(identity.domains)
                },
            },
            deadline=180.0,
            once=True,
        )
    ]
