"""The history folder: bounded, atomic, safe with two writers, never fatal, hostile files named."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gpudoctor.history import store
from gpudoctor.history.select import find_entry, from_file, from_history, is_history_selector
from gpudoctor.history.store import HistoryError, Summary, default_folder, listing, record
from tests.conftest import DATA

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
REPORT = DATA / "reports" / "linux-x86_64__nvidia-h200__590.48.01__idle.json"
VERIFY = DATA / "verify" / "h200" / "verify-amp.json"


def keep(folder: Path, n: int = 0, *, good: bool = True, kind: str = "check", **kw) -> str:
    doc = REPORT.read_text() if kind == "check" else VERIFY.read_text()
    entry = record(
        folder,
        kind=kind,
        document_json=doc,
        verdict="ok" if good else "error",
        good=good,
        summary=Summary(driver="590.48.01", frameworks=("torch 2.13.0",)),
        machine="f00d",
        now=T0 + timedelta(hours=n),
        **kw,
    )
    return entry.name


def test_the_folder_follows_xdg_and_the_variable(tmp_path):
    assert default_folder({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "gpudoctor/history"
    assert default_folder({"GPUDOCTOR_HISTORY_DIR": "/x", "XDG_STATE_HOME": "/y"}) == Path("/x")
    relative = default_folder({"XDG_STATE_HOME": "relative/state"})  # invalid: ignored
    assert relative == Path.home() / ".local/state/gpudoctor/history"
    assert store.disabled({"GPUDOCTOR_NO_HISTORY": "1"})
    assert not store.disabled({"GPUDOCTOR_NO_HISTORY": "0"})


def test_the_conftest_keeps_tests_out_of_the_real_state_folder(_private_history):
    assert default_folder(os.environ) == _private_history
    assert str(Path.home()) not in str(_private_history)


def test_an_entry_round_trips_and_is_private(tmp_path):
    name = keep(tmp_path)
    entry = store.read_entry(tmp_path, name)
    assert (entry.kind, entry.verdict, entry.good, entry.machine) == ("check", "ok", True, "f00d")
    assert entry.document is not None and entry.document["schema_version"] == 1
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    assert store.last_good(tmp_path, "check") == name


def test_the_oldest_go_first_by_count_and_by_bytes_but_never_the_last_good(tmp_path):
    first = keep(tmp_path, 0, good=True)
    for n in range(1, 6):
        keep(tmp_path, n, good=False, max_entries=3)
    left = [name for name, _ in store.names(tmp_path)]
    assert len(left) == 3 and left[0] == first  # the last good survives a run of failures
    size = (tmp_path / first).stat().st_size
    keep(tmp_path, 9, good=False, max_bytes=size * 2 + 10)
    left = [name for name, _ in store.names(tmp_path)]
    assert len(left) == 2 and left[0] == first


def test_a_new_good_entry_moves_the_mark(tmp_path):
    keep(tmp_path, 0)
    bad = keep(tmp_path, 1, good=False)
    good = keep(tmp_path, 2)
    assert store.last_good(tmp_path, "check") == good != bad
    assert find_entry(tmp_path, "last-good").name == good
    assert find_entry(tmp_path, "2").name == bad
    assert find_entry(tmp_path, "latest").name == good
    assert find_entry(tmp_path, "2026-12-01T07").name == bad


@pytest.mark.parametrize(
    ("selector", "message"),
    [("9", "history has one entry, 1, not 9"), ("2025-01-01", "no history entry at 2025-01-01")],
)
def test_a_selector_that_names_nothing_is_one_line(tmp_path, selector, message):
    keep(tmp_path)
    with pytest.raises(HistoryError, match=message):
        find_entry(tmp_path, selector)
    keep(tmp_path)
    if selector == "9":  # and of more entries: their range
        with pytest.raises(HistoryError, match="history has entries 1 to 2, not 9"):
            find_entry(tmp_path, selector)


def test_an_empty_history_says_how_to_fill_it(tmp_path):
    with pytest.raises(HistoryError, match="gpudoctor check"):
        find_entry(tmp_path / "none", "last-good")


def test_selectors_and_file_names_are_told_apart():
    assert all(map(is_history_selector, ["1", "12", "last-good", "latest", "2026-12-01"]))
    assert not any(map(is_history_selector, ["report.json", "./1", "x"]))


def _writer(folder: str, n: int) -> None:
    for _ in range(n):
        record(
            Path(folder),
            kind="check",
            document_json='{"schema_version": 1}',
            verdict="ok",
            good=True,
            summary=Summary(),
            machine=None,
            max_entries=8,
        )


def test_two_processes_writing_at_once_lose_nothing_and_break_nothing(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 15)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    entries, problems = listing(tmp_path)
    assert problems == []
    assert 1 <= len(entries) <= 8 + 1  # bounded; each pruned after its own write
    assert store.last_good(tmp_path, "check") is not None
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_leaves_no_partial_entry(tmp_path, monkeypatch):
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if len(data) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(store.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        keep(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"tool": "gpudoctor history", "history_version": 1', "damaged"),
        (b"[1, 2]", "not a gpudoctor history entry"),
        (b'{"tool": "gpudoctor history", "history_version": 99}', "history version 99"),
        (b'{"tool": "gpudoctor history", "history_version": 1, "kind": "verify"}', "kind"),
        (b'{"tool": "gpudoctor history", "history_version": 1, "kind": "check"}', "no report"),
        (b"\xff\xfe\x00garbage", "damaged"),
        (b'{"a": NaN}', "damaged"),
        (b"[" * 100000, "damaged"),
    ],
)
def test_hostile_entries_are_named_in_the_listing_and_never_fatal(tmp_path, content, message):
    good = keep(tmp_path)
    bad = "20261201T050000.000000Z.check.1-0000abcd.json"
    (tmp_path / bad).write_bytes(content)
    entries, problems = listing(tmp_path)
    assert [e.name for e in entries] == [good]
    assert len(problems) == 1 and bad in problems[0] and message in problems[0]
    assert "\n" not in problems[0]


def test_an_entry_that_is_a_fifo_or_a_link_is_no_entry(tmp_path):
    good = keep(tmp_path)
    os.mkfifo(tmp_path / "20261201T050000.000000Z.check.1-0000abcd.json")
    (tmp_path / "20261201T040000.000000Z.check.1-0000abce.json").symlink_to("/etc/passwd")
    entries, problems = listing(tmp_path)
    assert [e.name for e in entries] == [good]
    # never opened, but named under the table, as docs/history.md says
    assert problems == [
        "history entry 20261201T050000.000000Z.check.1-0000abcd.json is a named pipe, not a "
        "file: skipped",
        "history entry 20261201T040000.000000Z.check.1-0000abce.json is a symbolic link, not "
        "a file: skipped",
    ]


def test_a_history_entry_that_holds_a_broken_report_is_one_line(tmp_path):
    name = keep(tmp_path)
    data = json.loads((tmp_path / name).read_text())
    data["document"]["nvml"] = "not an object"
    (tmp_path / name).write_text(json.dumps(data))
    with pytest.raises(HistoryError, match=r"history entry .*nvml"):
        from_history(tmp_path, "1", "OLD")


def test_a_check_entry_takes_the_timings_of_the_verify_before_it(tmp_path):
    keep(tmp_path, 0, kind="verify")
    keep(tmp_path, 1)
    snap = from_history(tmp_path, "1", "OLD")
    assert snap.report is not None and snap.samples and snap.side.measured
    snap = from_history(tmp_path, "2", "OLD")  # the verify entry: the check is newer, none
    assert snap.report is None and snap.samples


def test_files_are_known_by_their_content(tmp_path):
    assert from_file(REPORT).report is not None
    assert from_file(VERIFY).samples and not from_file(VERIFY).side.checked
    text = tmp_path / "check.txt"
    text.write_text("gpudoctor check 0.1.0\n")
    from gpudoctor.errors import ReportFormatError

    with pytest.raises(ReportFormatError, match="text output of gpudoctor check"):
        from_file(text)
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"schema_version": 99, "host": {}}))
    with pytest.raises(ReportFormatError, match="schema version 99"):
        from_file(newer)


def test_timings_come_from_the_same_machine_only(tmp_path, monkeypatch):
    """A history shared by several machines (NFS home): a check takes the timings of its own
    machine's verify, and `now` those of this machine's, never another's."""
    from gpudoctor.history import select

    keep(tmp_path, 0)
    record(
        tmp_path,
        kind="verify",
        document_json=VERIFY.read_text(),
        verdict="pass",
        good=True,
        summary=Summary(),
        machine="beef",
        now=T0 + timedelta(hours=1),
    )
    keep(tmp_path, 2)
    assert from_history(tmp_path, "1", "OLD").samples == ()
    monkeypatch.setattr(select, "this_machine", lambda host: "f00d")
    assert select.newest_verify(tmp_path, after=None) == ((), "")
    keep(tmp_path, 3, kind="verify")
    keep(tmp_path, 4)
    assert from_history(tmp_path, "1", "OLD").samples
    samples, when = select.newest_verify(tmp_path, after=None)
    assert samples and when == "2026-12-01T09:00:00Z"
