"""Build results as text and JSON (pure)."""

from __future__ import annotations

from typing import Any

from stackyard.images.model import BuildReport, BuildStatus, ImageResult


def to_dict(report: BuildReport) -> dict[str, Any]:
    images = [_result(r) for r in report.results]
    return {
        "ok": report.ok,
        "seconds": round(report.seconds, 2),
        "root": _result(report.root) if report.root else None,
        "images": images,
        "summary": {s.value: report.by_status(s) for s in BuildStatus},
    }


def _result(r: ImageResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "status": r.status.value,
        "reference": r.reference,
        "image_id": r.image_id,
        "cache_key": r.cache_key,
        "seconds": round(r.seconds, 2),
        "error": r.error,
        "log": str(r.log) if r.log else None,
        "pushed": r.pushed,
    }


def render_text(report: BuildReport) -> str:
    lines = []
    for r in report.results:
        line = f"{r.status.value:<14}{r.reference:<52}{r.seconds:7.1f} s"
        if r.pushed:
            line += f"  pushed {r.pushed}"
        lines.append(line)
        if r.error:
            lines.extend(f"    {e}" for e in r.error.splitlines())
            if r.log and r.status is BuildStatus.FAILED:
                lines.append(f"    full log: {r.log}")
    counts = ", ".join(
        f"{len(report.by_status(s))} {s.value}" for s in BuildStatus if report.by_status(s)
    )
    lines.append(f"{len(report.results)} images in {report.seconds:.1f} s: {counts}")
    return "\n".join(lines)
