"""Plans as text and JSON (pure). Secret values are masked in both: a plan can show an
environment variable or a changed field without ever printing a password."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from stackyard.deploy.model import Action, Change, Plan

MASK = "********"
NO_CHANGES = "No changes: the deployment matches the configuration."


def masked(text: str, secrets: Iterable[str]) -> str:
    """text with every secret value replaced, longest first."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 72 else text[:69] + "..."


def _change(change: Change) -> str:
    return f"{change.field}: {_value(change.current)} -> {_value(change.desired)}"


def render_text(plan: Plan, secrets: Iterable[str] = ()) -> str:
    if plan.is_empty:
        return NO_CHANGES
    lines = []
    for wave in plan.waves:
        lines.append(f"{wave.service}:")
        for step in wave.steps:
            lines.append(f"  {step.action.value} {step.container} on {step.host}: {step.cause}")
            lines.extend(f"      {_change(c)}" for c in step.changes)
    counts = Counter(step.action for step in plan.steps)
    summary = ", ".join(f"{counts[a]} to {a.value}" for a in Action if counts[a])
    lines.append(f"Plan: {summary}.")
    return masked("\n".join(lines), secrets)


def to_dict(plan: Plan, secrets: Iterable[str] = ()) -> dict[str, Any]:
    secret_list = list(secrets)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return masked(value, secret_list)
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {
        "empty": plan.is_empty,
        "waves": [
            {
                "service": wave.service,
                "steps": [
                    {
                        "action": step.action.value,
                        "host": step.host,
                        "container": step.container,
                        "cause": clean(step.cause),
                        "changes": [
                            {
                                "field": c.field,
                                "current": clean(c.current),
                                "desired": clean(c.desired),
                            }
                            for c in step.changes
                        ],
                    }
                    for step in wave.steps
                ],
            }
            for wave in plan.waves
        ],
    }
