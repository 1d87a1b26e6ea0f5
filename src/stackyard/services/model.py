"""The schema of a service definition (`data/services/<name>/service.yaml`), validated by pydantic.

A service is data: its containers, one-shot jobs, volumes, health checks, config templates,
HAProxy frontends, database and secrets. String values may use Jinja2 (`{{ database_address }}`)
and `when:` takes a Jinja2 expression, so a new service needs files only. The few behaviours
that cannot be data are named strategies: `database:` (a database and its user, created by a
toolbox job) and `ports: frontends` (publish every HAProxy frontend on the internal VIP).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
PERM = re.compile(r"0?[0-7]{3}\Z")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheckDef(_Strict):
    """The engine's health check (CMD form) and how long a deploy waits for it to pass."""

    test: list[str] = Field(min_length=1)
    interval: float = Field(10.0, gt=0)
    timeout: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=1)
    start_period: float = Field(5.0, ge=0)
    deadline: float = Field(90.0, gt=0)


class ConfigFileDef(_Strict):
    """A template rendered for the container and copied into place by kolla_set_configs."""

    template: str
    dest: str
    owner: str
    perm: str = "0600"
    merge: Literal["ini"] | None = None  # operator override files merged at section/key level

    @field_validator("perm")
    @classmethod
    def _perm(cls, value: str) -> str:
        if not PERM.match(value):
            raise ValueError(f"{value!r} is not an octal mode such as '0600'")
        return value

    @field_validator("dest")
    @classmethod
    def _dest(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/"):
            raise ValueError(f"{value!r} must be an absolute file path")
        return value


class ContainerDef(_Strict):
    """A long-running container, or (in `jobs:`) a one-shot container that must exit 0."""

    name: str
    image: str | None = None
    like: str | None = None  # jobs: start from this container's image, volumes and config
    command: str | None = None  # service command, written to config.json for kolla_start
    argv: list[str] | None = None  # run this directly instead of kolla_start
    environment: dict[str, str] = {}
    secret_environment: list[str] = []  # environment keys whose values are secrets
    volumes: list[str] = []
    config_files: list[ConfigFileDef] = []
    healthcheck: HealthCheckDef | None = None
    network: str = "stackyard"
    hostname: str | None = None
    privileged: bool = False
    cap_add: list[str] = []
    sysctls: dict[str, str] = {}
    tmpfs: list[str] = []
    ulimits: dict[str, int] = {}
    ports: list[str] | Literal["frontends"] = []
    after: list[str] | None = None
    # A load balancer: this command prints its HAProxy `show stat` CSV, and a deploy waits
    # until the balancer routes to every backend it has replaced.
    routing_status: list[str] | None = None
    when: str | None = None
    deadline: float = Field(300.0, gt=0)  # jobs: seconds to exit

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and _")
        return value

    @model_validator(mode="after")
    def _one_command(self) -> ContainerDef:
        if self.command is not None and self.argv is not None:
            raise ValueError("give `command` (run by kolla_start) or `argv`, not both")
        unknown = sorted(set(self.secret_environment) - set(self.environment))
        if unknown:
            raise ValueError(f"secret_environment names {unknown}, which are not in environment")
        return self


class FrontendDef(_Strict):
    """An API published through HAProxy on the internal VIP."""

    name: str
    port: int = Field(gt=0, lt=65536)
    backend: str  # container name
    backend_port: int = Field(gt=0, lt=65536)
    mode: Literal["http", "tcp"] = "http"
    check: str | None = None  # HTTP path for backend health checks


class DatabaseDef(_Strict):
    """A database and a user with all privileges on it, created on the database server."""

    name: str
    user: str
    password: str  # key in passwords.yml


class ServiceDef(_Strict):
    description: str
    group: str
    enabled: bool = True  # the default of `enable_<name>` in globals.yml
    when: str | None = None  # deployed only when this Jinja2 expression is true
    depends_on: list[str] = []
    requires: list[str] = []  # globals.yml keys that must be set when the service is deployed
    secrets: list[str] = []
    volumes: list[str] = []  # named volumes holding the service's data
    vars: dict[str, str] = {}  # values every template can use, e.g. keystone_internal_url
    database: DatabaseDef | None = None
    frontends: list[FrontendDef] = []
    jobs: list[ContainerDef] = []
    containers: list[ContainerDef] = []


class Service(BaseModel):
    """A loaded definition: its name, folder and validated content."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    folder: str
    definition: ServiceDef
    templates: dict[str, str]  # file name -> template text
