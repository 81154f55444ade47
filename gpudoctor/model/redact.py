"""Redaction of a report before it leaves the machine: identifiers and personal names go."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from gpudoctor.model.report import Report
from gpudoctor.model.serialize import from_dict, to_dict

_HOME = re.compile(
    r"(?P<pre>/home/|/Users/|[A-Za-z]:\\Users\\|/var/home/)(?P<user>[^/\\\s:;,'\"]+)"
)
_IDENTIFIER_KEYS = {"uuid", "serial"}
REDACTED = "<redacted>"


def _scrub(value: Any, hostname: str, counters: dict[str, int], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, hostname, counters, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, hostname, counters, key) for v in value]
    if isinstance(value, str):
        if key in _IDENTIFIER_KEYS and value:
            # Keep the kind of identifier (GPU- / MIG-) and a stable index, drop the identity.
            prefix = value.split("-", 1)[0] if value.startswith(("GPU-", "MIG-")) else key
            counters[prefix] = counters.get(prefix, -1) + 1
            return f"{prefix}-{REDACTED}-{counters[prefix]}"
        text = _HOME.sub(lambda m: f"{m.group('pre')}<user>", value)
        if hostname and len(hostname) > 1:
            text = text.replace(hostname, REDACTED)
        return text
    return value


def redact(report: Report) -> Report:
    """A copy of ``report`` without GPU UUIDs and serials, hostname, or user names in paths."""
    if report.redacted:
        return report
    data = _scrub(to_dict(report), report.host.hostname, {})
    data["redacted"] = True
    data["host"]["hostname"] = REDACTED
    return dataclasses.replace(from_dict(Report, data), redacted=True)
