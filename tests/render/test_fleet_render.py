"""The fleet renderers: golden files per format, real parsers, and hostile strings made inert.

Regenerate after an intended change with ``GPUDOCTOR_UPDATE_GOLDEN=1 pytest tests/render``.
"""

from __future__ import annotations

import json
import os
import re
import runpy
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gpudoctor.fleet.aggregate import aggregate, check_span
from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import FleetRun, NodeFinding, NotReached, Unreadable
from gpudoctor.render.fleet import inert, render_fleet
from tests.fleet.builders import changed, gpu, node, run, with_findings

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "fleet" / "expected"
SCHEMA = json.loads((ROOT / "docs" / "fleet-schema.json").read_text())
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["fleet_schema"](strict=True)
UPDATE = os.environ.get("GPUDOCTOR_UPDATE_GOLDEN") == "1"
SUFFIX = {"text": "txt", "json": "json", "markdown": "md", "html": "html", "prometheus": "prom"}
HOSTILE = 'PSU "swap"\x1b]0;owned\x07\x1b[2J\r| <script>alert(1)</script>\u202e'


def sample():
    """Eight H100 nodes: one with an ECC error, one narrow link (whose ACS redirect a reboot
    turned back on), one slow GPU, and the rest; checked by two fleet runs (the second with
    --force on gpu-[007-010], by a newer gpudoctor, with verify)."""
    nodes = [
        node(f"gpu-{i:03d}", partitions=("gpu",), acs_redirect="off", checked_at=CHECKED[i])
        for i in range(1, 9)
    ]
    ecc = NodeFinding(
        id="GD-GPU-004",
        severity=Severity.ERROR,
        title="GPU 3 has 9 uncorrectable row remaps (limit 8)",
        evidence=("remapped rows: 0 correctable, 9 uncorrectable",),
    )
    nodes[6] = with_findings(nodes[6], ecc)
    gpus = list(nodes[2].gpus)
    gpus[5] = gpu(5, pcie_width=4)
    nodes[2] = changed(nodes[2], gpus=tuple(gpus), acs_redirect="on")
    nodes[7] = changed(nodes[7], driver="535.104.05", kernel_module="535.104.05")
    throughput = [run(f"gpu-{i:03d}", 3000 + 7 * i) for i in range(1, 8)]
    throughput.append(run("gpu-008", 1900, device="cuda:2"))
    report = aggregate(
        nodes,
        names={"GD-GPU-004": "A memory row remap is pending"},
        throughput=throughput,
        unreadable=[
            Unreadable(
                node="gpu-010",
                path="reports/gpu-010.json",
                error="not valid JSON (Expecting value at line 1)",
            )
        ],
        not_reached=[NotReached(node="gpu-009", state="drained", reason=HOSTILE)],
        gpudoctor_version="0.1.0",
        created_at="2026-12-04T12:00:00Z",
    )
    return replace(report, runs=RUNS)


CHECKED = {
    **{i: f"2026-12-01T02:00:{i:02d}Z" for i in range(1, 7)},
    7: "2026-12-04T11:50:07Z",
    8: "2026-12-04T11:50:08Z",
}
"""When each node's check ran (its report's created_at), as the two runs below checked them."""
CHECK = ("python", "-m", "gpudoctor", "check", "--format", "json")
RUNS = (
    FleetRun(
        created_at="2026-12-01T02:00:00Z",
        gpudoctor_version="0.0.9",
        command=CHECK,
        nodes=tuple(f"gpu-{i:03d}" for i in range(1, 7)),
        hostlist="gpu-[001-006]",
        path="run/fleet-run.json",
    ),
    FleetRun(
        created_at="2026-12-04T11:50:00Z",
        gpudoctor_version="0.1.0",
        command=CHECK,
        verify_command=("python", "-m", "gpudoctor", "verify", "--quick", "--format", "json"),
        nodes=tuple(f"gpu-{i:03d}" for i in range(7, 11)),
        hostlist="gpu-[007-010]",
        path="run/fleet-run.json",
    ),
)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_several_runs_are_named_and_one_run_is_not(fmt):
    # fleet report ignored the manifest's runs[]: nodes checked days earlier, by an older
    # gpudoctor, read as checked with the rest
    said = (
        "Checked by 2 fleet runs: 2026-12-01 02:00 UTC (gpu-[001-006], gpudoctor 0.0.9); "
        "2026-12-04 11:50 UTC (gpu-[007-010], with verify, gpudoctor 0.1.0)"
    )
    if fmt == "markdown":
        said = said.replace("[", "\\[").replace("]", "\\]")
    assert said in render_fleet(fmt, sample())
    one = render_fleet(fmt, replace(sample(), runs=RUNS[1:]))
    assert "fleet runs" not in one and "Checked by" not in one


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_runs_hostile_time_is_inert(fmt):
    runs = (replace(RUNS[0], created_at=HOSTILE), RUNS[1])
    text = render_fleet(fmt, replace(sample(), runs=runs))
    line = next(ln for ln in text.splitlines() if "fleet runs" in ln)
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in line
    assert fmt != "html" or "<script>" not in line


