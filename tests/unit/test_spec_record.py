"""The spec record a container carries in its labels is compared with the next run's: its
form must not change between versions of stackyard for the same spec, or an upgrade of
stackyard alone would recreate every container. Pinned here for a spec with every field set."""

from __future__ import annotations

from dataclasses import replace

from stackyard.deploy.model import LABEL_HASH, LABEL_SPEC, ContainerSpec, HealthCheck, Kind

FULL = ContainerSpec(
    name="n", service="s", image="i", command=("a", "b"), kind=Kind.JOB, argv=("x",),
    environment=(("A", "1"),), volumes=("v:/v",), network="host", hostname="h",
    ports=("1:2:3",), healthcheck=HealthCheck(("t", "u"), 1.0, 2.0, 4, 6.0), user="1:1",
    privileged=True, cap_add=("NET_ADMIN",), devices=("/dev/kvm",), group_add=("kvm",),
    no_new_privileges=False, sysctls=(("a", "b"),), tmpfs=("/t",), ulimits=(("nofile", 10),),
    pids_limit=5, memory_limit="1g", log_options=(("max-size", "1m"),), config_digest="c",
    secret_digest="d", after=("z",), deadline=5.0,
)  # fmt: skip
RECORD = (
    '{"argv":["x"],"cap_add":["NET_ADMIN"],"command":["a","b"],"config_digest":"c",'
    '"devices":["/dev/kvm"],"environment":{"A":"1"},"group_add":["kvm"],"healthcheck":'
    '{"interval":1.0,"retries":4,"start_period":6.0,"test":["t","u"],"timeout":2.0},'
    '"hostname":"h","image":"i","kind":"job","log_options":{"max-size":"1m"},'
    '"memory_limit":"1g","name":"n","network":"host","no_new_privileges":false,"pids_limit":5,'
    '"ports":["1:2:3"],"privileged":true,"secret_digest":"d","service":"s","sysctls":{"a":"b"},'
    '"tmpfs":["/t"],"ulimits":{"nofile":10},"user":"1:1","volumes":["v:/v"]}'
)


def test_the_record_of_a_spec_is_pinned() -> None:
    labels = FULL.labels()
    assert labels[LABEL_SPEC] == RECORD
    assert labels[LABEL_HASH] == "445a35ed0019b8cae0791c15c83718f0e0f87996545a93e05b393c6fe0c13948"


def test_order_and_wait_are_not_recorded_and_empty_extras_are_left_out() -> None:
    """`after` and `deadline` steer a run, not the container; empty `devices` and
    `group_add` are absent, so specs recorded before those fields existed still match."""
    assert replace(FULL, after=(), deadline=90.0).labels() == FULL.labels()
    bare = replace(FULL, devices=(), group_add=(), healthcheck=None)
    record = bare.labels()[LABEL_SPEC]
    assert '"devices"' not in record and '"group_add"' not in record
    assert '"healthcheck":null' in record
