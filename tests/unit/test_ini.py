from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.config.ini import (
    MAX_BYTES,
    IniDocument,
    get,
    load_ini,
    merge,
    parse_ini,
    read_text,
    render,
)
from stackyard.errors import ConfigError

SRC = "keystone.conf"


def doc(sections: dict[str, dict[str, tuple[str, ...]]]) -> IniDocument:
    return IniDocument(sections)


def plain(document: IniDocument) -> list[tuple[str, list[tuple[str, tuple[str, ...]]]]]:
    """The document with its order made visible (dict equality would ignore it)."""
    return [(name, list(keys.items())) for name, keys in document.sections.items()]


# --- parsing -------------------------------------------------------------------------------


def test_sections_keys_and_values_in_order() -> None:
    text = (
        "[DEFAULT]\n"
        "debug = True\n"
        "log_dir=/var/log/kolla/keystone\n"
        "\n"
        "[database]\n"
        "connection = mysql+pymysql://keystone:pw@db/keystone?charset=utf8\n"
        "max_retries = -1\n"
    )
    assert plain(parse_ini(text, SRC)) == [
        ("DEFAULT", [("debug", ("True",)), ("log_dir", ("/var/log/kolla/keystone",))]),
        (
            "database",
            [
                ("connection", ("mysql+pymysql://keystone:pw@db/keystone?charset=utf8",)),
                ("max_retries", ("-1",)),
            ],
        ),
    ]


def test_value_keeps_everything_after_the_first_equals_sign() -> None:
    parsed = parse_ini("[a]\nk = x=y # not a comment ; either\n", SRC)
    assert get(parsed, "a", "k") == "x=y # not a comment ; either"


def test_empty_values_and_surrounding_whitespace() -> None:
    parsed = parse_ini("[a]\nempty =\nalso_empty=   \nspaced   =   v  \n", SRC)
    assert parsed.sections["a"] == {"empty": ("",), "also_empty": ("",), "spaced": ("v",)}


def test_quotes_are_kept_verbatim() -> None:
    assert get(parse_ini('[a]\nk = "quoted value"\n', SRC), "a", "k") == '"quoted value"'


def test_comments_and_blank_lines_are_ignored() -> None:
    text = "# top\n; also\n\n[a]\n# k = no\n  ; indented comment\nk = yes\n\n   \n"
    assert plain(parse_ini(text, SRC)) == [("a", [("k", ("yes",))])]


def test_continuation_lines_join_with_newline() -> None:
    text = "[a]\npolicy = first\n    second\n\tthird\nnext = 1\n"
    parsed = parse_ini(text, SRC)
    assert get(parsed, "a", "policy") == "first\nsecond\nthird"
    assert get(parsed, "a", "next") == "1"


def test_continuation_after_empty_first_line() -> None:
    assert get(parse_ini("[a]\nk =\n  v\n", SRC), "a", "k") == "\nv"


def test_repeated_key_keeps_all_values_in_order() -> None:
    text = "[a]\nnotify = one\nother = x\nnotify = two\n  more\nnotify = three\n"
    parsed = parse_ini(text, SRC)
    assert parsed.sections["a"]["notify"] == ("one", "two\nmore", "three")
    assert list(parsed.sections["a"]) == ["notify", "other"]
    assert get(parsed, "a", "notify") == "three"


def test_repeated_section_continues_the_first() -> None:
    parsed = parse_ini("[a]\nk = 1\n[b]\nx = 2\n[a]\nk = 3\nj = 4\n", SRC)
    assert plain(parsed) == [("a", [("k", ("1", "3")), ("j", ("4",))]), ("b", [("x", ("2",))])]


def test_names_are_case_sensitive_and_header_whitespace_is_trimmed() -> None:
    parsed = parse_ini("[ Default ]\nKey = 1\nkey = 2\n[DEFAULT]\n", SRC)
    assert plain(parsed) == [("Default", [("Key", ("1",)), ("key", ("2",))]), ("DEFAULT", [])]
    assert get(parsed, "default", "key") is None


def test_crlf_line_endings() -> None:
    parsed = parse_ini("[a]\r\nk = v\r\n  w\r\n", SRC)
    assert get(parsed, "a", "k") == "v\nw"


def test_get_missing_section_or_key() -> None:
    parsed = parse_ini("[a]\nk = v\n", SRC)
    assert get(parsed, "b", "k") is None
    assert get(parsed, "a", "j") is None


