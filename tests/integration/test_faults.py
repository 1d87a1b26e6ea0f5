"""Faults on the real engine: `stackyard deploy` killed at many points, a change keystone
rejects under client load, containers and volumes removed by hand, a port taken, the engine
restarting mid-run. After each, a plain `stackyard deploy` must bring back a healthy plane
that still has the data created before the fault."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from benchmarks.load import LoadResult, TokenLoad

from stackyard.facts import default_route_address
from tests.integration.deployment import STACKYARD, Cloud

VIP = default_route_address()
SEED = int(os.environ.get("STACKYARD_FAULT_SEED", "20261122"))
PROGRESS = re.compile(r"^  (creating|running|replacing|starting|removing|waiting for) (\S+)")
DONE = re.compile(r"^  (created|ran|replaced|started|removed|waited for) (\S+) ")
PLANNED = re.compile(r"^  (create|recreate|run|start|remove|wait) \S+ on \S+: ")
DELAYS = (0.0, 0.3, 0.8, 1.5)
SENTINEL = "sentinel"
SENTINEL_PASSWORD = "sentinel-password-1"


@dataclass(frozen=True, order=True)
class KillPoint:
    scenario: str  # "cold": every container and job from scratch; "reconfigure": 2 replaced
    after_lines: int  # progress lines printed before the countdown starts
    delay: float


@dataclass
class Kill:
    point: KillPoint
    in_flight: list[str] = field(default_factory=list)  # steps started and not finished
    planned: int = 0  # steps in the plan the run printed
    started: int = 0  # steps it began
    finished: int = 0  # steps it completed
    alive: bool = True  # the process was still running at the SIGKILL
    jobs_running: dict[str, str] = field(default_factory=dict)  # job -> container id
    previous: list[str] = field(default_factory=list)
    rerun_seconds: float = 0.0

    @property
    def mid_run(self) -> bool:
        """Killed after the run began its work and before it completed it, by its own
        progress output: a kill while it planned, or after its last step, is no kill."""
        return self.alive and self.started > 0 and self.finished < self.planned


def kill_points(seed: int) -> list[KillPoint]:
    """32 distinct points in a seeded order, a cold deploy (15 steps, jobs among them) and a
    reconfigure (keystone and keystone_fernet replaced, the old container set aside meanwhile)
    by turns. The delays stay short enough for a fast machine: a whole reconfigure takes
    about 3 s."""
    rng = random.Random(seed)
    cold = [KillPoint("cold", line, delay) for line in range(26) for delay in DELAYS[:3]]
    change = [KillPoint("reconfigure", line, delay) for line in range(4) for delay in DELAYS]
    pairs = zip(rng.sample(cold, 16), rng.sample(change, 16), strict=True)
    return [point for pair in pairs for point in pair]


def kill_deploy(cloud: Cloud, point: KillPoint) -> Kill:
    """Run `stackyard deploy` and SIGKILL it `delay` seconds after its n-th progress line."""
    env = {**cloud.env(), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [STACKYARD, "deploy"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env)  # fmt: skip
    kill = Kill(point)
    seen = 0
    lines = []
    assert process.stdout is not None
    while seen < point.after_lines:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        seen += bool(PROGRESS.match(line) or DONE.match(line))
    time.sleep(point.delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    else:
        kill.alive = False
    rest, _ = process.communicate()
    for line in lines + rest.splitlines(keepends=True):
        kill.planned += bool(PLANNED.match(line))
        if started := PROGRESS.match(line):
            kill.started += started.group(1) != "waiting for"
            kill.in_flight.append(started.group(2))
        elif done := DONE.match(line):
            kill.finished += 1
            kill.in_flight.remove(done.group(2))
    containers = cloud.containers()
    kill.jobs_running = {n: str(c["id"]) for n, c in sorted(containers.items())
                         if c["kind"] == "job" and c["status"] == "running"}  # fmt: skip
    kill.previous = sorted(n for n in containers if n.endswith("-previous"))
    return kill


def sentinel_survives(cloud: Cloud) -> None:
    admin = cloud.admin_token(VIP)
    keystone = cloud.keystone(VIP)
    assert keystone.find(admin, "project", SENTINEL) is not None
    assert keystone.find(admin, "user", SENTINEL) is not None
    token = keystone.token(SENTINEL, SENTINEL_PASSWORD, project=SENTINEL)
    assert keystone.validate(admin, token) == 200


def repaired_by_a_plain_deploy(cloud: Cloud) -> float:
    """Deploy (audited), check, and find the sentinel; the deploy's seconds."""
    seconds, _ = cloud.timed("deploy")
    assert "FAIL" not in cloud.run("check").stdout
    sentinel_survives(cloud)
    return seconds


