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


def _clean(value: Any, secrets: list[str]) -> Any:
    """value with every secret masked in every string it holds (before any quoting or
    shortening, which could otherwise print an escaped or partial secret)."""
    if isinstance(value, str):
        return masked(value, secrets)
    if isinstance(value, tuple):
        return tuple(_clean(v, secrets) for v in value)
    if isinstance(value, list):
        return [_clean(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v, secrets) for k, v in value.items()}
    return value


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 72 else text[:69] + "..."


def _change(change: Change, secrets: list[str]) -> str:
    current, desired = _clean(change.current, secrets), _clean(change.desired, secrets)
    return f"{change.field}: {_value(current)} -> {_value(desired)}"


def render_text(plan: Plan, secrets: Iterable[str] = ()) -> str:
    if plan.is_empty and not plan.skipped:
        return NO_CHANGES
    secret_list = list(secrets)
    lines = _limited(plan) if plan.is_empty else []
    for wave in plan.waves:
        lines.append(f"{wave.label}:")
        for step in wave.steps:
            lines.append(f"  {step.action.value} {step.container} on {step.host}: {step.cause}")
            lines.extend(f"      {_change(c, secret_list)}" for c in step.changes)
    if not plan.is_empty:
        counts = Counter(step.action for step in plan.steps)
        summary = ", ".join(f"{counts[a]} to {a.value}" for a in Action if counts[a])
        lines.append(f"Plan: {summary}.")
        lines += _limited(plan)
    return masked("\n".join(lines), secret_list)


def _limited(plan: Plan) -> list[str]:
    """What a run limited to some hosts leaves alone, so nobody takes it for done."""
    if not plan.skipped:
        return [f"No changes on {', '.join(plan.limit)}."] if plan.limit else []
    hosts = sorted({step.host for step in plan.skipped})
    lines = [f"Skipped by --limit {','.join(plan.limit)}: {len(plan.skipped)} steps on "
             f"{', '.join(hosts)}, for a run that includes them:"]  # fmt: skip
    lines += [f"  {s.action.value} {s.container} on {s.host}: {s.cause}" for s in plan.skipped]
    if plan.is_empty:
        lines.insert(0, f"No changes on {', '.join(plan.limit)}.")
    return lines


def to_dict(plan: Plan, secrets: Iterable[str] = ()) -> dict[str, Any]:
    secret_list = list(secrets)
    return {
        "empty": plan.is_empty,
        "limit": list(plan.limit),
        "skipped": [
            {
                "action": s.action.value,
                "host": s.host,
                "container": s.container,
                "cause": _clean(s.cause, secret_list),
            }
            for s in plan.skipped
        ],
        "waves": [
            {
                "service": wave.service,
                "after": list(wave.after),
                "batch": wave.batch,
                "batches": wave.batches,
                "steps": [
                    {
                        "action": step.action.value,
                        "host": step.host,
                        "container": step.container,
                        "cause": _clean(step.cause, secret_list),
                        "after": [list(pair) for pair in step.after],
                        "changes": [
                            {
                                "field": c.field,
                                "current": _clean(c.current, secret_list),
                                "desired": _clean(c.desired, secret_list),
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
