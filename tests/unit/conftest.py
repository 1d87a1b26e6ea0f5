"""Fixtures for pure tests: small image catalogs written to tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.model import Catalog

TEMPLATE = """FROM {{{{ parent_image }}}}
{{% block {block}_header %}}{{% endblock %}}
RUN install {{% block {block}_packages %}}{packages}{{% endblock %}}
{{% block {block}_footer %}}{{% endblock %}}
"""


def write_catalog(root: Path, images: dict[str, str | None], **extra: object) -> Path:
    """A catalog of images {name: parent} with minimal templates and data files."""
    for name, parent in images.items():
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "image.yaml").write_text(yaml.safe_dump({"parent": parent, "user": "root"}))
        block = name.replace("-", "_")
        (folder / "Dockerfile.j2").write_text(TEMPLATE.format(block=block, packages=f"{name}-pkg"))
    (root / "users.yaml").write_text(
        yaml.safe_dump(extra.get("users", {"kolla": {"uid": 42400, "gid": 42400}}))
    )
    (root / "profiles.yaml").write_text(yaml.safe_dump(extra.get("profiles", {})))
    shutil.copy(default_root() / "finish.j2", root / "finish.j2")
    (root / "distros.yaml").write_text(
        yaml.safe_dump(
            {
                "default": "trixie",
                "suites": {
                    "trixie": {"openstack_release": "2025.1"},
                    "bookworm": {"openstack_release": "zed"},
                },
            }
        )
    )
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Catalog:
    """base -> {mid -> {leaf-a, leaf-b}, other}."""
    root = write_catalog(
        tmp_path / "images",
        {"base": None, "mid": "base", "leaf-a": "mid", "leaf-b": "mid", "other": "base"},
        profiles={"leaves": ["leaf-a", "leaf-b"]},
    )
    return load_catalog(root)
