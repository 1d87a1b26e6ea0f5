"""The build graph (pure): which images a request selects, and in what order they build.

Images form a forest through their `parent`; a selection always includes the ancestors of what
it names, because a child is built FROM its parent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from stackyard.errors import ConfigError
from stackyard.images.model import Catalog, ImageSpec
from stackyard.ordering import dependency_order


def check_acyclic(images: Mapping[str, ImageSpec]) -> None:
    dependency_order(
        {name: [spec.parent] if spec.parent else [] for name, spec in images.items()},
        "image parents",
    )


def ancestors(images: Mapping[str, ImageSpec], name: str) -> list[str]:
    """Parents of `name`, nearest first (the graph must be acyclic)."""
    chain = []
    parent = images[name].parent
    while parent is not None:
        chain.append(parent)
        parent = images[parent].parent
    return chain


def match(images: Iterable[str], pattern: str) -> list[str]:
    """Images named `pattern`, or else every image the regular expression matches in full."""
    names = sorted(images)
    if pattern in names:
        return [pattern]
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"image pattern {pattern!r} is not a valid regular expression: {exc}"
        ) from None
    return [n for n in names if regex.fullmatch(n)]


def select(catalog: Catalog, patterns: Sequence[str], profiles: Sequence[str]) -> list[str]:
    """The images to build, parents first; nothing named means every image."""
    wanted: set[str] = set()
    for profile in profiles:
        if profile not in catalog.profiles:
            raise ConfigError(
                f"unknown profile {profile!r}; profiles: {', '.join(sorted(catalog.profiles))}"
            )
        wanted.update(catalog.profiles[profile])
    for pattern in patterns:
        found = match(catalog.images, pattern)
        if not found:
            raise ConfigError(
                f"no image matches {pattern!r}; images: {', '.join(sorted(catalog.images))}"
            )
        wanted.update(found)
    if not patterns and not profiles:
        wanted = set(catalog.images)
    for name in list(wanted):
        wanted.update(ancestors(catalog.images, name))
    return order(catalog.images, wanted)


def order(images: Mapping[str, ImageSpec], selected: Iterable[str]) -> list[str]:
    """Parents before children; ties broken by name so the order is deterministic."""
    chosen = set(selected)
    deps: dict[str, list[str]] = {}
    for name in chosen:
        parent = images[name].parent
        deps[name] = [parent] if parent is not None and parent in chosen else []
    return dependency_order(deps, "image parents")


def children(images: Mapping[str, ImageSpec]) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {name: [] for name in images}
    for name in sorted(images):
        parent = images[name].parent
        if parent is not None and parent in kids:
            kids[parent].append(name)
    return kids


def descendants(images: Mapping[str, ImageSpec], name: str) -> list[str]:
    kids = children(images)
    found: list[str] = []
    stack = list(reversed(kids[name]))
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(reversed(kids[current]))
    return found
