"""The kernel-log probe: real Xid and SXid lines parsed, sources in order, every read bounded."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gpudoctor.probe import kernel_log
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.kernel_log import parse_message, probe_kernel_log
from gpudoctor.probe.runcmd import CmdResult

# Recorded lines: leptonai/gpud pkg/nvidia-query/xid/testdata/dmesg-with-xid-119.log (an 8-GPU
# PowerEdge XE9680, 2025-02-23) and kmsg_test.go (GB200 Xid 149/154), NVIDIA/open-gpu-kernel-
# modules#1151 (Xid 79 on an RTX 5080), NVIDIA's page-retirement docs (Xid 63).
XID_119 = (
    "NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of "
    "waiting for RPC response from GPU4 GSP! Expected function 103 (GSP_RM_ALLOC) (0x2081 0x4)."
)
XID_79 = "NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus."
XID_79_UNKNOWN = (
    "NVRM: Xid (PCI:0000:05:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus."
)
XID_14_OLD = "NVRM: Xid (0000:03:00): 14, Channel 00000001"
XID_149 = (
    "NVRM: Xid (PCI:0009:01:00): 149, NETIR_LINK_EVT  Fatal   XC0 i0 Link 01 (0x021425c6 "
    "0x00000000 0x00000000 0x00000000 0x00000000 0x00000000)"
)
XID_154 = (
    "NVRM: Xid (PCI:0009:01:00): 154, GPU recovery action changed from 0x0 (None) to 0x4 "
    "(Drain and Reset)"
)
XID_63 = (
    "NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping, "
    "reset gpu to activate."
)
# With MIG on, the driver attributes an Xid to a GPU instance (and compute instance):
# NVIDIA's A100 memory error management page ('NVRM: Xid (PCI:0000:01:00 GPU-I:05): 94,
# pid=7194, Contained: CE User Channel (0x9). RST: No, D-RST: No') and open-gpu-kernel-modules
# kernel_rc.c ('NVRM: Xid (PCI:%04x:%02x:%02x GPU-I:%02u GPU-CI:%02u): %d, pid=%s, ...')
XID_94_MIG = (
    "NVRM: Xid (PCI:0000:01:00 GPU-I:05): 94, pid=7194, Contained: CE User Channel (0x9). "
    "RST: No, D-RST: No"
)
XID_13_MIG = (
    "NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:02): 13, pid=4242, name=python, Graphics "
    "Exception on (GPC 0, TPC 1, SM 0)"
)
SXID = (
    "nvidia-nvswitch3: SXid (PCI:0000:c3:00.0): 20034, Fatal, Link 61 LTSSM Fault Up "
    "Severity 5 Engine instance 61 Sub-engine instance 00"
)


@pytest.mark.parametrize(
    ("line", "kind", "code", "pci", "pid", "process", "starts"),
    [
        (XID_119, "xid", 119, "0000:9b:00", 2024380, "nvidia-smi", "Timeout after 6s"),
        (XID_79, "xid", 79, "0000:2b:00", None, None, "GPU has fallen off the bus."),
        (XID_79_UNKNOWN, "xid", 79, "0000:05:00", None, None, "GPU has fallen off the bus."),
        (XID_14_OLD, "xid", 14, "0000:03:00", None, None, "Channel 00000001"),
        (XID_149, "xid", 149, "0009:01:00", None, None, "NETIR_LINK_EVT"),
        (XID_154, "xid", 154, "0009:01:00", None, None, "GPU recovery action"),
        (XID_63, "xid", 63, "0000:10:1c", 1896, None, "Row Remapper"),
        (SXID, "sxid", 20034, "0000:c3:00.0", None, None, "Fatal, Link 61"),
        # were no Xid at all: the address part had no room for the MIG instances
        (XID_94_MIG, "xid", 94, "0000:01:00", 7194, None, "Contained: CE User Channel"),
        (XID_13_MIG, "xid", 13, "0000:3b:00", 4242, "python", "Graphics Exception"),
    ],
)
def test_recorded_lines_are_parsed(line, kind, code, pci, pid, process, starts):
    parsed = parse_message(line)
    assert parsed is not None
    assert (parsed.kind, parsed.code, parsed.pci, parsed.pid) == (kind, code, pci, pid)
    assert parsed.process == process
    assert parsed.message.startswith(starts)


@pytest.mark.parametrize(
    "line",
    [
        "NVRM: Xid error: xyz, invalid data",  # gpud's "invalid Xid number" case
        "NVRM: GPU at PCI:0000:9b:00: GPU-509665ad-b600-ac93-3616-d754b23d636d",
        "usb 1-1: new high-speed USB device number 2 using xhci_hcd",
        "NVRM: Xid (invalid): some error",
    ],
)
def test_other_lines_are_not_xids(line):
    assert parse_message(line) is None


def test_the_process_name_is_kept_only_when_named():
    parsed = parse_message(XID_63)
    assert parsed is not None and parsed.pid == 1896 and parsed.process is None
    named = parse_message(XID_119)
    assert named is not None and named.process == "nvidia-smi"


# --- sources ----------------------------------------------------------------------------------

NOW = 1_765_000_000.0  # 2025-12-06T05:46:40Z
UPTIME = 10_000.0  # booted at NOW - 10,000 s


def kmsg_record(seconds_since_boot: float, message: str, seq: int = 1) -> str:
    """One /dev/kmsg record: ``prio,seq,usec,flags;message`` and a continuation line."""
    return f"4,{seq},{int(seconds_since_boot * 1e6)},-;{message}\n SUBSYSTEM=pci\n"


def host(tmp_path: Path, kmsg: str | bytes | None) -> Path:
    (tmp_path / "proc").mkdir(exist_ok=True)
    (tmp_path / "proc" / "uptime").write_text(f"{UPTIME} 1.0\n")
    (tmp_path / "dev").mkdir(exist_ok=True)
    if kmsg is not None:
        data = kmsg.encode() if isinstance(kmsg, str) else kmsg
        (tmp_path / "dev" / "kmsg").write_bytes(data)
    return tmp_path


def refuse(*words: str):
    """A fake run_cmd: journalctl and dmesg refuse, as for a user outside the log groups."""
    calls: list[list[str]] = []

    def run(argv, **kwargs):
        calls.append(list(argv))
        if argv[0].endswith("journalctl"):
            return CmdResult(
                argv=tuple(argv),
                returncode=0,
                stdout="-- No entries --\n",
                stderr="Hint: You are currently not seeing messages from other users and the "
                "system.\n",
            )
        return CmdResult(
            argv=tuple(argv),
            returncode=1,
            stderr="dmesg: read kernel buffer failed: Operation not permitted\n",
        )

    run.calls = calls  # type: ignore[attr-defined]
    return run


def ctx_for(root: Path, run=None, path: str = "/usr/bin:/bin") -> ProbeContext:
    return ProbeContext(root=root, env={"PATH": path}, run=run or refuse())


def test_kmsg_records_become_counts_and_events_in_the_window(tmp_path):
    records = (
        kmsg_record(100, "usb 1-1: new device", 1)
        + kmsg_record(200, XID_119, 2)
        + kmsg_record(260, XID_119.replace("103 (GSP_RM_ALLOC)", "10 (FREE)"), 3)
        + kmsg_record(300, XID_79_UNKNOWN, 4)
    )
    info = probe_kernel_log(ctx_for(host(tmp_path, records)), now=NOW)
    assert info.status == "ok" and info.source == "/dev/kmsg" and not info.truncated
    assert info.lines_read == 4
    assert [(c.code, c.pci, c.count) for c in info.counts] == [
        (79, "0000:05:00", 1),
        (119, "0000:9b:00", 2),
    ]
    gsp = info.counts[1]
    assert gsp.first == kernel_log.iso(NOW - UPTIME + 200)
    assert gsp.last == kernel_log.iso(NOW - UPTIME + 260)
    assert "10 (FREE)" in gsp.last_message
    assert info.events[0].process == "nvidia-smi" and info.events[0].pid == 2024380
    assert info.covered_from == kernel_log.iso(NOW - UPTIME + 100)


def test_lines_older_than_the_window_are_left_out(tmp_path):
    records = kmsg_record(100, XID_79, 1) + kmsg_record(9_000, XID_63, 2)
    # a one-hour window: boot + 100 s is 9,900 s ago, boot + 9,000 s only 1,000 s ago
    info = probe_kernel_log(ctx_for(host(tmp_path, records)), window_s=3600, now=NOW)
    assert [c.code for c in info.counts] == [63]
    assert info.window_h == 1.0


def test_without_any_permission_it_says_so_and_guesses_nothing(tmp_path):
    run = refuse()
    info = probe_kernel_log(ctx_for(host(tmp_path, None), run), now=NOW)
    assert info.status == "unreadable" and info.counts == () and info.source is None
    assert "/dev/kmsg" in info.message
    assert "journalctl: no permission" in info.message
    assert "dmesg: no permission" in info.message
    assert [Path(c[0]).name for c in run.calls] == ["journalctl", "dmesg"]


def test_the_journal_is_read_when_kmsg_is_closed(tmp_path):
    journal = (  # --reverse: newest first
        "2025-12-06T01:00:00+00:00 node01 kernel: " + XID_79 + "\n"
        "-- Boot 4f3c --\n"
        "2025-12-05T10:00:00+0000 node01 kernel: NVRM: Xid (PCI:0000:9b:00): 48, pid=77, "
        "name=python, An uncorrectable double bit error (DBE) has been detected on GPU.\n"
        "2025-12-05T09:00:00+0000 node01 kernel: " + XID_79 + "\n"
    )
    seen: list[list[str]] = []

    def run(argv, **kwargs):
        seen.append(list(argv))
        assert kwargs["max_output_bytes"] == kernel_log.MAX_BYTES
        assert kwargs["timeout_s"] == kernel_log.MAX_SECONDS
        return CmdResult(argv=tuple(argv), returncode=0, stdout=journal)

    info = probe_kernel_log(ctx_for(host(tmp_path, None), run), now=NOW)
    assert info.source == "journalctl" and info.status == "ok"
    assert [(c.code, c.first, c.last) for c in info.counts] == [
        (48, "2025-12-05T10:00:00Z", "2025-12-05T10:00:00Z"),
        (79, "2025-12-05T09:00:00Z", "2025-12-06T01:00:00Z"),
    ]
    assert info.events[-1].code == 79  # oldest first again, as from the other sources
    argv = seen[0]
    assert "_TRANSPORT=kernel" in argv and f"--since=@{int(NOW - 72 * 3600)}" in argv
    assert "--reverse" in argv


def test_dmesg_is_the_fallback_with_times_since_boot(tmp_path):
    out = f"[  123.456789] {XID_63}\n[ 5000.000000] {XID_79}\nno timestamp here {XID_14_OLD}\n"

    def run(argv, **kwargs):
        if argv[0].endswith("journalctl"):
            return CmdResult(argv=tuple(argv), returncode=1, stderr="No journal files found\n")
        return CmdResult(argv=tuple(argv), returncode=0, stdout=out)

    info = probe_kernel_log(ctx_for(host(tmp_path, None), run), now=NOW)
    assert info.source == "dmesg"
    by_code = {c.code: c for c in info.counts}
    assert by_code[63].first == kernel_log.iso(NOW - UPTIME + 123.456789)
    assert by_code[14].first is None  # no time: kept, since it cannot be placed outside
    assert "journalctl: No journal files found" not in info.message  # ok sources say nothing


def test_a_cut_journal_marks_the_counts_as_lower_bounds(tmp_path):
    def run(argv, **kwargs):
        return CmdResult(
            argv=tuple(argv),
            returncode=None,
            timed_out=True,
            stdout=f"2025-12-06T01:00:00Z node kernel: {XID_79}\n",
        )

    info = probe_kernel_log(ctx_for(host(tmp_path, None), run), now=NOW)
    assert info.truncated and info.counts[0].count == 1


def test_a_huge_kmsg_keeps_its_newest_records_in_time(tmp_path, monkeypatch):
    # A ring buffer larger than the byte bound (log_buf_len=16M): it can only be read oldest
    # first, and what is kept is its newest part. Before, reading stopped at the bound and
    # kept the oldest: the Xid 79 just logged at its end was never seen.
    monkeypatch.setattr(kernel_log, "MAX_BYTES", 2 * 1024 * 1024)
    line = kmsg_record(50, "x" * 200)
    data = (
        kmsg_record(40, XID_63) + (line * (3 * 1024 * 1024 // len(line))) + kmsg_record(60, XID_79)
    )
    start = time.monotonic()
    info = probe_kernel_log(ctx_for(host(tmp_path, data)), now=NOW)
    assert time.monotonic() - start < 2.0
    assert info.truncated and info.bytes_read == len(data)
    assert [c.code for c in info.counts] == [79]  # the newest kept, the oldest let go
    assert info.lines_read * len(line) <= 2 * 1024 * 1024 + 65536


def test_a_kmsg_read_one_record_at_a_time_keeps_its_newest(tmp_path, monkeypatch):
    # The real /dev/kmsg answers each read with one record: the cut falls between records.

    monkeypatch.setattr(kernel_log, "MAX_BYTES", 64 * 1024)
    records = [kmsg_record(40, XID_63, 0)] + [
        kmsg_record(50 + i / 1000, "usb 1-1: " + "y" * 100, i + 1) for i in range(2000)
    ]
    records.append(kmsg_record(60, XID_79, 9999))
    one_record_per_read(monkeypatch, [len(r.encode()) for r in records])
    info = probe_kernel_log(ctx_for(host(tmp_path, "".join(records))), now=NOW)
    assert info.truncated and [c.code for c in info.counts] == [79]
    # the cut fell between records: the newest records that fit the bound, each whole
    kept, total = 0, 0
    for record in reversed(records):
        total += len(record.encode())
        if total > 64 * 1024:
            break
        kept += 1
    assert info.lines_read == kept


def test_a_line_without_end_is_cut_and_reading_goes_on(tmp_path):
    data = (
        b"4,1,1000,-;" + b"A" * (5 * kernel_log.MAX_LINE) + b"\n" + kmsg_record(60, XID_79).encode()
    )
    info = probe_kernel_log(ctx_for(host(tmp_path, data)), now=NOW)
    assert [c.code for c in info.counts] == [79]


def test_hostile_lines_stay_data_bounded_and_are_shown_inert(tmp_path):
    hostile = (
        "NVRM: Xid (PCI:0000:9b:00): 13, pid=1, name=\x1b]0;pwned\x07evil, "
        "\x1b[2J\x1b[31mGraphics Exception\u202e" + "Z" * 5000
    )
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg_record(60, hostile))), now=NOW)
    (count,) = info.counts
    assert len(count.last_message) <= kernel_log.MAX_MESSAGE
    assert "\x1b[2J" in count.last_message  # stored as the kernel wrote it ...
    from gpudoctor.model.inert import inert

    shown = inert(count.last_message)  # ... and never reaches a terminal as a control code
    assert "\x1b" not in shown and "\\x1b[2J" in shown and "\\u202e" in shown


@pytest.mark.parametrize("usec", ["1" + "0" * 20, "9" * 400])
def test_a_record_stamped_beyond_any_date_is_counted_without_a_time(tmp_path, usec):
    # the probe crashed (year out of range; int too large to convert to float), and the
    # report lost every Xid of the log with it
    data = f"4,1,{usec},-;{XID_79}\n" + kmsg_record(60, XID_63, 2)
    info = probe_kernel_log(ctx_for(host(tmp_path, data)), now=NOW)
    by_code = {c.code: c for c in info.counts}
    assert by_code[79].count == 1 and by_code[79].first is None
    assert by_code[63].first == kernel_log.iso(NOW - UPTIME + 60)


@pytest.mark.parametrize("uptime", ["nan", "inf", "-5"])
def test_an_uptime_that_is_no_time_places_no_record(tmp_path, uptime):
    root = host(tmp_path, kmsg_record(60, XID_79))
    (root / "proc" / "uptime").write_text(f"{uptime} 1.0\n")  # NaN: iso() raised ValueError
    (count,) = probe_kernel_log(ctx_for(root), now=NOW).counts
    assert count.first is None


def test_a_dmesg_stamp_beyond_any_date_is_no_time(tmp_path):
    out = f"[{'9' * 400}.0] {XID_79}\n"

    def run(argv, **kwargs):
        if argv[0].endswith("journalctl"):
            return CmdResult(argv=tuple(argv), returncode=1, stderr="No journal files found\n")
        return CmdResult(argv=tuple(argv), returncode=0, stdout=out)

    (count,) = probe_kernel_log(ctx_for(host(tmp_path, None), run), now=NOW).counts
    assert count.first is None  # float() gave inf, and iso() raised OverflowError


@pytest.mark.parametrize("pid", ["9" * 5000, "9" * 20, "\u0663\u0663"])
def test_a_pid_no_process_has_is_unknown(pid):
    # 5,000 digits: int() raised and the probe crashed; 20: a pid beyond 64 bits, which a
    # saved report's reader refuses; Arabic-Indic digits were read as pid 33
    parsed = parse_message(f"NVRM: Xid (PCI:0000:2b:00): 79, pid={pid}, name=python, gone.")
    assert parsed is not None and parsed.code == 79 and parsed.pid is None


def test_undecodable_bytes_do_not_stop_the_reading(tmp_path):
    data = b"4,1,1000,-;\xff\xfe\xfa bad bytes\n" + kmsg_record(60, XID_79).encode()
    info = probe_kernel_log(ctx_for(host(tmp_path, data)), now=NOW)
    assert [c.code for c in info.counts] == [79]


def test_many_events_keep_the_newest_and_count_them_all(tmp_path):
    records = "".join(kmsg_record(1000 + i, XID_63, i) for i in range(250))
    info = probe_kernel_log(ctx_for(host(tmp_path, records)), now=NOW)
    assert info.counts[0].count == 250
    assert len(info.events) == kernel_log.MAX_EVENTS
    assert info.events[-1].time == kernel_log.iso(NOW - UPTIME + 1249)


def test_no_proc_is_no_linux_kernel(tmp_path):
    info = probe_kernel_log(ProbeContext(root=tmp_path, env={}, run=refuse()), now=NOW)
    assert (info.status, info.message, info.window_h) == (
        "unsupported",
        "no /proc: not a Linux kernel",
        72.0,
    )
    assert info.counts == () and info.source is None


def test_a_fifo_for_kmsg_does_not_block(tmp_path):
    import os

    root = host(tmp_path, None)
    os.mkfifo(root / "dev" / "kmsg")
    start = time.monotonic()
    info = probe_kernel_log(ctx_for(root), now=NOW)
    assert time.monotonic() - start < 2.0
    assert info.source == "/dev/kmsg" and info.counts == ()


def test_the_boot_time_is_recorded(tmp_path):
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg_record(1, XID_79))), now=NOW)
    assert info.boot_time == kernel_log.iso(NOW - UPTIME)


def one_record_per_read(monkeypatch, sizes: list[int]) -> None:
    """os.read as the real /dev/kmsg answers: one record (here: one line) per call."""
    import os

    left = iter(sizes)
    real_read = os.read

    def read(fd, _n):
        size = next(left, None)
        if size is None:
            raise BlockingIOError
        return real_read(fd, size)

    monkeypatch.setattr(kernel_log.os, "read", read)


def journal_with(lines: str, seen: list[list[str]] | None = None):
    def run(argv, **kwargs):
        if seen is not None:
            seen.append(list(argv))
        if argv[0].endswith("journalctl"):
            return CmdResult(argv=tuple(argv), returncode=0, stdout=lines)
        raise AssertionError(f"ran {argv}")

    return run


def test_a_wrapped_ring_buffer_hands_over_to_the_journal(tmp_path):
    # The ring buffer's oldest record is from 1 h before now, on a node up for 10,000 s: the
    # Xid 79 of 2 h ago, this boot, is gone from /dev/kmsg. Before, check read /dev/kmsg
    # alone and said nothing; the journal holds it.
    kmsg = kmsg_record(UPTIME - 3600, "usb 1-1: reset") + kmsg_record(UPTIME - 60, "eth0: up")
    journal = "2025-12-06T03:46:40+00:00 node01 kernel: " + XID_79 + "\n"
    seen: list[list[str]] = []
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg), journal_with(journal, seen)), now=NOW)
    assert info.source == "/dev/kmsg+journalctl" and [c.code for c in info.counts] == [79]
    assert seen and seen[0][0].endswith("journalctl")
    assert info.covered_from == "2025-12-06T03:46:40Z"


def test_the_journal_adds_to_the_ring_buffer_and_never_replaces_it(tmp_path):
    # A journal that can be read but holds nothing of the kernel (a container: "No journal
    # files were found", exit 0): the ring buffer's Xid 63 stays. Lines both hold (the same
    # Xid 63, from the journal too) are counted once.
    kmsg = kmsg_record(UPTIME - 3600, XID_63)
    info = probe_kernel_log(
        ctx_for(host(tmp_path, kmsg), journal_with("-- No entries --\n")), now=NOW
    )
    assert info.source == "/dev/kmsg" and [(c.code, c.count) for c in info.counts] == [(63, 1)]
    same = "2025-12-06T04:46:40+00:00 node01 kernel: " + XID_63 + "\n"
    older = "2025-12-06T02:00:00+00:00 node01 kernel: " + XID_63 + "\n"
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg), journal_with(same + older)), now=NOW)
    assert info.source == "/dev/kmsg+journalctl"
    assert [(c.code, c.count) for c in info.counts] == [(63, 2)]


def test_a_record_of_the_second_the_ring_buffer_starts_in_is_counted_once(tmp_path):
    # kmsg's oldest record is at .75 s of a second; the journal, read to the second, shows the
    # same record at the second's start, "older" than it: it was counted twice
    kmsg = kmsg_record(UPTIME - 3600 + 0.75, XID_63) + kmsg_record(UPTIME - 60, "eth0: up")
    journal = (  # newest first
        "2025-12-06T04:46:40+00:00 node01 kernel: " + XID_63 + "\n"
        "2025-12-06T04:46:40+00:00 node01 kernel: " + XID_79 + "\n"  # lost from kmsg: kept
        "2025-12-06T02:00:00+00:00 node01 kernel: " + XID_63 + "\n"
    )
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg), journal_with(journal)), now=NOW)
    assert info.source == "/dev/kmsg+journalctl"
    assert sorted((c.code, c.count) for c in info.counts) == [(63, 2), (79, 1)]


def test_a_ring_buffer_whole_since_boot_needs_no_journal(tmp_path):
    # up for 4 days: the 72 h window lies inside this boot, which the ring buffer holds whole
    up = 4 * 86400
    kmsg = kmsg_record(0.5, "Linux version 6.1") + kmsg_record(up - 60, XID_63)
    root = host(tmp_path, kmsg)
    (root / "proc" / "uptime").write_text(f"{up} 1.0\n")
    seen: list[list[str]] = []
    info = probe_kernel_log(ctx_for(root, journal_with("", seen)), now=NOW)
    assert info.source == "/dev/kmsg" and [c.code for c in info.counts] == [63]
    assert seen == []


def test_the_boots_before_this_one_are_read_from_the_journal(tmp_path):
    # Rebooted 10,000 s ago (after the GPU fell off the bus 5 h ago): the ring buffer holds
    # this boot whole and no Xid. Before, check said nothing of the Xid 79 that made someone
    # reboot; the journal holds it, and the rules see it predates the boot.
    kmsg = kmsg_record(0.5, "Linux version 6.1") + kmsg_record(UPTIME - 60, "eth0: up")
    journal = "2025-12-06T00:46:40+00:00 node01 kernel: " + XID_79 + "\n"
    seen: list[list[str]] = []
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg), journal_with(journal, seen)), now=NOW)
    assert info.source == "/dev/kmsg+journalctl" and [c.code for c in info.counts] == [79]
    assert info.covered_from == "2025-12-06T00:46:40Z"
    assert info.counts[0].last is not None and info.boot_time is not None
    assert info.counts[0].last < info.boot_time
    # a volatile journal (this boot only) adds nothing: the ring buffer's reading stands
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg), journal_with("")), now=NOW)
    assert info.source == "/dev/kmsg" and info.counts == ()
    assert info.covered_from == kernel_log.iso(NOW - UPTIME + 0.5)


def test_a_wrapped_ring_buffer_without_a_readable_journal_is_still_read(tmp_path):
    kmsg = kmsg_record(UPTIME - 3600, XID_63)
    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg)), now=NOW)  # journal refuses
    assert info.source == "/dev/kmsg" and [c.code for c in info.counts] == [63]
    assert info.covered_from == kernel_log.iso(NOW - 3600)


def test_a_kmsg_stopped_at_its_time_bound_hands_over_to_the_journal(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_log, "MAX_SECONDS", -1.0)  # the bound is spent at once
    records = "".join(kmsg_record(0.5 + i, "usb 1-1: reset", i) for i in range(600))
    one_record_per_read(monkeypatch, [len(r) + 1 for r in records.split("\n") if r][::1])
    journal = "2025-12-06T05:40:00+00:00 node01 kernel: " + XID_79 + "\n"
    info = probe_kernel_log(ctx_for(host(tmp_path, records), journal_with(journal)), now=NOW)
    assert info.source == "/dev/kmsg+journalctl" and [c.code for c in info.counts] == [79]


def no_journal_files(dmesg_out: str | None):
    """journalctl as in a container: exit 0, "-- No entries --", "No journal files were found."
    on stderr; dmesg readable with ``dmesg_out``, or refusing."""

    def run(argv, **kwargs):
        if argv[0].endswith("journalctl"):
            return CmdResult(
                argv=tuple(argv),
                returncode=0,
                stdout="-- No entries --\n",
                stderr="No journal files were found.\n",
            )
        if dmesg_out is None:
            return CmdResult(
                argv=tuple(argv),
                returncode=1,
                stderr="dmesg: read kernel buffer failed: Operation not permitted\n",
            )
        return CmdResult(argv=tuple(argv), returncode=0, stdout=dmesg_out)

    return run


def test_a_journal_without_files_is_no_source_and_dmesg_is_read(tmp_path):
    # Before, "-- No entries --" with exit 0 was taken as a log read and free of Xids: check
    # said nothing, and dmesg, which held an Xid 79, was never asked.
    info = probe_kernel_log(
        ctx_for(host(tmp_path, None), no_journal_files(f"[ 5000.000000] {XID_79}\n")), now=NOW
    )
    assert info.source == "dmesg" and [c.code for c in info.counts] == [79]


def test_no_kmsg_no_journal_files_and_no_dmesg_is_unreadable(tmp_path):
    info = probe_kernel_log(ctx_for(host(tmp_path, None), no_journal_files(None)), now=NOW)
    assert info.status == "unreadable"
    assert "journalctl: no journal files were found" in info.message


# --- Xid 13: one exception, many lines ----------------------------------------------------------

KERNEL_LOGS = Path(__file__).resolve().parents[1] / "data" / "kernel_log"


def logged(name: str) -> list[str]:
    """A recorded log's lines, without the comment lines that name its source."""
    text = (KERNEL_LOGS / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.startswith("#")]


