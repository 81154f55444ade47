"""The converters built once per type refuse and accept exactly what a walk of the type does.

The oracle is the reader they replaced (kept here as it was): it looked at the type of every
field of every value. Each value of a recorded report is replaced in turn by values of every
kind (null, wrong types, negative, too large, NaN, lists, objects) or removed, and both
readers must give the same report or the same one-line message.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.errors import ReportFormatError
from gpudoctor.model import convert
from gpudoctor.model.convert import MAX_REPORT_ENTRIES, SIGNED, from_dict
from gpudoctor.model.findings import Finding, Severity
from gpudoctor.model.report import Report

DATA = Path(__file__).resolve().parents[1] / "data"
H200 = DATA / "reports" / "linux-x86_64__nvidia-h200__590.48.01__load.json"
SITE = DATA / "expected" / "site__module_shadowing.json"
JOB = DATA / "expected" / "site__job_without_gres.json"

# --- the oracle: the reader as it was before 2026-12-07 -------------------------------------

_UINT_LIMIT = 1 << 64


class _Checks:
    def __init__(self, numbers: bool, entries_left: int | None) -> None:
        self.numbers = numbers
        self.entries_left = entries_left

    def entries(self, n: int, where: str) -> None:
        if self.entries_left is None:
            return
        self.entries_left -= n
        if self.entries_left < 0:
            raise ReportFormatError(
                f"{where}: the report holds more than {MAX_REPORT_ENTRIES:,} list entries, "
                "more than any machine has"
            )


def _short(value: Any) -> str:
    shown = json.dumps(value) if not isinstance(value, int) else str(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _number(value: int | float, where: str, *, signed: bool) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ReportFormatError(f"{where}: must be a finite number, not {value}")
    if value < 0 and not signed:
        raise ReportFormatError(f"{where}: must not be negative (got {_short(value)})")
    if isinstance(value, int) and not -_UINT_LIMIT < value < _UINT_LIMIT:
        raise ReportFormatError(f"{where}: {_short(value)} is out of range")


def _convert(tp: Any, value: Any, where: str, checks: _Checks, *, signed: bool = False) -> Any:
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
        return _convert(inner[0], value, where, checks, signed=signed)
    if value is None:
        raise ReportFormatError(f"{where}: must not be null")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _from_dict(tp, value, where, checks)
    if tp is Severity:
        try:
            return Severity.parse(str(value))
        except ValueError as exc:
            raise ReportFormatError(f"{where}: {exc}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise ReportFormatError(f"{where}: expected a list")
        (item, _) = typing.get_args(tp)
        checks.entries(len(value), where)
        return tuple(
            _convert(item, v, f"{where}[{i}]", checks, signed=signed) for i, v in enumerate(value)
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise ReportFormatError(f"{where}: expected an object")
        _, vt = typing.get_args(tp)
        checks.entries(len(value), where)
        return {
            str(k): _convert(vt, v, f"{where}.{k}", checks, signed=signed) for k, v in value.items()
        }
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ReportFormatError(f"{where}: expected a number")
        if checks.numbers:
            _number(value, where, signed=signed)
        return float(value)
    if tp in (int, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ReportFormatError(f"{where}: expected {tp.__name__}")
        if tp is int and checks.numbers:
            _number(value, where, signed=signed)
        return value
    raise AssertionError(tp)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_dict(cls: type, data: Any, where: str, checks: _Checks) -> Any:
    if not isinstance(data, dict):
        raise ReportFormatError(f"{where}: expected an object")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ReportFormatError(f"{where}: missing field {f.name!r}")
            continue
        kwargs[f.name] = _convert(
            hints[f.name],
            data[f.name],
            f"{where}.{f.name}",
            checks,
            signed=bool(f.metadata.get(SIGNED, False)),
        )
    return cls(**kwargs)


def reference(cls: type, data: Any, *, check_numbers: bool) -> Any:
    limit = MAX_REPORT_ENTRIES if check_numbers else None
    return _from_dict(cls, data, "$", _Checks(check_numbers, limit))


# --- the comparison ---------------------------------------------------------------------------


def outcome(read: Any) -> tuple[str, Any]:
    try:
        return "ok", read()
    except ReportFormatError as exc:
        return "refused", str(exc)


def same(cls: type, doc: Any, *, check_numbers: bool = True) -> tuple[str, Any]:
    ours = outcome(lambda: from_dict(cls, doc, check_numbers=check_numbers))
    theirs = outcome(lambda: reference(cls, doc, check_numbers=check_numbers))
    assert ours == theirs
    return ours


REPLACEMENTS: list[Any] = [
    None,
    "text",
    -1,
    7,
    2.5,
    -0.5,
    True,
    1 << 64,
    -(1 << 70),
    math.nan,
    math.inf,
    [],
    [1, "a", None],
    {},
    {"k": 1},
]


def places(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in ``doc``, depth first."""
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for key, value in list(items):
        found.append((doc, key))
        if isinstance(value, (dict, list)):
            found += places(value)
    return found


