"""`check` and `verify` keep their reports; `history` lists them; `diff` says what changed."""

from __future__ import annotations

import json
import runpy
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gpudoctor.userfiles.read import load_report
from tests.conftest import DATA

REPORTS = DATA / "reports"
GOOD = REPORTS / "linux-x86_64__nvidia-h200__590.48.01__idle.json"
BROKEN = REPORTS / "failure__driver_library_mismatch.json"
ROOT = Path(__file__).resolve().parents[2]
DIFF_PUBLISHED = json.loads((ROOT / "docs" / "diff-schema.json").read_text())
DIFF_STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["diff_schema"](strict=True)


def follows_the_diff_schema(doc: Any) -> None:
    """The published schema, and the strict one: every property written, no other."""
    jsonschema.validate(doc, DIFF_STRICT)
    jsonschema.validate(doc, DIFF_PUBLISHED)


@pytest.fixture
def machine(monkeypatch):
    """This machine, as check probes it: whichever recorded report the test sets."""
    from gpudoctor.cli import check

    state = {"report": load_report(GOOD)}
    monkeypatch.setattr(check, "_probed_report", lambda *a, **k: state["report"])

    def becomes(path: Path) -> None:
        state["report"] = load_report(path)

    return becomes


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_check_keeps_a_redacted_report_and_history_lists_it(cli, machine, _private_history):
    result = cli("check")
    assert result.exit_code == 0, result
    (kept,) = entries(_private_history)
    doc = json.loads(kept.read_text())
    assert doc["document"]["redacted"] is True
    assert doc["document"]["host"]["hostname"] == "<redacted>"
    assert doc["good"] is True and doc["kind"] == "check"
    listing = cli("history")
    assert listing.exit_code == 0, listing
    assert "590.48.01" in listing.stdout and "info *" in listing.stdout
    as_json = json.loads(cli("history", "--format", "json").stdout)
    assert as_json["entries"][0]["last_good"] is True


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("check", "--no-history"), {}),
        (("check",), {"GPUDOCTOR_NO_HISTORY": "1"}),
        (("check", "--from-report", str(GOOD)), {}),
        (("check", "--health-check"), {}),
    ],
    ids=["option", "variable", "replayed", "health-gate"],
)
def test_what_keeps_nothing(cli, machine, _private_history, args, env):
    result = cli(*args, env=env)
    assert result.exit_code == 0, result
    assert entries(_private_history) == []


def test_history_dir_and_the_variable_choose_the_folder(cli, machine, tmp_path):
    assert cli("check", "--history-dir", str(tmp_path / "a")).exit_code == 0  # made on use
    assert cli("check", env={"GPUDOCTOR_HISTORY_DIR": str(tmp_path / "b")}).exit_code == 0
    assert len(entries(tmp_path / "a")) == len(entries(tmp_path / "b")) == 1


def test_a_folder_that_cannot_be_written_is_one_info_line(cli, machine, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("check", "--history-dir", str(blocker / "history"))
    assert result.exit_code == 0, result
    info = [ln for ln in result.stderr.splitlines() if "history" in ln]
    assert len(info) == 1 and info[0].startswith("gpudoctor: info: report not kept")
    assert "Traceback" not in result.stderr


def test_verify_keeps_its_result_with_a_throughput_headline(cli, monkeypatch, _private_history):
    from gpudoctor.verify import harness
    from tests.verify import factories as f

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: f.healthy(("lenet5",)))
    result = cli("verify", "--models", "lenet5", "--framework", "torch", "--time-budget", "1")
    assert result.exit_code == 0, result
    (kept,) = entries(_private_history)
    doc = json.loads(kept.read_text())
    assert doc["kind"] == "verify" and doc["verdict"] == "pass"
    assert "img/s" in doc["summary"]["throughput"]
    assert "img/s" in cli("history").stdout


