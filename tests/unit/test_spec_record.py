"""The spec record a container carries in its labels is compared with the next run's: its
form must not change between versions of stackyard for the same spec, or an upgrade of
stackyard alone would recreate every container. Pinned here for a spec with every field set."""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.deploy.model import (
    LABEL_HASH,
    LABEL_SPEC,
    NOT_RECORDED,
    RECORDED_WHEN_SET,
    ContainerSpec,
    HealthCheck,
    Kind,
    _record,
    canonical_json,
    parse_json,
)

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


def from_fields(spec: ContainerSpec) -> dict[str, Any]:
    """The record by its definition, from the field list: every field but the orchestration
    hints, pairs as mappings, empty late fields left out (what `_record` writes by name)."""
    record = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name not in NOT_RECORDED}
    record.update(kind=spec.kind.value, healthcheck=spec.healthcheck and asdict(spec.healthcheck))
    for f in fields(spec):
        if str(f.type).startswith("tuple[tuple["):  # pairs: (name, value), ...
            record[f.name] = dict(record[f.name])
    for name in RECORDED_WHEN_SET:
        if not record[name]:
            del record[name]
    return record


def test_the_record_names_every_recorded_field() -> None:
    assert _record(FULL) == from_fields(FULL)
    assert _record(replace(FULL, devices=(), group_add=(), healthcheck=None)) == from_fields(
        replace(FULL, devices=(), group_add=(), healthcheck=None)
    )


TEXT = st.text(st.characters(codec="utf-8"), max_size=8)  # control characters and non-ASCII too
NUMBER = st.one_of(st.floats(), st.integers(min_value=-(2**70), max_value=2**70))
PAIRS = st.lists(st.tuples(TEXT, TEXT), max_size=3).map(tuple)


@settings(max_examples=400, deadline=None)
@given(
    text=st.tuples(TEXT, TEXT, TEXT), words=st.lists(TEXT, max_size=3).map(tuple), pairs=PAIRS,
    numbers=st.tuples(NUMBER, NUMBER, NUMBER), limits=st.lists(st.tuples(TEXT, NUMBER), max_size=2),
    pids=st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70)),
)  # fmt: skip
def test_the_fast_record_is_the_record_json_writes(
    text: tuple[str, str, str],
    words: tuple[str, ...],
    pairs: tuple[tuple[str, str], ...],
    numbers: tuple[float, float, float],
    limits: list[tuple[str, int]],
    pids: int | None,
) -> None:
    """The record is written with orjson where it gives json.dumps's bytes and with json.dumps
    elsewhere: for any text (non-ASCII, control characters, quotes) and any number, the label
    is exactly what json.dumps writes, and reads back as json reads it."""
    check = HealthCheck(words, numbers[0], numbers[1], 3, numbers[2])
    spec = replace(
        FULL, name=text[0], command=words, environment=pairs, sysctls=pairs, hostname=text[1],
        config_digest=text[2], healthcheck=check, ulimits=tuple(limits), pids_limit=pids,
    )  # fmt: skip
    written = spec.labels()[LABEL_SPEC]
    assert _record(spec) == from_fields(spec)
    assert written == canonical_json(from_fields(spec))
    if not any(n != n for n in numbers):  # NaN is not equal to itself
        integers = [pids or 0, *(n for _, n in limits), *numbers]
        beyond = any(isinstance(n, int) and abs(n) >= 2**63 for n in integers)
        assert parse_json(written) == json.loads(written) or beyond  # definitions bound them
