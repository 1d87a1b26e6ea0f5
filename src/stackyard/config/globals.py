"""globals.yml: deployment-wide settings, under kolla-ansible's key names (pure).

Validated as a whole before anything changes: an unknown key gets a "did you mean", a wrong
type names the key, its line and what would be valid. `enable_<service>` keys are accepted for
the services the catalog knows, so adding a service adds its switch without code here.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stackyard.config.yamlfile import YamlMapping, load_mapping
from stackyard.errors import ConfigError

TRUE = {"yes", "true", "on", "1"}
FALSE = {"no", "false", "off", "0"}


def parse_flag(value: object) -> bool:
    """Ansible-style booleans: yes/no, true/false, on/off (any case), or real booleans."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f'expected "yes" or "no", got {value!r}')


class Globals(BaseModel):
    """The settings stackyard reads; defaults make an all-in-one cloud with no file at all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kolla_base_distro: Literal["debian"] = "debian"
    openstack_release: str = "2025.1"
    openstack_tag: str | None = None
    openstack_region_name: str = "RegionOne"
    network_interface: str | None = None
    kolla_internal_vip_address: str | None = None
    kolla_external_vip_address: str | None = None
    kolla_container_engine: Literal["docker"] = "docker"
    docker_registry: str | None = None
    docker_namespace: str = "stackyard"
    config_strategy: Literal["COPY_ALWAYS", "COPY_ONCE"] = "COPY_ALWAYS"
    database_address: str | None = None
    database_port: Annotated[int, Field(gt=0, lt=65536)] = 3306
    database_user: str = "root"
    keystone_admin_user: str = "admin"
    keystone_admin_project: str = "admin"
    fernet_token_expiry: Annotated[int, Field(ge=60)] = 86400
    keepalived_virtual_router_id: Annotated[int, Field(ge=1, le=255)] = 51
    enable_container_healthchecks: bool = True

    @field_validator("enable_container_healthchecks", mode="before")
    @classmethod
    def _flag(cls, value: object) -> bool:
        return parse_flag(value)

    @field_validator("kolla_internal_vip_address", "kolla_external_vip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address") from None
        return value

    @field_validator("database_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                if not value.replace("-", "").replace(".", "").isalnum():
                    raise ValueError(f"{value!r} is not an IP address or host name") from None
        return value


class Settings(BaseModel):
    """globals.yml validated, with the service switches resolved."""

    model_config = ConfigDict(frozen=True)

    values: Globals
    enabled: dict[str, bool]


def load_globals(path: Path, services: dict[str, bool], missing_ok: bool = True) -> Settings:
    """Read globals.yml; `services` maps every known service to whether it is on by default."""
    return validate_globals(load_mapping(path, missing_ok=missing_ok), services)


def validate_globals(mapping: YamlMapping, services: dict[str, bool]) -> Settings:
    switches = {f"enable_{name}": name for name in services}
    plain: dict[str, Any] = {}
    enabled = dict(services)
    errors: list[str] = []
    known = sorted(set(Globals.model_fields) | set(switches))
    for key, value in mapping.values.items():
        if key in switches:
            try:
                enabled[switches[key]] = parse_flag(value)
            except ValueError as exc:
                errors.append(f"{mapping.where(key)}: {key}: {exc}")
        elif key in Globals.model_fields:
            plain[key] = value
        else:
            errors.append(f"{mapping.where(key)}: unknown key {key!r}{_suggest(key, known)}")
    try:
        values = Globals(**plain)
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["msg"]).removeprefix("Value error, ")
            errors.append(f"{mapping.where(key)}: {key}: {message} (got {error['input']!r})")
        values = Globals()
    if errors:
        raise ConfigError("\n".join(sorted(errors)))
    return Settings(values=values, enabled=enabled)


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""