def test_diff_of_two_reports(cli):
    result = cli("diff", str(GOOD), str(BROKEN))
    assert result.exit_code == 1, result
    out = result.stdout
    assert out.index("Kernel module and driver") < out.index("NVML and CUDA driver")
    assert "590.48.01 → 570.133.20" in out
    assert "GD-NVML-003" in out
    same = cli("diff", str(GOOD), str(GOOD))
    assert same.exit_code == 0 and "No change." in same.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_diff_formats_and_output(cli, tmp_path, fmt):
    out = tmp_path / ("d.json" if fmt == "json" else "d.md")
    result = cli("diff", str(GOOD), str(BROKEN), "-o", str(out))
    assert result.exit_code == 1, result
    text = out.read_text()
    if fmt == "json":
        follows_the_diff_schema(json.loads(text))
    else:
        assert text.startswith("## gpudoctor diff")


def test_a_diff_of_two_verify_results_says_when_and_by_which_gpudoctor_as_reports_do(cli):
    # verify wrote started_at as 2026-12-04T16:31:53+00:00 until 2026-12-07: a diff's sides
    # held that beside check's ...Z (jq's fromdateiso8601 refuses it), and no gpudoctor version
    h200 = Path(__file__).resolve().parents[1] / "data" / "verify" / "h200"
    result = cli(
        "diff", str(h200 / "verify-fp32.json"), str(h200 / "new-fp32-auto.json"), "--format", "json"
    )
    doc = json.loads(result.stdout)
    follows_the_diff_schema(doc)
    assert doc["old"]["created_at"] == "2026-12-04T16:31:53Z"
    assert doc["new"]["created_at"] == "2026-12-04T16:57:59Z"
    assert doc["old"]["gpudoctor_version"] == doc["new"]["gpudoctor_version"] == "0.1.0"


def test_diff_between_history_entries_and_against_now(cli, machine, _private_history):
    assert cli("check").exit_code == 0
    machine(BROKEN)
    assert cli("check").exit_code == 1
    listing = cli("history").stdout
    assert "error" in listing and "info *" in listing
    result = cli("diff", "2", "1")
    assert result.exit_code == 1, result
    assert "590.48.01 → 570.133.20" in result.stdout
    now = cli("diff")  # last good against now: the broken machine
    assert now.exit_code == 1, now
    assert "last-good: history" in now.stdout and "GD-NVML-003" in now.stdout
    doc = json.loads(cli("diff", "--format", "json").stdout)
    follows_the_diff_schema(doc)
    # the now side has check's verdict, as the history side has its own: it was null
    assert (doc["old"]["verdict"], doc["new"]["verdict"]) == ("info", "error")
    machine(GOOD)
    assert cli("diff").exit_code == 0


def test_a_check_and_the_verify_it_borrows_timings_from_are_not_compared_with_each_other(
    cli, machine, monkeypatch, _private_history
):
    """check, verify, check: the last check takes the verify's timings and the verify entry
    takes the first check's facts. `diff 1 2` said '1 run(s) within the noise', the verify run
    against itself, and neither side said whose facts or timings it showed."""
    from gpudoctor.verify import harness
    from tests.verify import factories as f

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: f.healthy(("lenet5",)))
    assert cli("check").exit_code == 0
    assert cli("verify", "--models", "lenet5", "--framework", "torch").exit_code == 0
    assert cli("check").exit_code == 0
    result = cli("diff", "1", "2")
    assert "within the noise" not in result.stdout, result.stdout
    assert "both sides take their timings from the same verify run" in result.stdout
    old, new = result.stdout.splitlines()[1:3]
    assert old.startswith("OLD: 1: history") and "(timings from the verify of " in old
    assert new.startswith("NEW: 2: history") and "(facts from the check of " in new


