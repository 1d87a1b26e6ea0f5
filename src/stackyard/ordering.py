"""Deterministic dependency order (pure), shared by the image tree and the service graph."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping

from stackyard.errors import ConfigError


def dependency_order(graph: Mapping[str, Iterable[str]], what: str) -> list[str]:
    """Every node after the nodes it depends on; ties by name, so the order never varies.

    `what` names the graph in the error raised for a cycle ("image parents", ...).
    """
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise ConfigError(f"{what} form a cycle: {' -> '.join(exc.args[1])}") from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order
