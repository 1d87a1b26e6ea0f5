"""Override files checked against the options the services really have.

The option lists an image build writes (data/images/config_options.py, from
oslo-config-generator's JSON), the checks of config/options.py with their exact messages,
reading a list out of an image (DockerEngine.read_file, against a stand-in for the engine's
API) and the check at plan time (operations.check_overrides, against a stand-in engine).
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import time
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import docker.errors
import pytest
import yaml

from stackyard.config.deployment import load_deployment, secret_names
from stackyard.config.ini import parse_ini
from stackyard.config.options import (
    OPTIONS_PATH,
    Override,
    merged,
    parse_option_lists,
    problems,
    refuse,
)
from stackyard.deploy.desired import HostFacts, compute
from stackyard.engine.docker_engine import READ_LABEL, STALE_READ, DockerEngine
from stackyard.errors import ConfigError, EngineError
from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.options import make_options
from stackyard.images.plan import plan_images
from stackyard.images.render import Renderer
from stackyard.operations import check_overrides
from stackyard.services.catalog import load_services
from tests.unit.conftest import write_catalog

# oslo-config-generator --format json --namespace oslo.middleware.sizelimit --namespace
# oslo.concurrency --namespace oslo.log, run in the keystone-base image (Debian trixie,
# python3-oslo.config 9.7.1), cut down to four options and each help text to 60 characters.
SAMPLE = {
    "deprecated_options": {
        "DEFAULT": [
            {"name": "logfile", "replacement_group": "DEFAULT", "replacement_name": "log-file"},
            {
                "name": "osapi_max_request_body_size",
                "replacement_group": "oslo_middleware",
                "replacement_name": "max_request_body_size",
            },
            {
                "name": "max_request_body_size",
                "replacement_group": "oslo_middleware",
                "replacement_name": "max_request_body_size",
            },
        ]
    },
    "generator_options": {
        "config_dir": [],
        "config_file": [],
        "config_source": [],
        "format_": "json",
        "minimal": False,
        "namespace": ["oslo.middleware.sizelimit", "oslo.concurrency", "oslo.log"],
        "output_file": "/tmp/options.json",
        "shell_completion": None,
        "summarize": False,
        "wrap_width": 70,
    },
    "options": {
        "DEFAULT": {
            "driver_option": "",
            "driver_opts": {},
            "dynamic_group_owner": "",
            "help": "",
            "opts": [
                {
                    "advanced": False,
                    "choices": [],
                    "default": False,
                    "deprecated_for_removal": False,
                    "deprecated_opts": [],
                    "deprecated_reason": None,
                    "deprecated_since": None,
                    "dest": "debug",
                    "help": "If set to true, the logging level will be set to DEBUG inste",
                    "max": None,
                    "metavar": None,
                    "min": None,
                    "mutable": True,
                    "name": "debug",
                    "namespace": "oslo.log",
                    "positional": False,
                    "required": False,
                    "sample_default": None,
                    "secret": False,
                    "short": "d",
                    "type": "boolean value",
                },
                {
                    "advanced": False,
                    "choices": [],
                    "default": None,
                    "deprecated_for_removal": False,
                    "deprecated_opts": [{"group": "DEFAULT", "name": "logfile"}],
                    "deprecated_reason": None,
                    "deprecated_since": None,
                    "dest": "log_file",
                    "help": "(Optional) Name of log file to send logging output to. If no",
                    "max": None,
                    "metavar": "PATH",
                    "min": None,
                    "mutable": False,
                    "name": "log-file",
                    "namespace": "oslo.log",
                    "positional": False,
                    "required": False,
                    "sample_default": None,
                    "secret": False,
                    "short": None,
                    "type": "string value",
                },
            ],
            "standard_opts": ["debug", "log-file"],
        },
        "oslo_concurrency": {
            "driver_option": "",
            "driver_opts": {},
            "dynamic_group_owner": "",
            "help": "",
            "opts": [
                {
                    "advanced": False,
                    "choices": [],
                    "default": None,
                    "deprecated_for_removal": False,
                    "deprecated_opts": [],
                    "deprecated_reason": None,
                    "deprecated_since": None,
                    "dest": "lock_path",
                    "help": "Directory to use for lock files.  For security, the specifie",
                    "max": None,
                    "metavar": None,
                    "min": None,
                    "mutable": False,
                    "name": "lock_path",
                    "namespace": "oslo.concurrency",
                    "positional": False,
                    "required": False,
                    "sample_default": None,
                    "secret": False,
                    "short": None,
                    "type": "string value",
                }
            ],
            "standard_opts": ["lock_path"],
        },
        "oslo_middleware": {
            "driver_option": "",
            "driver_opts": {},
            "dynamic_group_owner": "",
            "help": "",
            "opts": [
                {
                    "advanced": False,
                    "choices": [],
                    "default": 114688,
                    "deprecated_for_removal": False,
                    "deprecated_opts": [
                        {"group": "DEFAULT", "name": "osapi_max_request_body_size"},
                        {"group": "DEFAULT", "name": "max_request_body_size"},
                    ],
                    "deprecated_reason": None,
                    "deprecated_since": None,
                    "dest": "max_request_body_size",
                    "help": "The maximum body size for each  request, in bytes.",
                    "max": None,
                    "metavar": None,
                    "min": None,
                    "mutable": False,
                    "name": "max_request_body_size",
                    "namespace": "oslo.middleware.sizelimit",
                    "positional": False,
                    "required": False,
                    "sample_default": None,
                    "secret": False,
                    "short": None,
                    "type": "integer value",
                }
            ],
            "standard_opts": ["max_request_body_size"],
        },
    },
}


@cache
def program() -> ModuleType:
    """data/images/config_options.py, the program the build step runs."""
    spec = importlib.util.spec_from_file_location("config_options", PROGRAM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PROGRAM = default_root() / "config_options.py"
KEYSTONE_CONF = "/etc/keystone/keystone.conf"
# Sections and options as keystone-base's list has them, cut down.
KNOWN = {
    "DEFAULT": frozenset({"debug", "log_file", "logfile", "use_stderr", "max_param_size"}),
    "token": frozenset({"expiration", "provider", "allow_expired_window"}),
    "receipt": frozenset({"expiration", "provider"}),
    "fernet_tokens": frozenset({"key_repository", "max_active_keys"}),
    "credential": frozenset({"key_repository", "provider"}),
    "cache": frozenset({"enabled", "backend", "memcache_servers"}),
}
OVERRIDE = Path("/etc/stackyard/config/keystone.conf")


def check(text: str, known: dict[str, frozenset[str]] = KNOWN) -> list[str]:
    document = parse_ini(text, str(OVERRIDE))
    return problems(known, Override(OVERRIDE, document, text), "keystone.conf")


# --- the option list a build writes -----------------------------------------------------------


def test_the_list_has_every_name_oslo_config_reads_from_a_file() -> None:
    """An option's dest (`log-file` is read as log_file), its deprecated names (logfile) and
    deprecated groups ([DEFAULT] max_request_body_size), and DEFAULT even when empty."""
    assert program().known_options(SAMPLE) == {
        "DEFAULT": [
            "debug",
            "log_file",
            "logfile",
            "max_request_body_size",
            "osapi_max_request_body_size",
        ],
        "oslo_concurrency": ["lock_path"],
        "oslo_middleware": ["max_request_body_size"],
    }
    assert program().known_options({"options": {}}) == {"DEFAULT": []}


def fake_image(tmp_path: Path, namespaces: list[str]) -> dict[str, str]:
    """An environment like an image's: oslo.config.opts entry points for `namespaces` (a
    dist-info folder on PYTHONPATH), and an oslo-config-generator that writes SAMPLE and
    logs as the real one does."""
    site, bin_dir = tmp_path / "site", tmp_path / "bin"
    dist = site / "fake_oslo-1.0.dist-info"
    dist.mkdir(parents=True)
    bin_dir.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-oslo\nVersion: 1.0\n")
    points = "".join(f"{name} = fake_oslo:list_opts\n" for name in namespaces)
    (dist / "entry_points.txt").write_text(f"[oslo.config.opts]\n{points}")
    generator = bin_dir / "oslo-config-generator"
    generator.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "names = sys.argv[sys.argv.index('--namespace') + 1 :: 2]\n"
        "print('WARNING:stevedore.named:Could not load ' + ', '.join(names), file=sys.stderr)\n"
        "print('a real warning', file=sys.stderr)\n"
        "output = sys.argv[sys.argv.index('--output-file') + 1]\n"
        f"json.dump({SAMPLE!r}, open(output, 'w'))\n"
    )
    generator.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(site)}


def test_the_build_step_writes_the_list_and_keeps_a_parent_images(tmp_path: Path) -> None:
    env = fake_image(tmp_path, ["oslo.log", "oslo.concurrency"])
    output = tmp_path / "usr/share/stackyard/config-options.json"
    output.parent.mkdir(parents=True)
    output.write_text(json.dumps({"/etc/parent.conf": {"DEFAULT": ["x"]}}))
    run = subprocess.run(
        [sys.executable, str(PROGRAM), str(output), f"{KEYSTONE_CONF}=installed",
         "/etc/other.conf=oslo.log"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    listed = program().known_options(SAMPLE)
    assert json.loads(output.read_text()) == {
        "/etc/parent.conf": {"DEFAULT": ["x"]},
        KEYSTONE_CONF: listed,
        "/etc/other.conf": listed,
    }
    assert output.stat().st_mode & 0o777 == 0o644
    assert run.stdout == (
        f"config options: {KEYSTONE_CONF}: 3 sections, 7 names from 2 namespaces\n"
        "config options: /etc/other.conf: 3 sections, 7 names from 1 namespaces\n"
    )
    # stevedore's "Could not load" on success is noise; other warnings are shown.
    assert run.stderr == "a real warning\na real warning\n"


def test_the_build_step_refuses_a_namespace_the_image_does_not_have(tmp_path: Path) -> None:
    env = fake_image(tmp_path, ["oslo.log"])
    output = tmp_path / "config-options.json"
    run = subprocess.run(
        [sys.executable, str(PROGRAM), str(output), f"{KEYSTONE_CONF}=oslo.log,oslo.lgo"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr == (
        f"config options: {KEYSTONE_CONF}: oslo.lgo not in the oslo.config.opts entry points; "
        "installed: oslo.log\n"
    )
    assert not output.exists()


def test_images_list_their_options_before_the_image_contract() -> None:
    """The step runs config_options.py as it is (the rendered Dockerfile, and so the cache
    key, changes with it), as root, after the image's own steps and before finish.j2, in
    exactly the images that declare oslo.config files."""
    catalog = load_catalog(default_root())
    options = make_options(catalog)
    planned = plan_images(
        catalog, options, list(catalog.images), options.root_reference, "k", Renderer(catalog)
    )
    assert catalog.images["keystone-base"].oslo_config == ((KEYSTONE_CONF, None),)
    for name, p in planned.items():
        steps = [line for line in p.dockerfile.splitlines() if line.startswith('RUN ["python3"')]
        declared = catalog.images[name].oslo_config
        if not declared:
            assert steps == [], name
            continue
        assert json.loads(steps[0].removeprefix("RUN ")) == [
            "python3", "-c", PROGRAM.read_text(), OPTIONS_PATH,
            *(f"{path}=installed" for path, _ in declared),
        ]  # fmt: skip
        before, after = p.dockerfile.split(steps[0])
        assert before.rstrip().endswith("USER root")
        assert "# The image contract:" in after
    assert "COPY keystone-uwsgi.ini" in planned["keystone-base"].dockerfile.split("RUN [")[0]


def test_image_yaml_declares_oslo_config_files(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "images", {"base": None, "svc": "base"})
    meta = root / "svc" / "image.yaml"
    meta.write_text(
        "parent: base\nuser: root\n"
        "oslo_config: {/etc/svc/svc.conf: installed, /etc/svc/b.conf: [oslo.log, svc]}\n"
    )
    assert load_catalog(root).images["svc"].oslo_config == (
        ("/etc/svc/b.conf", ("oslo.log", "svc")),
        ("/etc/svc/svc.conf", None),
    )
    usage = (
        f"{meta}: oslo_config maps each oslo.config file (an absolute path) to `installed` "
        "(every namespace in the image's oslo.config.opts entry points) or a list of namespaces"
    )
    for bad, got in [
        ("[/etc/svc.conf]", ""),
        ("{svc.conf: installed}", "; got 'svc.conf'"),
        ("{/etc/svc.conf: all}", "; got /etc/svc.conf: 'all'"),
        ("{/etc/svc.conf: []}", "; got /etc/svc.conf: []"),
        ("{/etc/svc.conf: ['a,b']}", "; got /etc/svc.conf: ['a,b']"),
    ]:
        meta.write_text(f"parent: base\nuser: root\noslo_config: {bad}\n")
        with pytest.raises(ConfigError) as info:
            load_catalog(root)
        assert str(info.value) == usage + got, bad


# --- the checks --------------------------------------------------------------------------------


def test_a_misspelt_section() -> None:
    assert check("[tokne]\nexpiration = 7200\n") == [
        f"{OVERRIDE}:1: keystone.conf has no section [tokne]; did you mean [token]?"
    ]


def test_a_misspelt_option() -> None:
    assert check("[token]\nprovider = fernet\nexpiraton = 7200\n") == [
        f"{OVERRIDE}:3: keystone.conf has no option `expiraton` in [token]; did you mean "
        "`expiration`?"
    ]


def test_an_option_of_another_section() -> None:
    assert check("[cache]\nenabled = true\nmax_active_keys = 5\nexpiration = 1\n") == [
        f"{OVERRIDE}:3: keystone.conf has no option `max_active_keys` in [cache]; "
        "`max_active_keys` is an option of [fernet_tokens], not [cache]",
        f"{OVERRIDE}:4: keystone.conf has no option `expiration` in [cache]; `expiration` is "
        "an option of [receipt] and [token], not [cache]",
    ]


def test_default_is_checked_like_any_section() -> None:
    assert check("[DEFAULT]\ndebug = true\ndebgu = true\nallow_expired_window = 1\n") == [
        f"{OVERRIDE}:3: keystone.conf has no option `debgu` in [DEFAULT]; did you mean `debug`?",
        f"{OVERRIDE}:4: keystone.conf has no option `allow_expired_window` in [DEFAULT]; "
        "`allow_expired_window` is an option of [token], not [DEFAULT]",
    ]
    # oslo.config reads [DEFAULT] only in capitals, and option names only as written.
    assert check("[default]\ndebug = true\n[DEFAULT]\nDebug = true\n") == [
        f"{OVERRIDE}:1: keystone.conf has no section [default]; did you mean [DEFAULT]?",
        f"{OVERRIDE}:4: keystone.conf has no option `Debug` in [DEFAULT]; did you mean `debug`?",
    ]


def test_a_close_name_and_another_section_are_both_said() -> None:
    known = {**KNOWN, "cache": KNOWN["cache"] | {"expiration_time"}}
    assert check("[cache]\nexpiration = 60\n", known) == [
        f"{OVERRIDE}:2: keystone.conf has no option `expiration` in [cache]; did you mean "
        "`expiration_time`? `expiration` is an option of [receipt] and [token], not [cache]"
    ]


def test_a_section_with_no_close_name_is_placed_by_its_options() -> None:
    assert check("[fernet]\nkey_repository = /k\n[expiry]\nexpiration = 1\nprovider = x\n") == [
        f"{OVERRIDE}:1: keystone.conf has no section [fernet]; `key_repository` is an option "
        "of [credential] and [fernet_tokens], not [fernet]",
        f"{OVERRIDE}:3: keystone.conf has no section [expiry]; its options are those of "
        "[receipt] and [token]",
    ]
    assert check("[nothing_like_it]\nzzz = 1\n") == [
        f"{OVERRIDE}:1: keystone.conf has no section [nothing_like_it]"
    ]


def test_what_oslo_config_reads_passes() -> None:
    """Sections in any case but DEFAULT's, deprecated names, comments, continued values."""
    text = (
        "# tuning\n[Token]\nexpiration = 60\n\n[DEFAULT]\nlogfile = /var/log/k.log\n"
        "debug = true\n; more\n[cache]\nmemcache_servers = a:11211,\n    b:11211\n"
    )
    assert check(text) == []