@pytest.mark.parametrize(
    ("text", "prefix", "words"),
    [
        ("debug = True\n", f"{SRC}:1:", ["`debug`", "before any section", "[DEFAULT]"]),
        ("# c\n\n[a\nk = v\n", f"{SRC}:3:", ["`[a`", "not closed", "[name]"]),
        ("[a] # comment\n", f"{SRC}:1:", ["`[a] # comment`", "not closed"]),
        ("[a]\n[ ]\n", f"{SRC}:2:", ["empty section name", "[DEFAULT]"]),
        ("[a]\nk = v\njust words\n", f"{SRC}:3:", ["`just words`", "key = value", "[section]"]),
        ("[a]\n= v\n", f"{SRC}:2:", ["no key before `=`", "key = value"]),
        ("  orphan\n[a]\n", f"{SRC}:1:", ["`orphan`", "no value to continue", "whitespace"]),
        ("[a]\n  orphan\n", f"{SRC}:2:", ["no value to continue"]),
        ("[a]\nk = v\n\n  late\n", f"{SRC}:4:", ["`late`", "no value to continue"]),
        ("[a]\nk = v\n# c\n  late\n", f"{SRC}:4:", ["no value to continue"]),
    ],
)
def test_errors_name_file_line_and_fix(text: str, prefix: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini(text, SRC)
    message = str(info.value)
    assert message.startswith(prefix + " ")
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[a\x01b]\n", "x:1: control character 0x01 in the section header (column 3); remove it: "
                       "tab is the only one allowed"),
        ("[a]\nde\x00bug = 1\n", "x:2: control character 0x00 in the key (column 3); remove it: "
                                "tab is the only one allowed"),
        ("[a]\nk = v\x1b[31m\n", "x:2: control character 0x1b in the value (column 6); remove "
                               "it: tab is the only one allowed"),
        ("[a]\nk = v\r w\n", "x:2: control character 0x0d in the value (column 6); remove it: "
                           "tab is the only one allowed"),
        ("[a]\nk = v\n  w\x7f\n", "x:3: control character 0x7f in the value (column 4); remove "
                                 "it: tab is the only one allowed"),
        ("[a]\nno equals\x07\n", "x:2: control character 0x07 in the key (column 10); remove it: "
                               "tab is the only one allowed"),
    ],
)  # fmt: skip
def test_control_characters_are_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini(text, "x")
    assert str(info.value) == message


def test_tabs_crlf_and_control_characters_in_comments_are_accepted() -> None:
    parsed = parse_ini("# \x01 comment\r\n[a]\r\nk =\tv\tw\r\n; \x1b\n", SRC)
    assert plain(parsed) == [("a", [("k", ("v\tw",))])]


def test_long_bad_line_is_shortened_in_the_message() -> None:
    with pytest.raises(ConfigError, match=r"^x:2: cannot read `a{57}\.\.\.`"):
        parse_ini("[s]\n" + "a" * 200 + "\n", "x")


# --- files ---------------------------------------------------------------------------------


def test_load_ini_reads_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "global.conf"
    path.write_bytes(b"\xef\xbb\xbf[DEFAULT]\ndebug = True\nbad line\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3: cannot read `bad line`"):
        load_ini(path)
    path.write_bytes(b"\xef\xbb\xbf[DEFAULT]\ndebug = True\n")
    assert get(load_ini(path), "DEFAULT", "debug") == "True"


def test_load_ini_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.conf"
    with pytest.raises(ConfigError, match=rf"^{path}: file does not exist$"):
        load_ini(path)


def test_load_ini_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^{tmp_path}: is a directory"):
        load_ini(tmp_path)


def test_read_text_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "keystone.conf"
    path.write_bytes(b"[a]\n" + b"#" * MAX_BYTES)
    with pytest.raises(ConfigError) as info:
        read_text(path)
    assert str(info.value) == (
        f"{path}: larger than 1 MiB, the most a settings file may hold; check that this is the "
        "right file"
    )
    path.write_bytes(b"#" * MAX_BYTES)  # at the limit
    assert len(read_text(path)) == MAX_BYTES


def test_read_text_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "keystone.conf"
    os.mkfifo(path)
    with pytest.raises(ConfigError) as info:
        read_text(path)
    assert str(info.value) == f"{path}: not a regular file (a pipe, socket or device)"


def test_read_text_names_broken_symlinks_and_loops(tmp_path: Path) -> None:
    dangling = tmp_path / "dangling.conf"
    dangling.symlink_to(tmp_path / "gone.conf")
    with pytest.raises(ConfigError) as info:
        read_text(dangling)
    assert str(info.value) == (
        f"{dangling}: a symlink to {tmp_path / 'gone.conf'}, which does not exist; point it at "
        "an existing file or remove it"
    )
    loop = tmp_path / "loop.conf"
    loop.symlink_to(loop)
    with pytest.raises(ConfigError) as info:
        read_text(loop)
    assert str(info.value) == (
        f"{loop}: a symlink loop (following it never reaches a file); remove it"
    )


