from __future__ import annotations

from pathlib import Path

import pytest

from stackyard.errors import TemplateError
from stackyard.images.catalog import default_root, load_catalog
from stackyard.images.model import Catalog
from stackyard.images.options import make_options
from stackyard.images.plan import plan_images
from stackyard.images.render import Renderer


def plan(catalog: Catalog, override: Path | None = None, **kwargs: object):
    options = make_options(catalog, template_override=override, **kwargs)
    names = ["base", "mid", "leaf-a", "leaf-b", "other"]
    return plan_images(
        catalog, options, names, "ns/debian:trixie", "rootkey", Renderer(catalog, override)
    )


def test_render_uses_parent_reference_and_tag(tree: Catalog) -> None:
    planned = plan(tree)
    assert planned["base"].dockerfile.startswith("FROM ns/debian:trixie\n")
    assert planned["mid"].dockerfile.startswith("FROM stackyard/base:2025.1-trixie\n")
    assert planned["leaf-a"].reference == "stackyard/leaf-a:2025.1-trixie"


def test_bookworm_tags_zed(tree: Catalog) -> None:
    assert plan(tree, suite="bookworm")["mid"].reference == "stackyard/mid:zed-bookworm"


def test_override_extends_a_block_of_one_image_only(tree: Catalog, tmp_path: Path) -> None:
    override = tmp_path / "override.j2"
    override.write_text("{% block leaf_a_packages %}{{ super() }} extra-pkg{% endblock %}\n")
    plain, changed = plan(tree), plan(tree, override)
    assert "RUN install leaf-a-pkg extra-pkg" in changed["leaf-a"].dockerfile
    assert changed["leaf-b"].dockerfile == plain["leaf-b"].dockerfile
    assert changed["leaf-a"].key != plain["leaf-a"].key
    assert changed["leaf-b"].key == plain["leaf-b"].key


def test_override_replaces_a_block(tree: Catalog, tmp_path: Path) -> None:
    override = tmp_path / "override.j2"
    override.write_text(
        "{% extends parent_template %}\n{% block mid_footer %}USER nobody{% endblock %}"
    )
    assert "USER nobody" in plan(tree, override)["mid"].dockerfile


def test_syntax_error_names_file_and_line(tree: Catalog) -> None:
    template = tree.images["leaf-a"].template
    template.write_text("FROM {{ parent_image }}\nRUN x\n{% if %}\n")
    planned = plan(tree)
    assert planned["leaf-a"].dockerfile is None
    assert planned["leaf-a"].error.startswith(f"{template}:3: ")
    assert planned["leaf-b"].error is None


def test_undefined_variable_names_file_and_line(tree: Catalog) -> None:
    template = tree.images["other"].template
    template.write_text("FROM {{ parent_image }}\n\nRUN {{ no_such_var }}\n")
    error = plan(tree)["other"].error
    assert error.startswith(f"{template}:3: ") and "no_such_var" in error


def test_override_syntax_error_names_the_override(tree: Catalog, tmp_path: Path) -> None:
    override = tmp_path / "override.j2"
    override.write_text("{% block mid_footer %}\n{% endif %}\n")
    renderer = Renderer(tree, override)
    options = make_options(tree, template_override=override)
    with pytest.raises(TemplateError, match=rf"{override}:2: "):
        renderer.render(tree.images["mid"], {"parent_image": "x", **vars_for(options)})


def vars_for(options) -> dict[str, object]:
    return {"tag": options.tag}


def test_cache_key_changes_only_downstream(tree: Catalog) -> None:
    before = plan(tree)
    (tree.images["mid"].folder / "extra-file").write_text("new content")
    after = plan(tree)
    changed = {n for n in before if before[n].key != after[n].key}
    assert changed == {"mid", "leaf-a", "leaf-b"}


def test_cache_key_is_stable_and_sees_options(tree: Catalog, tmp_path: Path) -> None:
    assert plan(tree)["base"].key == plan(tree)["base"].key
    assert plan(tree)["base"].key != plan(tree, squash=True)["base"].key
    assert plan(tree)["base"].key != plan(tree, mirror="http://mirror.example/debian")["base"].key
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert plan(tree)["base"].key != plan(tree, ca_bundle=bundle)["base"].key
    # where images go and how fast they build do not change what they contain
    assert plan(tree)["base"].key == plan(tree, workers=7, registry="r:5000", push=True)["base"].key


def test_executable_bit_changes_the_key(tree: Catalog) -> None:
    script = tree.images["other"].folder / "run.sh"
    script.write_text("#!/bin/sh\n")
    before = plan(tree)["other"].key
    script.chmod(0o755)
    assert plan(tree)["other"].key != before


def test_shipped_images_all_render() -> None:
    catalog = load_catalog(default_root())
    for suite in catalog.suites:
        options = make_options(catalog, suite=suite)
        planned = plan_images(
            catalog, options, list(catalog.images), options.root_reference, "k", Renderer(catalog)
        )
        for name, p in planned.items():
            assert p.error is None, p.error
            # a build stage may come first (cirros); the image itself is built on its parent,
            # which squashing and the image contract rely on
            stages = [line for line in p.dockerfile.splitlines() if line.startswith("FROM ")]
            assert p.dockerfile.startswith(f"FROM {p.parent_reference}"), name
            assert stages[-1] == f"FROM {p.parent_reference}", name
            assert "{{" not in p.dockerfile and "{%" not in p.dockerfile
            assert f'stackyard.image="{name}"' in p.dockerfile


def test_shipped_users_are_created_before_packages_and_images_run_as_them() -> None:
    catalog = load_catalog(default_root())
    options = make_options(catalog)
    planned = plan_images(
        catalog, options, list(catalog.images), options.root_reference, "k", Renderer(catalog)
    )
    base = planned["base"].dockerfile
    for user in catalog.users.values():
        assert f"useradd --system --uid {user.uid} --gid {user.gid} " in base
    for name, p in planned.items():
        spec = catalog.images[name]
        users_in_file = [
            line.split()[1] for line in p.dockerfile.splitlines() if line.startswith("USER ")
        ]
        if spec.user != "root":
            assert users_in_file and users_in_file[-1] == spec.user, name


def test_every_image_ends_with_the_contract_whatever_the_override(tmp_path: Path) -> None:
    """The last lines of every image give its user its config folders, strip setuid/setgid
    bits and set the user: no template or override can leave them out or come after them."""
    catalog = load_catalog(default_root())
    override = tmp_path / "override.j2"
    override.write_text(
        "{% block keystone_base_footer %}USER root\nRUN chmod u+s /bin/bash{% endblock %}"
    )
    for path in (None, override):
        options = make_options(catalog, template_override=path)
        planned = plan_images(
            catalog, options, list(catalog.images), options.root_reference, "k",
            Renderer(catalog, path),
        )  # fmt: skip
        for name, p in planned.items():
            spec = catalog.images[name]
            tail = p.dockerfile.split("# The image contract:")[-1]
            assert "! -path /usr/bin/sudo -exec chmod ug-s {} +" in tail, name
            assert tail.rstrip().endswith(f"USER {spec.user}"), name
            assert f"install -d -m 0700 -o {spec.user} -g {spec.user} /var/lib/kolla/run" in tail
            for folder in spec.config_paths:
                assert folder in tail, name
    assert catalog.images["haproxy"].config_paths == ("/etc/haproxy",)