def from_dmesg(tmp_path: Path, lines: list[str], uptime: float):
    """The kernel-log probe reading ``lines`` as dmesg's output (no /dev/kmsg, no journal)."""

    def run(argv, **kwargs):
        if argv[0].endswith("journalctl"):
            return CmdResult(argv=tuple(argv), returncode=1, stderr="No journal files found\n")
        return CmdResult(argv=tuple(argv), returncode=0, stdout="\n".join(lines) + "\n")

    root = host(tmp_path, None)
    (root / "proc" / "uptime").write_text(f"{uptime} 1.0\n")
    info = probe_kernel_log(ctx_for(root, run), now=NOW)
    assert info.source == "dmesg"
    return info


@pytest.mark.parametrize(
    ("name", "pci", "lines", "first"),
    [
        ("xid13_new_vrwkv.dmesg", "0000:0f:00", 8, "Graphics SM Warp Exception on (GPC 0, TPC 0"),
        ("xid13_relion_436.syslog", "0000:41:00", 8, "Graphics Exception: ESR 0x5067b0=0x9"),
        ("xid13_vllm_5901.dmesg", "0000:43:00", 6, "Graphics Exception: ESR 0x52e7b0="),
    ],
)
def test_an_xid_13_printed_over_many_lines_is_one_event(tmp_path, name, pci, lines, first):
    # Before, every line of the burst counted: the new-vrwkv fault (hundreds of lines on the
    # node) read as 8 Xid 13s here, and its flood pushed older Xids out of the newest events.
    recorded = [line.partition("kernel: ")[2] or line for line in logged(name)]  # syslog prefix
    assert sum("): 13, " in line for line in recorded) == lines
    newest = max(float(line[1:].partition("]")[0]) for line in recorded if line[0] == "[")
    info = from_dmesg(tmp_path, recorded, uptime=newest + 60)  # logged a minute ago
    (xid13,) = [c for c in info.counts if c.code == 13]
    assert (xid13.pci, xid13.count, xid13.first) == (pci, 1, xid13.last)
    assert xid13.last_message.startswith(first)  # the burst's first line speaks for it
    assert [e.code for e in info.events if e.code == 13] == [13]
    if name == "xid13_new_vrwkv.dmesg":  # the channel reset that followed stays its own Xid
        assert [(c.code, c.count) for c in info.counts] == [(13, 1), (43, 1)]
        assert [e.code for e in info.events] == [13, 43]


