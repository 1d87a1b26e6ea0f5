"""Desired state from the packaged service definitions (pure: a tmp config dir, no engine).

Every test writes globals.yml, passwords.yml (fixed values for every secret) and optional
`config/` override files, loads them with load_deployment and computes the desired state for
one all-in-one host. The fresh-deploy plan is a golden file (tests/golden/aio-fresh.plan,
rewritten with STACKYARD_UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import cast

import pytest
import yaml

from stackyard.config.deployment import load_deployment, secret_names
from stackyard.config.ini import get, parse_ini
from stackyard.deploy.desired import Desired, HostFacts, compute
from stackyard.deploy.model import (
    Action,
    ContainerSpec,
    Kind,
    ObservedContainer,
    ObservedState,
    RunState,
    keyed_digest,
)
from stackyard.deploy.observe import observe, observed_container
from stackyard.deploy.planner import plan
from stackyard.deploy.report import NO_CHANGES, render_text, to_dict
from stackyard.engine.containers import listed_record
from stackyard.engine.port import ContainerRecord
from stackyard.engine.port import Engine as EnginePort
from stackyard.errors import ConfigError
from stackyard.operations import post_deploy
from stackyard.services.catalog import default_root, load_services
from stackyard.services.model import ContainerDef
from tests.unit.test_planner import check_golden

FACTS = HostFacts(default_address="10.0.0.5", local_addresses=frozenset({"10.0.0.5"}))
HOST = "localhost"  # the packaged all-in-one inventory's only host
# The identity plane, which most tests here look at (the core cloud has tests of its own).
GLOBALS = "docker_namespace: sytest\nenable_openstack_core: no\n"
KEYSTONE_SERVICES = {"keystone", "keystone_fernet"}
KEYSTONE_JOBS = {
    "keystone_database",
    "keystone_db_sync",
    "keystone_fernet_setup",
    "keystone_credential_setup",
    "keystone_bootstrap",
    "keystone_cache_flush",
    "keystone_service_project",
}


@cache
def passwords() -> dict[str, str]:
    """A fixed, distinctive value for every secret any packaged service needs."""
    keys = sorted(secret_names(load_services()))
    return {key: f"Pw{i:02d}x{key.replace('_', '')}Q7z" for i, key in enumerate(keys)}


def config_dir(
    root: Path,
    globals_text: str = GLOBALS,
    files: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> Path:
    directory = root / "etc-stackyard"
    directory.mkdir(parents=True)
    (directory / "globals.yml").write_text(globals_text)
    values = passwords() if secrets is None else secrets
    (directory / "passwords.yml").write_text(yaml.safe_dump(values))
    for name, text in (files or {}).items():
        path = directory / "config" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def desired_for(directory: Path, facts: HostFacts = FACTS) -> Desired:
    return compute(load_deployment(directory), facts)


def desired_with(
    tmp_path: Path, globals_text: str = GLOBALS, files: dict[str, str] | None = None
) -> Desired:
    return desired_for(config_dir(tmp_path, globals_text, files))


def specs_by_name(desired: Desired) -> dict[str, ContainerSpec]:
    result = {spec.name: spec for host, spec in desired.specs() if host == HOST}
    assert len(result) == len(desired.specs()), "every container runs on the one host"
    return result


def deployed(desired: Desired) -> ObservedState:
    """What the engine reports once the desired state was applied: services running (healthy
    when they have a check), jobs exited 0."""
    containers: dict[str, dict[str, ObservedContainer]] = {}
    for host, spec in desired.specs():
        job = spec.kind is Kind.JOB
        containers.setdefault(host, {})[spec.name] = ObservedContainer(
            name=spec.name,
            host=host,
            id=f"id-{spec.name}",
            state=RunState.STOPPED if job else RunState.RUNNING,
            labels=spec.labels(),
            exit_code=0 if job else None,
            health="healthy" if spec.healthcheck is not None and not job else None,
        )
    volumes = {host: dict.fromkeys(names, 0.0) for host, names in desired.volumes.items()}
    return ObservedState(containers, volumes)


def rendered(desired: Desired, container: str, name: str) -> str:
    return desired.files[(HOST, container)][name]


# --- the fresh all-in-one deploy ---------------------------------------------------------------


def test_fresh_all_in_one_plan_matches_golden(tmp_path: Path) -> None:
    desired = desired_with(tmp_path)
    result = plan(desired.state, ObservedState({}))
    assert set(desired.state.services) == {
        "haproxy",
        "host_firewall",
        "mariadb",
        "memcached",
        "rabbitmq",
        "keystone",
    }
    assert {s.action for s in result.steps} == {Action.CREATE, Action.RUN}
    check_golden("aio-fresh", render_text(result, desired.secrets))


def test_fresh_plan_runs_dependencies_first_and_jobs_before_their_service(tmp_path: Path) -> None:
    result = plan(desired_with(tmp_path).state, ObservedState({}))
    order = [w.service for w in result.waves]
    assert order.index("mariadb") < order.index("keystone")
    assert order.index("memcached") < order.index("keystone")
    keystone = [s.container for s in result.waves[order.index("keystone")].steps]
    assert keystone.index("keystone_database") < keystone.index("keystone_db_sync")
    assert keystone.index("keystone_db_sync") < keystone.index("keystone_bootstrap")
    # The containers after the jobs they need; the service project once keystone answers.
    assert keystone.index("keystone_cache_flush") < keystone.index("keystone")
    assert keystone.index("keystone") < keystone.index("keystone_service_project")
    mariadb = [s.container for s in result.waves[order.index("mariadb")].steps]
    assert mariadb == ["mariadb_bootstrap", "mariadb"]


def test_computing_twice_gives_identical_results(tmp_path: Path) -> None:
    first = desired_for(config_dir(tmp_path / "a"))
    second = desired_for(config_dir(tmp_path / "b"))  # another directory, same content
    assert first.specs() == second.specs()
    assert [s.labels() for _, s in first.specs()] == [s.labels() for _, s in second.specs()]
    assert first.files == second.files
    assert (first.volumes, first.networks, first.frontends, first.vip, first.variables) == (
        second.volumes,
        second.networks,
        second.frontends,
        second.vip,
        second.variables,
    )
    fresh = ObservedState({})
    assert render_text(plan(first.state, fresh)) == render_text(plan(second.state, fresh))
    assert to_dict(plan(first.state, fresh)) == to_dict(plan(second.state, fresh))


def test_an_already_deployed_state_gives_an_empty_plan(tmp_path: Path) -> None:
    desired = desired_with(tmp_path)
    result = plan(desired.state, deployed(desired))
    assert result.is_empty, render_text(result)
    assert render_text(result) == NO_CHANGES


def test_a_job_that_failed_is_run_again_and_nothing_else(tmp_path: Path) -> None:
    desired = desired_with(tmp_path)
    observed = deployed(desired)
    node = dict(observed.containers[HOST])
    failed = node["keystone_db_sync"]
    node["keystone_db_sync"] = ObservedContainer(
        failed.name, failed.host, failed.id, RunState.STOPPED, failed.labels, exit_code=1
    )
    result = plan(desired.state, ObservedState({HOST: node}, observed.volumes))
    assert [(s.action, s.container, s.cause) for s in result.steps] == [
        (Action.RUN, "keystone_db_sync", "failed (exit 1)")
    ]


def test_a_job_created_but_never_started_runs(tmp_path: Path) -> None:
    """A run killed between creating a job and starting it leaves a container that never ran
    (the engine's record has no exit code for it): it is planned to run."""
    desired = desired_with(tmp_path)
    spec = specs_by_name(desired)["mariadb_bootstrap"]

    class Engine:
        def managed_containers(self) -> list[ContainerRecord]:
            return [ContainerRecord("mariadb_bootstrap", "c1", False, spec.labels(), created=1)]

        def managed_volumes(self) -> dict[str, str]:
            return dict.fromkeys(desired.volumes[HOST], "1.0")

        def image_ids(self, references: set[str]) -> dict[str, str]:
            return {}

    seen = observe(cast(EnginePort, Engine()), HOST)
    assert seen.containers[HOST]["mariadb_bootstrap"].exit_code is None
    steps = plan(desired.state, seen).steps
    assert (Action.RUN, "mariadb_bootstrap", "never started") in [
        (s.action, s.container, s.cause) for s in steps
    ]


@pytest.mark.parametrize(
    ("state", "status", "code", "health"),
    [
        ("exited", "Exited (0) 2 minutes ago", 0, None),
        ("exited", "Exited (137) About an hour ago", 137, None),
        ("created", "Created", None, None),
        ("running", "Up 5 minutes (healthy)", None, "healthy"),
        ("running", "Up 2 seconds (health: starting)", None, "starting"),
        ("dead", "Dead", None, None),
    ],
)
def test_the_container_list_gives_exit_codes_and_health(
    state: str, status: str, code: int | None, health: str | None
) -> None:
    """A job's exit code comes from the list's status line: no inspect per job in a run."""
    entry = {"Names": ["/x"], "Id": "i", "State": state, "Status": status, "Labels": {}}
    seen = observed_container(listed_record(entry), HOST)
    assert (seen.exit_code, seen.health) == (code, health)


def test_a_rebuilt_image_replaces_its_containers_and_reruns_its_jobs(tmp_path: Path) -> None:
    """The spec names the image by reference; what the reference names now is the engine's:
    after a rebuild (or a pull) under the same tag, what runs the old image is replaced."""
    desired = desired_with(tmp_path)
    observed = deployed(desired)
    old, new = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    containers = {
        host: {n: replace(c, image_id=old) for n, c in named.items()}
        for host, named in observed.containers.items()
    }
    keystone = specs_by_name(desired)["keystone"].image
    images = {HOST: {keystone: new}}
    result = plan(desired.state, ObservedState(containers, observed.volumes, images))
    assert {(s.action, s.container, s.cause) for s in result.steps} == {
        (Action.RUN, "keystone_db_sync", "changed: image_id"),
        (Action.RUN, "keystone_bootstrap", "changed: image_id"),
        (Action.RUN, "keystone_cache_flush", "changed: image_id"),
        (Action.RECREATE, "keystone", "changed: image_id"),
    }
    step = next(s for s in result.steps if s.container == "keystone")
    assert [(c.field, c.current, c.desired) for c in step.changes] == [
        ("image_id", "1" * 12, "2" * 12)
    ]
    same = plan(desired.state, ObservedState(containers, observed.volumes, {HOST: {keystone: old}}))
    assert same.is_empty


# --- operator override files -------------------------------------------------------------------


def test_keystone_override_recreates_exactly_keystone_and_keystone_fernet(tmp_path: Path) -> None:
    before = desired_for(config_dir(tmp_path / "before"))
    after = desired_for(
        config_dir(tmp_path / "after", files={"keystone.conf": "[DEFAULT]\ndebug = True\n"})
    )
    old, new = specs_by_name(before), specs_by_name(after)
    assert old.keys() == new.keys()
    changed = {n for n in new if new[n].config_digest != old[n].config_digest}
    services = {n for n in changed if new[n].kind is Kind.SERVICE}
    assert services == KEYSTONE_SERVICES
    # Jobs `like: keystone` mount the same keystone.conf, so their digest moves too...
    assert changed - services == KEYSTONE_JOBS - {
        "keystone_database", "keystone_cache_flush", "keystone_service_project"
    }  # fmt: skip
    # ...but nothing else about any container does.
    for name in new:
        assert new[name].to_record() | {"config_digest": ""} == old[name].to_record() | {
            "config_digest": ""
        }

    result = plan(after.state, deployed(before))
    assert [(s.action, s.container) for s in result.steps] == [
        (Action.RECREATE, "keystone"),
        (Action.RECREATE, "keystone_fernet"),
    ]
    for step in result.steps:
        assert step.cause == "changed: config_digest"
        assert [c.field for c in step.changes] == ["config_digest"]
    assert not [s for s in result.steps if s.action is Action.RUN]

    for container in KEYSTONE_SERVICES:
        conf = parse_ini(rendered(after, container, "keystone.conf"), "keystone.conf")
        assert get(conf, "DEFAULT", "debug") == "True"
        assert get(conf, "DEFAULT", "use_stderr") == "True"  # merged, not replaced
    assert "debug = True\n" in rendered(after, "keystone", "keystone.conf")
    assert "debug = False" not in rendered(after, "keystone", "keystone.conf")
    assert "debug = False\n" in rendered(before, "keystone", "keystone.conf")


def test_global_conf_reaches_keystone_conf(tmp_path: Path) -> None:
    desired = desired_with(tmp_path, files={"global.conf": "[oslo_log]\nlog_date_format = %Y\n"})
    for container in KEYSTONE_SERVICES:
        conf = parse_ini(rendered(desired, container, "keystone.conf"), "keystone.conf")
        assert get(conf, "oslo_log", "log_date_format") == "%Y"
        assert get(conf, "token", "provider") == "fernet"


def test_per_host_override_applies(tmp_path: Path) -> None:
    desired = desired_with(
        tmp_path, files={f"keystone/{HOST}/keystone.conf": "[token]\nexpiration = 7200\n"}
    )
    for container in KEYSTONE_SERVICES:
        conf = parse_ini(rendered(desired, container, "keystone.conf"), "keystone.conf")
        assert get(conf, "token", "expiration") == "7200"
        assert get(conf, "token", "provider") == "fernet"


LAYERS = (
    "global.conf",
    "keystone.conf",
    "keystone/keystone.conf",
    f"keystone/{HOST}/keystone.conf",
)


@pytest.mark.parametrize("count", range(1, len(LAYERS) + 1), ids=LAYERS)
def test_override_precedence_is_global_file_service_host(tmp_path: Path, count: int) -> None:
    """With the first `count` layers present, the last one's value of a shared key wins, and
    every layer's own key is there."""
    files = {
        layer: f"[DEFAULT]\nwinner = {i}\nonly_{i} = yes\n"
        for i, layer in enumerate(LAYERS[:count])
    }
    desired = desired_with(tmp_path, files=files)
    conf = parse_ini(rendered(desired, "keystone", "keystone.conf"), "keystone.conf")
    assert get(conf, "DEFAULT", "winner") == str(count - 1)
    assert [get(conf, "DEFAULT", f"only_{i}") for i in range(count)] == ["yes"] * count
    assert get(conf, "DEFAULT", "debug") == "False"


# --- secrets -----------------------------------------------------------------------------------

VARIANTS = {
    "all-in-one": GLOBALS,
    "keepalived": GLOBALS + "kolla_internal_vip_address: 10.0.0.100\nnetwork_interface: eth0\n",
    "external-db": GLOBALS
    + 'enable_mariadb: "no"\ndatabase_address: 10.0.0.9\ndatabase_port: 13306\n',
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_secret_in_labels_or_plans(tmp_path: Path, variant: str) -> None:
    desired = desired_with(tmp_path, VARIANTS[variant])
    secrets = list(passwords().values())
    for _, spec in desired.specs():
        for key, value in spec.labels().items():
            leaked = [s for s in secrets if s in value]
            assert not leaked, f"{spec.name}: label {key} holds a secret"
    fresh = plan(desired.state, ObservedState({}))
    for text in (
        render_text(fresh),
        render_text(fresh, desired.secrets),
        json.dumps(to_dict(fresh)),
    ):
        assert not [s for s in secrets if s in text]


def test_secrets_are_used_where_they_belong(tmp_path: Path) -> None:
    """The leak test above is not vacuous: the values reach the config files (one file per
    secret variable, which kolla_start exports) and nothing the engine shows."""
    desired = desired_with(tmp_path)
    pw = passwords()
    assert pw["keystone_database_password"] in rendered(desired, "keystone", "keystone.conf")
    assert (
        rendered(desired, "keystone_database", "environment/DB_PASSWORD")
        == (pw["keystone_database_password"])
    )
    assert (
        rendered(desired, "keystone_database", "environment/MYSQL_PWD") == (pw["database_password"])
    )
    assert (
        rendered(desired, "keystone_bootstrap", "environment/OS_BOOTSTRAP_PASSWORD")
        == (pw["keystone_admin_password"])
    )
    assert (
        rendered(desired, "mariadb_bootstrap", "environment/DB_ROOT_PASSWORD")
        == (pw["database_password"])
    )
    config = json.loads(rendered(desired, "keystone_bootstrap", "config.json"))
    assert {
        "source": "/var/lib/kolla/config_files/environment/OS_BOOTSTRAP_PASSWORD",
        "dest": "/var/lib/kolla/run/environment/OS_BOOTSTRAP_PASSWORD",
        "owner": "keystone",
        "perm": "0600",
    } in config["config_files"]
    for _, spec in desired.specs():
        shown = json.dumps([spec.environment, spec.command, spec.argv, spec.labels()])
        assert not [key for key, value in pw.items() if value in shown], spec.name
    assert set(desired.secrets) == set(pw.values())


def test_config_digests_are_keyed(tmp_path: Path) -> None:
    """A label shows an HMAC of the config files, so it cannot confirm a guessed password:
    the same files under another digest key give another digest, and the digest is not a
    plain hash of the files."""
    first = specs_by_name(desired_with(tmp_path / "a"))["keystone_database"]
    other_key = {**passwords(), "stackyard_digest_key": "AnotherDigestKey0123456789"}
    second = specs_by_name(desired_for(config_dir(tmp_path / "b", secrets=other_key)))
    assert first.config_digest != second["keystone_database"].config_digest
    desired = desired_with(tmp_path / "c")
    files = desired.files[(HOST, "keystone_database")]
    assert first.config_digest == keyed_digest(passwords()["stackyard_digest_key"], files)
    joined = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(files.items()))
    plain = hashlib.sha256(joined).hexdigest()[:16]
    assert first.config_digest != plain


def test_containers_keep_only_what_they_declare(tmp_path: Path) -> None:
    """Every container runs as its image's user with no-new-privileges and no capability but
    those its service declares; its log is rotated and its process count bounded."""
    specs = specs_by_name(desired_with(tmp_path))
    assert {name: spec.cap_add for name, spec in specs.items() if spec.cap_add} == {
        "host_firewall": ("NET_ADMIN",)
    }
    assert all(spec.no_new_privileges for spec in specs.values())
    assert specs["keystone"].user == "42425:42425"
    assert specs["keystone_database"].user == "42401:42401"
    assert specs["mariadb_bootstrap"].user == "42434:42434"
    assert specs["host_firewall"].user == "0:0"
    for spec in specs.values():
        assert spec.log_options == (("max-file", "5"), ("max-size", "50m")), spec.name
        assert spec.pids_limit == 4096, spec.name
    tuned = specs_by_name(
        desired_with(
            tmp_path / "tuned",
            GLOBALS
            + "docker_log_max_size: 10m\ndocker_log_max_file: 2\ncontainer_pids_limit: 512\n",
        )
    )
    assert tuned["mariadb"].log_options == (("max-file", "2"), ("max-size", "10m"))
    assert tuned["mariadb"].pids_limit == 512


def test_a_setting_with_spaces_and_stars_stays_one_argument(tmp_path: Path) -> None:
    """Commands are argv lists in config.json: a region or admin name with a space or `*`
    reaches the program as one argument, never split or globbed."""
    desired = desired_with(
        tmp_path,
        GLOBALS + "openstack_region_name: Region One *\nkeystone_admin_project: my project\n",
    )
    command = json.loads(rendered(desired, "keystone_bootstrap", "config.json"))["command"]
    assert command[command.index("--bootstrap-region-id") + 1] == "Region One *"
    assert command[command.index("--bootstrap-project-name") + 1] == "my project"
    assert specs_by_name(desired)["keystone_bootstrap"].command == tuple(command)
    uwsgi = json.loads(rendered(desired, "keystone", "config.json"))["command"]
    assert uwsgi == ["uwsgi", "--ini", "/etc/keystone/keystone-uwsgi.ini"]


def test_a_secret_in_the_environment_is_refused(tmp_path: Path) -> None:
    """A definition that would show a secret to `docker inspect` is refused, by key."""
    services = tmp_path / "services"
    shutil.copytree(default_root(), services)
    definition = services / "memcached" / "service.yaml"
    definition.write_text(definition.read_text().replace(
        'MEMCACHED_SASL_USER: "{{ memcached_user }}"',
        'MEMCACHED_SASL_USER: "{{ memcached_user }}"\n      LEAK: "{{ memcached_password }}"',
    ))  # fmt: skip
    deployment = load_deployment(config_dir(tmp_path), services_root=services)
    with pytest.raises(ConfigError) as info:
        compute(deployment, FACTS)
    assert str(info.value) == (
        f"{services}/memcached/service.yaml: memcached on localhost: the value of "
        "memcached_password would be visible in the container's environment, command or "
        "labels; pass it in a config file or `secret_environment`"
    )
    assert passwords()["memcached_password"] not in str(info.value)


def test_a_service_declares_its_own_settings(tmp_path: Path) -> None:
    """A setting a service declares (`settings:`) is a globals.yml key with no code: its
    default, or the operator's value, reaches the templates; a wrong value is an error naming
    the line; a typo is told the declared name."""
    services = tmp_path / "services"
    shutil.copytree(default_root(), services)
    definition = services / "memcached" / "service.yaml"
    definition.write_text(definition.read_text().replace(
        "group: memcached\n",
        "group: memcached\nsettings:\n  memcached_item_size:\n    description: d\n"
        "    type: integer\n    default: 1024\n    minimum: 512\n",
    ).replace(
        'MEMCACHED_SASL_USER: "{{ memcached_user }}"',
        'MEMCACHED_SASL_USER: "{{ memcached_user }}"\n      ITEM_SIZE: "{{ memcached_item_size }}"',
    ))  # fmt: skip

    def item_size(globals_text: str) -> str:
        folder = config_dir(tmp_path / str(len(globals_text)), GLOBALS + globals_text)
        desired = compute(load_deployment(folder, services_root=services), FACTS)
        return dict(specs_by_name(desired)["memcached"].environment)["ITEM_SIZE"]

    assert item_size("") == "1024"
    assert item_size("memcached_item_size: 2048\n") == "2048"
    for number, (wrong, message) in enumerate([
        ("memcached_item_size: 100\n", "memcached_item_size: Input should be greater than or "
         "equal to 512 (got 100)"),
        ("memcached_item_sizes: 2048\n", "unknown key 'memcached_item_sizes'; did you mean "
         "'memcached_item_size'?"),
    ]):  # fmt: skip
        folder = config_dir(tmp_path / f"wrong{number}", GLOBALS + wrong)
        with pytest.raises(ConfigError) as info:
            load_deployment(folder, services_root=services)
        assert str(info.value) == f"{folder / 'globals.yml'}:3: {message}"


@pytest.mark.parametrize(
    ("settings", "interval", "keys"),
    [
        ("", 259200, 3),
        ("fernet_key_rotation_interval: 86400\n", 86400, 5),
        ("fernet_token_expiry: 3600\nfernet_token_allow_expired_window: 0\n", 3600, 3),
        ("fernet_key_rotation_interval: 7000\nfernet_token_allow_expired_window: 0\n", 7000, 15),
    ],
)
def test_fernet_keys_follow_keystones_rule(
    tmp_path: Path, settings: str, interval: int, keys: int
) -> None:
    """max_active_keys = ceil((expiry + allow_expired_window) / rotation interval) + 2, and the
    rotation container gets the same interval."""
    desired = desired_with(tmp_path, GLOBALS + settings)
    for container in ("keystone", "keystone_fernet"):
        conf = parse_ini(rendered(desired, container, "keystone.conf"), "keystone.conf")
        assert get(conf, "fernet_tokens", "max_active_keys") == str(keys)
    environment = dict(specs_by_name(desired)["keystone_fernet"].environment)
    assert environment["KEYSTONE_FERNET_ROTATE_SECONDS"] == str(interval)


def test_keystone_fernet_gets_no_other_secret(tmp_path: Path) -> None:
    desired = desired_with(tmp_path)
    for container in ("keystone_fernet", "keystone_fernet_setup", "keystone_credential_setup"):
        files = desired.files[(HOST, container)]
        held = [k for k, v in passwords().items() if k != "stackyard_digest_key"
                and any(v in text for text in files.values())]  # fmt: skip
        assert held == [], container


# An operator's own password, with what means something to SQL, URLs, shells and YAML.
AWKWARD = "k'db\\\"pw@host/db:5?a=b#frag%41$(id)`id` ;x"


def test_admin_openrc_gives_bash_the_credentials_unchanged(tmp_path: Path) -> None:
    """The password, the admin user and project (keystone's settings) and the region reach the
    shell as they are, spaces, quotes and globs included; clouds.yaml holds the same."""
    names = (
        'keystone_admin_user: "cloud admin\'s $(id)"\nkeystone_admin_project: "ops team"\n'
        'openstack_region_name: "Region One *"\n'
    )
    directory = config_dir(
        tmp_path, GLOBALS + names, secrets={**passwords(), "keystone_admin_password": AWKWARD}
    )
    deployment = load_deployment(directory)
    clouds, openrc = post_deploy(deployment, compute(deployment, FACTS))
    shown = '"$OS_PASSWORD" "$OS_USERNAME" "$OS_PROJECT_NAME" "$OS_REGION_NAME"'
    script = f'. {openrc} && printf "%s\\n" {shown}'
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == [AWKWARD, "cloud admin's $(id)", "ops team", "Region One *"]
    auth = yaml.safe_load(clouds.read_text())["clouds"]["stackyard-admin"]["auth"]
    assert (auth["username"], auth["project_name"]) == ("cloud admin's $(id)", "ops team")


def test_a_database_password_outside_url_characters_is_refused_unshown(tmp_path: Path) -> None:
    """keystone.conf's connection URL holds it; keystone-manage db_sync reads that URL through
    ConfigParser, so a %-escape breaks it: such a password is refused before anything runs."""
    directory = config_dir(tmp_path, secrets={**passwords(), "keystone_database_password": AWKWARD})
    with pytest.raises(ConfigError) as info:
        load_deployment(directory)
    assert str(info.value).startswith(
        f"{directory / 'passwords.yml'}: keystone_database_password may hold only letters, "
        "digits and - . _ ~: it is written into a database connection URL"
    )
    assert AWKWARD not in str(info.value)
    allowed = {**passwords(), "keystone_database_password": "Az09-._~" * 5}
    load_deployment(config_dir(tmp_path / "allowed", secrets=allowed))


def test_a_changed_password_reruns_its_job_without_showing_either_value(tmp_path: Path) -> None:
    before = desired_for(config_dir(tmp_path / "before"))
    rotated = {**passwords(), "keystone_database_password": "RotatedKeystoneDbSecret42"}
    after = desired_for(config_dir(tmp_path / "after", secrets=rotated))
    result = plan(after.state, deployed(before))
    steps = {(s.action, s.container) for s in result.steps}
    assert (Action.RUN, "keystone_database") in steps
    assert (Action.RECREATE, "keystone") in steps  # keystone.conf holds the connection URL
    values = (passwords()["keystone_database_password"], rotated["keystone_database_password"])
    for text in (
        render_text(result),
        render_text(result, after.secrets),
        json.dumps(to_dict(result)),
    ):
        assert not [v for v in values if v in text]
    database = next(s for s in result.steps if s.container == "keystone_database")
    assert [c.field for c in database.changes] == ["secret_digest"]


def test_passwords_yml_cannot_change_settings(tmp_path: Path) -> None:
    """passwords.yml holds secrets; a key that is a globals.yml setting must not bypass its
    validation (fernet_token_expiry >= 60) nor change what templates see."""
    directory = config_dir(tmp_path, secrets={**passwords(), "fernet_token_expiry": "5"})
    try:
        desired = desired_for(directory)
    except ConfigError as exc:  # rejecting the key is a fix as good as ignoring it
        assert f"{directory / 'passwords.yml'}" in str(exc)
        assert "fernet_token_expiry" in str(exc)
        return
    conf = parse_ini(rendered(desired, "keystone", "keystone.conf"), "keystone.conf")
    assert get(conf, "token", "expiration") == "86400"
    fernet = dict(specs_by_name(desired)["keystone_fernet"].environment)
    assert fernet["KEYSTONE_FERNET_ROTATE_SECONDS"] == str(86400 + 172800)


# --- keepalived --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vip", ["", "kolla_internal_vip_address: 10.0.0.5\n"], ids=["default", "local"]
)
def test_no_keepalived_when_the_vip_is_a_local_address(tmp_path: Path, vip: str) -> None:
    desired = desired_with(tmp_path, GLOBALS + vip)
    assert desired.vip == "10.0.0.5"
    assert "keepalived" not in desired.state.services
    assert "keepalived" not in specs_by_name(desired)


