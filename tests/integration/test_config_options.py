"""Override files checked against the options the built images list (oslo-config-generator,
at build time): a misspelt section is refused by plan and deploy alike, with its file, line
and a "did you mean", before anything on the engine changes; what was meant plans. The
messages in detail: tests/unit/test_config_options.py."""

from __future__ import annotations

from tests.integration.conftest import NAMESPACE
from tests.integration.deployment import Cloud, managed


def test_a_misspelt_override_is_refused_before_anything_changes(cloud: Cloud) -> None:
    override = cloud.config_dir / "config" / "keystone.conf"
    override.parent.mkdir(exist_ok=True)
    override.write_text("[tokne]\nexpiration = 7200\n")
    refused = (
        f"error: {override}:1: keystone.conf has no section [tokne]; did you mean [token]?\n"
        "Overrides are checked against the options oslo-config-generator listed in the images "
        "when they were built; to merge options it does not know (a plugin's), set "
        f"config_override_check: no in {cloud.config_dir / 'globals.yml'}\n"
    )
    before = (managed(cloud.client), cloud.containers())
    try:
        for command in ("plan", "deploy"):
            result = cloud.run(command, check=False)
            assert (result.returncode, result.stdout, result.stderr) == (2, "", refused), command
        assert (managed(cloud.client), cloud.containers()) == before
        assert not (cloud.config_dir / "generated").exists()
        # What the operator meant plans (nothing is deployed in this module: all to create).
        override.write_text("[token]\nexpiration = 7200\n")
        assert "create keystone on localhost: not present" in cloud.run("plan").stdout
        # The opt-out merges what no list has.
        override.write_text("[tokne]\nexpiration = 7200\n")
        cloud.write_globals(
            docker_namespace=NAMESPACE, enable_openstack_core="no", config_override_check="no"
        )
        assert "create keystone on localhost: not present" in cloud.run("plan").stdout
    finally:
        cloud.write_globals(docker_namespace=NAMESPACE, enable_openstack_core="no")
        override.unlink()
    assert (managed(cloud.client), cloud.containers()) == before