@pytest.fixture(autouse=True, params=["loop", "compiled"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with every dataclass read by the loop over its fields, and by the
    function written for it (which a type gets once it has read COMPILE_AFTER values)."""
    monkeypatch.setattr(convert, "_CONVERTERS", {})
    monkeypatch.setattr(convert, "COMPILE_AFTER", 10**9 if request.param == "loop" else 0)
    return str(request.param)


@pytest.fixture(scope="module")
def doc() -> Any:
    """The recorded H200 report, with a site (modules, storage, a SLURM job) and NVSwitches."""
    doc = json.loads(H200.read_text())
    doc["site"] = json.loads(SITE.read_text())["site"]
    doc["site"]["slurm_job"] = json.loads(JOB.read_text())["site"]["slurm_job"]
    doc["site"]["slurm_job"]["gpu_variables"] = {"SLURM_GPUS_ON_NODE": "1"}
    doc["driver"]["fabric_manager"] = {"how": "systemctl", "running": True, "version": "1"}
    return doc


def test_the_oracle_reads_the_recorded_report(doc: Any) -> None:
    kind, report = same(Report, doc)
    assert kind == "ok" and report.nvml.gpus[0].name == "NVIDIA H200"


def test_every_value_replaced_by_every_kind_gives_the_same_outcome(doc: Any) -> None:
    kinds = {"ok": 0, "refused": 0}
    spots = places(doc)
    assert len(spots) > 300
    for i, (container, key) in enumerate(spots):
        kept = container[key]
        # Three kinds of value per place, rotating: every place meets every kind across runs
        # of neighbouring places, and the test stays quick.
        for value in (REPLACEMENTS[(i + j) % len(REPLACEMENTS)] for j in range(0, 15, 5)):
            container[key] = value
            kinds[same(Report, doc)[0]] += 1
        container[key] = kept
    assert kinds["refused"] > 500 and kinds["ok"] > 50, kinds


def test_every_field_removed_gives_the_same_outcome(doc: Any) -> None:
    refused = 0
    for container, key in places(doc):
        if not isinstance(container, dict):
            continue
        kept = container.pop(key)
        refused += same(Report, doc)[0] == "refused"
        container[key] = kept
    assert refused > 0  # required fields are missed


def test_probe_data_is_taken_as_measured_alike(doc: Any) -> None:
    gpu = doc["nvml"]["gpus"][0]
    for value in (math.nan, -3.0, 1 << 70, "x", None):
        gpu["power_draw_w"] = value
        same(Report, doc, check_numbers=False)
    gpu["power_draw_w"] = 627.4


@pytest.mark.parametrize("where", ["dev_nodes", "pci_functions", "env"])
def test_the_entry_limit_trips_at_the_same_place(doc: Any, where: str) -> None:
    many: Any
    if where == "env":
        many = {f"V{i}": "1" for i in range(MAX_REPORT_ENTRIES + 1)}
        doc["host"]["env"], kept = many, doc["host"]["env"]
    else:
        item = doc["driver"][where][0]
        many = [item] * (MAX_REPORT_ENTRIES - 5)
        doc["driver"][where], kept = many, doc["driver"][where]
    kind, message = same(Report, doc)
    assert kind == "refused" and "list entries" in message
    if where == "env":
        doc["host"]["env"] = kept
    else:
        doc["driver"][where] = kept


def test_saved_findings_alike() -> None:
    findings = json.loads(SITE.read_text())["findings"]
    assert findings
    for finding in findings:
        assert same(Finding, finding, check_numbers=False)[0] == "ok"


def test_findings_and_severities_alike() -> None:
    good = {"id": "GD-X-001", "severity": "warning", "area": "gpu", "title": "t"}
    for severity in ("warning", "bogus", 3, None):
        same(Finding, dict(good, severity=severity), check_numbers=False)
    for top in (None, [], "x"):
        assert same(Finding, top) == ("refused", "$: expected an object")


@dataclasses.dataclass(frozen=True)
class _Checked:
    name: str
    size: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.upper())


@dataclasses.dataclass(frozen=True)
class _Hand:
    name: str

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", f"<{name}>")


def test_an_init_that_does_more_than_set_fields_is_called(mode: str) -> None:
    for _ in range(3):  # past COMPILE_AFTER when compiled
        assert from_dict(_Checked, {"name": "gpu"}) == _Checked(name="gpu")
        assert from_dict(_Checked, {"name": "gpu"}).name == "GPU"
        assert from_dict(_Hand, {"name": "gpu"}).name == "<gpu>"


def test_threads_reading_at_once_each_get_the_report(doc: Any, mode: str) -> None:
    """check's probe threads read their parts at once, while the converters are being built
    (a half-built one seen by another thread would loop until RecursionError)."""
    import threading

    start = threading.Barrier(8)
    got: list[Any] = []

    def read() -> None:
        start.wait()
        try:
            got.append(from_dict(Report, doc, check_numbers=True))
        except BaseException as exc:  # whatever a thread raised is the test's outcome
            got.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = reference(Report, doc, check_numbers=True)
    assert got == [expected] * 8


@pytest.mark.parametrize("nodes", [["a", "b", "a", "b"], [], ["a"], ["a", 1], None, "ab"], ids=repr)
def test_a_fixed_length_tuple_takes_that_many_values_only(nodes: Any) -> None:
    # tuple[str, str] was read as tuple[str, ...]: a fleet pairs file whose pair named 12
    # nodes or none was taken, and fleet report stopped with an internal error (exit 3) where
    # it unpacked the pair
    from gpudoctor.model.hardware import PairOutcome, PairsReport

    with pytest.raises(ReportFormatError, match=r"\$\.nodes"):
        from_dict(PairOutcome, {"nodes": nodes})
    doc = {"pairs": [], "bad_links": [["a", "b"], ["c"]]}
    with pytest.raises(ReportFormatError, match=r"bad_links\[1\]: expected a list of 2, not of 1"):
        from_dict(PairsReport, doc)
    read = from_dict(PairsReport, {"not_reached": [["n3", "drained"]], "bad_links": []})
    assert read.not_reached == (("n3", "drained"),) and read.bad_links == ()
    assert from_dict(PairOutcome, {"nodes": ["a", "b"]}).nodes == ("a", "b")