def matches_golden(name: str, fmt: str, text: str) -> None:
    """``text`` is golden file ``name.<suffix>`` (GPUDOCTOR_UPDATE_GOLDEN=1 writes it)."""
    path = GOLDEN / f"{name}.{SUFFIX[fmt]}"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"no golden file {path.name}: run with GPUDOCTOR_UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_golden(fmt):
    matches_golden("sample", fmt, render_fleet(fmt, sample()))


def fine_pairs():
    """Four healthy nodes whose six pairs all ran, at 44.10 to 47.30 GB/s: nothing to say."""
    from dataclasses import replace

    from gpudoctor.fleet.pairs import analyse, choose_pairs
    from gpudoctor.model.hardware import PairsReport
    from tests.fleet.test_pairs import outcome

    nodes = [f"gpu-{i:03d}" for i in range(1, 5)]
    speeds = (44.1, 45.0, 45.6, 46.2, 46.8, 47.3)
    outcomes = [outcome(a, b, v) for (a, b), v in zip(choose_pairs(nodes), speeds, strict=True)]
    base, slow, bad, links = analyse(outcomes)
    assert not (slow or bad or links)
    pairs = PairsReport(
        created_at="2026-12-07T07:40:12Z",
        nodes=tuple(nodes),
        pairs=tuple(outcomes),
        baseline_gbps=base,
        slow_pairs=slow,
        bad_nodes=bad,
        bad_links=links,
    )
    fleet = aggregate(
        [node(n, partitions=("gpu",)) for n in nodes],
        gpudoctor_version="0.1.0",
        created_at="2026-12-07T08:00:00Z",
    )
    return replace(fleet, pairs=pairs, pairs_path="run/pairs/pairs.json")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_golden_fine_pairs(fmt):
    # All fine, the pairs had no section in Markdown and HTML: nobody could tell they were read.
    text = render_fleet(fmt, fine_pairs())
    matches_golden("fine_pairs", fmt, text)
    summary = "All 6 pair(s) of 4 node(s) fine: bus bandwidth 44.10–47.30 GB/s"
    assert summary in text and "run/pairs/pairs.json" in text
    # when the pairs ran was not said: beside node reports of another day (a node drained
    # since, say), pairs measured before read as today's
    assert "measured 2026-12-07 07:40 UTC" in text


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_pairs_time_that_is_no_utc_time_is_not_shown(fmt):
    from dataclasses import replace

    report = fine_pairs()
    assert report.pairs is not None
    text = render_fleet(fmt, replace(report, pairs=replace(report.pairs, created_at=HOSTILE)))
    assert "measured" not in text and "alert(1)" not in text