def test_keepalived_holds_a_vip_that_is_not_local(tmp_path: Path) -> None:
    desired = desired_with(
        tmp_path, GLOBALS + "kolla_internal_vip_address: 10.0.0.100\nnetwork_interface: eth0\n"
    )
    assert desired.vip == "10.0.0.100"
    assert "keepalived" in desired.state.services
    keepalived = specs_by_name(desired)["keepalived"]
    assert keepalived.network == "host"
    assert keepalived.image == "sytest/keepalived:2025.1-trixie"
    conf = rendered(desired, "keepalived", "keepalived.conf")
    assert "    interface eth0\n" in conf
    assert "        10.0.0.100 dev eth0\n" in conf
    assert "    virtual_router_id 51\n" in conf
    assert f"auth_pass {passwords()['keepalived_password'][:8]}\n" in conf
    assert specs_by_name(desired)["haproxy"].ports == (
        "10.0.0.100:5672:5672",
        "10.0.0.100:5000:5000",
    )


def test_keepalived_needs_network_interface(tmp_path: Path) -> None:
    directory = config_dir(tmp_path, GLOBALS + "kolla_internal_vip_address: 10.0.0.100\n")
    deployment = load_deployment(directory)
    with pytest.raises(ConfigError) as info:
        compute(deployment, FACTS)
    assert str(info.value) == (
        f"{directory / 'globals.yml'}: network_interface must be set when keepalived is deployed"
    )


