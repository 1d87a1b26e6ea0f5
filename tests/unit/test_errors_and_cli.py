"""Bad input and unavailable dependencies give a clear message and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackyard.cli import main
from stackyard.engine import connect
from stackyard.engine.containers import port_taken
from stackyard.errors import ConfigError, EngineError, HostError, MirrorError
from stackyard.host import check_debian, read_os_release
from stackyard.images import graph
from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.model import Catalog
from stackyard.images.options import make_options
from stackyard.images.plan import plan_images
from stackyard.images.render import Renderer
from stackyard.images.rootfs import check_mirror


def test_engine_not_running_names_the_socket_and_the_fix() -> None:
    with pytest.raises(EngineError) as info:
        connect("unix:///nonexistent/docker.sock", timeout=2)
    message = str(info.value)
    assert "not reachable at unix:///nonexistent/docker.sock" in message
    assert "stackyard host bootstrap" in message


def test_unreachable_mirror_names_the_url() -> None:
    with pytest.raises(
        MirrorError, match=r"cannot reach the Debian mirror http://127.0.0.1:9/debian"
    ):
        check_mirror("http://127.0.0.1:9/debian", "trixie", timeout=2)


def test_non_debian_host_is_refused(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('ID=fedora\nPRETTY_NAME="Fedora Linux 40"\n')
    with pytest.raises(HostError, match="Debian hosts only; this is 'Fedora Linux 40'"):
        check_debian(read_os_release(os_release))
    os_release.write_text("ID=ubuntu\nID_LIKE=debian\n")
    check_debian(read_os_release(os_release))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"suite": "sid"}, "unknown suite 'sid'; choose one of bookworm, trixie"),
        ({"install_type": "rpm"}, "unknown install type 'rpm'"),
        ({"install_type": "source"}, "install type 'source' is not available yet"),
        ({"mirror": "ftp://x"}, "must be an http:// or https:// URL"),
        ({"push": True}, "--push needs --registry"),
        ({"workers": 0}, "--workers must be at least 1"),
        ({"template_override": Path("/nonexistent.j2")}, "template override file does not exist"),
        ({"ca_bundle": Path("/nonexistent.crt")}, "cannot read CA bundle"),
    ],
)
def test_bad_build_options(tree: Catalog, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("+", r"\+")):
        make_options(tree, **kwargs)


def test_ca_bundle_must_be_pem(tree: Catalog, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.crt"
    bundle.write_text("not a certificate")
    with pytest.raises(ConfigError, match="not a PEM CA bundle"):
        make_options(tree, ca_bundle=bundle)


def test_operator_override_adds_a_package_to_keystone(tmp_path: Path) -> None:
    catalog = load_catalog(default_root())
    override = tmp_path / "override.j2"
    override.write_text(
        "{% block keystone_base_packages %}{{ super() }} python3-ldap{% endblock %}\n"
    )
    options = make_options(catalog, template_override=override)
    names = graph.select(catalog, ["keystone"], [])
    planned = plan_images(
        catalog, options, names, options.root_reference, "k", Renderer(catalog, override)
    )
    assert "keystone uwsgi-plugin-python3 python3-ldap" in planned["keystone-base"].dockerfile


def test_bad_image_folder_data(tmp_path: Path) -> None:
    root = tmp_path / "images"
    (root / "a").mkdir(parents=True)
    (root / "a" / "Dockerfile.j2").write_text("FROM x\n")
    (root / "a" / "image.yaml").write_text("parent: null\nuser: root\nfrom: x\n")
    with pytest.raises(ConfigError, match=r"a/image.yaml: unknown key\(s\) \['from'\]"):
        load_catalog(root)
    (root / "a" / "image.yaml").write_text("parent: [oops\n")
    with pytest.raises(ConfigError, match=r"a/image.yaml:2: invalid YAML"):
        load_catalog(root)


def test_cli_lists_and_rejects() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["build", "--list-images", "keystone"])
    assert result.exit_code == 0
    assert result.output.split() == ["base", "openstack-base", "keystone-base", "keystone"]
    result = runner.invoke(main, ["build", "--list-images", "--format", "json", "-p", "infra"])
    listing = json.loads(result.output)
    assert listing["mariadb-server"] == {"parent": "base"} and "keystone" not in listing
    result = runner.invoke(main, ["build", "--list-dependencies", "keystone-fernet"])
    assert result.output.splitlines() == [
        "base",
        "  openstack-base",
        "    keystone-base",
        "      keystone-fernet",
    ]
    result = runner.invoke(main, ["build", "glance"])
    assert result.exit_code == 2
    assert "error: no image matches 'glance'" in result.output
    result = runner.invoke(main, ["build", "--suite", "sid", "keystone"])
    assert result.exit_code == 2
    assert "unknown suite 'sid'" in result.output


@pytest.mark.parametrize("listing", ["--list-images", "--list-dependencies"])
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--suite", "sid"], "unknown suite 'sid'; choose one of bookworm, trixie"),
        (["--install-type", "rpm"], "unknown install type 'rpm'; choose one of binary, source"),
        (["--install-type", "source"], "install type 'source' is not available yet; use 'binary'"),
        (["--push"], "--push needs --registry HOST[:PORT]"),
        (["--mirror", "ftp://x"], "mirror 'ftp://x' must be an http:// or https:// URL"),
        (["--workers", "0"], "--workers must be at least 1 (got 0)"),
        (["--template-override", "/nonexistent.j2"],
         "/nonexistent.j2: template override file does not exist"),
    ],
)  # fmt: skip
def test_a_listing_refuses_the_options_a_build_refuses(
    listing: str, options: list[str], message: str
) -> None:
    for args in (["build", listing, *options, "keystone"], ["build", *options, "keystone"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.output == f"error: {message}\n"


def test_a_listing_with_valid_options(tmp_path: Path) -> None:
    args = ["build", "--list-images", "--suite", "bookworm", "--registry", "reg:5000", "--push"]
    result = CliRunner().invoke(main, [*args, "--logs-dir", str(tmp_path / "logs"), "keystone"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["base", "openstack-base", "keystone-base", "keystone"]
    assert not (tmp_path / "logs").exists()


def test_engine_that_does_not_come_up_shows_its_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stackyard import host

    log = tmp_path / "dockerd.log"
    log.write_text("".join(f"line {i}\n" for i in range(40)) + "failed to start daemon: boom\n")
    monkeypatch.setattr(host, "LOG_FILE", log)
    monkeypatch.setattr(host, "_engine_version", lambda: None)
    with pytest.raises(HostError) as info:
        host._wait_for_engine(timeout=0.1)
    message = str(info.value)
    assert "did not come up within 0 s" in message
    assert message.endswith("failed to start daemon: boom")
    assert "line 39" in message and "line 10\n" not in message


@pytest.mark.parametrize(
    "error, where",
    [
        ("start container haproxy: driver failed programming external connectivity on endpoint "
         "haproxy (0936): Error starting userland proxy: listen tcp4 192.0.2.2:5000: bind: "
         "address already in use", "port 5000 on 192.0.2.2"),
        ("start container haproxy: driver failed programming external connectivity on endpoint "
         "haproxy (ab12): Bind for 0.0.0.0:3306 failed: port is already allocated",
         "port 3306 on 0.0.0.0"),
    ],
)  # fmt: skip
def test_a_taken_port_is_named_with_what_to_do(error: str, where: str) -> None:
    hint = port_taken("haproxy", error)
    assert hint is not None and f"haproxy cannot publish {where}: something else" in hint
    assert "then run deploy again" in hint
    assert port_taken("haproxy", "start container haproxy: no such image") is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["deploy", "--format", "yaml"],
         "Invalid value for '--format': 'yaml' is not one of 'text', 'json'."),
        (["check", "--format", "xml"],
         "Invalid value for '--format': 'xml' is not one of 'text', 'json'."),
        (["deploy", "--frmat", "json"], "No such option '--frmat'. Did you mean '--format'?"),
        (["deploy", "extra-arg"], "Got unexpected extra argument (extra-arg)"),
        (["plan", "--inventory", "{dir}/missing"], "error: {dir}/missing: file does not exist"),
        (["plan", "--inventory", "{dir}"], "Invalid value for '-i' / '--inventory': File '{dir}'"
                                          " is a directory."),
        (["genpwd", "--config-dir", "{dir}/globals.yml"],
         "Invalid value for '--config-dir': Directory '{dir}/globals.yml' is a file."),
        (["destroy"], "error: destroy removes every stackyard container; run it again with "
                      "--yes-i-really-really-mean-it (add --include-volumes to delete the data"),
        (["destroy", "--include-volumes"], "run it again with --yes-i-really-really-mean-it"),
        (["host", "bootstrap", "--timeout", "-5"],
         "Invalid value for '--timeout': -5.0 is not in the range x>=1."),
        (["build", "--workers", "0"], "error: --workers must be at least 1 (got 0)"),
        (["reconfigure", "--dry-run", "--inventory"], "Option '--inventory' requires an argument."),
    ],
)  # fmt: skip
def test_bad_cli_arguments_are_refused_before_anything_changes(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "globals.yml").write_text("docker_namespace: sytest\n")
    before = sorted(tmp_path.rglob("*"))
    arguments = [a.replace("{dir}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, arguments, env={"STACKYARD_CONFIG_DIR": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert message.replace("{dir}", str(tmp_path)) in " ".join(result.output.split())
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", ["plan", "deploy", "reconfigure"])
def test_a_limit_to_a_host_not_in_the_inventory_is_refused(tmp_path: Path, command: str) -> None:
    """Before the engine is asked anything (there is none here) and with nothing changed."""
    (tmp_path / "globals.yml").write_text("docker_namespace: sytest\n")
    env = {"STACKYARD_CONFIG_DIR": str(tmp_path), "DOCKER_HOST": "unix:///nonexistent.sock"}
    assert CliRunner().invoke(main, ["genpwd"], env=env).exit_code == 0
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    result = CliRunner().invoke(main, [command, "--limit", "ctl9, localhost"], env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: --limit: ctl9 not in the inventory (hosts: localhost)"
    empty = CliRunner().invoke(main, [command, "--limit", " ,"], env=env)
    assert (empty.exit_code, empty.output.strip()) == (
        2, "error: --limit: no host named; give inventory host names, comma-separated"
    )  # fmt: skip
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before


def test_build_builds_what_the_deployment_config_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--config-dir`: the images of the enabled services (no more, no fewer than the core
    profile on defaults), and the suite, tag, namespace and registry globals.yml sets."""
    from stackyard import cli

    runner = CliRunner()
    listing = ["build", "--list-images", "--config-dir", str(tmp_path)]
    on_defaults = runner.invoke(main, listing)
    assert on_defaults.exit_code == 0, on_defaults.output
    assert (
        on_defaults.output == runner.invoke(main, ["build", "--list-images", "-p", "core"]).output
    )
    (tmp_path / "globals.yml").write_text(
        "enable_openstack_core: no\nopenstack_release: zed\ndocker_namespace: lab\n"
        "openstack_tag: t1\ndocker_registry: reg:5000\n"
    )
    seen: dict[str, object] = {}

    def options(catalog: Catalog, **kwargs: object) -> object:
        seen.update(kwargs)
        return make_options(catalog, **kwargs)  # type: ignore[arg-type,unused-ignore]

    monkeypatch.setattr(cli, "make_options", options)
    identity = runner.invoke(main, listing)
    assert identity.exit_code == 0, identity.output
    assert sorted(identity.output.split()) == [
        "base", "haproxy", "host-firewall", "keepalived", "keystone", "keystone-base",
        "keystone-fernet", "mariadb-server", "memcached", "openstack-base", "rabbitmq", "toolbox",
    ]  # fmt: skip
    assert {k: seen[k] for k in ("suite", "tag", "namespace", "registry")} == {
        "suite": "bookworm", "tag": "t1", "namespace": "lab", "registry": "reg:5000"
    }  # fmt: skip
    infra = runner.invoke(main, [*listing, "-p", "infra"])  # a profile still selects
    assert "keystone" not in infra.output.split() and "rabbitmq" in infra.output.split()


def test_build_refuses_flags_the_deployment_config_sets(tmp_path: Path) -> None:
    args = ["build", "--config-dir", str(tmp_path), "--suite", "trixie", "--registry", "r:5000"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output == (
        f"error: --suite, --registry: not with --config-dir, whose {tmp_path / 'globals.yml'} "
        "decides openstack_release, docker_registry (set there, or left at the default)\n"
    )
    result = CliRunner().invoke(main, ["build", "--config-dir", str(tmp_path), "--push"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: --push needs docker_registry HOST[:PORT] in {tmp_path / 'globals.yml'} (with "
        "--config-dir, it is the registry pushed to)\n"
    )
    (tmp_path / "globals.yml").write_text('openstack_release: "2024.1"\n')
    result = CliRunner().invoke(main, ["build", "--config-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {tmp_path / 'globals.yml'}: openstack_release: '2024.1' has no images; "
        "valid: 2025.1 (trixie), zed (bookworm)\n"
    )