def test_text_names_every_problem():
    text = render_fleet("text", sample())
    assert "gpu-[001-002,004-006] (5)" in text
    assert "gpu-003 (1)  [drift]" in text and "gpu-008 (1)  [drift]" in text
    assert "gpu-007: GPU 3 has 9 uncorrectable row remaps (limit 8)" in text
    assert (
        "gpu.pcie_width (gpu model NVIDIA H100 80GB HBM3): 16 on 63 GPUs; 4 on gpu-003:gpu5" in text
    )
    # a switch reads "off for 7 nodes; on for gpu-003", not "off on 7 nodes; on on gpu-003"
    assert "acs_redirect (gpu model NVIDIA H100 80GB HBM3): off for 7 nodes; on for gpu-003" in text
    assert "gpu-008 cuda:2 NVIDIA H100 80GB HBM3: resnet50 torch amp-fp16" in text
    assert text.endswith(
        "10 node(s): 5 fine, 1 with an error, 2 drifting, 1 not reached, 1 unreadable report(s); "
        "4 drifting fact(s), 1 throughput outlier(s), 6 stale node report(s).\n"
    )


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_hostile_strings_are_inert(fmt):
    text = render_fleet(fmt, sample())
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in text
    # Markdown shows a backslash written twice as one: the reader sees the same \x1b
    slash, bracket = ("\\", "]") if fmt == "text" else ("\\\\", "\\]")
    assert f"{slash}x1b{bracket}0;owned{slash}x07" in text and f"{slash}u202e" in text


def test_markdown_cells_never_split_a_row():
    rows = [ln for ln in render_fleet("markdown", sample()).splitlines() if ln.startswith("|")]
    widths = {len(re.findall(r"(?<!\\)\|", ln)) for ln in rows if "gpu-009" in ln}
    assert widths == {4}  # three cells: the pipe inside the reason is escaped


def test_markdown_keeps_a_quoted_command_a_code_span():
    # GD-GPU-068's drain fix read \`sudo scontrol update ...\` in a ticket: escaped
    # backticks, the command neither shown as code nor copyable as one
    from gpudoctor.render.fleet import md_cell

    cell = md_cell("fix: drain it (`sudo scontrol update nodename='n[1-2]' state=drain`) *now*")
    assert cell == (
        "fix: drain it (`sudo scontrol update nodename='n[1-2]' state=drain`) \\*now\\*"
    )
    # a | inside the span is escaped, so it does not end the table cell
    assert md_cell("run `lspci | grep -i nvidia` first") == "run `lspci \\| grep -i nvidia` first"
    assert md_cell("a lone ` backtick") == "a lone \\` backtick"


def test_json_validates_and_is_standard():
    doc = json.loads(render_fleet("json", sample()), parse_constant=pytest.fail)
    jsonschema.validate(doc, SCHEMA)
    jsonschema.validate(doc, STRICT)
    assert doc["findings"] == {"GD-GPU-004": ["gpu-007"]}
    assert doc["not_reached"][0]["reason"] == HOSTILE  # data stays data in JSON


def test_json_keeps_a_lone_surrogate_as_its_escape():
    # a node report's "\ud800" (valid JSON) was written raw: the output could not be encoded
    # as UTF-8, and fleet report -o FILE --format json stopped with an internal error
    report = sample()
    lone = replace(report, not_reached=[NotReached(node="gpu-009", state="down", reason="\ud800é")])
    text = render_fleet("json", lone)
    text.encode("utf-8")  # raised UnicodeEncodeError
    assert json.loads(text)["not_reached"][0]["reason"] == "\ud800é"
    assert '"\\ud800é"' in text  # only the surrogate is escaped


def test_prometheus_parses_with_the_reference_parser():
    families = {
        f.name: f for f in text_string_to_metric_families(render_fleet("prometheus", sample()))
    }
    verdicts = {s.labels["node"]: s.value for s in families["gpudoctor_fleet_node_verdict"].samples}
    assert verdicts["gpu-007"] == 3 and verdicts["gpu-001"] == 0
    (nr,) = families["gpudoctor_fleet_node_not_reached"].samples
    assert nr.labels["reason"] == inert(HOSTILE)  # quotes escaped and read back; no ESC
    assert "\x1b" not in render_fleet("prometheus", sample())
    drift = families["gpudoctor_fleet_drift"].samples
    assert any(s.labels["member"] == "gpu-003:gpu5" for s in drift)
    assert families["gpudoctor_fleet_healthy"].samples[0].value == 0
    # the stale node reports the checked line names, counted for an alert
    assert families["gpudoctor_fleet_stale_nodes"].samples[0].value == 6


