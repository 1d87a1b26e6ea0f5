"""passwords.yml: values are the exact text the operator wrote, no error shows any part of a
value, and genpwd adds secrets without rewriting anything that is there."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.cli import main
from stackyard.config import passwords as passwords_module
from stackyard.config import yamlfile
from stackyard.config.deployment import load_deployment
from stackyard.config.passwords import generate, load_passwords
from stackyard.errors import ConfigError
from tests.unit.test_config_errors import make_config, passwords_text, secret_keys, snapshot

KEY = "keystone_admin_password"
TOKEN = "QZJX7"  # in every secret below; no message may hold it, or any part of it
HIDDEN = "the value is not shown, as it may be a secret: write it in single quotes, doubling any "
HIDDEN += "' inside"
ROOT = os.geteuid() == 0


def values(*secrets: str) -> Iterator[str]:
    """What new_secret returns, in order: generate asks for one per added key, in key order."""
    return iter(secrets)


def load_error(directory: Path) -> str:
    before = snapshot(directory)
    with pytest.raises(ConfigError) as info:
        load_deployment(directory)
    assert snapshot(directory) == before
    return str(info.value).replace(str(directory), "{dir}")


# --- values as written ---------------------------------------------------------------------------


def test_values_are_the_exact_text_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text(
        "database_password: 012345\nrabbitmq_password: yes\nkeepalived_password: 1_000\n"
        "memcached_password: 0x1F\nextra_one: 2025-01-01\nextra_two: 'null'\nextra_three: ~\n"
        "extra_four: null\nextra_five: ''\nextra_six:\nextra_seven: \"on\"  # a comment\n"
    )
    assert load_passwords(path) == {
        "database_password": "012345",
        "rabbitmq_password": "yes",
        "keepalived_password": "1_000",
        "memcached_password": "0x1F",
        "extra_one": "2025-01-01",
        "extra_two": "null",
        "extra_three": None,
        "extra_four": None,
        "extra_five": None,
        "extra_six": None,
        "extra_seven": "on",
    }


def test_a_deployment_gets_the_secrets_as_written(tmp_path: Path) -> None:
    typed = {"rabbitmq_password": "012345", "keepalived_password": "yes"}
    text = passwords_text(without=tuple(typed)) + "".join(f"{k}: {v}\n" for k, v in typed.items())
    deployment = load_deployment(make_config(tmp_path, {"passwords.yml": text}))
    assert {k: deployment.passwords[k] for k in typed} == typed


# --- errors that never show a value ------------------------------------------------------------

n = len(secret_keys())  # the malformed line's number: after every other secret
MALFORMED: dict[str, tuple[str, str]] = {
    # name: (what follows `keystone_admin_password: `, the message after `{dir}/passwords.yml:`)
    "tag": (f"!{TOKEN}secret", f"{n}: {KEY}: a value that starts with ! is read as a YAML tag; "
            "write the value in single quotes, doubling any ' inside"),
    "tag-handle": (f"!a!{TOKEN}", f"{n}: invalid YAML in or after the value of {KEY} (found "
                   f"undefined tag handle); {HIDDEN}"),
    "unclosed-single-quote": (f"'{TOKEN} unclosed", f"{n + 1}: invalid YAML in or after the value "
                              f"of {KEY} (found unexpected end of stream); {HIDDEN}"),
    "unclosed-double-quote": (f'"{TOKEN} unclosed', f"{n + 1}: invalid YAML in or after the value "
                              f"of {KEY} (found unexpected end of stream); {HIDDEN}"),
    "unknown-escape": (f'"{TOKEN}\\q"', f"{n}: invalid YAML in or after the value of {KEY} "
                       f"(found unknown escape character); {HIDDEN}"),
    "tab-then-colon": (f"{TOKEN}\tx: y", f"{n}: invalid YAML in or after the value of {KEY} "
                       f"(mapping values are not allowed in this context); {HIDDEN}"),
    "colon-space": (f"{TOKEN}: y", f"{n}: invalid YAML in or after the value of {KEY} (mapping "
                    f"values are not allowed in this context); {HIDDEN}"),
    "at-sign": (f"@{TOKEN}", f"{n}: invalid YAML in or after the value of {KEY} (found character "
                f"that cannot start any token); {HIDDEN}"),
    "backtick": (f"`{TOKEN}", f"{n}: invalid YAML in or after the value of {KEY} (found character "
                 f"that cannot start any token); {HIDDEN}"),
    "percent": (f"%{TOKEN}", f"{n}: invalid YAML in or after the value of {KEY} (found character "
                f"that cannot start any token); {HIDDEN}"),
    "unclosed-bracket": (f"[{TOKEN}", f"{n + 1}: invalid YAML in or after the value of {KEY} (did "
                         f"not find expected ',' or ']'); {HIDDEN}"),
    "text-after-quote": (f"'{TOKEN}' x", f"{n}: invalid YAML in or after the value of {KEY} (did "
                         f"not find expected key); {HIDDEN}"),
    "block-scalar-header": (f"|{TOKEN}", f"{n}: invalid YAML in or after the value of {KEY} (did "
                            f"not find expected comment or line break); {HIDDEN}"),
    "bad-indentation-after": (f"{TOKEN}\n  bad: indent", f"{n + 1}: invalid YAML in or after the "
                              f"value of {KEY} (mapping values are not allowed in this context); "
                              f"{HIDDEN}"),
    "tab-indentation-after": (f"{TOKEN}\n\tnext: x", f"{n + 1}: invalid YAML in or after the "
                              f"value of {KEY} (found a tab character that violates "
                              f"indentation); {HIDDEN}"),
    "list-item-after": (f"{TOKEN}\n- x", f"{n + 1}: invalid YAML in or after the value of {KEY} "
                        f"(did not find expected key); {HIDDEN}"),
    "control-character": (f"{TOKEN}\x01", f"{n}: {KEY}: a control character, which YAML does not "
                          "allow; the value is not shown, as it may be a secret: remove it, or "
                          "write it as an escape such as \\x01 inside double quotes"),
    "anchor": (f"&{TOKEN}", f"{n}: {KEY}: anchors (&) and aliases (*) are not allowed here; write "
               "each value out, in single quotes if it starts with & or *"),
    "anchor-on-a-value": (f"&{TOKEN} {TOKEN}", f"{n}: {KEY}: anchors (&) and aliases (*) are not "
                          "allowed here; write each value out, in single quotes if it starts "
                          "with & or *"),
    "alias": (f"*{TOKEN}", f"{n}: {KEY}: anchors (&) and aliases (*) are not allowed here; write "
              "each value out, in single quotes if it starts with & or *"),
    "placeholder": (f'"{{{{ {TOKEN} }}}}"', f"{n}: {KEY}: the value holds `{{{{`, `{{%` or `{{#`, "
                    "which start Jinja placeholders; passwords.yml values are used as written, "
                    "so write the secret itself"),
    "list": (f"[{TOKEN}, x]", f"{n}: {KEY} must be a string (or empty)"),
    "mapping": (f"{{{TOKEN}: x}}", f"{n}: {KEY} must be a string (or empty)"),
    "repeated-key": (f"{TOKEN}\n{KEY}: {TOKEN}8", f"{n + 1}: key '{KEY}' appears again (first at "
                     f"line {n}); YAML would keep only the last: keep one"),
}  # fmt: skip


@pytest.mark.parametrize("parser", [yamlfile._LibyamlLoader, yamlfile._PythonLoader])
@pytest.mark.parametrize("case", MALFORMED)
def test_no_error_shows_any_part_of_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, parser: type
) -> None:
    monkeypatch.setattr(yamlfile, "_Loader", parser)
    value, expected = MALFORMED[case]
    text = passwords_text(without=(KEY,)) + f"{KEY}: {value}\n"
    message = load_error(make_config(tmp_path, {"passwords.yml": text}))
    for start in range(len(TOKEN) - 2):
        assert TOKEN[start : start + 3] not in message
    assert "Secret-" not in message  # the other values of the file
    if parser is yamlfile._LibyamlLoader:
        assert message == f"{{dir}}/passwords.yml:{expected}"
    else:  # PyYAML words some problems differently
        assert message.startswith(f"{{dir}}/passwords.yml:{expected.split(':')[0]}: ")
        assert KEY in message


def test_an_undecodable_byte_is_not_shown(tmp_path: Path) -> None:
    text = passwords_text(without=(KEY,)).encode() + f"{KEY}: {TOKEN}".encode() + b"\xe9x\n"
    message = load_error(make_config(tmp_path, {"passwords.yml": text}))
    assert message == f"{{dir}}/passwords.yml:{n}: not UTF-8 text; save the file as UTF-8"


def test_an_anchor_on_an_empty_value_is_refused_not_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text("a: &x\nb: x\n")
    with pytest.raises(ConfigError) as info:
        load_passwords(path)
    assert str(info.value) == (
        f"{path}:1: a: anchors (&) and aliases (*) are not allowed here; write each value out, "
        "in single quotes if it starts with & or *"
    )


# --- genpwd ------------------------------------------------------------------------------------


def test_genpwd_adds_lines_and_keeps_every_other_byte(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    original = (
        "# Secrets of the lab cloud\n\n"
        "keystone_admin_password: 012345  # chosen by the operator\n"
        "rabbitmq_password: yes\n"
        "database_password: 1_000\n"
        "# end of the hand-written part\n"
    )
    path.write_text(original)
    with mock.patch.object(
        passwords_module, "new_secret", values("Kq7ab", "000123", "on").__next__
    ):
        added = generate(path, [KEY, "rabbitmq_password", "database_password", "b", "c", "a"])
    assert added == ["a", "b", "c"]
    assert path.read_text() == original + "a: Kq7ab\nb: '000123'\nc: 'on'\n"
    expected = {KEY: "012345", "rabbitmq_password": "yes", "database_password": "1_000"}
    assert load_passwords(path) == {**expected, "a": "Kq7ab", "b": "000123", "c": "on"}
    # Any YAML reader reads the new values as these exact strings.
    assert {k: v for k, v in yaml.safe_load(path.read_text()).items() if k in "abc"} == {
        "a": "Kq7ab",
        "b": "000123",
        "c": "on",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_genpwd_fills_an_empty_value_in_place(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text("a:\nb: ~\n# keep me\nc: ''\nd: null\ne:   # the empty one\nf: \"\"\ng: set\n")
    new = values("V1", "V2", "V3", "V4", "V5", "V6")
    with mock.patch.object(passwords_module, "new_secret", new.__next__):
        assert generate(path, "abcdefg") == ["a", "b", "c", "d", "e", "f"]
    assert path.read_text() == (
        "a: V1\nb: V2\n# keep me\nc: V3\nd: V4\ne: V5   # the empty one\nf: V6\ng: set\n"
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"a: x", b"a: x\nb: V\n"),
        (b"a: x\r\nc: y\r\n", b"a: x\r\nc: y\r\nb: V\r\n"),
        (b"\xef\xbb\xbfa: x\n", b"\xef\xbb\xbfa: x\nb: V\n"),
        (b"", b"a: V\nb: V\n"),
        (b"# only a comment", b"# only a comment\na: V\nb: V\n"),
        (b"a: caf\xc3\xa9\n", b"a: caf\xc3\xa9\nb: V\n"),
    ],
    ids=["no-final-newline", "crlf", "byte-order-mark", "empty", "comment", "utf-8"],
)
def test_genpwd_keeps_the_file_as_it_is_written(
    tmp_path: Path, before: bytes, after: bytes
) -> None:
    path = tmp_path / "passwords.yml"
    path.write_bytes(before)
    with mock.patch.object(passwords_module, "new_secret", lambda: "V"):
        generate(path, ["a", "b"])
    assert path.read_bytes() == after


def test_genpwd_follows_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "vault" / "passwords.yml"
    target.parent.mkdir()
    target.write_text("a: x\n")
    link = tmp_path / "etc" / "passwords.yml"
    link.parent.mkdir()
    link.symlink_to(target)
    with mock.patch.object(passwords_module, "new_secret", lambda: "V"):
        assert generate(link, ["a", "b"]) == ["b"]
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text() == "a: x\nb: V\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["passwords.yml"]  # no temp file


def test_genpwd_makes_the_file_private_without_rewriting_it(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text("# mine\na: 012345\n")
    path.chmod(0o644)
    inode = path.stat().st_ino
    assert generate(path, ["a"]) == []
    assert path.read_text() == "# mine\na: 012345\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino == inode


def test_genpwd_never_changes_a_value_and_refuses_a_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    for text, message in [
        ("a: x\na: y\n", f"{path}:2: key 'a' appears again (first at line 1)"),
        ("a: &x y\n", f"{path}:1: a: anchors (&) and aliases (*) are not allowed here"),
        ("- a\n", f"{path}: expected `key: value` lines at the top level"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            generate(path, ["a", "b"])
        assert str(info.value).startswith(message)
        assert path.read_text() == text


def test_genpwd_refuses_a_layout_new_lines_cannot_extend(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text("{a: x}\n")
    with pytest.raises(ConfigError) as info:
        generate(path, ["a", "b", "c"])
    assert str(info.value) == (
        f"{path}: the missing secrets cannot be added as new lines to this file's layout; write "
        "it as one `key: value` per line, or add these keys yourself: b, c"
    )
    assert path.read_text() == "{a: x}\n"


def refuse_to_create(*args: object, **kwargs: object) -> tuple[int, str]:
    raise PermissionError(errno.EACCES, "Permission denied", str(kwargs.get("dir")))


def test_genpwd_in_a_folder_it_cannot_write_to(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "passwords.yml"
    # As root nothing is read-only: the refusal the kernel gives anyone else is simulated.
    with (
        mock.patch.object(tempfile, "mkstemp", refuse_to_create),
        pytest.raises(ConfigError) as info,
    ):
        generate(path, ["a"])
    assert str(info.value) == (
        f"{path}: cannot write (Permission denied); run genpwd as a user who may write to "
        f"{folder} (such as root), or choose a folder of your own with --config-dir"
    )
    assert list(folder.iterdir()) == []


def test_genpwd_in_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "passwords.yml"
    path.write_text("a: x\n")
    path.chmod(0o400)
    # Root may write to any file: what os.access says to anyone else is simulated.
    read_only = mock.patch.object(os, "access", lambda *args: False) if ROOT else mock.MagicMock()
    with read_only, pytest.raises(ConfigError) as info:
        generate(path, ["a", "b", "c"])
    assert str(info.value) == (
        f"{path}: the file is read-only; make it writable (chmod 600 {path}) and run genpwd "
        "again, or add these keys yourself: b, c"
    )
    assert path.read_text() == "a: x\n"


def test_a_write_error_names_the_symlink_target(tmp_path: Path) -> None:
    target = tmp_path / "vault" / "passwords.yml"
    target.parent.mkdir()
    link = tmp_path / "passwords.yml"
    link.symlink_to(target)
    with (
        mock.patch.object(tempfile, "mkstemp", refuse_to_create),
        pytest.raises(ConfigError) as info,
    ):
        generate(link, ["a"])
    assert str(info.value) == (
        f"{target} (where {link} points): cannot write (Permission denied); run genpwd as a user "
        f"who may write to {target.parent} (such as root), or choose a folder of your own with "
        "--config-dir"
    )
    assert link.is_symlink() and not target.exists()


@pytest.mark.skipif(ROOT, reason="root may write to any folder")
def test_genpwd_in_a_real_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir(mode=0o555)
    with pytest.raises(ConfigError, match="cannot write"):
        generate(folder / "passwords.yml", ["a"])


def test_cli_genpwd_creates_the_folder_and_never_prints_a_value(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "stackyard"
    result = CliRunner().invoke(main, ["genpwd", "--config-dir", str(folder)])
    assert result.exit_code == 0, result.output
    secrets = load_passwords(folder / "passwords.yml")
    assert sorted(secrets) == sorted(secret_keys())
    assert result.output == (
        f"{folder / 'passwords.yml'}: generated {len(secrets)} secrets "
        f"({', '.join(sorted(secrets))}); mode 0600\n"
    )
    assert not any(value and value in result.output for value in secrets.values())


def test_cli_genpwd_in_a_folder_it_cannot_write_to(tmp_path: Path) -> None:
    with mock.patch.object(tempfile, "mkstemp", refuse_to_create):
        result = CliRunner().invoke(main, ["genpwd", "--config-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {tmp_path / 'passwords.yml'}: cannot write (Permission denied); run genpwd as "
        f"a user who may write to {tmp_path} (such as root), or choose a folder of your own "
        "with --config-dir\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- generated files ---------------------------------------------------------------------------

keys = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029")
)
EMPTY = ["", " ''", " ~", " null", '  ""', "  # no value yet"]
# Values new_secret could return that YAML 1.1 or 1.2 would read as something else unquoted.
JINJA = re.compile(r"\{[{%#]")
TRICKY = ["012345", "yes", "On", "y", "1e5", "0x1F", "0o17", "1_000", "null", "a'b", "10", "Kq7ab"]


@st.composite
def password_files(draw: st.DrawFn) -> tuple[str, dict[str, str | None]]:
    """Valid passwords.yml text, with comments and empty values, and what it holds."""
    lines: list[str] = []
    held: dict[str, str | None] = {}
    for key in draw(st.lists(keys, unique=True, max_size=8)):
        lines += draw(st.lists(st.sampled_from(["", "# a comment", "#"]), max_size=2))
        # A value that opens a Jinja placeholder is refused (tested on its own): not valid.
        value = draw(st.none() | texts.filter(lambda t: t and not JINJA.search(t)))
        if value is None:
            lines.append(f"{key}:{draw(st.sampled_from(EMPTY))}")
        else:
            lines.append(yaml.safe_dump({key: value}, allow_unicode=True, width=1e9).rstrip("\n"))
        held[key] = value
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"])), held


@settings(max_examples=200, deadline=None, database=None)
@given(
    file=password_files(),
    wanted=st.lists(keys, max_size=6),
    new=st.lists(st.sampled_from(TRICKY) | st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True)),
)
def test_generated_files_keep_every_value_and_line(
    file: tuple[str, dict[str, str | None]], wanted: list[str], new: list[str]
) -> None:
    text, held = file
    required = [*wanted, *list(held)[::2]]
    missing = sorted({k for k in required if not held.get(k)})
    secrets = iter([*new, *(f"Filler{i}" for i in range(len(missing)))])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "passwords.yml"
        path.write_text(text)
        with mock.patch.object(passwords_module, "new_secret", secrets.__next__):
            assert generate(path, required) == missing
        written = path.read_text()
        loaded = load_passwords(path)
    filled = {k for k in missing if k in held}
    assert loaded == {**held, **{k: loaded[k] for k in missing}}
    assert all(loaded[k] for k in missing)
    if not missing:
        assert written == text
        return
    # Every line is kept, except that an empty value is filled in on its own line; the other
    # new secrets follow, one line each.
    before = text.removesuffix("\n").split("\n") if text else []
    after = written.split("\n")
    for old, line in zip(before, after, strict=False):
        key = old.split(":")[0]
        if key in filled and old.startswith(f"{key}:"):
            assert line.startswith(f"{key}: ") and line.endswith(old.partition("#")[2])
        else:
            assert line == old
    added_lines = [line for line in after[len(before) :] if line]
    assert len(added_lines) == len(missing) - len(filled)
    assert written.endswith("\n") == (text.endswith("\n") or bool(added_lines))
    # A YAML 1.1 reader reads each added line's secret as the same string.
    standard = yaml.safe_load(written) or {}
    appended = [k for k in missing if k not in held]
    assert {k: standard[k] for k in appended} == {k: loaded[k] for k in appended}