def test_load_ini_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keystone.conf"
    path.write_bytes(b"[a]\nk = caf\xe9\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: not UTF-8 text \(byte 0xe9\)"):
        load_ini(path)


# --- merge ---------------------------------------------------------------------------------


def test_merge_replaces_per_key_and_keeps_everything_else() -> None:
    base = parse_ini(
        "[DEFAULT]\ndebug = False\nlog_dir = /var/log\n[token]\nprovider = fernet\n", SRC
    )
    override = parse_ini("[DEFAULT]\ndebug = True\n", "global.conf")
    merged = merge(base, override)
    assert plain(merged) == [
        ("DEFAULT", [("debug", ("True",)), ("log_dir", ("/var/log",))]),
        ("token", [("provider", ("fernet",))]),
    ]


def test_merge_replaces_all_values_of_a_multi_valued_key() -> None:
    base = parse_ini("[a]\nk = 1\nk = 2\nk = 3\n", SRC)
    assert merge(base, parse_ini("[a]\nk = x\n", "o")).sections["a"]["k"] == ("x",)
    assert merge(base, parse_ini("[a]\nk = x\nk = y\n", "o")).sections["a"]["k"] == ("x", "y")
    single = parse_ini("[a]\nk = 1\n", SRC)
    assert merge(single, parse_ini("[a]\nk = x\nk = y\n", "o")).sections["a"]["k"] == ("x", "y")


def test_merge_adds_new_sections_and_keys_at_the_end_in_override_order() -> None:
    base = parse_ini("[b]\nk = 1\n[a]\nk = 1\n", SRC)
    override = parse_ini("[z]\nq = 1\n[a]\nnew2 = 2\nk = 9\nnew1 = 1\n[c]\n", "o")
    assert plain(merge(base, override)) == [
        ("b", [("k", ("1",))]),
        ("a", [("k", ("9",)), ("new2", ("2",)), ("new1", ("1",))]),
        ("z", [("q", ("1",))]),
        ("c", []),
    ]


def test_merge_applies_overrides_in_order_and_never_removes() -> None:
    base = parse_ini("[DEFAULT]\na = base\nb = base\n[x]\nkeep = yes\n", SRC)
    glob = parse_ini("[DEFAULT]\na = global\nb = global\n", "global.conf")
    host = parse_ini("[DEFAULT]\nb = host\n", "keystone/node1/keystone.conf")
    merged = merge(base, glob, host)
    assert merged.sections["DEFAULT"] == {"a": ("global",), "b": ("host",)}
    assert merged.sections["x"] == {"keep": ("yes",)}
    assert merge(base) == base
    assert merge(base, IniDocument()) == base
    assert get(base, "DEFAULT", "a") == "base"  # inputs are not changed


def test_merge_of_empty_base() -> None:
    override = parse_ini("[a]\nk = 1\n", "o")
    assert merge(IniDocument(), override) == override


# --- document ------------------------------------------------------------------------------


def test_document_is_read_only_and_copied() -> None:
    source = {"a": {"k": ("1",)}}
    document = IniDocument(source)
    source["a"]["k"] = ("2",)
    assert document.sections["a"]["k"] == ("1",)
    with pytest.raises(TypeError):
        document.sections["b"] = {}


def test_equality_respects_order() -> None:
    one = doc({"a": {"x": ("1",), "y": ("2",)}})
    assert one == doc({"a": {"x": ("1",), "y": ("2",)}})
    assert one != doc({"a": {"y": ("2",), "x": ("1",)}})
    assert doc({"a": {}, "b": {}}) != doc({"b": {}, "a": {}})
    assert one != "not a document"
    assert "IniDocument({'a': {'x': ('1',)" in repr(one)


