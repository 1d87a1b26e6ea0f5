"""The switch's start script on the userspace datapath reopens a port whose device was made
again (Open vSwitch cannot tell on that datapath). Run here with stand-ins for ovs-vswitchd,
`ip` and ovs-vsctl on PATH: the link events it reads and the ovs-vsctl calls it makes are
files, so what it does with each kind of event is checked without a switch."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from stackyard.images.catalog import default_root

SCRIPT = default_root() / "openvswitch-vswitchd" / "vswitchd_start.sh"

FAKES = {
    "ovs-vswitchd": "exec sleep 60\n",
    # The first `ip -oneline monitor link` prints the events, later ones wait (the watcher
    # starts again after its monitor ends).
    "ip": """\
if [[ $* == "-oneline monitor link" ]]; then
    if [[ ! -e $FAKE/monitored ]]; then touch "$FAKE/monitored"; cat "$FAKE/events"; exit 0; fi
    touch "$FAKE/again"  # every event of the first was handled
    exec sleep 60
fi
[[ $1 == link && $2 == show ]] && touch "$FAKE/bridge"  # the script is past the datapath
exit 0
""",
    "ovs-vsctl": """\
echo "$*" >> "$FAKE/calls"
case $* in
    *" get Interface "*) args=$*; name=${args##*Interface }; name=${name%% *}
        grep -s "^$name " "$FAKE/types" | cut -d' ' -f2 ;;
    *" list Interface") cat "$FAKE/numbers" ;;
esac
""",
}


def stand_ins(tmp_path: Path) -> Path:
    """A folder with the stand-ins, to put first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        (bin_dir / name).write_text("#!/bin/bash\n" + body)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run(tmp_path: Path, events: list[str], types: dict[str, str], numbers: str) -> list[str]:
    """The ovs-vsctl `set` calls the script makes for these link events."""
    bin_dir = stand_ins(tmp_path)
    (tmp_path / "events").write_text("".join(f"{line}\n" for line in events))
    (tmp_path / "types").write_text("".join(f"{n} {t}\n" for n, t in types.items()))
    (tmp_path / "numbers").write_text(numbers)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE": str(tmp_path), "OVS_DATAPATH": "netdev"}
    with (tmp_path / "output").open("w") as output:
        script = subprocess.Popen(["bash", str(SCRIPT)], env=env, start_new_session=True,
                                  stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "again").exists():
            assert time.monotonic() < deadline, "the watcher did not read the events"
            time.sleep(0.1)
    finally:
        os.killpg(script.pid, signal.SIGKILL)
        script.wait()
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return [c.removeprefix("--timeout=10 ") for c in calls if " set " in f" {c}"]


NUMBERS = "1\n\n2\n\n4\n3\n65534\n\n-1\n\n"  # ofport / ofport_request of every interface


def test_a_port_whose_device_comes_back_gets_the_lowest_free_number(tmp_path: Path) -> None:
    events = [
        "25912: tapnew: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN",  # only made
        "Deleted 25913: tapa@if7: <BROADCAST,MULTICAST> mtu 1442 qdisc noop state DOWN",
        "25920: tapa@if7: <BROADCAST,MULTICAST> mtu 1442 qdisc noop state DOWN",
        "25920: tapa@if7: <BROADCAST,MULTICAST,UP> mtu 1442 qdisc noop state UP",  # once only
        "Deleted 7: br-ex: <BROADCAST,MULTICAST> mtu 1500",  # the bridge's own port
        "7: br-ex: <BROADCAST,MULTICAST> mtu 1500",
        "Deleted 25914: gone: <BROADCAST> mtu 1500",  # not a port of the switch
        "25921: gone: <BROADCAST> mtu 1500",
        "",
        "not a link line",
        "Deleted 9: we]ird[: <BROADCAST> mtu 1500",  # a name bash's arrays may choke on
        "9: we]ird[: <BROADCAST> mtu 1500",
        "Deleted 25915: tapb: <BROADCAST> mtu 1500",
        "25922: tapb: <BROADCAST> mtu 1500",
    ]
    types = {"tapa": '""', "tapb": "system", "br-ex": "internal", "tapnew": '""'}
    assert run(tmp_path, events, types, NUMBERS) == [
        "set Interface tapa ofport_request=5",
        "set Interface tapb ofport_request=5",
    ]


@pytest.mark.parametrize("datapath", ["system", ""])
def test_nothing_is_watched_on_the_kernel_datapath(tmp_path: Path, datapath: str) -> None:
    bin_dir = stand_ins(tmp_path)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE": str(tmp_path), "OVS_DATAPATH": datapath,
           "OVS_EXTERNAL_BRIDGE": "br-ex"}  # fmt: skip
    script = subprocess.Popen(["bash", str(SCRIPT)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "bridge").exists():
            assert time.monotonic() < deadline, "the script did not reach its bridge"
            time.sleep(0.1)
        time.sleep(1)  # a watcher started by mistake would be monitoring by now
    finally:
        os.killpg(script.pid, signal.SIGKILL)
        script.wait()
    assert not (tmp_path / "monitored").exists()
