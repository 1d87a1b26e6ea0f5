"""globals.yml: deployment-wide settings, under kolla-ansible's key names (pure).

Validated as a whole before anything changes: an unknown key gets a "did you mean", a wrong
type names the key, its line and what would be valid. `enable_<service>` keys are accepted for
the services the catalog knows, and the settings their definitions declare (`settings:`), so
adding a service adds its switch and its settings without code here.

As in kolla-ansible, a value may refer to other settings: `"{{ kolla_internal_vip_address }}"`.
Only such references are supported (no filters, expressions or statements); they are replaced
before the values are validated, so an IP address field gets an IP address.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from stackyard.config.yamlfile import YamlMapping, load_mapping
from stackyard.errors import ConfigError
from stackyard.services.model import ENGINE_INT, SETTING_CONFIG, SettingDef, parse_flag

__all__ = ["Globals", "Settings", "load_globals", "parse_flag", "validate_globals"]

# `{{ setting }}`, the one kind of Jinja globals.yml may hold, and where any kind starts.
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA = re.compile(r"\{\{|\{%|\{#")
# The parts of an image reference, REGISTRY/NAMESPACE/IMAGE:TAG, as the container engine reads
# them (github.com/distribution/reference): anything else fails only when an image is pulled.
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_NAMESPACE = re.compile(rf"{_PATH_PART}(?:/{_PATH_PART})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


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
    # Every container's log is rotated by the engine (json-file max-size / max-file), and its
    # process count bounded; kolla-ansible's names for the first two.
    docker_log_max_size: Annotated[str, Field(pattern=r"^[1-9][0-9]*[kmg]$")] = "50m"
    docker_log_max_file: Annotated[int, Field(ge=1, le=100)] = 5
    container_pids_limit: Annotated[int, Field(ge=16, le=ENGINE_INT)] = 4096
    # kolla-ansible's name: at most this many hosts of a service changed at a time, each batch
    # health-gated before the next (0: every host at once).
    kolla_serial: Annotated[int, Field(ge=0)] = 0
    enable_container_healthchecks: bool = True
    # The core cloud (kolla-ansible's switch): glance, placement, nova, neutron, heat, horizon.
    enable_openstack_core: bool = True
    # Provider (external) networking, kolla-ansible's names: the OVS bridge for physical
    # network `neutron_physical_networks`, and the host interface plugged into it (none on an
    # all-in-one machine: the bridge itself holds `neutron_bridge_address`, so this host
    # reaches floating IPs on that subnet, and so does nothing else).
    neutron_bridge_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,14}$")] = "br-ex"
    neutron_external_interface: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,15}$")] | None = (
        None
    )
    neutron_bridge_address: str | None = "198.51.100.1/24"
    # kvm or qemu (software emulation); unset: kvm where /dev/kvm is usable.
    nova_compute_virt_type: Literal["kvm", "qemu"] | None = None
    # Every section and option of the config/ override files must be one the service reads
    # (as oslo-config-generator listed them in its image when it was built); `no` merges
    # them unchecked, for options no list has (a plugin installed by a template override).
    config_override_check: bool = True

    @field_validator(
        "enable_container_healthchecks",
        "config_override_check",
        "enable_openstack_core",
        mode="before",
    )
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

    @field_validator("neutron_bridge_address")
    @classmethod
    def _interface_address(cls, value: str | None) -> str | None:
        if value:
            try:
                ipaddress.ip_interface(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an address with a prefix length, such as 198.51.100.1/24"
                ) from None
            if "/" not in value:
                raise ValueError(f"{value!r} needs a prefix length, such as {value}/24")
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

    @field_validator("docker_registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        if not value or _REGISTRY.fullmatch(value):  # "" is no registry, as it always was
            return value
        scheme, _, rest = value.rpartition("://")
        host, _, path = rest.partition("/")
        path = path.rstrip("/")
        if not _REGISTRY.fullmatch(host) or (path and not _NAMESPACE.fullmatch(path)):
            raise ValueError(
                "a registry is HOST[:PORT]: a host name (letters, digits, - and .) or an IP "
                "address, then optionally : and a port number"
            )
        fixes = ["drop the scheme"] if scheme else []
        if path:
            fixes.append("move the path to docker_namespace")
        elif not scheme:
            fixes.append("drop the /")
        namespace = f", docker_namespace: {path}" if path else ""
        raise ValueError(
            f"a registry is HOST[:PORT], so {' and '.join(fixes)}: docker_registry: "
            f"{host}{namespace}"
        )

    @field_validator("docker_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if _NAMESPACE.fullmatch(value):
            return value
        if _NAMESPACE.fullmatch(value.lower()):
            raise ValueError(f"a namespace is lowercase: docker_namespace: {value.lower()}")
        raise ValueError(
            "a namespace is lowercase letters and digits, with single . or _, double _ or "
            "any number of - between them, in parts separated by / (such as my-org/openstack)"
        )

    @field_validator("openstack_tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if not value or _TAG.fullmatch(value):  # "" is the default tag, as it always was
            return value
        raise ValueError(
            "a tag is 1 to 128 letters, digits, _ . and -, not starting with . or - "
            "(such as 2025.1-trixie)"
        )


class Settings(BaseModel):
    """globals.yml validated, with the service switches resolved."""

    model_config = ConfigDict(frozen=True)

    values: Globals
    enabled: dict[str, bool]
    declared: dict[str, Any] = {}  # the services' own settings (their `settings:`), by key


def load_globals(
    path: Path,
    services: dict[str, bool],
    core: frozenset[str] = frozenset(),
    missing_ok: bool = True,
    declared: Mapping[str, SettingDef] | None = None,
) -> Settings:
    """Read globals.yml; `services` maps every known service to whether it is on by default,
    `core` names those that `enable_openstack_core` switches instead, `declared` holds the
    settings the services declare."""
    mapping = load_mapping(path, missing_ok=missing_ok)
    return validate_globals(mapping, services, core, declared or {})


def validate_globals(
    mapping: YamlMapping,
    services: dict[str, bool],
    core: frozenset[str] = frozenset(),
    declared: Mapping[str, SettingDef] | None = None,
) -> Settings:
    declared = declared or {}
    switches = {f"enable_{name}": name for name in services}
    defaults: dict[str, object] = {name: f.default for name, f in Globals.model_fields.items()}
    defaults.update({switch: services[name] for switch, name in switches.items()})
    defaults.update({name: setting.default for name, setting in declared.items()})
    plain: dict[str, Any] = {}
    own: dict[str, Any] = {}
    enabled = dict(services)
    errors: list[str] = []
    resolved, templates = _resolve(mapping, defaults, errors)
    for key in mapping.values:
        if key not in defaults:
            errors.append(f"{mapping.where(key)}: unknown key {key!r}{_suggest(key, defaults)}")
            continue
        if key not in resolved:  # a reference that cannot be replaced: reported
            continue
        value = resolved[key]
        if key in switches:
            try:
                enabled[switches[key]] = parse_flag(value)
            except ValueError as exc:
                errors.append(f"{mapping.where(key)}: {key}: {exc}")
        elif key in declared:
            own[key] = value
        else:
            plain[key] = value

    def report(exc: ValidationError) -> None:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["msg"]).removeprefix("Value error, ")
            got = repr(error["input"]) + (f" from {templates[key]!r}" if key in templates else "")
            errors.append(f"{mapping.where(key)}: {key}: {message} (got {got})")

    try:
        values = Globals(**plain)
    except ValidationError as exc:
        report(exc)
        values = Globals()
    model = declared_model(declared)
    try:
        services_values = model(**own).model_dump()
    except ValidationError as exc:
        report(exc)
        services_values = {}
    if errors:
        raise ConfigError("\n".join(sorted(errors)))
    # kolla-ansible's switch for the core cloud: each core service follows it unless its own
    # enable_<service> says otherwise (`enable_openstack_core: no` leaves the identity plane).
    for name in core:
        if f"enable_{name}" not in mapping.values:
            enabled[name] = values.enable_openstack_core
    return Settings(values=values, enabled=enabled, declared=services_values)


def declared_model(declared: Mapping[str, SettingDef]) -> type[BaseModel]:
    """A model that validates the services' declared settings as Globals validates its own."""
    fields: dict[str, Any] = {
        name: (setting.annotation(), setting.default) for name, setting in declared.items()
    }
    config = ConfigDict(extra="forbid", frozen=True, **SETTING_CONFIG)
    model: type[BaseModel] = create_model("DeclaredSettings", __config__=config, **fields)
    return model