def test_an_xid_13_logged_to_the_second_is_one_event_too(tmp_path):
    # the journal is read to the second (short-iso): the gpud lines, as the journal gives them
    lines = []
    for line in logged("xid13_gpud_pr46.ctime"):
        stamp, _, message = line[1:].partition("] ")
        when = datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
        lines.append(f"{when.strftime('%Y-%m-%dT%H:%M:%S+0000')} node kernel: {message}")
    last = datetime(2024, 8, 30, 11, 43, 14, tzinfo=timezone.utc).timestamp()

    def run(argv, **kwargs):
        journal = "\n".join(reversed(lines)) + "\n"  # --reverse: newest first
        return CmdResult(argv=tuple(argv), returncode=0, stdout=journal)

    info = probe_kernel_log(ctx_for(host(tmp_path, None), run), now=last + 60)
    assert info.source == "journalctl"
    assert [(c.code, c.pci, c.count) for c in info.counts] == [
        (13, "0000:cb:00", 1),
        (109, "0000:cb:00", 1),
    ]


def burst_line(
    code: int,
    pci: str = "0000:0f:00",
    what: str = "Graphics Exception: ESR",
    pid: str = "'<unknown>'",
) -> str:
    return f"NVRM: Xid (PCI:{pci}): {code}, pid={pid}, name=<unknown>, {what}"


