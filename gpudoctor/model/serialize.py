"""The JSON form of the model: dataclasses to plain dicts and back, checked on the way in."""

from __future__ import annotations

import codecs
import dataclasses
import enum
import json
import math
import re
from typing import Any

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.convert import MAX_REPORT_ENTRIES, SIGNED, from_dict
from gpudoctor.model.convert import short as _short
from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.report import CHECK_TOOL, SCHEMA_VERSION, Report

__all__ = [
    "MAX_REPORT_BYTES",
    "MAX_REPORT_ENTRIES",
    "SIGNED",
    "WRITE_ONE",
    "dumps_json",
    "findings_from_json",
    "finite_json",
    "from_dict",
    "report_from_bytes",
    "report_from_data",
    "report_from_json",
    "report_to_json",
    "to_dict",
]


def to_dict(obj: Any) -> Any:
    """A JSON-ready form of a model object (dataclasses, tuples, dicts, enums)."""
    if isinstance(obj, Severity):
        return obj.label
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


MAX_REPORT_BYTES = 16 * 1024 * 1024
"""The largest report file read (a real one is tens of kilobytes; a 10 MB field still fits)."""


def report_to_json(report: Report, diagnosis: Diagnosis | None = None) -> str:
    """The versioned JSON document: the report's facts, and the findings when given."""
    doc = to_dict(report)
    if diagnosis is not None:
        doc["verdict"] = diagnosis.worst.label
        doc["areas"] = {
            area: max((f.severity for f in diagnosis.in_area(area)), default=Severity.OK).label
            for area in AREAS
        }
        doc["findings"] = [dict(to_dict(f), doc_url=f.doc_url) for f in diagnosis.findings]
    return dumps_json(doc)


def finite_json(value: Any) -> Any:
    """``value`` with every NaN and infinity as None: JSON has no such numbers, so null it is.

    A probe may measure NaN (a GPU that computes garbage); ``NaN`` in the output would make
    the whole document unreadable to strict parsers (jq, JavaScript, Go).
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def dumps_json(doc: Any) -> str:
    """Standard JSON (never ``NaN`` or ``Infinity``): indented, keys sorted, a final newline."""
    return json.dumps(finite_json(doc), indent=2, sort_keys=True, allow_nan=False) + "\n"


WRITE_ONE = "write one with `gpudoctor check --format json -o FILE`"
"""How to make the file ``--from-report`` reads, for messages about files that are not one."""


class _NotAReport(ReportFormatError):
    """The input is something else gpudoctor (or another tool) wrote: a one-line predicate."""

    def __init__(self, predicate: str) -> None:
        super().__init__(f"the input {predicate}")
        self.predicate = predicate


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_VERIFY_TEXT_VERDICT = re.compile(r"^verdict: (PASS|WARN|FAIL)\s*$", re.MULTILINE)
_REPORT_SECTIONS = ("gpudoctor_version", "created_at", "host", "driver", "nvml", "cuda")


def _what_text_is(text: str) -> str | None:
    """What a file that is not JSON looks like, when gpudoctor wrote it; None when unknown."""
    head = _ANSI.sub("", text).lstrip()
    if not head:
        return f"is empty, not a gpudoctor check report ({WRITE_ONE})"
    if head.startswith("gpudoctor check"):
        return "looks like text output of gpudoctor check; save reports with --format json"
    if head.startswith("## gpudoctor check"):
        return "looks like Markdown output of gpudoctor check; save reports with --format json"
    if head.startswith("## gpudoctor verify") or _VERIFY_TEXT_VERDICT.search(head):
        return f"looks like the output of gpudoctor verify, not a check report ({WRITE_ONE})"
    if head.startswith("# gpudoctor make-env:"):  # every form's first line
        return f"is an environment file gpudoctor make-env wrote, not a check report ({WRITE_ONE})"
    body = "\n".join(ln for ln in head.splitlines() if not ln.lstrip().startswith("#"))
    if body.lstrip().startswith("name:") and "\ndependencies:" in body:
        return f"looks like a conda environment file, not a check report ({WRITE_ONE})"
    return None


OTHER_DOCUMENTS = {
    "gpudoctor diff": "the output of gpudoctor diff",
    "gpudoctor history": "the output of gpudoctor history",
    "gpudoctor health": "the health gate's result (check --health-check)",
    "gpudoctor fleet report": "a gpudoctor fleet report",
    "gpudoctor fleet run": "fleet run's manifest (fleet-run.json)",
    "gpudoctor fleet pairs": "the output of gpudoctor fleet pairs",
    "gpudoctor onboard": "onboard's finished mark (gpudoctor-onboard.json)",
    "gpudoctor make-env": "a gpudoctor make-env plan",
    "gpudoctor models": "the output of gpudoctor models",
}
"""The ``tool`` of every other document gpudoctor writes, and what to call it when it is
given where a check report is read."""


def _what_json_is(data: Any) -> str | None:
    """What a JSON document that is not a check report is, in words; None when it may be one."""
    if isinstance(data, list):
        return f"is a JSON list, not a gpudoctor check report (expected a JSON object; {WRITE_ONE})"
    if not isinstance(data, dict):
        kind = "a JSON " + ("string" if isinstance(data, str) else "value")
        return f"is {kind}, not a gpudoctor check report (expected a JSON object; {WRITE_ONE})"
    if data.get("tool") == "gpudoctor verify" or (
        "runs" in data and "settings" in data and "host" not in data
    ):
        return f"is a gpudoctor verify result, not a check report ({WRITE_ONE})"
    if {"channels", "conda", "pip", "target"} <= data.keys() and "host" not in data:
        return f"is a gpudoctor make-env plan, not a check report ({WRITE_ONE})"
    tool = data.get("tool")
    other = OTHER_DOCUMENTS.get(tool) if isinstance(tool, str) else None
    if other is not None:
        # a diff or a fleet report has schema_version 2: 'update this one' was no advice
        return f"is {other}, not a check report ({WRITE_ONE})"
    if "tool" in data and tool != CHECK_TOOL:
        # a check report names itself (since 2026-12-08) or nothing (before)
        return f"was written by {_short(tool)}, not gpudoctor check ({WRITE_ONE})"
    if "schema_version" not in data:
        return f"is not a gpudoctor check report: it has no schema_version ({WRITE_ONE})"
    return None


def _check_version(version: Any) -> None:
    """The report's schema version, refusing anything but an integer from 1 to ours."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ReportFormatError(
            f"not a valid gpudoctor report: schema_version is {_short(version)}, "
            "not a positive integer"
        )
    if version > SCHEMA_VERSION:
        raise ReportFormatError(
            f"report uses schema version {_short(version)}, this gpudoctor reads up to "
            f"{SCHEMA_VERSION}: use the gpudoctor that wrote it, or update this one"
        )