def test_check_since_last_good_adds_the_diff_only_when_something_is_wrong(
    cli, machine, _private_history
):
    assert cli("check").exit_code == 0
    quiet = cli("check", "--since-last-good")
    assert "Since the last good report" not in quiet.stdout
    machine(BROKEN)
    result = cli("check", "--since-last-good")
    assert result.exit_code == 1, result
    tail = result.stdout.split("Since the last good report:", 1)[1]
    assert "kernel module: 590.48.01 → 570.133.20" in tail
    doc = json.loads(cli("check", "--since-last-good", "--format", "json").stdout)
    follows_the_diff_schema(doc["since_last_good"])


def test_check_since_last_good_names_the_verify_its_now_side_borrows_as_diff_does(
    cli, machine, monkeypatch, _private_history
):
    """Both build NEW from this machine now and the newest verify kept after OLD; `diff`
    named that verify in NEW's label, `check --since-last-good` called the side "now" alone."""
    from gpudoctor.verify import harness
    from tests.verify import factories as f

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: f.healthy(("lenet5",)))
    assert cli("check").exit_code == 0
    time.sleep(1.1)  # entries are timed to the second: the verify must come after the check
    assert cli("verify", "--models", "lenet5", "--framework", "torch").exit_code == 0
    machine(BROKEN)
    tail = cli("check", "--since-last-good").stdout.split("Since the last good report:", 1)[1]
    (new,) = [line for line in tail.splitlines() if line.startswith("NEW: ")]
    (same,) = [line for line in cli("diff").stdout.splitlines() if line.startswith("NEW: ")]
    assert new.startswith("NEW: now (timings from the verify of "), new
    assert new == same


def test_since_last_good_without_history_says_why(cli, machine):
    machine(BROKEN)
    result = cli("check", "--since-last-good")
    assert result.exit_code == 1
    assert "since the last good report: no history" in result.stdout


