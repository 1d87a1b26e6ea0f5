"""Step ordering inside a service wave, as the planner writes it into the plan (pure): `after`
is followed transitively through containers that need no step in this plan."""

from __future__ import annotations

from stackyard.deploy.model import Action, ContainerSpec, Kind, Step
from stackyard.deploy.planner import step_dependencies


def spec(name: str, *after: str) -> ContainerSpec:
    return ContainerSpec(name=name, service="keystone", image="i", command="c", kind=Kind.JOB,
                         after=after)  # fmt: skip


SPECS = (
    spec("database"),
    spec("db_sync", "database"),
    spec("bootstrap", "db_sync"),
    spec("fernet"),
    spec("api", "database", "db_sync", "bootstrap", "fernet"),
)


def wave(*names: str, hosts: tuple[str, ...] = ("n1",)) -> list[Step]:
    by_name = {s.name: s for s in SPECS}
    return [
        Step(Action.RUN, host, name, "test", spec=by_name[name]) for host in hosts for name in names
    ]


def test_waits_through_a_step_that_is_not_planned() -> None:
    graph = step_dependencies(wave("database", "bootstrap", "api"), {"n1": SPECS})
    assert graph == {
        ("n1", "api"): [("n1", "bootstrap"), ("n1", "database")],
        ("n1", "bootstrap"): [("n1", "database")],
        ("n1", "database"): [],
    }


def test_independent_steps_have_no_dependencies_and_hosts_do_not_mix() -> None:
    graph = step_dependencies(wave("fernet", "db_sync", hosts=("n1", "n2")),
                              {"n1": SPECS, "n2": SPECS})  # fmt: skip
    assert graph == {key: [] for key in graph}
    assert len(graph) == 4