def test_every_problem_at_once_with_its_line() -> None:
    """Lines as the file has them: comments, continuation lines and a section given twice."""
    text = (
        "# keystone tuning\n"
        "[token]\n"
        "expiration = 7200\n"
        "allowed_expired_window = 3600\n"
        "\n"
        "[cache]\n"
        "memcache_servers = a:11211,\n"
        "    b:11211\n"
        "enabeld = true\n"
        "[tokne]\n"
        "provider = fernet\n"
        "[token]\n"
        "provder = fernet\n"
    )
    assert check(text) == [
        f"{OVERRIDE}:4: keystone.conf has no option `allowed_expired_window` in [token]; did "
        "you mean `allow_expired_window`?",
        f"{OVERRIDE}:9: keystone.conf has no option `enabeld` in [cache]; did you mean `enabled`?",
        f"{OVERRIDE}:10: keystone.conf has no section [tokne]; did you mean [token]?",
        f"{OVERRIDE}:13: keystone.conf has no option `provder` in [token]; did you mean "
        "`provider`?",
    ]


def test_refuse_says_each_problem_once_and_how_to_opt_out() -> None:
    refuse([], Path("/etc/stackyard/globals.yml"))
    found = check("[tokne]\nexpiration = 1\n")
    with pytest.raises(ConfigError) as info:
        refuse(found + found, Path("/etc/stackyard/globals.yml"))
    assert str(info.value) == (
        f"{OVERRIDE}:1: keystone.conf has no section [tokne]; did you mean [token]?\n"
        "Overrides are checked against the options oslo-config-generator listed in the images "
        "when they were built; to merge options it does not know (a plugin's), set "
        "config_override_check: no in /etc/stackyard/globals.yml"
    )


