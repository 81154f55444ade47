"""The health gate's one line, and its JSON (docs/health-schema.json); they only format."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gpudoctor import __version__
from gpudoctor.model.health import HEALTH_SCHEMA_VERSION, HealthResult
from gpudoctor.model.inert import inert


def render_text(result: HealthResult) -> str:
    """``gpudoctor health: ok``, or the first error (and how many more) on one line."""
    if result.healthy:
        return "gpudoctor health: ok\n"
    first = result.errors[0]
    more = f" (+{len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
    return f"gpudoctor health: error: {first.id} {inert(first.title, one_line=True)}{more}\n"


def health_to_dict(result: HealthResult) -> dict[str, Any]:
    """The JSON document, in the order docs/fleet.md lists its keys."""
    return {
        # what wrote it and when, as every other gpudoctor document says: a log the gate
        # appends to every few minutes had no time on its lines
        "schema_version": HEALTH_SCHEMA_VERSION,
        "tool": "gpudoctor health",
        "gpudoctor_version": __version__,
        "created_at": result.created_at,
        "healthy": result.healthy,
        "errors": [{"id": f.id, "title": f.title, "area": f.area} for f in result.errors],
        "action": result.action,
        "drain_reason": result.drain_reason,
        "node": result.node,
        "slurm": result.slurm,
        "message": result.message,
    }


def render_json(result: HealthResult) -> str:
    """The document as indented JSON, non-ASCII as ``\\u`` escapes (as the gate always wrote it).

    The one document whose keys are not sorted: docs/fleet.md gives its keys in this order,
    what wrote it and when first, then the verdict (its "first four", "the four after it"),
    and a log of gate documents reads them so."""
    return json.dumps(health_to_dict(result), indent=2) + "\n"


RENDERERS: dict[str, Callable[[HealthResult], str]] = {"text": render_text, "json": render_json}
"""The gate's formats: `check --health-check --format`."""