def report_from_json(text: str) -> Report:
    """Parse a saved report, refusing corrupt files, other documents and newer schemas.

    Every refusal is a :class:`ReportFormatError` with a one-line reason; a file that another
    gpudoctor command wrote (verify's JSON, check's text or Markdown, a make-env plan) is
    named as such.
    """
    try:
        return _report_from_json(text)
    except RecursionError:
        raise ReportFormatError("not a valid gpudoctor report: nested too deeply") from None


def _not_a_number(name: str) -> Any:
    raise ReportFormatError(f"not valid JSON ({name} is not a JSON number)")


def _report_from_json(text: str) -> Report:
    try:
        data = json.loads(text, parse_constant=_not_a_number)
    except json.JSONDecodeError as exc:
        predicate = _what_text_is(text)
        if predicate is not None:
            raise _NotAReport(predicate) from None
        # json's "Unterminated string starting at" ends with its own "at" (a file cut short)
        at = "" if exc.msg.endswith(" at") else " at"
        raise ReportFormatError(f"not valid JSON ({exc.msg}{at} line {exc.lineno})") from None
    except ValueError as exc:  # an integer longer than Python converts (sys.int_info)
        raise ReportFormatError(f"not a valid gpudoctor report: {exc}".split(";")[0]) from None
    return _report_from_data(data)


def kept_document(data: Any) -> Any:
    """What a file of gpudoctor's history holds (a check report or a verify result), for a
    history entry copied out of its folder and named as a file; any other data unchanged."""
    if (
        isinstance(data, dict)
        and data.get("tool") == "gpudoctor history"
        and isinstance(data.get("document"), dict)
    ):
        return data["document"]
    return data


def _report_from_data(data: Any) -> Report:
    data = kept_document(data)
    predicate = _what_json_is(data)
    if predicate is not None:
        raise _NotAReport(predicate)
    _check_version(data["schema_version"])
    if not any(key in data for key in _REPORT_SECTIONS):
        raise _NotAReport(
            "is not a gpudoctor check report: it has a schema_version but none of "
            f"{', '.join(_REPORT_SECTIONS)} ({WRITE_ONE})"
        )
    return from_dict(Report, data, check_numbers=True)


def _decode(raw: bytes) -> str:
    """The file's text: UTF-8, with or without a byte-order mark, or UTF-16 with one.

    Windows PowerShell 5 writes ``>`` redirections as UTF-16; Notepad may add a UTF-8 BOM.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def report_from_bytes(data: bytes, name: str) -> Report:
    """Parse a report read from somewhere (a file, standard input) called ``name`` in errors."""
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        raise ReportFormatError(f"{name}: cannot read ({exc})") from None
    try:
        return report_from_json(text)
    except _NotAReport as exc:
        raise ReportFormatError(f"{name} {exc.predicate}") from None
    except ReportFormatError as exc:
        raise ReportFormatError(f"{name}: {exc}") from None


def report_from_data(data: Any, name: str) -> Report:
    """A report from JSON a reader has already parsed (to see what the file is), called
    ``name`` in errors: the same checks as :func:`report_from_bytes`, without parsing twice."""
    try:
        return _report_from_data(data)
    except RecursionError:
        raise ReportFormatError(
            f"{name}: not a valid gpudoctor report: nested too deeply"
        ) from None
    except _NotAReport as exc:
        raise ReportFormatError(f"{name} {exc.predicate}") from None
    except ReportFormatError as exc:
        raise ReportFormatError(f"{name}: {exc}") from None


def findings_from_json(items: list[Any]) -> tuple[Finding, ...]:
    """Rebuild findings saved in a JSON report."""
    return tuple(from_dict(Finding, item, f"$.findings[{i}]") for i, item in enumerate(items))