def test_keepalived_can_be_switched_off(tmp_path: Path) -> None:
    desired = desired_with(
        tmp_path, GLOBALS + "kolla_internal_vip_address: 10.0.0.100\nenable_keepalived: no\n"
    )
    assert "keepalived" not in desired.state.services


# --- external database -------------------------------------------------------------------------


def test_external_database(tmp_path: Path) -> None:
    desired = desired_with(tmp_path, VARIANTS["external-db"])
    assert "mariadb" not in desired.state.services
    specs = specs_by_name(desired)
    assert not {"mariadb", "mariadb_bootstrap"} & specs.keys()
    environment = dict(specs["keystone_database"].environment)
    assert (environment["DB_HOST"], environment["DB_PORT"]) == ("10.0.0.9", "13306")
    conf = parse_ini(rendered(desired, "keystone", "keystone.conf"), "keystone.conf")
    assert get(conf, "database", "connection") == (
        f"mysql+pymysql://keystone:{passwords()['keystone_database_password']}"
        "@10.0.0.9:13306/keystone"
    )
    result = plan(desired.state, ObservedState({}))
    assert "mariadb" not in [w.service for w in result.waves]


def test_internal_database_is_reached_by_name(tmp_path: Path) -> None:
    """Services reach MariaDB by name; its root logs in only through the server's socket,
    which the database jobs mount."""
    desired = desired_with(tmp_path)
    job = specs_by_name(desired)["keystone_database"]
    environment = dict(job.environment)
    assert environment["DB_SOCKET"] == "/run/mysqld/mysqld.sock"
    assert job.volumes == ("mariadb_socket:/run/mysqld",)
    assert "mariadb_socket:/run/mysqld" in specs_by_name(desired)["mariadb"].volumes
    conf = parse_ini(rendered(desired, "keystone", "keystone.conf"), "keystone.conf")
    assert get(conf, "database", "connection").endswith("@mariadb:3306/keystone")


