"""docs/report-schema.json, generated from the model: `python -m gpudoctor.render.schema`."""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import itertools
import json
import sys
import textwrap
import types
import typing
from functools import cache
from typing import Any

from gpudoctor.model.findings import AREAS, Finding, Severity
from gpudoctor.model.report import CHECK_TOOL, SCHEMA_VERSION, Report

COMMAND = "python -m gpudoctor.render.schema > docs/report-schema.json"
SCHEMA_ID = "urn:gpudoctor:report-schema"
"""A name the project owns, not a web address: the schema ships as docs/report-schema.json."""
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string right under each field)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _type(tp: Any, defs: dict[str, Any], strict: bool) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        schema = _type(inner[0], defs, strict)
        if "type" in schema and isinstance(schema["type"], str):
            return {**schema, "type": [schema["type"], "null"]}
        return {"anyOf": [schema, {"type": "null"}]}
    if origin is tuple:
        args = typing.get_args(tp)
        items = {"type": "array", "items": _type(args[0], defs, strict)}
        if args[1:] == (Ellipsis,):
            return items
        # (node, node), (node, why): the reader takes exactly that many (model/convert.py)
        return {**items, "minItems": len(args), "maxItems": len(args)}
    if origin is dict:
        return {
            "type": "object",
            "additionalProperties": _type(typing.get_args(tp)[1], defs, strict),
        }
    if isinstance(tp, type) and issubclass(tp, Severity):
        return {"$ref": "#/$defs/Severity"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):  # pragma: no cover - none yet
        return {"enum": [m.value for m in tp]}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        _define(tp, defs, strict)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    msg = f"no JSON Schema for {tp!r}"
    raise TypeError(msg)


def _define(cls: type, defs: dict[str, Any], strict: bool) -> None:
    if cls.__name__ in defs:
        return
    defs[cls.__name__] = {}  # reserve the name first: nested types refer back to it
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    properties: dict[str, Any] = {}
    required = []
    for f in dataclasses.fields(cls):
        prop = _type(hints[f.name], defs, strict)
        if f.name in docs:
            prop["description"] = docs[f.name]
        properties[f.name] = prop
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    entry: dict[str, Any] = {
        "type": "object",
        "description": (cls.__doc__ or "").strip().splitlines()[0],
        "properties": properties,
        "required": required,
    }
    if strict:
        entry["additionalProperties"] = False
    defs[cls.__name__] = entry


def report_schema(*, strict: bool = False) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``gpudoctor check --format json``.

    ``strict`` forbids properties the model does not have; the published schema allows them,
    because newer releases may add fields without changing ``schema_version``.
    """
    defs: dict[str, Any] = {
        "Severity": {"enum": [s.label for s in Severity], "description": Severity.__doc__}
    }
    _define(Report, defs, strict)
    _define(Finding, defs, strict)
    finding = defs["Finding"]
    finding["properties"]["id"]["pattern"] = r"^GD-[A-Z]+-[0-9]{3}$"
    finding["properties"]["area"]["enum"] = list(AREAS)
    finding["properties"]["doc_url"] = {
        "type": "string",
        "description": "Where the finding is explained: `gpudoctor explain <ID>` (offline, from "
        "the installed package), or a URL when the build set a docs address.",
    }
    finding["required"] = [*finding["required"], "doc_url"]
    root = dict(defs.pop("Report"))
    root["properties"] = dict(root["properties"])
    root["properties"]["schema_version"] = {
        "const": SCHEMA_VERSION,
        "description": "The version of this JSON form; a reader refuses a newer one.",
    }
    root["properties"]["tool"] = {
        "const": CHECK_TOOL,
        "description": root["properties"]["tool"]["description"],
    }
    root["properties"]["verdict"] = {
        "$ref": "#/$defs/Severity",
        "description": "The worst severity among the findings.",
    }
    root["properties"]["areas"] = {
        "type": "object",
        "description": "Each area's status: the worst severity among its findings.",
        "properties": {area: {"$ref": "#/$defs/Severity"} for area in AREAS},
        "required": list(AREAS),
        "additionalProperties": False,
    }
    root["properties"]["findings"] = {
        "type": "array",
        "description": "Every finding, ordered by area, then severity (worst first), then ID.",
        "items": {"$ref": "#/$defs/Finding"},
    }
    root["properties"]["since_last_good"] = {
        "type": "object",
        "description": "With `check --since-last-good` when a finding is an error: what changed "
        "since the last good report in the history, as docs/diff-schema.json describes (or "
        "{error: why not}). Absent otherwise.",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "gpudoctor check report",
        "$comment": f"Generated from gpudoctor.model by `{COMMAND}`. Do not edit by hand.",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def render_schema() -> str:
    """The schema as the text of docs/report-schema.json."""
    return json.dumps(report_schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
