"""OpenStack's releases in order, and the upgrades between them it supports (pure).

A cloud moves one release at a time, or from one SLURP release to the next (every other
release since 2023.1: 2023.1, 2024.1, 2025.1, 2026.1, skipping the one between). A service
whose own upgrade path allows more says so in its definition (`release_upgrades.also`).
Anything else is refused before any change, with the releases to go through named.
"""

from __future__ import annotations

from collections.abc import Mapping

RELEASES = ("zed", "2023.1", "2023.2", "2024.1", "2024.2", "2025.1", "2025.2", "2026.1")
SLURP = frozenset({"2023.1", "2024.1", "2025.1", "2026.1"})


def supported(current: str, target: str, also: Mapping[str, str] | None = None) -> bool:
    """Whether OpenStack (or the service's own rule: from -> to) supports current -> target."""
    here, there = RELEASES.index(current), RELEASES.index(target)
    skip_level = there == here + 2 and current in SLURP and target in SLURP
    return there == here + 1 or skip_level or (also or {}).get(current) == target


def route(current: str, target: str) -> list[str]:
    """The fewest releases to deploy in turn from current to target (target last)."""
    steps: list[str] = []
    while current != target:
        here = RELEASES.index(current)
        ahead = [r for r in RELEASES[here + 1 :] if RELEASES.index(r) <= RELEASES.index(target)]
        current = next(r for r in reversed(ahead) if supported(current, r))
        steps.append(current)
    return steps


def refusal(
    service: str, current: str, target: str, also: Mapping[str, str] | None = None
) -> str | None:
    """Why moving `service` from current to target is refused, or None when it is not."""
    if current == target:
        return None
    for release in (current, target):
        if release not in RELEASES:
            return f"{service}: unknown OpenStack release {release!r}; known: {', '.join(RELEASES)}"
    if RELEASES.index(target) < RELEASES.index(current):
        return (
            f"{service} runs {current}, and {target} is older: a release is never downgraded "
            "(restore the backup taken before the upgrade instead)"
        )
    if supported(current, target, also):
        return None
    between = RELEASES[RELEASES.index(current) + 1 : RELEASES.index(target)]
    return (
        f"{service}: {current} -> {target} is not a supported upgrade (it skips "
        f"{', '.join(between)}); go through {' -> '.join([current, *route(current, target)])}, "
        "one release (or one SLURP release to the next) at a time"
    )
