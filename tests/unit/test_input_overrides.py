"""config/ override files: whatever cannot be read is an error naming it (it used to be left
out without a word), and control characters are refused with file and line."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest

from stackyard.config.deployment import load_deployment
from stackyard.errors import ConfigError
from tests.unit.test_config_errors import make_config, snapshot

C = "{dir}/config"
GOOD = "[DEFAULT]\ndebug = True\n"
ROOT = os.geteuid() == 0


def refused(directory: Path) -> str:
    before = snapshot(directory)
    with pytest.raises(ConfigError) as info:
        load_deployment(directory)
    assert snapshot(directory) == before
    return str(info.value).replace(str(directory), "{dir}")


def config(tmp_path: Path, build: Callable[[Path], object]) -> Path:
    """A valid config dir whose config/ folder `build` fills."""
    directory = make_config(tmp_path, {})
    (directory / "config").mkdir()
    build(directory / "config")
    return directory


def link(path: Path, target: str | Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def loop_of_two(folder: Path) -> None:
    link(folder / "a.conf", folder / "b.conf")
    link(folder / "b.conf", folder / "a.conf")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda c: link(c / "keystone.conf", c / "gone.conf"),
         f"{C}/keystone.conf: a symlink to {C}/gone.conf, which does not exist; point it at an "
         "existing file or remove it"),
        (lambda c: link(c / "keystone" / "keystone.conf", "../../shared/keystone.conf"),
         f"{C}/keystone/keystone.conf: a symlink to ../../shared/keystone.conf, which does not "
         "exist; point it at an existing file or remove it"),
        (lambda c: link(c / "keystone.conf", c / "keystone.conf"),
         f"{C}/keystone.conf: a symlink loop (following it never reaches a file); remove it"),
        (loop_of_two,
         f"{C}/a.conf: a symlink loop (following it never reaches a file); remove it\n"
         f"{C}/b.conf: a symlink loop (following it never reaches a file); remove it"),
        (lambda c: link(c / "keystone" / "again", ".."),
         f"{C}/keystone/again: a symlink to a folder that contains it (a loop); remove it"),
        (lambda c: os.mkfifo(c / "keystone.conf"),
         f"{C}/keystone.conf: not a regular file (a pipe, socket or device)"),
        (lambda c: (c / "global.conf").write_text("[DEFAULT]\ndebug = True\x1b[0m\n"),
         f"{C}/global.conf:2: control character 0x1b in the value (column 13); remove it: tab "
         "is the only one allowed"),
        (lambda c: (c / "keystone.conf").write_bytes(b"[DEF\x00AULT]\n"),
         f"{C}/keystone.conf:1: control character 0x00 in the section header (column 5); remove "
         "it: tab is the only one allowed"),
        (lambda c: (c / "keystone.conf").write_text("[DEFAULT]\r\nde\rbug = 1\r\n"),
         f"{C}/keystone.conf:2: control character 0x0d in the key (column 3); remove it: tab is "
         "the only one allowed"),
    ],
    ids=["dangling", "dangling-relative", "loop", "two-link-loop", "folder-loop", "fifo",
         "escape-in-value", "nul-in-section", "carriage-return-in-key"],
)  # fmt: skip
def test_override_problems_are_errors_naming_the_path(
    tmp_path: Path, build: Callable[[Path], object], message: str
) -> None:
    assert refused(config(tmp_path, build)) == message


def test_a_loop_under_a_name_that_fits_nothing_is_still_called_a_loop(tmp_path: Path) -> None:
    directory = config(tmp_path, lambda c: link(c / "notes", c / "notes"))
    assert refused(directory) == (
        f"{C}/notes: a symlink loop (following it never reaches a file); remove it"
    )


def test_config_that_is_not_a_folder(tmp_path: Path) -> None:
    directory = make_config(tmp_path, {"config": GOOD})
    assert refused(directory) == f"{C}: cannot read (Not a directory)"


def test_a_dangling_config_symlink(tmp_path: Path) -> None:
    directory = make_config(tmp_path, {})
    link(directory / "config", tmp_path / "overrides")
    assert refused(directory) == (
        f"{C}: a symlink to {tmp_path / 'overrides'}, which does not exist; point it at an "
        "existing file or remove it"
    )


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Makes a folder unlistable: chmod for a user, a simulated EACCES for root (who may read
    any folder)."""
    scandir = os.scandir

    def deny(folder: Path) -> None:
        if not ROOT:
            folder.chmod(0)
            return

        def refuse(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
            if Path(path) == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refuse)

    return deny


def test_an_unreadable_folder_is_an_error(
    tmp_path: Path, unreadable: Callable[[Path], None]
) -> None:
    def build(c: Path) -> None:
        (c / "keystone").mkdir()
        (c / "keystone" / "keystone.conf").write_text(GOOD)
        (c / "global.conf").write_text(GOOD)

    directory = config(tmp_path, build)
    unreadable(directory / "config" / "keystone")
    try:
        message = refused(directory)
    finally:
        (directory / "config" / "keystone").chmod(0o755)
    assert message == (
        f"{C}/keystone: cannot read (Permission denied); make it readable by the user running "
        "stackyard, or remove it"
    )


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    directory = config(tmp_path, lambda c: (c / "global.conf").write_text(GOOD))
    denied = PermissionError(errno.EACCES, "Permission denied")
    real_open = os.open

    def refuse(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path).name == "global.conf":
            raise denied
        return real_open(path, flags, *args)

    with mock.patch.object(os, "open", refuse):
        assert refused(directory) == (
            f"{C}/global.conf: cannot read (Permission denied); make it readable by the user "
            "running stackyard, or remove it"
        )


def test_symlinked_files_and_folders_are_followed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "keystone").mkdir(parents=True)
    (shared / "keystone" / "keystone.conf").write_text("[token]\nexpiration = 600\n")
    (shared / "global.conf").write_text(GOOD)

    def build(c: Path) -> None:
        link(c / "keystone", shared / "keystone")
        link(c / "global.conf", "../../shared/global.conf")

    deployment = load_deployment(config(tmp_path, build))
    assert sorted(deployment.overrides) == ["global.conf", "keystone/keystone.conf"]
    assert deployment.overrides["keystone/keystone.conf"].sections["token"] == {
        "expiration": ("600",)
    }


def test_tabs_and_crlf_are_fine(tmp_path: Path) -> None:
    text = "[DEFAULT]\r\ndebug\t=\tTrue\r\n"
    deployment = load_deployment(config(tmp_path, lambda c: (c / "global.conf").write_text(text)))
    assert deployment.overrides["global.conf"].sections["DEFAULT"] == {"debug": ("True",)}
