"""Release paths: which moves between OpenStack releases are supported, the refusal of the
others (naming the releases to go through), and that a deploy checks them from the images of
the running containers and their successors before any change."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from stackyard import operations
from stackyard.config.deployment import load_deployment
from stackyard.deploy.desired import compute
from stackyard.deploy.model import ObservedState
from stackyard.errors import ConfigError
from stackyard.releases import RELEASES, refusal, route, supported
from tests.unit.test_desired import FACTS, GLOBALS, config_dir, deployed


@pytest.mark.parametrize(
    ("current", "target"),
    [("2025.1", "2025.2"), ("2025.2", "2026.1"), ("2025.1", "2026.1"), ("2023.1", "2024.1"),
     ("zed", "2023.1"), ("2026.1", "2026.1")],
)  # fmt: skip
def test_supported_paths(current: str, target: str) -> None:
    assert refusal("nova", current, target) is None


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("2024.2", "2025.2", "nova: 2024.2 -> 2025.2 is not a supported upgrade (it skips "
         "2025.1); go through 2024.2 -> 2025.1 -> 2025.2, one release (or one SLURP release to "
         "the next) at a time"),
        ("2023.1", "2025.1", "nova: 2023.1 -> 2025.1 is not a supported upgrade (it skips "
         "2023.2, 2024.1, 2024.2); go through 2023.1 -> 2024.1 -> 2025.1, one release (or one "
         "SLURP release to the next) at a time"),
        ("zed", "2025.1", "nova: zed -> 2025.1 is not a supported upgrade (it skips 2023.1, "
         "2023.2, 2024.1, 2024.2); go through zed -> 2023.1 -> 2024.1 -> 2025.1, one release "
         "(or one SLURP release to the next) at a time"),
        ("2026.1", "2025.1", "nova runs 2026.1, and 2025.1 is older: a release is never "
         "downgraded (restore the backup taken before the upgrade instead)"),
        ("2025.1", "2027.1", "nova: unknown OpenStack release '2027.1'; known: zed, 2023.1, "
         "2023.2, 2024.1, 2024.2, 2025.1, 2025.2, 2026.1"),
    ],
)  # fmt: skip
def test_refused_paths_name_the_releases_to_go_through(
    current: str, target: str, message: str
) -> None:
    assert refusal("nova", current, target) == message


def test_a_service_may_allow_more_and_every_route_is_supported() -> None:
    assert refusal("keystone", "zed", "2025.1", {"zed": "2025.1"}) is None
    assert refusal("keystone", "zed", "2026.1", {"zed": "2025.1"}) is not None
    for i, current in enumerate(RELEASES):
        for target in RELEASES[i + 1 :]:
            steps = [current, *route(current, target)]
            assert steps[-1] == target
            assert all(supported(a, b) for a, b in pairwise(steps))


class Images:
    """The engine's images: id -> the release its label names."""

    def __init__(self, releases: dict[str, str]) -> None:
        self.releases = releases
        self.asked: list[str] = []

    def image_labels(self, ref: str) -> dict[str, str] | None:
        self.asked.append(ref)
        return {"stackyard.openstack-release": self.releases[ref]} if ref in self.releases else {}


def test_a_deploy_refuses_an_unsupported_jump_before_any_change(tmp_path: Path) -> None:
    """The running containers' images say zed, their successors 2025.1: keystone allows that
    jump (its definition says so), an OpenStack service without that rule would not; an
    infrastructure service is not judged by OpenStack's rules; nothing unchanged is asked."""
    deployment = load_deployment(config_dir(tmp_path, GLOBALS))
    desired = compute(deployment, FACTS)
    running = deployed(desired)
    specs = {spec.name: spec for _, spec in desired.specs()}
    old = ObservedState(
        {host: {n: replace(c, image_id=f"old-{c.name}") for n, c in found.items()}
         for host, found in running.containers.items()},
        running.volumes,
        {host: {spec.image: f"new-{spec.image}" for _, spec in desired.specs()}
         for host in running.containers},
    )  # fmt: skip
    releases = {f"old-{name}": "zed" for name in specs}
    releases |= {f"new-{spec.image}": "2025.1" for spec in specs.values()}
    engine = Images(releases)
    operations.check_releases(deployment, desired, old, engine)
    assert engine.asked, "the images were read"
    service = deployment.services["keystone"]
    rules = service.definition.release_upgrades
    assert rules is not None and rules.also == {"zed": "2025.1"}
    definition = service.definition.model_copy(
        update={"release_upgrades": rules.model_copy(update={"also": {}})}
    )
    strict = replace(deployment, services={
        **deployment.services, "keystone": service.model_copy(update={"definition": definition})
    })  # fmt: skip
    with pytest.raises(ConfigError) as info:
        operations.check_releases(strict, desired, old, Images(releases))
    assert str(info.value) == (
        f"{refusal('keystone', 'zed', '2025.1')}\n"
        "stackyard builds images for zed (bookworm), 2025.1 (trixie) only"
    )
    same = replace(old, containers={
        host: {n: replace(c, image_id=f"new-{specs[n].image}") for n, c in found.items()}
        for host, found in old.containers.items()
    })  # fmt: skip
    unchanged = Images(releases)
    operations.check_releases(strict, desired, same, unchanged)
    assert unchanged.asked == []