def test_external_database_needs_an_address(tmp_path: Path) -> None:
    directory = config_dir(tmp_path, GLOBALS + 'enable_mariadb: "no"\n')
    with pytest.raises(ConfigError) as info:
        load_deployment(directory)
    assert str(info.value) == (
        f"{directory / 'globals.yml'}: enable_mariadb is no, so database_address (and "
        "database_port, database_user, and database_password in passwords.yml) must name the "
        "external database server"
    )


# --- haproxy, rabbitmq, images -----------------------------------------------------------------


def test_haproxy_publishes_every_frontend_on_the_vip(tmp_path: Path) -> None:
    desired = desired_with(tmp_path)
    assert [(f.name, f.port, f.backend_port, f.host_only) for f in desired.frontends] == [
        ("rabbitmq", 5672, 5672, True),
        ("keystone_internal", 5000, 5000, False),
    ]
    haproxy = specs_by_name(desired)["haproxy"]
    assert haproxy.ports == ("10.0.0.5:5672:5672", "10.0.0.5:5000:5000")
    assert haproxy.ports == tuple(f"{desired.vip}:{f.port}:{f.port}" for f in desired.frontends)
    cfg = rendered(desired, "haproxy", "haproxy.cfg")
    block = cfg.split("\nlisten keystone_internal\n", 1)[1].split("\nlisten ", 1)[0]
    assert "    bind :5000\n" in block
    assert "    option httpchk GET /v3\n" in block
    assert re.search(rf"^    server {HOST} keystone:5000 check ", block, re.MULTILINE)


