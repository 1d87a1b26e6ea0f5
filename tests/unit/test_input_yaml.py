"""The YAML reader every operator file goes through: bounded in size, nesting and alias
expansion, duplicate keys refused, passwords.yml read as written; with libyaml and without."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.config import yamlfile
from stackyard.config.globals import load_globals, validate_globals
from stackyard.config.ini import MAX_BYTES
from stackyard.config.passwords import load_passwords
from stackyard.config.yamlfile import MAX_NODES, YamlMapping, load_mapping, parse_mapping
from stackyard.errors import ConfigError
from stackyard.services.catalog import default_root, load_services

SERVICES = {"mariadb": True, "keystone": True, "keepalived": False}
LOADERS = [yamlfile._LibyamlLoader, yamlfile._PythonLoader]
LAUGHS = "this alias takes the document past 100000 values once aliases are expanded; settings "
LAUGHS += "are far smaller: write them out instead"


@pytest.fixture(params=LOADERS, ids=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs with libyaml's parser and with PyYAML's own (used without libyaml)."""
    monkeypatch.setattr(yamlfile, "_Loader", request.param)


def laughs(levels: int, width: int, key: str = "docker_namespace") -> str:
    """A "billion laughs" document: each level is `width` aliases of the level before."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join([*lines, f"{key}: *a{levels - 1}"]) + "\n"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def error(load: Callable[..., object], *args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load(*args, **kwargs)
    return str(info.value)


# --- alias expansion -------------------------------------------------------------------------


def test_an_alias_bomb_gave_a_gigantic_message_and_is_now_refused_at_once(tmp_path: Path) -> None:
    path = write(tmp_path / "globals.yml", laughs(levels=6, width=10))  # a million strings
    # What reading did before: construct the document, every alias expanded, then validate it.
    before = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    with pytest.raises(ConfigError) as info:
        validate_globals(YamlMapping(path, before, {}), SERVICES)
    assert len(str(info.value)) > 5_000_000  # the whole expansion, in the error message
    started = time.perf_counter()
    message = error(load_globals, path, SERVICES)
    assert time.perf_counter() - started < 0.5
    assert message == f"{path}:5: {LAUGHS}"


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("levels", "width", "line"),
    # deep-and-narrow: level n holds 2**(n+2)-1 values; the sum passes 100,000 at a14
    [(9, 9, 6), (6, 10, 5), (3, 1000, 2), (30, 2, 15)],
    ids=["billion-laughs", "million", "wide", "deep-and-narrow"],
)
def test_alias_bombs_are_refused_quickly_naming_the_alias(
    tmp_path: Path, levels: int, width: int, line: int
) -> None:
    path = write(tmp_path / "globals.yml", laughs(levels, width))
    started = time.perf_counter()
    message = error(load_mapping, path)
    assert time.perf_counter() - started < 0.5
    assert message == f"{path}:{line}: {LAUGHS}"


@pytest.mark.usefixtures("loader")
def test_many_aliases_of_small_values_count_too(tmp_path: Path) -> None:
    items = ", ".join(["*x"] * 9_000)
    text = "x: &x [a, b, c, d, e, f, g, h, i, j]\n" + "".join(
        f"k{n}: [{items}]\n" for n in range(2)
    )
    path = write(tmp_path / "service.yaml", text)
    assert error(load_mapping, path) == f"{path}:3: {LAUGHS}"


@pytest.mark.usefixtures("loader")
def test_aliases_within_the_bound_still_work(tmp_path: Path) -> None:
    text = "base: &base {user: root, port: 1}\none: *base\ntwo:\n  <<: *base\n  port: 2\n"
    values = parse_mapping(text, tmp_path / "service.yaml").values
    assert values["one"] == {"user": "root", "port": 1}
    assert values["two"] == {"user": "root", "port": 2}
    # 99 keys, each with 1,000 values (x's sequence and its strings): 99,099 in all.
    wide = "x: &x [" + ", ".join(["a"] * 999) + "]\n" + "".join(f"k{n}: *x\n" for n in range(98))
    assert len(parse_mapping(wide, tmp_path / "w.yaml").values) == 99


@pytest.mark.usefixtures("loader")
def test_an_alias_inside_its_own_value_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "globals.yml", "docker_namespace: &x [a, *x]\n")
    assert error(load_globals, path, SERVICES) == (
        f"{path}:1: this alias refers to a value that contains it, which would never end; "
        "write the value out instead"
    )


def test_the_node_bound_is_the_documented_one() -> None:
    assert MAX_NODES == 100_000


# --- size and nesting ------------------------------------------------------------------------


def test_a_file_over_one_mib_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path / "globals.yml", "docker_namespace: x\n" + "#" * MAX_BYTES)
    assert error(load_globals, path, SERVICES) == (
        f"{path}: larger than 1 MiB, the most a settings file may hold; check that this is "
        "the right file"
    )
    passwords = write(tmp_path / "passwords.yml", "a: " + "b" * MAX_BYTES)
    assert error(load_passwords, passwords) == (
        f"{passwords}: larger than 1 MiB, the most a settings file may hold; check that this "
        "is the right file"
    )


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    "text",
    [
        "a:\n  " + "- " * 3000 + "x\n",
        "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1000)),
    ],
    ids=["sequences", "mappings"],
)
def test_deep_block_nesting_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "globals.yml", text)
    assert (
        error(load_mapping, path) == f"{path}: nested too deeply (settings are a few levels deep)"
    )


# --- duplicate keys --------------------------------------------------------------------------


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker_namespace: a\nopenstack_release: zed\ndocker_namespace: b\n",
         ["3: key 'docker_namespace' appears again (first at line 1)"]),
        ("a: 1\nb: 2\na: 3\nb: 4\na: 5\n",
         ["3: key 'a' appears again (first at line 1)",
          "4: key 'b' appears again (first at line 2)",
          "5: key 'a' appears again (first at line 1)"]),
        ("{a: 1, a: 2}\n", ["1: key 'a' appears again (first at line 1)"]),
        ("a:\n  x: 1\n  y: 2\n  x: 3\n", ["4: key 'x' appears again (first at line 2)"]),
        ("'a': 1\n\"a\": 2\n", ["2: key 'a' appears again (first at line 1)"]),
    ],
    ids=["globals", "several", "flow", "nested", "quoted"],
)  # fmt: skip
def test_a_repeated_key_names_both_lines(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "globals.yml", text)
    message = error(load_mapping, path)
    assert message == "\n".join(
        f"{path}:{repeat}; YAML would keep only the last: keep one" for repeat in expected
    )


@pytest.mark.usefixtures("loader")
def test_keys_of_different_types_are_not_repeats(tmp_path: Path) -> None:
    assert parse_mapping("a:\n  1: x\n  '1': y\n", tmp_path / "s.yaml").values == {
        "a": {1: "x", "1": "y"}
    }


def test_a_repeated_key_in_a_service_definition(tmp_path: Path) -> None:
    root = tmp_path / "services"
    shutil.copytree(default_root(), root)
    path = root / "memcached" / "service.yaml"
    text = path.read_text()
    assert "group: memcached\n" in text
    path.write_text(text.replace("group: memcached\n", "group: memcached\ngroup: memcache\n", 1))
    line = text[: text.index("group: memcached\n")].count("\n") + 2
    assert error(load_services, root) == (
        f"{path}:{line}: key 'group' appears again (first at line {line - 1}); YAML would keep "
        "only the last: keep one"
    )


# --- passwords.yml read as written -------------------------------------------------------------


@pytest.mark.usefixtures("loader")
def test_strings_mode_keeps_the_text_of_every_value(tmp_path: Path) -> None:
    text = (
        "octal: 012345\nbool: yes\nunderscores: 1_000\nfloat: 1.50\nhex: 0x1F\ndate: 2025-01-01\n"
        "quoted_null: 'null'\nquoted_yes: \"yes\"\nspaced: a b  c\nhash: a#b\n"
        "empty:\nquoted_empty: ''\ntilde: ~\nnull: null\nNull: Null\n"
        "block: |\n  line one\n  line two\n"
    )
    assert parse_mapping(text, tmp_path / "passwords.yml", strings=True).values == {
        "octal": "012345",
        "bool": "yes",
        "underscores": "1_000",
        "float": "1.50",
        "hex": "0x1F",
        "date": "2025-01-01",
        "quoted_null": "null",
        "quoted_yes": "yes",
        "spaced": "a b  c",
        "hash": "a#b",
        "empty": None,
        "quoted_empty": None,
        "tilde": None,
        "null": None,
        "Null": None,
        "block": "line one\nline two\n",
    }


# --- generated valid documents -----------------------------------------------------------------

# With allow_unicode, PyYAML writes YAML 1.1's other line breaks raw: they read back as spaces.
chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029")
names = st.text(chars, min_size=1, max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(chars, max_size=20)
)


@pytest.mark.parametrize("parser", LOADERS, ids=["libyaml", "python"])
@settings(max_examples=150, deadline=None, database=None)
@given(values=st.dictionaries(names, scalars, max_size=8), flow=st.booleans())
def test_generated_mappings_load_back_equal(
    parser: type, values: dict[str, object], flow: bool
) -> None:
    text = yaml.safe_dump(values, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    original, yamlfile._Loader = yamlfile._Loader, parser
    try:
        mapping = parse_mapping(text, Path("generated.yml"))
    finally:
        yamlfile._Loader = original
    assert mapping.values == values
    assert list(mapping.lines) == list(values)
    assert list(mapping.lines.values()) == sorted(mapping.lines.values())


@pytest.mark.parametrize("parser", LOADERS, ids=["libyaml", "python"])
@settings(max_examples=150, deadline=None, database=None)
@given(values=st.dictionaries(names, st.text(chars, min_size=1), max_size=8))
def test_generated_strings_read_back_as_written(parser: type, values: dict[str, str]) -> None:
    """What YAML writes for a string reads back as that string, even `012345` or `yes`."""
    text = yaml.safe_dump(values, allow_unicode=True, sort_keys=False)
    original, yamlfile._Loader = yamlfile._Loader, parser
    try:
        mapping = parse_mapping(text, Path("passwords.yml"), strings=True)
    finally:
        yamlfile._Loader = original
    assert mapping.values == values
