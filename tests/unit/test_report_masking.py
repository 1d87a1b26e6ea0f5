"""Secrets never printed by a plan, text or JSON: every place a value can show (an environment
variable, a command line, a config digest, a job's cause, a label), a secret inside a longer
value whose name says nothing of secrets, a secret with quotes and backslashes (which quoting
would escape), and a secret that a shortened value would cut in half."""

from __future__ import annotations

import json

import pytest

from stackyard.deploy.model import Action, Change, Plan, Step, Wave
from stackyard.deploy.report import MASK, render_text, to_dict

PLAIN = "s3cr3t-Plain-Value-123"
QUOTED = 'Adm\'n "$USER" \\%s @/:#!*{}'
SECRETS = [PLAIN, QUOTED]


def one_step(*changes: Change, cause: str = "changed") -> Plan:
    step = Step(Action.RECREATE, "node1", "keystone", cause, changes)
    return Plan((Wave("keystone", (step,)),))


PLACES = {
    "environment": Change("environment.DB_PASSWORD", "old", PLAIN),
    "environment mapping": Change("environment", {"A": "1"}, {"A": "1", "B": QUOTED}),
    "command": Change(
        "command", ("keystone", "--password", "x"), ("keystone", "--password", QUOTED)
    ),
    "undeclared variable": Change(
        "environment.DATABASE_URL", "", f"mysql+pymysql://keystone:{PLAIN}@db:3306/keystone"
    ),
    "label": Change("labels.note", None, f"made with {QUOTED}"),
    # A long value: the text shortens it at 72 characters, in the middle of the secret.
    "shortened": Change("command", "", "x" * 60 + PLAIN),
    "config digest": Change("config_digest", "0" * 64, PLAIN),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_text_and_json_mask_every_secret(place: str) -> None:
    plan = one_step(PLACES[place])
    text = render_text(plan, SECRETS)
    document = json.dumps(to_dict(plan, SECRETS))
    for secret in SECRETS:
        for shown in (secret, repr(secret)[1:-1], secret[:8], secret[-8:]):
            assert shown not in text, (place, text)
            assert shown not in document, (place, document)
    assert MASK in text and MASK in document


def test_a_job_cause_with_a_secret_is_masked() -> None:
    plan = one_step(cause=f"arguments changed: --admin-password {QUOTED}")
    assert QUOTED not in render_text(plan, SECRETS)
    assert render_text(plan, SECRETS).splitlines()[1].endswith(f"--admin-password {MASK}")
    assert QUOTED not in json.dumps(to_dict(plan, SECRETS))


def test_values_keep_their_shape_around_the_mask() -> None:
    plan = one_step(PLACES["command"], PLACES["undeclared variable"])
    lines = render_text(plan, SECRETS).splitlines()
    assert lines[2] == (
        f"      command: ('keystone', '--password', 'x') -> ('keystone', '--password', '{MASK}')"
    )
    assert lines[3] == (
        f"      environment.DATABASE_URL: '' -> 'mysql+pymysql://keystone:{MASK}@db:3306/keystone'"
    )