def test_rabbitmq_definitions_hold_a_verifiable_password_hash(tmp_path: Path) -> None:
    desired = desired_with(tmp_path)
    definitions = json.loads(rendered(desired, "rabbitmq", "definitions.json"))
    [user] = definitions["users"]
    assert user["name"] == "openstack"
    assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    raw = base64.b64decode(user["password_hash"], validate=True)
    salt, digest = raw[:4], raw[4:]
    password = passwords()["rabbitmq_password"].encode()
    assert len(raw) == 36
    assert digest == hashlib.sha256(salt + password).digest()
    assert digest != hashlib.sha256(salt + b"another password").digest()
    assert definitions["permissions"][0]["user"] == "openstack"


@pytest.mark.parametrize(
    ("globals_text", "keystone", "toolbox"),
    [
        ("", "stackyard/keystone:2025.1-trixie", "stackyard/toolbox:2025.1-trixie"),
        (GLOBALS, "sytest/keystone:2025.1-trixie", "sytest/toolbox:2025.1-trixie"),
        (
            GLOBALS + "docker_registry: reg:5000\n",
            "reg:5000/sytest/keystone:2025.1-trixie",
            "reg:5000/sytest/toolbox:2025.1-trixie",
        ),
        (GLOBALS + "openstack_release: zed\n", "sytest/keystone:zed-bookworm", None),
        (GLOBALS + "openstack_tag: my-build\n", "sytest/keystone:my-build", None),
    ],
    ids=["defaults", "namespace", "registry", "zed", "tag"],
)
def test_image_references(
    tmp_path: Path, globals_text: str, keystone: str, toolbox: str | None
) -> None:
    specs = specs_by_name(desired_with(tmp_path, globals_text))
    assert specs["keystone"].image == keystone
    assert specs["keystone_fernet"].image == keystone.replace("/keystone:", "/keystone-fernet:")
    assert specs["keystone_db_sync"].image == keystone
    if toolbox is not None:
        assert specs["keystone_database"].image == toolbox
    prefix, tag = keystone.rsplit("/", 1)[0], keystone.rsplit(":", 1)[1]
    for spec in specs.values():
        assert spec.image.startswith(prefix + "/")
        assert spec.image.endswith(":" + tag)