def test_prometheus_gives_each_nodes_check_time_and_the_older_of_a_repeated_node():
    # only the report's own time was given: a node's stale report read as fresh
    report = sample()
    nodes = (
        *report.nodes,
        replace(report.nodes[0], checked_at="2026-11-30T00:00:00Z"),  # gpu-001 in two folders
        replace(report.nodes[1], node="gpu-011", checked_at=HOSTILE),  # no time: no series
        replace(report.nodes[1], node="gpu-012", checked_at="2026-12-01T02:00:00"),  # no zone
        replace(report.nodes[1], node="gpu-013", checked_at=""),
    )
    families = {
        f.name: f
        for f in text_string_to_metric_families(
            render_fleet("prometheus", replace(report, nodes=nodes))
        )
    }
    checked = {
        s.labels["node"]: s.value
        for s in families["gpudoctor_fleet_node_checked_timestamp_seconds"].samples
    }
    assert checked == {
        "gpu-001": 1795996800,  # 2026-11-30T00:00:00Z, the older of its two reports
        **{f"gpu-{i:03d}": 1796090400 + i for i in range(2, 7)},  # 2026-12-01T02:00:0NZ
        "gpu-007": 1796385007,
        "gpu-008": 1796385008,
    }


def test_prometheus_says_when_the_pairs_were_measured():
    # pairs.json's time was in no gauge: an alert could not tell pairs of last month
    families = {
        f.name: f for f in text_string_to_metric_families(render_fleet("prometheus", fine_pairs()))
    }
    (sample,) = families["gpudoctor_fleet_pairs_timestamp_seconds"].samples
    assert sample.value == 1796629212  # 2026-12-07T07:40:12Z


def test_prometheus_names_the_bad_node_and_link_of_fleet_pairs():
    # only gpudoctor_fleet_healthy said fleet pairs found a bad node: an alert could not name it
    from dataclasses import replace

    from gpudoctor.fleet.pairs import analyse
    from tests.fleet.test_pairs import matrix

    fine = fine_pairs()
    # n0 is slow with all four partners (one pair timed out); n4-n5 alone is slow
    slow = {("n0", "n1"): 20.0, ("n0", "n2"): 21.0, ("n0", "n6"): 22.0, ("n0", "n7"): None}
    slow[("n4", "n5")] = 19.0
    outcomes = matrix(8, slow)
    base, slow_pairs, bad, links = analyse(outcomes)
    assert base == 45.0
    assert [b.node for b in bad] == ["n0"] and links, (bad, links)
    pairs = replace(
        fine.pairs, pairs=tuple(outcomes), slow_pairs=slow_pairs, bad_nodes=bad, bad_links=links
    )
    text = render_fleet("prometheus", replace(fine, pairs=pairs))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert [s.labels for s in families["gpudoctor_fleet_pairs_bad_node"].samples] == [
        {"node": "n0"}
    ]
    assert {
        (s.labels["node_a"], s.labels["node_b"])
        for s in families["gpudoctor_fleet_pairs_bad_link"].samples
    } == set(links)
    busbw = {
        (s.labels["node_a"], s.labels["node_b"]): s.value
        for s in families["gpudoctor_fleet_pair_busbw_gbps"].samples
    }
    assert busbw[("n0", "n1")] == 20.0 and ("n0", "n7") not in busbw
    (failed,) = families["gpudoctor_fleet_pair_failed"].samples
    assert failed.labels == {"node_a": "n0", "node_b": "n7", "status": "timeout"}
    assert "gpudoctor_fleet_pair" not in render_fleet("prometheus", sample())  # no pairs.json


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [v for k, v in attrs if k in ("href", "src")]


def test_html_is_one_offline_page_with_nothing_active():
    page = render_fleet("html", sample())
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and parser.links == []
    assert "&lt;script&gt;" in page


def test_inert_keeps_ordinary_text():
    assert inert("gpu-001 ✓ Ünïcode") == "gpu-001 ✓ Ünïcode"
    assert inert("a\x00b\x9bc") == "a\\x00b\\x9bc"


