"""Hostile values, property-based: report fields, strings that reach a terminal, options."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
import unicodedata
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpudoctor.cli.options import FilePath, FiniteFloatRange
from gpudoctor.errors import ReportFormatError
from gpudoctor.model.inert import MAX_SHOWN_CHARS, inert, inert_tree
from gpudoctor.model.report import Report
from gpudoctor.model.serialize import (
    SIGNED,
    from_dict,
    report_from_bytes,
    report_from_json,
    report_to_json,
)
from gpudoctor.render import render_report
from gpudoctor.render.markdown import escape
from tests.conftest import Cli
from tests.rules.builders import diagnose, healthy, with_env, with_framework, with_gpu, with_host

FAST = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe(char: str) -> bool:
    """What must never reach a terminal or a document raw (newline and tab aside)."""
    category = unicodedata.category(char)
    return (
        (category == "Cc" and char not in "\n\t")
        or category in ("Cs", "Zl", "Zp")
        or char in BIDI
        or char == "\ufeff"
    )


any_text = st.text(st.characters(exclude_categories=()), max_size=60)
hostile_text = st.lists(
    st.sampled_from(
        [
            "\x1b]0;title\x07",
            "\x1b[2J",
            "\r",
            "\x00",
            "\x7f",
            "\x9b",
            "\u202e",
            "|",
            "\n",
            "`",
            "<b>",
            "&#x1b;",
            "\\",
            "\ud800",
            "\u2028",
            "*_#[]",
            "ok",
        ]
    )
    | any_text,
    max_size=6,
).map("".join)


def hostile_report(text: str) -> Report:
    """A healthy report whose host, GPU, framework and environment all carry ``text``."""
    report = with_host(healthy(), hostname=text or "h", os_release=text)
    report = with_gpu(report, 0, name=text)
    report = with_framework(report, "torch", status="import_error", message=text, version=text)
    return with_env(report, CUDA_VISIBLE_DEVICES=text)


# --- strings --------------------------------------------------------------------------------


@FAST
@given(hostile_text)
def test_inert_leaves_nothing_unsafe_and_keeps_safe_text(text: str) -> None:
    shown = inert(text)
    assert not any(unsafe(c) for c in shown)
    if not any(unsafe(c) for c in text):
        assert shown == text


@FAST
@given(hostile_text)
def test_a_markdown_cell_is_one_line_with_every_pipe_escaped(text: str) -> None:
    cell = escape(text)
    assert "\n" not in cell and "\r" not in cell
    assert not any(unsafe(c) for c in cell)
    assert _unescaped_pipes(cell) == 0
    assert "<" not in cell and ">" not in cell


def _unescaped_pipes(line: str) -> int:
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


@settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(hostile_text)
def test_rendered_reports_carry_no_raw_control_or_bidi_character(text: str) -> None:
    report = hostile_report(text)
    diagnosis = diagnose(report)
    for fmt, color in (("text", False), ("text", True), ("markdown", False)):
        out = render_report(fmt, report, diagnosis, verbose=True, color=color)
        if color:  # our own SGR colour codes, nothing else
            out = _strip_sgr(out)
        assert not any(unsafe(c) for c in out), fmt
    markdown = render_report("markdown", report, diagnosis, verbose=True, color=False)
    _assert_tables_hold(markdown)


def _strip_sgr(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _assert_tables_hold(markdown: str) -> None:
    """Within each table, every row has as many cell borders as the header: no row split."""
    widths: list[int] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            widths.append(_unescaped_pipes(line))
        elif widths:
            assert len(set(widths)) == 1, widths
            widths = []


def test_a_10_mb_field_renders_in_well_under_a_second_and_says_it_was_cut() -> None:
    report = with_gpu(healthy(), 0, name="A" * 10_000_000)
    diagnosis = diagnose(report)
    for fmt in ("text", "markdown"):
        start = time.monotonic()
        out = render_report(fmt, report, diagnosis, verbose=True, color=False)
        took = time.monotonic() - start
        assert took < 3, f"{fmt} took {took:.1f} s"
        assert "more characters not shown" in out
        assert len(out) < 100_000
    json_out = render_report("json", report, diagnosis, verbose=True, color=False)
    assert "A" * 10_000_000 in json_out  # the data format keeps every byte


def test_inert_tree_returns_the_same_object_when_nothing_changes() -> None:
    report = healthy()
    assert inert_tree(report) is report
    assert len(inert("x" * (MAX_SHOWN_CHARS + 10))) < MAX_SHOWN_CHARS + 60


# --- numbers in reports ---------------------------------------------------------------------

NUMERIC_PATHS = [
    ("nvml", "gpus", 0, "memory_total_mib"),
    ("nvml", "gpus", 0, "temperature_c"),
    ("nvml", "gpus", 0, "pcie_width"),
    ("nvml", "gpus", 0, "power_draw_w"),
    ("host", "memory_total_mib"),
    ("host", "cpu_count"),
    ("probes", 0, "duration_s"),
]


def _doc() -> dict[str, Any]:
    return json.loads(report_to_json(healthy()))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _where(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@FAST
@given(
    st.sampled_from(NUMERIC_PATHS),
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_number_in_a_report_is_loaded_or_refused_naming_its_field(path, value) -> None:
    doc = _doc()
    _set(doc, path, value)
    try:
        text = json.dumps(doc)
    except ValueError:  # pragma: no cover - allow_nan is on; infinity dumps as Infinity
        return
    float_field = path[-1] in ("power_draw_w", "duration_s")
    # an int fits any number field up to 64 bits; a float only a float field
    fits = 0 <= value < 2**64 if isinstance(value, int) else float_field and value >= 0
    if fits:
        report_from_json(text)
        return
    with pytest.raises(ReportFormatError) as caught:
        report_from_json(text)
    assert _where(path) in str(caught.value), str(caught.value)


@pytest.mark.parametrize("path", NUMERIC_PATHS)
def test_a_negative_counter_is_bad_input_naming_the_field(path) -> None:
    doc = _doc()
    _set(doc, path, -1)
    expected = re.escape(f"{_where(path)}: must not be negative")
    with pytest.raises(ReportFormatError, match=expected):
        report_from_json(json.dumps(doc))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_a_report_are_refused(literal: str) -> None:
    text = json.dumps(_doc()).replace('"pcie_width": 16', f'"pcie_width": {literal}', 1)
    text = text.replace('"power_draw_w": ', f'"power_draw_w": {literal}, "x": ', 1)
    with pytest.raises(ReportFormatError, match=r"finite|JSON number"):
        report_from_json(text)


def test_signed_fields_may_be_negative_when_their_metadata_says_so() -> None:
    @dataclasses.dataclass(frozen=True)
    class Offset:
        mhz: int = dataclasses.field(metadata={SIGNED: True})
        count: int = 0

    assert from_dict(Offset, {"mhz": -100}, check_numbers=True).mhz == -100
    with pytest.raises(ReportFormatError, match=r"\$\.count: must not be negative"):
        from_dict(Offset, {"mhz": 0, "count": -1}, check_numbers=True)


def test_probe_data_keeps_a_measured_nan_and_the_json_says_null() -> None:
    report = with_framework(healthy(), "torch")
    device = dataclasses.replace(report.frameworks[0].devices[0], max_abs_diff=math.nan)
    fw = dataclasses.replace(report.frameworks[0], devices=(device,))
    report = dataclasses.replace(report, frameworks=(fw, *report.frameworks[1:]))
    text = report_to_json(report, diagnose(report))
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON: {c}"))
    assert doc["frameworks"][0]["devices"][0]["max_abs_diff"] is None
    report_from_json(text)  # and it loads back


@FAST
@given(st.floats() | st.integers(min_value=-(10**30), max_value=10**30))
def test_json_output_is_always_standard(value) -> None:
    report = with_gpu(healthy(), 0, power_draw_w=float(value))
    text = report_to_json(report)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON: {c}"))


# --- malformed documents --------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


@FAST
@given(
    st.sampled_from(["host", "nvml", "cuda", "driver", "frameworks", "probes", "created_at"]),
    json_values,
)
def test_any_json_in_place_of_a_section_is_a_report_or_a_one_line_refusal(section, value) -> None:
    doc = _doc()
    doc[section] = value
    try:
        report_from_json(json.dumps(doc))
    except ReportFormatError as exc:
        assert "\n" not in str(exc)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_are_a_report_or_a_one_line_refusal(data: bytes) -> None:
    try:
        report_from_bytes(data, "input")
    except ReportFormatError as exc:
        assert str(exc).startswith("input")


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_bad_input(depth: int) -> None:
    text = '{"schema_version": 1, "host": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ReportFormatError, match=r"nested too deeply|expected an object"):
        report_from_json(text)


def test_a_5000_digit_integer_is_bad_input() -> None:
    text = json.dumps(_doc()).replace('"pcie_width": 16', '"pcie_width": ' + "9" * 5000, 1)
    with pytest.raises(ReportFormatError, match="not a valid gpudoctor report: Exceeds the limit"):
        report_from_json(text)


def test_a_huge_integer_under_the_digit_limit_is_out_of_range() -> None:
    text = json.dumps(_doc()).replace('"pcie_width": 16', '"pcie_width": ' + "9" * 4000, 1)
    with pytest.raises(ReportFormatError, match=r"pcie_width: 9{10}.*is out of range"):
        report_from_json(text)


def test_a_deep_report_through_the_cli_is_one_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"schema_version": 1, "host": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = cli("check", "--from-report", str(path))
    assert result.exit_code == 2, result
    assert result.stderr.strip().splitlines() == [
        f"gpudoctor: error: {path}: not a valid gpudoctor report: nested too deeply"
    ]


# --- options --------------------------------------------------------------------------------


@FAST
@given(st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999"]) | any_text)
def test_a_float_option_is_finite_and_in_range_or_refused(text: str) -> None:
    kind = FiniteFloatRange(min=1.0, max=600.0)
    try:
        value = kind.convert(text, None, None)
    except click.BadParameter:
        return
    assert math.isfinite(value) and 1.0 <= value <= 600.0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["check", "--timeout", "nan"], "--timeout"),
        (["check", "--timeout", "inf"], "--timeout"),
        (["verify", "--time-budget", "nan"], "--time-budget"),
        (["verify", "--time-budget", "-inf"], "--time-budget"),
    ],
)
def test_non_finite_options_are_one_line_exit_2(cli: Cli, args: list[str], named: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
    assert "not a finite number" in lines[0] or "not in the range" in lines[0]


def _every_command(command: click.Command) -> list[click.Command]:
    """``command`` and, for a group, every subcommand at any depth (``fleet run``)."""
    found = [command]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found += _every_command(sub)
    return found


def test_every_command_declares_the_strict_types() -> None:
    """No float option takes nan or inf, no file-only path a trailing slash: each option site
    declares FiniteFloat, FiniteFloatRange or FilePath (nothing swaps click's types at load)."""
    from gpudoctor.cli import _COMMANDS, cli

    ctx = click.Context(cli)
    commands: list[click.Command] = []
    for name in _COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        commands += _every_command(command)
    assert {"run", "report"} <= {c.name for c in commands}  # the group's subcommands too
    for command in commands:
        name = command.name
        for param in command.params:
            assert type(param.type) is not click.FloatRange, (name, param.name)
            assert type(param.type) is not click.types.FloatParamType, (name, param.name)
            if isinstance(param.type, click.Path) and not param.type.dir_okay:
                assert isinstance(param.type, FilePath), (name, param.name)


def test_the_strict_types_check_is_able_to_fail() -> None:
    @click.group()
    def group() -> None: ...

    @group.command()
    @click.option("--a", type=float)
    @click.option("--c", type=click.Path(dir_okay=False))
    def sub(a: float, c: str) -> None: ...

    kinds = {p.name: type(p.type) for c in _every_command(group) for p in c.params}
    assert kinds == {"a": click.types.FloatParamType, "c": click.Path}


def test_a_report_with_more_entries_than_any_machine_is_refused_at_once() -> None:
    doc = _doc()
    doc["nvml"]["gpus"] = [{"index": 0}] * 1_000_000
    text = json.dumps(doc)  # writing the test's input is not what is timed
    start = time.monotonic()
    with pytest.raises(ReportFormatError, match=r"\$\.nvml\.gpus: the report holds more than"):
        report_from_json(text)
    # a bound against the minutes and gigabytes it took before the cap, not a speed target
    assert time.monotonic() - start < 5
    doc["nvml"]["gpus"] = [{"index": i} for i in range(64)]  # a big node still loads
    assert len(report_from_json(json.dumps(doc)).nvml.gpus) == 64