@pytest.mark.parametrize(
    ("lines", "counted"),
    [
        # two faults five seconds apart are two Xid 13s
        ([(100.0, burst_line(13)), (100.001, burst_line(13)), (105.0, burst_line(13))], 2),
        # a line 0.9 s after the previous one of a long burst still belongs to it
        ([(100.0 + 0.9 * i, burst_line(13)) for i in range(5)], 1),
        # another Xid of the GPU between them: the next Xid 13 is a new fault
        ([(100.0, burst_line(13)), (100.001, burst_line(43)), (100.002, burst_line(13))], 2),
        # lines without a time cannot be placed: each counts, as before
        ([(None, burst_line(13)), (None, burst_line(13))], 2),
        # two processes sharing the GPU, faulting in the same instant: two faults
        ([(100.0, burst_line(13, pid="4711")), (100.001, burst_line(13, pid="4712"))], 2),
        # one process's burst, its pid on every line: one fault
        ([(100.0 + i / 1000, burst_line(13, pid="4711")) for i in range(4)], 1),
        # a burst whose later lines lost the pid still merges
        ([(100.0, burst_line(13, pid="4711")), (100.001, burst_line(13))], 1),
    ],
)
def test_only_follow_up_lines_of_the_same_gpu_are_merged(lines, counted):
    counts, _ = kernel_log.summarise(kernel_log._Reading(lines=lines), since=0.0)
    assert [c.count for c in counts if c.code == 13] == [counted]


