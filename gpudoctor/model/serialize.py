"""The JSON form of the model: dataclasses to plain dicts and back, checked on the way in."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.report import SCHEMA_VERSION, Report

T = TypeVar("T")


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


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ReportFormatError(f"{where}: must not be null")
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if value is None:
        raise ReportFormatError(f"{where}: must not be null")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, where)
    if tp is Severity:
        try:
            return Severity.parse(str(value))
        except ValueError as exc:
            raise ReportFormatError(f"{where}: {exc}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise ReportFormatError(f"{where}: expected a list")
        (item, _) = typing.get_args(tp)
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ReportFormatError(f"{where}: expected an object")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ReportFormatError(f"{where}: expected a number")
        return float(value)
    if tp in (int, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ReportFormatError(f"{where}: expected {tp.__name__}")
        return value
    raise ReportFormatError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


def from_dict(cls: type[T], data: Any, where: str = "$") -> T:
    """Rebuild a model object from its JSON form; unknown keys are ignored (newer minor fields)."""
    if not isinstance(data, dict):
        raise ReportFormatError(f"{where}: expected an object")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ReportFormatError(f"{where}: missing field {f.name!r}")
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
    return cls(**kwargs)


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
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def report_from_json(text: str) -> Report:
    """Parse a saved report, refusing corrupt files and newer schemas with a one-line reason."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFormatError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ReportFormatError("not a gpudoctor report (expected a JSON object)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportFormatError("not a gpudoctor report (no integer schema_version)")
    if version > SCHEMA_VERSION:
        raise ReportFormatError(
            f"report uses schema version {version}, this gpudoctor reads up to "
            f"{SCHEMA_VERSION}: upgrade gpudoctor (pip install -U gpudoctor)"
        )
    return from_dict(Report, data)


def load_report(path: Path) -> Report:
    """Read and parse a report file; missing or unreadable files are bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFormatError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFormatError(f"{path}: cannot read ({exc})") from None
    try:
        return report_from_json(text)
    except ReportFormatError as exc:
        raise ReportFormatError(f"{path}: {exc}") from None


def findings_from_json(items: list[Any]) -> tuple[Finding, ...]:
    """Rebuild findings saved in a JSON report."""
    return tuple(from_dict(Finding, item, f"$.findings[{i}]") for i, item in enumerate(items))