def _resolve(
    mapping: YamlMapping, defaults: dict[str, object], errors: list[str]
) -> tuple[dict[str, object], dict[str, str]]:
    """The known keys of mapping with their `{{ setting }}` references replaced (a setting not
    in the file has its default), and the original text of each value that had any. A key
    whose references cannot be replaced is left out, and errors say why, once."""
    done: dict[str, object] = {}
    templates: dict[str, str] = {}
    failed: set[str] = set()

    def resolve(key: str, chain: tuple[str, ...]) -> bool:
        """Whether key resolves (into done); if not, an error says why, once."""
        where = f"{mapping.where(key)}: {key}"
        if key in chain:
            cycle = " -> ".join((*chain[chain.index(key) :], key))
            errors.append(f"{where}: the references form a cycle ({cycle}); set one of them")
            return False
        if key in done or key in failed:
            return key in done
        raw = mapping.values.get(key, defaults[key])
        if not isinstance(raw, str) or not _JINJA.search(raw):
            done[key] = raw
            return True
        failed.add(key)  # until it is resolved below
        if _JINJA.search(_REFERENCE.sub("", raw)):
            errors.append(
                f"{where}: only `{{{{ other_setting }}}}` references are supported, not "
                f"filters, expressions, lookups or statements (got {raw!r})"
            )
            return False
        pieces, end = [], 0
        for match in _REFERENCE.finditer(raw):
            name = match[1]
            if name not in defaults:
                suggestion = _suggest(name, defaults)
                errors.append(f"{where}: {{{{ {name} }}}} is not a setting{suggestion}")
                return False
            if not resolve(name, (*chain, key)):
                return False  # that error is reported
            value = done[name]
            if value is None:
                errors.append(f"{where}: {{{{ {name} }}}} has no value; set {name}")
                return False
            if isinstance(value, list | dict):
                errors.append(f"{where}: {{{{ {name} }}}} is a list or mapping, not one value")
                return False
            pieces += [raw[end : match.start()], str(value)]
            end = match.end()
        failed.discard(key)
        done[key] = "".join(pieces) + raw[end:]
        templates[key] = raw
        return True

    for key in mapping.values:
        if key in defaults:
            resolve(key, ())
    return done, templates


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""