def clashing():
    """Names and runs that once gave the same Prometheus series twice (issue 17, item 8)."""
    nodes = [
        node("n\x1b"),  # an ESC, written \x1b ...
        node("n\\x1b"),  # ... and a real backslash, x, 1, b: two nodes, two series
        node("cpu-01", gpus=0, gpu_model=None),  # no GPU: no model label at all
        with_findings(
            node("gpu-001"),
            NodeFinding(
                id="GD-GPU-004", severity=Severity.ERROR, title="GPU 3 has uncorrectable ECC errors"
            ),
        ),
        node("gpu-001"),  # the same name twice (two folders): one series, the worst value
        *(node(f"gpu-{i:03d}") for i in range(2, 7)),
    ]
    throughput = [
        run(f"gpu-{i:03d}", 3000 + i, mode=mode) for i in range(2, 7) for mode in ("a", "b")
    ]
    throughput += [run("gpu-001", 1000, mode="a"), run("gpu-001", 1000, mode="b")]
    return aggregate(
        nodes,
        names={"GD-GPU-004": "A GPU has uncorrectable ECC errors"},
        throughput=throughput,
        unreadable=[Unreadable(node="u", path="", error="empty")],
        not_reached=[NotReached(node="d", state="down", reason="")],
        gpudoctor_version="0.1.0",
        created_at="2026-12-04T12:00:00Z",
    )


def series(text):
    """Every sample as (name, labels): parsed by the reference parser."""
    return [
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
    ]


@pytest.mark.parametrize("report", [sample, clashing])
def test_prometheus_series_are_unique_with_no_empty_label(report):
    found = series(render_fleet("prometheus", report()))
    keys = [(name, labels) for name, labels, _ in found]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
    assert all(value != "" for _, labels in keys for _, value in labels)


def test_prometheus_keeps_clashing_names_apart_and_merges_repeats_to_the_worst():
    found = {(n, labels): v for n, labels, v in series(render_fleet("prometheus", clashing()))}
    verdict = {dict(labels)["node"]: v for (n, labels), v in found.items() if n.endswith("verdict")}
    assert {"n\\x1b", "n\\\\x1b"} <= set(verdict)  # an ESC and a backslash stay apart
    assert verdict["gpu-001"] == 3  # the repeated node keeps its worst verdict
    assert found[("gpudoctor_fleet_node_gpus", (("node", "cpu-01"),))] == 0
    ratios = [dict(labels) for (n, labels), _ in found.items() if n.endswith("ratio")]
    assert sorted(r["mode"] for r in ratios) == ["a", "b"]  # two runs, two series
    assert all(r["batch_size"] == "256" for r in ratios)
    text = render_fleet("prometheus", clashing())
    assert "# gpudoctor: 1 repeated series of gpudoctor_fleet_node_verdict" in text


def verify_not_passed():
    """Three nodes' verify results: a fail and a warn, each with its reason, and a pass."""
    from gpudoctor.model.fleet import VerifyOutcome, VerifyVerdict

    nodes = [node(f"gpu-{i:03d}", partitions=("gpu",)) for i in range(1, 4)]
    verify = [
        VerifyOutcome(
            node="gpu-001",
            verdict=VerifyVerdict.FAIL,
            path="run/verify/gpu-001.json",
            reason="torch resnet50 cuda:0: outputs differ from the CPU's by 3.1e-01 [limit 1e-03]",
        ),
        VerifyOutcome(
            node="gpu-002",
            verdict=VerifyVerdict.WARN,
            path="run/verify/gpu-002.json",
            reason="torch lenet5 cuda:0: spread 12% of the median (over 10%) | <b>noisy</b>",
        ),
        VerifyOutcome(node="gpu-003", verdict=VerifyVerdict.PASS, path="run/verify/gpu-003.json"),
    ]
    return aggregate(
        nodes, verify=verify, gpudoctor_version="0.1.0", created_at="2026-12-07T08:00:00Z"
    )


def tie():
    """Two nodes of one partition that agree on nothing they could: 8 GPUs against 7, driver
    570 against 535. Each is a 1-1 tie."""
    nodes = [
        node("gpu-001", partitions=("gpu",), checked_at="2026-12-08T02:00:01Z"),
        changed(
            node("gpu-002", gpus=7, partitions=("gpu",), checked_at="2026-12-08T02:00:02Z"),
            driver="535.104.05",
            kernel_module="535.104.05",
        ),
    ]
    return aggregate(nodes, gpudoctor_version="0.1.0", created_at="2026-12-08T03:00:00Z")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json", "prometheus"])