@pytest.mark.parametrize(
    ("sections", "words"),
    [
        ({"": {}}, ["section name ''"]),
        ({" a": {}}, ["section name ' a'", "whitespace"]),
        ({"a\nb": {}}, ["one line"]),
        ({"a": {"k=v": ("1",)}}, ["key 'k=v'", "without `=`"]),
        ({"a": {"#k": ("1",)}}, ["key '#k'"]),
        ({"a": {"[k": ("1",)}}, ["key '[k'"]),
        ({"a": {"": ("1",)}}, ["key ''"]),
        ({"a": {"k ": ("1",)}}, ["key 'k '"]),
        ({"a": {"k": ()}}, ["[a] k: a key needs at least one value"]),
        ({"a": {"k": " v"}}, ["[a] k: values must be a sequence"]),
        ({"a": {"k": (" v",)}}, ["value ' v'"]),
        ({"a": {"k": ("v\n",)}}, ["value 'v\\n'", "non-empty"]),
        ({"a": {"k": ("v\n# c",)}}, ["`#`"]),
        ({"a": {"k": ("v\n w",)}}, ["value 'v\\n w'"]),
        ({"a\x00b": {}}, ["section name 'a\\x00b'", "control characters"]),
        ({"a": {"k\x1bx": ("1",)}}, ["key 'k\\x1bx'", "control characters"]),
        ({"a": {"k": ("v\rw",)}}, ["value 'v\\rw'", "control characters"]),
        ({"a": {"k": ("v\nw\x7f",)}}, ["value 'v\\nw\\x7f'", "control characters"]),
    ],
)
def test_documents_that_cannot_be_written_are_rejected(
    sections: dict[str, dict[str, tuple[str, ...]]], words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        IniDocument(sections)
    for word in words:
        assert word in str(info.value)


# --- render --------------------------------------------------------------------------------


def test_render_format() -> None:
    document = doc(
        {
            "DEFAULT": {"debug": ("True",), "empty": ("",)},
            "oslo_policy": {"enforce": ("a", "b"), "text": ("one\ntwo", "\nthree")},
            "empty": {},
        }
    )
    assert render(document) == (
        "[DEFAULT]\n"
        "debug = True\n"
        "empty =\n"
        "\n"
        "[oslo_policy]\n"
        "enforce = a\n"
        "enforce = b\n"
        "text = one\n"
        "    two\n"
        "text =\n"
        "    three\n"
        "\n"
        "[empty]\n"
    )


def test_render_empty_document() -> None:
    assert render(IniDocument()) == ""
    assert parse_ini("", SRC) == IniDocument()


def test_render_is_deterministic_and_round_trips() -> None:
    text = "[b]\nk=1\n  cont\nk = 2\n[a]\n#c\nx =\n"
    parsed = parse_ini(text, SRC)
    rendered = render(parsed)
    assert rendered == render(parse_ini(text, SRC))
    assert rendered == "[b]\nk = 1\n    cont\nk = 2\n\n[a]\nx =\n"
    assert parse_ini(rendered, "rendered") == parsed
    assert render(parse_ini(rendered, "rendered")) == rendered


# --- properties ----------------------------------------------------------------------------

INI_BITS = st.sampled_from(
    ["[", "]", "[DEFAULT]", "=", " = ", "\n", "\n  ", "\n#", ";", "k", "v", " ", "\t", "\r", "\\"]
)
ini_text = st.lists(st.one_of(INI_BITS, st.text(max_size=8)), max_size=40).map("".join)

# What a document may not hold: control characters other than tab (and newline, which ends a
# line of text but continues a value).
CONTROL = "".join(chr(c) for c in (*range(0x20), 0x7F) if chr(c) not in "\t\n")
line_chars = st.characters(blacklist_characters="\n" + CONTROL, blacklist_categories=("Cs",))
section_names = st.text(line_chars, min_size=1, max_size=10).map(str.strip).filter(bool)
keys = (
    st.text(
        st.characters(blacklist_characters="\n=" + CONTROL, blacklist_categories=("Cs",)),
        max_size=10,
    )
    .map(str.strip)
    .filter(lambda k: bool(k) and not k.startswith(("[", "#", ";")))
)
first_lines = st.text(line_chars, max_size=12).map(str.strip)
more_lines = (
    st.text(line_chars, min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda v: bool(v) and not v.startswith(("#", ";")))
)
values = st.builds(
    lambda f, rest: "\n".join([f, *rest]), first_lines, st.lists(more_lines, max_size=3)
)
documents = st.dictionaries(
    section_names,
    st.dictionaries(keys, st.lists(values, min_size=1, max_size=3).map(tuple), max_size=4),
    max_size=4,
).map(IniDocument)


@settings(max_examples=300, database=None)
@given(st.one_of(ini_text, st.text()))
def test_any_text_parses_or_raises_config_error_and_round_trips(text: str) -> None:
    try:
        parsed = parse_ini(text, SRC)
    except ConfigError as exc:
        assert str(exc).startswith(f"{SRC}:")
        return
    assert parse_ini(render(parsed), "rendered") == parsed


@settings(max_examples=200, database=None)
@given(documents)
def test_generated_documents_round_trip(document: IniDocument) -> None:
    rendered = render(document)
    assert parse_ini(rendered, "rendered") == document
    assert render(parse_ini(rendered, "rendered")) == rendered


@settings(max_examples=100, database=None)
@given(documents, documents)
def test_merge_properties(base: IniDocument, override: IniDocument) -> None:
    merged = merge(base, override)
    for name, keys_ in override.sections.items():
        for key, vals in keys_.items():
            assert merged.sections[name][key] == vals
    for name, keys_ in base.sections.items():
        assert set(keys_) <= set(merged.sections[name])
    assert list(merged.sections)[: len(base.sections)] == list(base.sections)
    assert parse_ini(render(merged), "rendered") == merged