@pytest.fixture(scope="module")
def deployed(cloud: Cloud) -> Iterator[Cloud]:
    cloud.run("deploy")
    admin = cloud.admin_token(VIP)
    keystone = cloud.keystone(VIP)
    project = keystone.create(admin, "project", {"name": SENTINEL, "domain_id": "default"})
    user = keystone.create(admin, "user", {"name": SENTINEL, "domain_id": "default",
                                           "password": SENTINEL_PASSWORD})  # fmt: skip
    role = keystone.find(admin, "role", "member")
    status, _, _ = keystone.request(
        "PUT", f"/v3/projects/{project}/users/{user}/roles/{role}", token=admin
    )
    assert status == 204
    sentinel_survives(cloud)
    yield cloud


def sentinel_load() -> TokenLoad:
    return TokenLoad(f"http://{VIP}:5000", SENTINEL, SENTINEL_PASSWORD, project=SENTINEL)


def test_token_load_through_haproxy_for_60_s_has_no_errors(deployed: Cloud) -> None:
    result = sentinel_load().run(60)
    print(f"token issue + validate for 60 s: {result.describe()}")
    assert len(result.samples) > 300
    assert result.errors == []


def test_a_change_keystone_rejects_is_rolled_back_under_client_load(deployed: Cloud) -> None:
    cloud = deployed
    before = cloud.services()["keystone"]["id"]
    load = sentinel_load()
    loop = threading.Thread(target=lambda: results.append(load.run()))
    results: list[LoadResult] = []
    override = cloud.config_dir / "config" / "keystone" / "keystone.conf"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.touch()
    loop.start()
    try:
        time.sleep(2)
        failed = cloud.run_with(override, "[DEFAULT]\ndebug = not-a-boolean\n", "deploy")
        time.sleep(2)
    finally:
        load.stop.set()
        loop.join()
    (result,) = results
    print(f"token requests during a failed keystone change: {result.describe()}")
    assert failed.returncode == 1
    assert "the previous keystone container was restored" in failed.stdout + failed.stderr
    assert "last log lines:" in failed.stdout + failed.stderr
    containers = cloud.containers()
    assert containers["keystone"]["id"] == before and containers["keystone"]["status"] == "running"
    assert not [n for n in containers if n.endswith("-previous")]
    # Requests fail only while no keystone runs: the old one stopped, the new one failing
    # (uWSGI exits when keystone.conf is rejected), the old one started and gated again.
    errors = result.errors
    assert not errors or errors[-1].started - errors[0].started < 30
    assert result.samples[-1].error == "" and result.samples[-2].error == ""
    sentinel_survives(cloud)


def test_deploy_killed_mid_run_20_times_is_finished_by_running_it_again(deployed: Cloud) -> None:
    """Seeded points, one after another, until 20 runs were killed mid-run (at most 32
    points); after every kill, mid-run or not, a plain deploy converges, and a job the
    killed run left running is adopted by it (the same container), not started again."""
    cloud = deployed
    override = cloud.config_dir / "config" / "keystone" / "keystone.conf"
    override.parent.mkdir(parents=True, exist_ok=True)
    kills: list[Kill] = []
    for round_number, point in enumerate(kill_points(SEED)):
        if point.scenario == "cold":
            cloud.run("destroy", "--yes-i-really-really-mean-it")
        else:
            override.write_text(f"[DEFAULT]\nmax_param_size = {64 + round_number}\n")
        kill = kill_deploy(cloud, point)
        kill.rerun_seconds = repaired_by_a_plain_deploy(cloud)
        after = cloud.containers()
        adopted = {name: str(after[name]["id"]) if name in after else "" for name in
                   kill.jobs_running}  # fmt: skip
        assert adopted == kill.jobs_running, f"{point}: jobs not adopted by the re-run"
        assert cloud.run("deploy").stdout.strip().startswith("No changes")
        kills.append(kill)
        if sum(k.mid_run for k in kills) == 20:
            break
    report = [f"{k.point.scenario:11} after {k.point.after_lines:2} lines +{k.point.delay:.1f} s:"
              f" {'mid-run' if k.mid_run else 'not mid-run'} ({k.finished}/{k.planned} steps"
              f" done); in flight {k.in_flight or '-'}; jobs running"
              f" {sorted(k.jobs_running) or '-'}; aside {k.previous or '-'};"
              f" re-run {k.rerun_seconds:.1f} s" for k in kills]  # fmt: skip
    print("\n".join(report))
    mid_run = sum(k.mid_run for k in kills)
    print(f"{len(kills)} points, {mid_run} runs killed mid-run, each finished by a plain "
          f"re-run (seed {SEED})")  # fmt: skip
    assert mid_run == 20, report
    # The schedule reached the interesting moments: a job still running, a replacement
    # half-done (the old container set aside).
    assert any(k.jobs_running for k in kills), report
    assert any(k.previous for k in kills), report


