"""Generated valid config dirs load, and load back what was written: globals.yml (with
references and image references), passwords.yml (any text, exactly as written) and override
files. The counterpart of the corpus' fuzzing, which feeds the loaders text that is mostly bad."""

from __future__ import annotations

import string
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.config import deployment as deployment_module
from stackyard.config.deployment import Deployment, load_deployment, url_secret_names
from stackyard.config.ini import IniDocument, render
from tests.unit.test_config_errors import make_config, packaged, secret_keys, snapshot
from tests.unit.test_ini import documents

FUZZ = settings(max_examples=100, deadline=None, database=None)
# Text as an operator could write it in a YAML file (PyYAML writes these line breaks raw).
texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029")
)


@contextmanager
def config_dir(files: dict[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield make_config(Path(folder), files)


def load(directory: Path) -> Deployment:
    """load_deployment with the packaged catalog and services read once (they are not under
    test), checking that nothing is written."""
    catalog, services = packaged()
    before = snapshot(directory)
    with (
        mock.patch.object(deployment_module, "load_catalog", lambda root=None: catalog),
        mock.patch.object(
            deployment_module, "load_services", lambda root=None, images=None: services
        ),
    ):
        deployment = load_deployment(directory)
    assert snapshot(directory) == before
    return deployment


# --- globals.yml -------------------------------------------------------------------------------

NAMESPACES = st.from_regex(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+){0,2}", fullmatch=True
)
SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "docker_namespace": NAMESPACES,
    "docker_registry": st.from_regex(
        r"[a-z0-9]+(?:\.[a-z0-9]+){0,2}(?::[0-9]{1,5})?", fullmatch=True
    ),
    "openstack_tag": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}", fullmatch=True),
    "keystone_admin_user": texts.filter(lambda t: "{" not in t),
    "openstack_region_name": texts.filter(lambda t: "{" not in t),
    "database_port": st.integers(1, 65535),
    "fernet_token_expiry": st.integers(60, 10**6),
    "kolla_internal_vip_address": st.ip_addresses(v=4).map(str),
}
TEXT_SETTINGS = ["keystone_admin_user", "openstack_region_name", "keystone_admin_project"]


@st.composite
def globals_files(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """globals.yml text and the values it must load as; some text values are references to
    settings set before them (never a cycle), with text around them."""
    values: dict[str, Any] = {}
    written: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(sorted(SETTINGS)), unique=True)):
        values[key] = written[key] = draw(SETTINGS[key])
    for key in draw(st.lists(st.sampled_from(TEXT_SETTINGS), unique=True, max_size=2)):
        if key in written:
            continue
        target = draw(st.sampled_from(["openstack_release", *written]))
        around = draw(st.tuples(st.sampled_from(["", "x-", "a "]), st.sampled_from(["", "-y"])))
        written[key] = f"{around[0]}{{{{ {target} }}}}{around[1]}"
        values[key] = f"{around[0]}{values.get(target, '2025.1')}{around[1]}"
    return yaml.safe_dump(written, allow_unicode=True, sort_keys=False), values


@FUZZ
@given(file=globals_files())
def test_generated_globals_load_as_written(file: tuple[str, dict[str, Any]]) -> None:
    written, expected = file
    with config_dir({"globals.yml": written}) as directory:
        loaded = load(directory).values
    assert {key: loaded[key] for key in expected} == expected


# --- passwords.yml -----------------------------------------------------------------------------

URL_SAFE_TEXT = st.text(string.ascii_letters + string.digits + "-._~", min_size=1)


@st.composite
def password_values(draw: st.DrawFn) -> dict[str, str]:
    _, services = packaged()
    in_urls = url_secret_names(services, tuple(services))
    secret = texts.filter(lambda t: t.strip() != "" and "{" not in t) | st.sampled_from(
        ["012345", "yes", "1_000", "0x1F", "null", "~", "2025-01-01", "!tag", "&x", "*y", "a: b"]
    )
    return {key: draw(URL_SAFE_TEXT if key in in_urls else secret) for key in secret_keys()}


@FUZZ
@given(secrets=password_values(), flow=st.booleans())
def test_generated_passwords_load_exactly_as_written(secrets: dict[str, str], flow: bool) -> None:
    written = yaml.safe_dump(secrets, allow_unicode=True, default_flow_style=flow)
    with config_dir({"passwords.yml": written}) as directory:
        assert load(directory).passwords == secrets


# --- override files ----------------------------------------------------------------------------


@FUZZ
@given(document=documents)
def test_generated_override_files_load_back_equal(document: IniDocument) -> None:
    with config_dir({"config/global.conf": render(document)}) as directory:
        assert load(directory).overrides == {"global.conf": document}