# Definition fields that do not become the spec field of the same name, and where they go.
NOT_SPEC_FIELDS = {
    "name": "the container's name (every spec has one)",
    "like": "jobs: the container whose image, volumes and config they start from",
    "config_files": "rendered files, known to the spec by their digest (config_digest)",
    "secret_environment": "0600 files kolla_start exports (config_digest, secret_digest)",
    "routing_status": "the balancer status command apply waits on (Desired.balancers)",
    "when": "whether the container is deployed at all",
}
# Per definition field: a definition changed to set it otherwise (service, container, edit).
MEMCACHED_COMMAND = (
    "    command: memcached -S -p 11211 -l 0.0.0.0 -m 128 -c 5000 -U 0\n    environment:\n"
    '      MEMCACHED_SASL_USER: "{{ memcached_user }}"\n    secret_environment:\n'
    '      MEMCACHED_SASL_PASSWORD: "{{ memcached_password }}"\n'
)
SET_OTHERWISE = {
    "image": ("    image: memcached\n", "    image: haproxy\n"),
    "command": ("-m 128", "-m 64"),
    "argv": (MEMCACHED_COMMAND, "    argv: [memcached, -S]\n"),
    "environment": ('MEMCACHED_SASL_USER: "{{ memcached_user }}"',
                    'MEMCACHED_SASL_USER: "{{ memcached_user }}"\n      X: "1"'),
    "healthcheck": ('"11211"]', '"11212"]'),
    "deadline": ("      deadline: 30\n", "      deadline: 31\n"),
}  # fmt: skip
ADDED = {
    "volumes": "[memcached_data:/data]", "network": "host", "hostname": "cache",
    "privileged": "true", "cap_add": "[NET_ADMIN]", "devices": "[/dev/net/tun]",
    "group_add": "[kvm]", "no_new_privileges": "false", "sysctls": "{net.core.somaxconn: '1024'}",
    "tmpfs": "[/run/x]", "ulimits": "{nofile: 100}", "pids_limit": "64", "memory_limit": "1g",
    "ports": "['10.0.0.5:11211:11211']",
}  # fmt: skip
EDITS = {
    **{field: ("memcached", "memcached", *edit) for field, edit in SET_OTHERWISE.items()},
    **{field: ("memcached", "memcached", "    image: memcached\n",
               f"    image: memcached\n    {field}: {value}\n") for field, value in ADDED.items()},
    "after": ("keystone", "keystone_service_project", "    after: [keystone]\n",
              "    after: [keystone, keystone_fernet]\n"),
    "once": ("keystone", "keystone_db_sync", "  - name: keystone_db_sync\n    once: true\n",
             "  - name: keystone_db_sync\n"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ContainerDef.model_fields))