def test_golden_a_tie_is_no_majority_and_blames_neither_side(fmt):
    # 1-1 is a tie: the report named 8 GPUs and driver 570 the majority ('a tie: 8 (1)'), and
    # marked gpu-002 alone drifting ('1 fine, 1 drifting'; Prometheus: majority="8" on gpu-002)
    text = render_fleet(fmt, tie())
    matches_golden("tie", fmt, text)
    if fmt == "json":
        doc = json.loads(text)
        drift = {d["fact"]: d for d in doc["drift"]}["gpus_per_node"]
        assert (drift["majority"], drift["majority_count"], drift["reference"]) == ("", 0, "tie")
        assert drift["minority"] == {"8": ["gpu-001"], "7": ["gpu-002"]}
        assert [n["drift"] for n in doc["nodes"]] == [True, True]
        assert doc["healthy"] is True  # drift never sets the exit status, tie or not
    elif fmt == "prometheus":
        drift = [
            dict(labels)
            for name, labels, _ in series(text)
            if name == "gpudoctor_fleet_drift" and dict(labels)["fact"] == "gpus_per_node"
        ]
        assert [(d["member"], d["value"], "majority" in d) for d in drift] == [
            ("gpu-001", "8", False),
            ("gpu-002", "7", False),
        ]
    elif fmt == "text":
        assert "a tie, no majority: 8 on gpu-001; 7 on gpu-002" in text
        assert "2 node(s): 0 fine, 2 drifting" in text
    else:
        assert "none (a tie)" in text and "8: gpu-001; 7: gpu-002" in text
        assert "570.124.06: gpu-001; 535.104.05: gpu-002" in text


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_drift_with_a_majority_is_not_called_a_tie(fmt):
    assert "a tie" not in render_fleet(fmt, sample())


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_golden_verify_not_passed_says_why(fmt):
    # the section named each result's file but not why it did not pass
    text = render_fleet(fmt, verify_not_passed())
    matches_golden("verify_not_passed", fmt, text)
    assert "outputs differ from the CPU" in text and "spread 12% of the median" in text


@pytest.mark.parametrize(
    "golden", sorted((ROOT / "tests" / "data" / "fleet" / "expected").glob("*.json")), ids=str
)
def test_the_recorded_json_goldens_follow_the_strict_and_the_published_schema(golden: Path):
    doc = json.loads(golden.read_text())
    jsonschema.validate(doc, STRICT)
    jsonschema.validate(doc, SCHEMA)
    doc["nodes"][0]["verdict"] = "info"  # information alone reads ok (schema_version 2)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_the_report_says_when_its_nodes_were_checked_and_names_the_stale_ones(fmt):
    """The nodes table mixed reports of 2026-12-01 and 2026-12-04 and did not say so; only
    the pairs line said when. Now the span, and the nodes checked over 24 h before the newest."""
    text = render_fleet(fmt, sample())
    said = (
        "Node reports checked 2026-12-01 02:00 UTC to 2026-12-04 11:50 UTC; stale (checked "
        "more than 24 h before the newest): gpu-[001-006] (6)"
    )
    if fmt == "markdown":
        said = said.replace("[", "\\[").replace("]", "\\]")
    assert said in text
    assert "6 stale node report(s)." in text  # in the closing line (the HTML banner's)
    assert fmt != "html" or '<p class="meta checked stale">! Node reports checked' in text
    # one day's reports: the time alone, nothing stale
    same = [replace(n, checked_at="2026-12-04T11:50:00Z") for n in sample().nodes]
    fresh = render_fleet(fmt, replace(sample(), nodes=tuple(same), checked=check_span(same)))
    assert "Node reports checked 2026-12-04 11:50 UTC\n" in fresh.replace("</p>", "\n")
    assert "stale" not in fresh.replace(".meta.stale", "")