def test_bursts_on_two_gpus_at_once_are_one_event_each():
    lines = [
        (100.0 + i / 1000, burst_line(13, pci=pci)) for i in range(6) for pci in ("a:00", "b:00")
    ]
    counts, events = kernel_log.summarise(kernel_log._Reading(lines=lines), since=0.0)
    assert [(c.pci, c.count) for c in counts] == [("a:00", 1), ("b:00", 1)]
    assert len(events) == 2


def test_the_journal_is_asked_only_for_what_the_ring_buffer_lacks(tmp_path):
    # Rebooted 10,000 s ago after an Xid 79, and this boot has logged more than the journal
    # read's 4 MiB: newest first, all of it went to this boot's lines (which /dev/kmsg holds)
    # and the Xid 79 before the boot was never reached. Asked only up to the ring buffer's
    # oldest record, the journal gives the boot before.
    kmsg = kmsg_record(0.5, "Linux version 6.1") + kmsg_record(UPTIME - 60, "eth0: up")
    boot = NOW - UPTIME
    before = "2025-12-06T00:46:40+00:00 node01 kernel: " + XID_79
    this_boot = [
        f"{kernel_log.iso(boot + 1 + i).replace('Z', '+00:00')} node01 kernel: eth0: link noise"
        for i in range(50)
    ]
    seen: list[list[str]] = []

    def run(argv, **kwargs):
        seen.append(list(argv))
        until = next(
            (float(a[len("--until=@") :]) for a in argv if a.startswith("--until=@")), None
        )
        lines = [before, *this_boot]
        if until is not None:
            lines = [line for line in lines if kernel_log._iso_time(line.split()[0]) <= until]
        # newest first, cut at the byte bound: here, 10 lines
        newest = list(reversed(lines))[:10]
        return CmdResult(
            argv=tuple(argv),
            returncode=0,
            stdout="\n".join(newest) + "\n",
            overflowed=len(lines) > 10,
        )

    info = probe_kernel_log(ctx_for(host(tmp_path, kmsg), run), now=NOW)
    assert [a for a in seen[0] if a.startswith("--until=")] == [f"--until=@{math.ceil(boot + 0.5)}"]
    assert info.source == "/dev/kmsg+journalctl" and [c.code for c in info.counts] == [79]