def test_a_container_removed_by_hand_is_created_again(deployed: Cloud) -> None:
    cloud = deployed
    cloud.client.containers.get("keystone").remove(force=True)
    assert "create keystone on localhost: not present" in cloud.run("plan").stdout
    repaired_by_a_plain_deploy(cloud)


def test_a_port_taken_by_another_process_is_named_and_the_next_run_repairs(
    deployed: Cloud,
) -> None:
    cloud = deployed
    cloud.client.containers.get("haproxy").remove(force=True)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((VIP, 5000))
        holder.listen()
        assert (
            f"FAIL  port {VIP}:5000: cannot be used" in cloud.run("prechecks", check=False).stdout
        )
        failed = cloud.run("deploy", check=False)
        assert failed.returncode == 1
        assert (f"haproxy cannot publish port 5000 on {VIP}: something else listens there "
                "(`ss -ltnp 'sport = :5000'` names it)") in failed.stderr  # fmt: skip
    assert "start haproxy on localhost: stopped" in cloud.run("plan").stdout
    repaired_by_a_plain_deploy(cloud)


def test_the_engine_restarting_mid_run_is_named_and_the_next_run_repairs(
    deployed: Cloud,
) -> None:
    """dockerd is stopped while keystone is being replaced (it stops every container), then
    started again the way an operator would."""
    cloud = deployed
    pid_file = Path("/run/stackyard-dockerd.pid")
    assert pid_file.exists(), "this test restarts the engine `stackyard host bootstrap` started"
    override = cloud.config_dir / "config" / "keystone" / "keystone.conf"
    override.write_text("[DEFAULT]\nmax_param_size = 99\n")
    env = {**cloud.env(), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [STACKYARD, "deploy"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env)  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("  replacing keystone "):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
            break
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1, output
    assert "the container engine at unix:///var/run/docker.sock stopped answering" in output
    assert "Start it again (`stackyard host bootstrap`) and run the same command" in output
    deadline = time.monotonic() + 60
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)  # dockerd removes its pid file once it has stopped
    subprocess.run([STACKYARD, "host", "bootstrap"], check=True, capture_output=True, timeout=120)
    repaired_by_a_plain_deploy(cloud)


def test_a_missing_volume_reruns_the_jobs_whose_data_was_in_it(deployed: Cloud) -> None:
    """The database volume removed by hand (its containers first, as the engine demands):
    the data is gone, and the next run sets everything up again on the new volume. Last in
    the module: the sentinel project goes with the data."""
    cloud = deployed
    for name in ("mariadb", "mariadb_bootstrap"):
        cloud.client.containers.get(name).remove(force=True)
    cloud.client.volumes.get("mariadb").remove()
    plan = cloud.run("plan").stdout
    for job in ("keystone_database", "keystone_db_sync", "keystone_bootstrap"):
        assert f"run {job} on localhost: volume mariadb is missing" in plan
    cloud.run("deploy")
    assert "FAIL" not in cloud.run("check").stdout
    admin = cloud.admin_token(VIP)
    assert cloud.keystone(VIP).find(admin, "project", SENTINEL) is None
    assert cloud.run("deploy").stdout.strip().startswith("No changes")