def test_every_definition_field_reaches_the_spec_or_says_where_it_goes(
    tmp_path: Path, name: str
) -> None:
    """A container field a definition may set changes the computed spec (and so, by the
    engine test, the container), or is one of those that go elsewhere, each with its reason."""
    if name in NOT_SPEC_FIELDS:
        assert name not in EDITS
        return
    service, container, old, new = EDITS[name]
    services = tmp_path / "services"
    shutil.copytree(default_root(), services)
    definition = services / service / "service.yaml"
    text = definition.read_text()
    assert old in text
    plain = load_deployment(config_dir(tmp_path / "a"), services_root=services)
    before = specs_by_name(compute(plain, FACTS))[container]
    definition.write_text(text.replace(old, new, 1))
    changed = load_deployment(config_dir(tmp_path / "b"), services_root=services)
    after = specs_by_name(compute(changed, FACTS))[container]
    assert getattr(after, name) != getattr(before, name), name


def test_a_service_budget_reaches_the_desired_state(tmp_path: Path) -> None:
    services = tmp_path / "services"
    shutil.copytree(default_root(), services)
    definition = services / "keystone" / "service.yaml"
    definition.write_text(
        definition.read_text().replace("depends_on:", "serial: 1\ndepends_on:", 1)
    )
    deployment = load_deployment(config_dir(tmp_path), services_root=services)
    assert compute(deployment, FACTS).state.services["keystone"].serial == 1
    assert desired_with(tmp_path / "plain").state.services["keystone"].serial == 0
