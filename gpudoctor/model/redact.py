"""Redaction of a report before it leaves the machine: identifiers and personal names go."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from gpudoctor.model.findings import AREAS, Diagnosis, Severity
from gpudoctor.model.report import Report
from gpudoctor.model.serialize import from_dict, to_dict

_HOME = re.compile(
    r"(?P<pre>/home/|/Users/|[A-Za-z]:[\\/]Users[\\/]|/var/home/)(?P<user>[^/\\\s:;,'\"]+)"
)
_SYSTEM_USERS = frozenset({"root", "admin", "user", "nobody"})
"""Names too common to be personal, and which would mangle ordinary paths like /root."""
# GPU and MIG UUIDs wherever they appear: fields, CUDA_VISIBLE_DEVICES, evidence text.
_UUID = re.compile(r"\b(?P<kind>GPU|MIG)-[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
REDACTED = "<redacted>"


class _Scrubber:
    """Replaces identities with stable tokens: one identity, one token, across the report."""

    def __init__(self, hostname: str, user_names: Iterable[str]) -> None:
        # Whole words only: a host called "vm" must not turn "nvmlInit" into "n<redacted>lInit".
        self.hostname = (
            re.compile(rf"(?<![\w-]){re.escape(hostname)}(?![\w-])") if hostname else None
        )
        # A user name anywhere as a path component: /scratch/jdoe/cuda, D:\jdoe\envs.
        names = sorted({n for n in user_names if len(n) > 1 and n not in _SYSTEM_USERS})
        self.users = (
            re.compile(r"(?<=[/\\])(?:" + "|".join(map(re.escape, names)) + r")(?=[/\\:;,\s'\"]|$)")
            if names
            else None
        )
        self.tokens: dict[str, str] = {}

    def token(self, identity: str, kind: str) -> str:
        if identity not in self.tokens:
            n = sum(1 for t in self.tokens.values() if t.startswith(f"{kind}-"))
            self.tokens[identity] = f"{kind}-{REDACTED}-{n}"
        return self.tokens[identity]

    def text(self, value: str) -> str:
        value = _UUID.sub(lambda m: self.token(m.group(0), m.group("kind")), value)
        value = _HOME.sub(lambda m: f"{m.group('pre')}<user>", value)
        if self.users is not None:
            value = self.users.sub("<user>", value)
        if self.hostname is not None:
            value = self.hostname.sub(REDACTED, value)
        return value

    def walk(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, key) for v in value]
        if isinstance(value, str):
            if key == "serial" and value:
                return self.token(value, "serial")
            if key == "uuid" and value and not _UUID.fullmatch(value):
                kind = value[:3] if value.startswith(("GPU-", "MIG-")) else "uuid"
                return self.token(value, kind)
            if key == "fix":
                # a command names a UUID as a word to replace, as the fix of the redacted
                # report does: MIG-<redacted>-0 pasted is a redirection
                value = _UUID.sub(lambda m: f"{m.group('kind')}-UUID", value)
            return self.text(value)
        return value


def redact(report: Report, *, user_names: Iterable[str] = ()) -> Report:
    """A copy of ``report`` without GPU UUIDs and serials, hostname, or user names in paths.

    Home folders (``/home/NAME``, ``/Users/NAME``, ``C:\\Users\\NAME``) are always caught;
    ``user_names`` (the CLI passes the current user's) are also caught anywhere in a path.
    """
    if report.redacted:
        return report
    data = _Scrubber(report.host.hostname, user_names).walk(to_dict(report))
    data["host"]["hostname"] = REDACTED
    return dataclasses.replace(from_dict(Report, data), redacted=True)


def redact_document(
    data: dict[str, Any], *, hostname: str, user_names: Iterable[str] = ()
) -> dict[str, Any]:
    """A copy of any JSON document gpudoctor wrote (a verify result) scrubbed as :func:`redact`
    scrubs a report: GPU UUIDs and serials, ``hostname`` and user names in paths."""
    scrubbed: dict[str, Any] = _Scrubber(hostname, user_names).walk(data)
    return scrubbed


def redacted_document(
    report: Report, diagnosis: Diagnosis, *, user_names: Iterable[str] = ()
) -> dict[str, Any]:
    """The JSON document ``check --format json`` writes of ``report`` and its findings, redacted
    as :func:`redact` would, findings' titles, evidence and fixes included.

    One walk over plain data: what history keeps for every check without the cost of
    rebuilding the report and diagnosing it again (tests/model/test_redact.py holds it equal
    to that).
    """
    doc: dict[str, Any] = to_dict(report)
    doc["verdict"] = diagnosis.worst.label
    doc["areas"] = {
        area: max((f.severity for f in diagnosis.in_area(area)), default=Severity.OK).label
        for area in AREAS
    }
    doc["findings"] = [dict(to_dict(f), doc_url=f.doc_url) for f in diagnosis.findings]
    if report.redacted:
        return doc
    scrubbed: dict[str, Any] = _Scrubber(report.host.hostname, user_names).walk(doc)
    scrubbed["host"]["hostname"] = REDACTED
    scrubbed["redacted"] = True
    return scrubbed