def test_the_terminal_shows_the_drain_fix_of_gd_gpu_068_under_its_nodes():
    # the text said "...: drain it" and not how; Markdown's Evidence column had the command
    from gpudoctor.fleet.gres import drain_fix

    title = "SLURM gives out gpu:h100:8 here; the node has no GPU"
    missing = NodeFinding(
        id="GD-GPU-068",
        severity=Severity.ERROR,
        title=title,
        evidence=("PCI bus: 0 NVIDIA GPUs", drain_fix(title)),
    )
    nodes = [node(f"gpu-{i:03d}") for i in range(1, 5)]
    nodes[1:3] = [with_findings(n, missing) for n in nodes[1:3]]
    report = aggregate(nodes, gpudoctor_version="0.1.0", created_at="2026-12-07T23:00:00Z")
    lines = render_fleet("text", report).splitlines()
    at = lines.index("      gpu-[002-003]: " + missing.title)
    assert lines[at + 1].startswith(
        "        fix: drain the node (`sudo scontrol update nodename='gpu-[002-003]' "
        "state=drain reason='gpudoctor:GPU-068 SLURM gives out gpu:h100:8 here; the node "
        "has no GPU'`); on it, compare gres.conf"
    )
    # the rest of the evidence is JSON's, Markdown's and HTML's
    assert not any("PCI bus: 0 NVIDIA GPUs" in line for line in lines)


def one_cause():
    """20 nodes with one cause: GD-GPU-068 from their GRES (the fleet's drain fix) and an Xid
    79 each, logged at its own time; the place names its hostlist, each node's time is its own."""
    from gpudoctor.fleet.gres import drain_fix

    title = "SLURM gives out gpu:h100:8 here; the node has no GPU"
    xid = "Xid 79 on GPU 3 (NVIDIA H100 80GB HBM3): GPU has fallen off the bus"
    nodes = [
        with_findings(
            node(f"gpu-{i:03d}"),
            NodeFinding(
                id="GD-GPU-068",
                severity=Severity.ERROR,
                title=title,
                evidence=("PCI bus: no NVIDIA GPU", drain_fix(title)),
            ),
            NodeFinding(
                id="GD-GPU-056",
                severity=Severity.WARNING,
                title=xid,
                evidence=(
                    f"Xid 79 once (2026-12-07T{i:02d}:00:00Z) in the last 72 h of the kernel log",
                    "GPU has fallen off the bus: The GPU stopped answering on PCIe.",
                ),
            ),
        )
        for i in range(1, 21)
    ]
    return aggregate(nodes, gpudoctor_version="0.1.0", created_at="2026-12-08T05:00:00Z")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_golden_one_cause_on_twenty_nodes_is_one_entry(fmt):
    # each node's Xid time split the 20 nodes into 20 entries of the same title
    text = render_fleet(fmt, one_cause())
    matches_golden("one_cause", fmt, text)
    plain = text.replace("\\[", "[").replace("\\]", "]").replace("&#x27;", "'")
    assert plain.count("gpu-[001-020]") >= 4  # the nodes' group, both findings, the drain
    assert "nodename='gpu-[001-020]'" in plain


def test_the_terminal_shows_a_fix_only_some_nodes_of_a_place_have_under_each_node():
    # a drain each node's check named another node in is no fix of the place: the terminal
    # showed the place's fixes alone, and so none for these nodes
    title = "NVML lists 7 of the 8 GPUs the nvidia driver owns: GPU 0000:ba:00.0 missing"

    def missing(name: str) -> NodeFinding:
        fix = f"fix: `sudo scontrol update nodename={name} state=drain reason='x'`"
        return NodeFinding(id="GD-GPU-070", severity=Severity.ERROR, title=title, evidence=(fix,))

    nodes = [with_findings(node(f"gpu-{i:03d}"), missing(f"host{i}")) for i in range(1, 11)]
    report = aggregate(nodes, gpudoctor_version="0.1.0", created_at="2026-12-08T05:00:00Z")
    lines = render_fleet("text", report).splitlines()
    at = lines.index(f"      gpu-[001-010]: {title}")
    assert lines[at + 1 : at + 3] == [
        "        gpu-001: fix: `sudo scontrol update nodename=host1 state=drain reason='x'`",
        "        gpu-002: fix: `sudo scontrol update nodename=host2 state=drain reason='x'`",
    ]
    assert lines[at + 9] == "        and 2 more (--format json has them all)"
