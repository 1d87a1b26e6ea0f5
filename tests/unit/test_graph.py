from __future__ import annotations

from pathlib import Path

import pytest

from stackyard.errors import ConfigError
from stackyard.images import graph
from stackyard.images.catalog import load_catalog
from stackyard.images.model import Catalog
from tests.unit.conftest import write_catalog


def test_everything_in_parent_first_order(tree: Catalog) -> None:
    assert graph.select(tree, [], []) == ["base", "mid", "other", "leaf-a", "leaf-b"]


def test_selecting_a_leaf_adds_its_ancestors(tree: Catalog) -> None:
    assert graph.select(tree, ["leaf-b"], []) == ["base", "mid", "leaf-b"]


def test_regex_matches_whole_names(tree: Catalog) -> None:
    assert graph.select(tree, ["leaf-.*"], []) == ["base", "mid", "leaf-a", "leaf-b"]
    with pytest.raises(ConfigError, match="no image matches 'leaf'"):
        graph.select(tree, ["leaf"], [])


def test_profile_selection(tree: Catalog) -> None:
    assert graph.select(tree, [], ["leaves"]) == ["base", "mid", "leaf-a", "leaf-b"]


def test_unknown_profile_names_the_valid_ones(tree: Catalog) -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'; profiles: leaves"):
        graph.select(tree, [], ["nope"])


def test_unknown_image_lists_known_images(tree: Catalog) -> None:
    with pytest.raises(ConfigError, match="images: base, leaf-a, leaf-b, mid, other"):
        graph.select(tree, ["keystone"], [])


def test_invalid_regex_is_a_config_error(tree: Catalog) -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        graph.select(tree, ["leaf-("], [])


def test_descendants_and_children(tree: Catalog) -> None:
    assert graph.descendants(tree.images, "mid") == ["leaf-a", "leaf-b"]
    assert graph.descendants(tree.images, "base") == ["mid", "leaf-a", "leaf-b", "other"]
    assert graph.children(tree.images)["base"] == ["mid", "other"]


def test_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "images", {"a": "b", "b": "a", "c": None})
    with pytest.raises(ConfigError, match=r"image parents form a cycle: (a -> b -> a|b -> a -> b)"):
        load_catalog(root)


def test_missing_parent_is_reported_with_the_file(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "images", {"a": None, "b": "ghost"})
    with pytest.raises(ConfigError, match=r"b/image.yaml: parent 'ghost' is not an image"):
        load_catalog(root)


def test_order_is_deterministic_and_respects_parents(tree: Catalog) -> None:
    names = graph.order(tree.images, ["leaf-b", "base", "other", "mid", "leaf-a"])
    assert names.index("base") < names.index("mid") < names.index("leaf-a")
    assert names == graph.order(tree.images, reversed(names))