def test_lists_merge_and_parse() -> None:
    assert merged(
        [{"DEFAULT": frozenset({"a"})}, {"DEFAULT": frozenset({"b"}), "x": frozenset()}]
    ) == {
        "DEFAULT": frozenset({"a", "b"}),
        "x": frozenset(),
    }
    document = {KEYSTONE_CONF: {"DEFAULT": ["debug"], "token": ["expiration"]}}
    assert parse_option_lists(json.dumps(document).encode()) == {
        KEYSTONE_CONF: {"DEFAULT": frozenset({"debug"}), "token": frozenset({"expiration"})}
    }
    for bad in (
        b"",
        b"not json",
        b"[]",
        b'{"/f": []}',
        b'{"/f": {"s": "x"}}',
        b'{"/f": {"s": [1]}}',
    ):
        assert parse_option_lists(bad) is None, bad


# --- reading the list out of an image ----------------------------------------------------------


def tar_of(name: str, data: bytes, kind: bytes = tarfile.REGTYPE) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo(name)
        member.type, member.size = kind, len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(member, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


class StubAPI:
    """The part of docker's APIClient read_file uses, over images held as {path: archive};
    `existing` holds the containers, by name."""

    def __init__(self, images: dict[str, dict[str, bytes]], fail: Exception | None = None):
        self.images = images
        self.fail = fail
        self.existing: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []

    def containers(self, all: bool, filters: dict[str, str]) -> list[dict[str, Any]]:
        assert all and filters == {"label": READ_LABEL}
        return [c for c in self.existing.values() if READ_LABEL in c["Labels"]]

    def create_container(self, image: str, **kwargs: Any) -> dict[str, str]:
        if image not in self.images:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        name = kwargs["name"]
        self.existing[name] = {"Id": name, "Created": time.time(), "Labels": kwargs["labels"],
                               "image": image}  # fmt: skip
        self.created.append({"image": image, **kwargs})
        return {"Id": name}

    def get_archive(self, container: str, path: str) -> tuple[Any, dict[str, Any]]:
        if self.fail is not None:
            raise self.fail
        archive = self.images[self.existing[container]["image"]].get(path)
        if archive is None:
            raise docker.errors.NotFound(f"Could not find the file {path} in container")
        return iter([archive[:100], archive[100:]]), {"name": Path(path).name}

    def remove_container(self, container: str, force: bool = False) -> None:
        assert force
        del self.existing[container]


def test_read_file_copies_a_file_out_of_an_image_without_running_it() -> None:
    document = b'{"/etc/keystone/keystone.conf": {"DEFAULT": ["debug"]}}\n'
    api = StubAPI({
        "ks": {OPTIONS_PATH: tar_of("config-options.json", document),
               "/etc/keystone": tar_of("keystone", b"", tarfile.DIRTYPE)},
        "old": {},
    })  # fmt: skip
    engine = DockerEngine(api, "unix:///stub.sock")
    assert engine.read_file("ks", OPTIONS_PATH) == document
    assert engine.read_file("ks", "/etc/keystone") is None  # not a regular file
    assert engine.read_file("old", OPTIONS_PATH) is None  # built before the lists
    assert engine.read_file("missing", OPTIONS_PATH) is None  # no such image here
    assert api.existing == {}  # every container made to read was removed
    assert len(api.created) == 3
    assert all(c["name"].startswith("stackyard-read-") and c["network_disabled"]
               and c["labels"] == {READ_LABEL: "true"} for c in api.created)  # fmt: skip


def test_read_file_says_what_failed_and_removes_its_container() -> None:
    api = StubAPI({"ks": {}}, fail=docker.errors.APIError("500", explanation="disk full"))
    with pytest.raises(EngineError) as info:
        DockerEngine(api, "unix:///stub.sock").read_file("ks", OPTIONS_PATH)
    assert str(info.value) == f"read {OPTIONS_PATH} from ks: disk full"
    assert api.existing == {}


def test_read_file_removes_what_a_killed_read_left_and_nothing_else() -> None:
    """A run killed between making its container and removing it leaves the container; the
    next read removes it, but not one another run is reading with right now."""
    api = StubAPI({"ks": {}})
    labels = {READ_LABEL: "true"}
    api.existing = {
        "left": {"Id": "left", "Created": time.time() - STALE_READ - 5, "Labels": labels},
        "reading": {"Id": "reading", "Created": time.time() - 1, "Labels": labels},
        "service": {"Id": "service", "Created": time.time() - 3600, "Labels": {}},
    }
    assert DockerEngine(api, "unix:///stub.sock").read_file("ks", OPTIONS_PATH) is None
    assert sorted(api.existing) == ["reading", "service"]


# --- at plan time --------------------------------------------------------------------------------

FACTS = HostFacts(default_address="10.0.0.5", local_addresses=frozenset({"10.0.0.5"}))
KEYSTONE = "sytest/keystone:2025.1-trixie"
FERNET = "sytest/keystone-fernet:2025.1-trixie"
LISTS = json.dumps({KEYSTONE_CONF: {k: sorted(v) for k, v in KNOWN.items()}}).encode()


class StubImages:
    """The engine's images as check_overrides sees them: reference -> (id, list or None)."""

    def __init__(self, images: dict[str, tuple[str, bytes | None]]) -> None:
        self.images = images
        self.inspected: list[str] = []
        self.reads: list[tuple[str, str]] = []

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        self.inspected.append(ref)
        return {"Id": self.images[ref][0]} if ref in self.images else None

    def read_file(self, image: str, path: str) -> bytes | None:
        self.reads.append((image, path))
        return next(data for image_id, data in self.images.values() if image_id == image)


class StubEngine:
    def __init__(self, images: StubImages) -> None:
        self.engine = images


def deployment_with(tmp_path: Path, files: dict[str, str], globals_text: str = "") -> Any:
    directory = tmp_path / "etc-stackyard"
    (directory / "config").mkdir(parents=True)
    (directory / "globals.yml").write_text("docker_namespace: sytest\n" + globals_text)
    secrets = {
        key: f"Secret{i:02d}value" for i, key in enumerate(sorted(secret_names(load_services())))
    }
    (directory / "passwords.yml").write_text(yaml.safe_dump(secrets))
    for name, text in files.items():
        path = directory / "config" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    deployment = load_deployment(directory)
    return deployment, compute(deployment, FACTS)


def checked(
    tmp_path: Path, files: dict[str, str], images: StubImages, globals_text: str = ""
) -> str:
    """Overrides checked for the identity plane (the images the stubs know)."""
    globals_text = "enable_openstack_core: no\n" + globals_text
    deployment, desired = deployment_with(tmp_path, files, globals_text)
    try:
        check_overrides(deployment, desired, StubEngine(images))
    except ConfigError as exc:
        return str(exc)
    return ""


def hint(tmp_path: Path) -> str:
    return (
        "Overrides are checked against the options oslo-config-generator listed in the images "
        "when they were built; to merge options it does not know (a plugin's), set "
        f"config_override_check: no in {tmp_path}/etc-stackyard/globals.yml"
    )


def test_every_override_layer_is_checked_and_each_image_read_once(tmp_path: Path) -> None:
    images = StubImages({KEYSTONE: ("sha256:ks", LISTS), FERNET: ("sha256:fernet", LISTS)})
    files = {
        "global.conf": "[DEFAULT]\ndebug = true\n",
        "keystone.conf": "[tokne]\nexpiration = 7200\n",
        "keystone/keystone.conf": "[token]\nprovider = fernet\n",
        "keystone/localhost/keystone.conf": "[cache]\n\nmemcache_server = a:11211\n",
    }
    config = tmp_path / "etc-stackyard" / "config"
    assert checked(tmp_path, files, images) == "\n".join([
        f"{config}/keystone.conf:1: keystone.conf has no section [tokne]; did you mean [token]?",
        f"{config}/keystone/localhost/keystone.conf:3: keystone.conf has no option "
        "`memcache_server` in [cache]; did you mean `memcache_servers`?",
        hint(tmp_path),
    ])  # fmt: skip
    # keystone's containers and jobs share an image: each image is asked for, and read, once.
    assert sorted(images.inspected) == [FERNET, KEYSTONE]
    assert sorted(images.reads) == [("sha256:fernet", OPTIONS_PATH), ("sha256:ks", OPTIONS_PATH)]


def test_images_with_one_id_are_read_once(tmp_path: Path) -> None:
    images = StubImages({KEYSTONE: ("sha256:same", LISTS), FERNET: ("sha256:same", LISTS)})
    assert checked(tmp_path, {"keystone.conf": "[token]\nexpiration = 1\n"}, images) == ""
    assert images.reads == [("sha256:same", OPTIONS_PATH)]


def test_without_override_files_no_image_is_read(tmp_path: Path) -> None:
    images = StubImages({KEYSTONE: ("sha256:ks", LISTS), FERNET: ("sha256:fernet", LISTS)})
    assert checked(tmp_path, {}, images) == ""
    assert images.inspected == [] and images.reads == []


def test_config_override_check_no_merges_unchecked(tmp_path: Path) -> None:
    images = StubImages({KEYSTONE: ("sha256:ks", LISTS), FERNET: ("sha256:fernet", LISTS)})
    files = {"keystone.conf": "[ldap_plugin]\nurl = ldap://x\n"}
    assert checked(tmp_path, files, images, "config_override_check: no\n") == ""
    assert images.inspected == [] and images.reads == []


def test_a_file_whose_image_has_no_list_is_not_checked(tmp_path: Path) -> None:
    """Built before the lists, an upstream Kolla image, or not here: nothing is said. An
    override merged into several files is checked only when every one of them has a list
    (what it holds may be the unlisted file's)."""
    files = {"keystone.conf": "[tokne]\nexpiration = 7200\n"}
    cases = [
        StubImages({KEYSTONE: ("sha256:ks", None), FERNET: ("sha256:fernet", None)}),
        StubImages({KEYSTONE: ("sha256:ks", LISTS), FERNET: ("sha256:fernet", None)}),
        StubImages({KEYSTONE: ("sha256:ks", LISTS), FERNET: ("sha256:fernet", b"{}")}),
        StubImages({KEYSTONE: ("sha256:ks", LISTS)}),  # keystone-fernet not built
    ]
    for number, images in enumerate(cases):
        assert checked(tmp_path / str(number), files, images) == "", number