# --- RmInitAdapter failed: a GPU the driver could not start ---------------------------------


def test_rm_init_adapter_lines_are_recorded_per_gpu(tmp_path):
    # Before, only Xid and SXid lines were read: a GPU that failed to start left no trace
    info = from_dmesg(tmp_path, logged("rm_init_adapter_gpu_operator_1146.dmesg"), 2000.0)
    (failed,) = info.init_failures
    assert (failed.pci, failed.count) == ("0000:0a:00.0", 6)
    assert failed.last_message == "RmInitAdapter failed! (0x24:0x72:1568)"
    assert failed.first == kernel_log.iso(NOW - 2000.0 + 885.242168)
    assert failed.last == kernel_log.iso(NOW - 2000.0 + 1015.260685)
    assert info.counts == ()  # no Xid among them


def test_rm_init_adapter_lines_of_two_gpus_between_other_lines(tmp_path):
    info = from_dmesg(tmp_path, logged("rm_init_adapter_gpu_operator_649.dmesg"), 2000.0)
    assert [(f.pci, f.count) for f in info.init_failures] == [
        ("0000:04:01.0", 4),
        ("0000:04:02.0", 4),
    ]
    assert info.init_failures[0].last_message == "RmInitAdapter failed! (0x11:0x45:2525)"


def test_rm_init_adapter_in_kmsg_older_drivers_and_bounds(tmp_path, monkeypatch):
    old = "NVRM: rm_init_adapter failed for device bearing minor number 0"
    records = kmsg_record(100, "usb 1-1: new device", 1) + kmsg_record(200, old, 2)
    info = probe_kernel_log(ctx_for(host(tmp_path, records)), now=NOW)
    (failed,) = info.init_failures
    assert (failed.pci, failed.count) == (None, 1)
    assert failed.last_message == "rm_init_adapter failed for device bearing minor number 0"
    monkeypatch.setattr(kernel_log, "MAX_INIT_FAILURES", 2)
    many = "".join(
        kmsg_record(10 + n, f"NVRM: GPU 0000:{n:02x}:00.0: RmInitAdapter failed! (0x1)", n)
        for n in range(1, 6)
    )
    info = probe_kernel_log(ctx_for(host(tmp_path, many)), now=NOW)
    assert [f.pci for f in info.init_failures] == ["0000:01:00.0", "0000:02:00.0"]