def test_another_machine_is_said_before_the_diff(cli, tmp_path):
    other = json.loads(GOOD.read_text())
    other["host"]["hostname"] = "node-2"
    path = tmp_path / "node-2.json"
    path.write_text(json.dumps(other))
    result = cli("diff", str(GOOD), str(path))
    assert result.stderr.startswith("gpudoctor diff: note: OLD is from host gpu-host, NEW from")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("diff", "no-such.json", str(GOOD)), "no-such.json: no such file"),
        (("diff", "7"), "no history"),
        (("diff", str(GOOD), "now", "extra"), "unexpected extra argument"),
        (("diff", "now"), "OLD cannot be now"),
        (("diff", "last-bad"), "last-bad: no such file, nor a history entry (OLD takes"),
        (("diff", "2026-13-01"), "2026-13-01 is not a date or time"),
        (("diff", "2026-12-07 25:00"), "2026-12-07 25:00 is not a date or time"),
        (("diff", "", "1"), "OLD is empty: give a report file or a history entry"),
        (("diff", "1", " "), "NEW is empty: give a report file or a history entry or now"),
        (("diff", "\u0661"), "\u0661: no such file, nor a history entry"),  # Arabic-Indic 1
        (("diff", "\uff12\uff10\uff12\uff16-12-07"), "no such file, nor a history entry"),
        (("history", "--history-dir", "/nonexistent/histroy"), "/nonexistent/histroy: no such"),
        # "For NEW = now" (history.md, --help): with two files they were dropped unsaid
        (("diff", str(GOOD), str(BROKEN), "--timeout", "5"), "--timeout goes with NEW = now"),
        (("diff", str(GOOD), str(BROKEN), "--no-frameworks"), "--no-frameworks goes with NEW"),
        (("diff", str(GOOD), "1", "--python", "/bin/sh"), "--python goes with NEW = now"),
        # two files read no history: the folder was dropped unsaid, even one that is not there
        (
            ("diff", "--history-dir", "/nonexistent/histroy", str(GOOD), str(BROKEN)),
            "--history-dir goes with a history entry or NEW = now: OLD and NEW are both files",
        ),
        # nothing kept in --history-dir, nothing read from it: it was dropped without a word
        (
            ("check", "--from-report", str(GOOD), "--history-dir", "/tmp/h"),
            "--history-dir goes with a check of this machine: a replayed (--from-report) or "
            "remote (--partition/--nodelist) report is not kept",
        ),
        (
            ("check", "--no-history", "--history-dir", "/tmp/h", "--no-frameworks"),
            "--history-dir and --no-history: nothing is kept there, and nothing read from it "
            "without --since-last-good",
        ),
        (
            ("verify", "--models", "lenet5", "--no-history", "--history-dir", "/tmp/h"),
            "--history-dir and --no-history: nothing is kept there",
        ),
        # no file is written but --output: --force was dropped without a word
        (("history", "--force"), "--force goes with --output FILE (it lets FILE be replaced)"),
        (("diff", str(GOOD), str(BROKEN), "--force"), "--force goes with --output FILE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, needle):
    result = cli(*args)
    assert result.exit_code == 2, result
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert "Traceback" not in result.stderr


def test_force_with_an_output_even_standard_output_is_taken(cli):
    assert cli("history", "-o", "-", "--force").exit_code == 0
    assert cli("diff", str(GOOD), str(GOOD), "-o", "-", "--force").exit_code == 0


def test_history_dir_is_taken_where_a_side_reads_the_history(cli, machine, tmp_path):
    # a history entry, or now (it borrows the newest verify's timings), read the folder
    where = str(tmp_path / "h")
    assert cli("check", "--history-dir", where).exit_code == 0
    assert cli("diff", "--history-dir", where, str(GOOD), "1").exit_code == 0
    assert cli("diff", "--history-dir", where, "1", str(GOOD)).exit_code == 0
    assert cli("diff", "--history-dir", where, str(GOOD)).exit_code == 0  # NEW = now
    assert cli("diff", "--history-dir", where, str(GOOD), "now").exit_code == 0
    piped = cli("diff", "--history-dir", where, "-", str(GOOD), input=GOOD.read_text())
    assert piped.exit_code == 2 and "--history-dir goes with" in piped.stderr  # - is a file


def test_both_sides_from_standard_input_is_one_line_naming_it(cli):
    # `diff - -` read the report for OLD, then said "- is empty" for NEW
    result = cli("diff", "-", "-", input=GOOD.read_text())
    assert result.exit_code == 2, result
    assert result.stderr == (
        "gpudoctor: error: OLD and NEW cannot both be - (standard input is read once)\n"
    )


@pytest.mark.parametrize(
    "content",
    [
        GOOD.read_text()[:500],  # truncated
        '{"schema_version": 7, "host": {}}',  # a newer schema
        "gpudoctor check 0.1.0\n",  # text output
        "[" * 50000,  # hostile nesting
    ],
    ids=["truncated", "newer-schema", "text-output", "nested"],
)
def test_bad_report_files_are_one_line(cli, tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = cli("diff", str(GOOD), str(bad))
    assert result.exit_code == 2, result
    assert str(bad) in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_damaged_history_entry_is_one_line_for_diff_and_listed_by_history(
    cli, machine, _private_history
):
    assert cli("check").exit_code == 0
    (kept,) = entries(_private_history)
    kept.write_text(kept.read_text()[:300])
    result = cli("diff", "1", str(GOOD))
    assert result.exit_code == 2 and "damaged" in result.stderr, result
    listing = cli("history")
    assert listing.exit_code == 0 and "damaged" in listing.stdout


@pytest.mark.parametrize(
    ("code", "words"), [(28, "No space left on device"), (30, "Read-only file system")]
)
def test_a_full_or_read_only_disk_is_one_info_line_and_keeps_the_old_entries(
    cli, machine, monkeypatch, _private_history, code, words
):
    import errno
    import os

    from gpudoctor.history import store

    assert cli("check").exit_code == 0
    before = entries(_private_history)
    real_open = os.open

    def refuse(path, flags, *args):
        if str(path).startswith(str(_private_history)) and flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(store.os, "open", refuse)
    machine(BROKEN)
    result = cli("check")
    assert result.exit_code == 1, result  # the check's own verdict, untouched
    info = [ln for ln in result.stderr.splitlines() if "gpudoctor: info:" in ln]
    assert len(info) == 1 and words in info[0], result
    assert entries(_private_history) == before
    assert errno.errorcode[code] in {"ENOSPC", "EROFS"}


@pytest.mark.parametrize(
    "extra", [("--from-report", str(BROKEN)), ("--health-check",), ("--partition", "gpu")]
)
def test_since_last_good_is_about_this_machine_only(cli, extra):
    result = cli("check", "--since-last-good", *extra)
    assert result.exit_code == 2, result
    assert "--since-last-good compares this machine now" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_history_folder_that_cannot_be_read_costs_since_last_good_one_line(
    cli, machine, tmp_path
):
    """A file where the folder should be: the check still prints its verdict and exits with
    it (history is never fatal); history and diff refuse in one line."""
    blocker = tmp_path / "history"
    blocker.write_text("")
    machine(BROKEN)
    env = {"GPUDOCTOR_HISTORY_DIR": str(blocker)}
    result = cli("check", "--since-last-good", env=env)
    assert result.exit_code == 1, result
    assert "gpudoctor check" in result.stdout
    assert (
        f"since the last good report: cannot read the history folder {blocker} (Not a directory)"
        in result.stdout
    )
    assert f"report not kept in the history ({blocker}: Not a directory)" in result.stderr
    doc = json.loads(cli("check", "--since-last-good", "--format", "json", env=env).stdout)
    assert "cannot read the history folder" in doc["since_last_good"]["error"]
    for args in (("history",), ("diff", "1", str(GOOD))):
        refused = cli(*args, env=env)
        assert refused.exit_code == 2, refused
        assert refused.stderr.strip().endswith("(Not a directory)")
        assert len(refused.stderr.strip().splitlines()) == 1


def test_last_good_is_this_machines_in_a_history_shared_with_another(
    cli, machine, _private_history
):
    """A home folder on NFS keeps every machine's checks in one history: the last good of
    another machine, newer than this one's, is not what this machine was."""
    from gpudoctor.history import store
    from gpudoctor.model.history import Summary

    assert cli("check").exit_code == 0  # this machine, good
    mine = store.names(_private_history)[0][0]
    store.record(  # another machine's good check, a moment later
        _private_history,
        kind="check",
        document_json=BROKEN.read_text(),
        verdict="ok",
        good=True,
        summary=Summary(driver="570.133.20"),
        machine="0123456789abcdef",
    )
    assert store.last_good(_private_history, "check") != mine
    machine(BROKEN)
    result = cli("check", "--since-last-good")
    assert result.exit_code == 1, result
    tail = result.stdout.split("Since the last good report:", 1)[1]
    assert "different machines" not in tail and "different machines" not in result.stderr
    assert "kernel module: 590.48.01 → 570.133.20" in tail
    listed = json.loads(cli("history", "--format", "json").stdout)["entries"]
    assert [e["file"] for e in listed if e["last_good"]] == [mine]  # what diff takes
    default = cli("diff", "last-good", "1")  # entry 1: the broken check just kept
    assert "different machines" not in default.stderr, default
    assert "kernel module: 590.48.01 → 570.133.20" in default.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_now_against_the_redacted_history_names_no_host(cli, machine, _private_history, fmt):
    """History keeps redacted reports; now is redacted the same way, its host name too (a
    diff in JSON or Markdown goes into tickets)."""
    assert cli("check").exit_code == 0
    machine(BROKEN)
    result = cli("diff", "--format", fmt)
    assert result.exit_code == 1, result
    assert "gpu-host" not in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["new"]["host"] == "<redacted>"


@pytest.mark.parametrize(("checks", "state"), [(1, GOOD), (2, GOOD), (1, BROKEN), (2, BROKEN)])
def test_every_diff_the_history_listing_suggests_runs_on_that_history(
    cli, machine, _private_history, checks, state
):
    # It suggested `gpudoctor diff 3 1` and `gpudoctor diff 2026-12-01` whatever the history
    # held: with one or two entries, or none on that day, each was refused as bad input; and
    # plain `gpudoctor diff` (last good against now) where no report was good yet.
    import re

    machine(state)
    for _ in range(checks):
        assert cli("check").exit_code in (0, 1)
    hint = cli("history").stdout.strip().splitlines()[-1]
    suggested = re.findall(r"`gpudoctor (diff[^`]*)`", hint)
    assert len(suggested) == checks + 1, hint
    for command in suggested:
        result = cli(*command.split())
        assert result.exit_code in (0, 1), (command, result.stderr)


def _as_if_no_frameworks(source: Path, target: Path) -> Path:
    """``source`` as `check --no-frameworks` writes it: no framework, their probes skipped."""
    doc = json.loads(source.read_text())
    doc["frameworks"] = []
    for probe in doc["probes"]:
        if probe["name"] in ("torch", "tensorflow"):
            probe.update(status="skipped", duration_s=0.0, message="--no-frameworks")
    target.write_text(json.dumps(doc))
    return target


def test_diff_without_a_good_report_says_what_else_it_takes(cli, machine, _private_history):
    machine(BROKEN)
    assert cli("check").exit_code == 1
    result = cli("diff")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "no good report in the history" in line and "`gpudoctor diff 1`" in line, line
    assert cli("diff", "1").exit_code in (0, 1)


@pytest.mark.parametrize(
    "report", [GOOD, REPORTS / "failure__flash_attn_build_nvcc_mismatch.json"], ids=lambda p: p.stem
)
@pytest.mark.parametrize("unprobed_side", ["old", "new"])
def test_a_side_without_frameworks_compares_no_framework_findings(
    cli, tmp_path, report, unprobed_side
):
    # The note said the frameworks were not compared, yet their findings were: "PyTorch was
    # not checked (went away)", GD-CUDA-012 (nvcc against PyTorch's CUDA) gone, exit 1.
    quick = _as_if_no_frameworks(report, tmp_path / "quick.json")
    old, new = (quick, report) if unprobed_side == "old" else (report, quick)
    result = cli("diff", str(old), str(new), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["findings"] == [], doc["findings"]
    assert any("did not probe the frameworks" in note for note in doc["notes"])
    assert result.exit_code == 0, result


def test_a_history_entry_copied_out_is_a_report_file(cli, machine, _private_history, tmp_path):
    # `check --from-report ENTRY` and `diff ENTRY ...` said "it has no schema_version (write
    # one with `gpudoctor check --format json -o FILE`)" of gpudoctor's own kept report.
    assert cli("check").exit_code == 0
    (kept,) = entries(_private_history)
    copy = tmp_path / "from-node17.json"
    copy.write_bytes(kept.read_bytes())
    replayed = cli("check", "--from-report", str(copy))
    assert replayed.exit_code == 0, replayed.stderr
    assert "590.48.01" in replayed.stdout
    same = cli("diff", str(copy), "1", "--format", "json")
    assert same.exit_code == 0, same.stderr
    doc = json.loads(same.stdout)
    assert doc["old"]["machine"] == doc["new"]["machine"] is not None
    assert doc["other_machine"] is None


@pytest.mark.parametrize("report", sorted(REPORTS.glob("*.json")), ids=lambda p: p.stem)
def test_the_diff_of_every_recorded_report_against_a_good_one_follows_the_schema(cli, report):
    result = cli("diff", str(GOOD), str(report), "--format", "json")
    assert result.exit_code in (0, 1), result
    follows_the_diff_schema(json.loads(result.stdout))
