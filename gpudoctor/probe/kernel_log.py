"""Kernel-log probe: NVIDIA Xid and SXid lines of a look-back window, bounded in bytes and time."""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gpudoctor.model.report import InitFailure, KernelLogInfo, XidCount, XidEvent
from gpudoctor.model.times import utc_stamp
from gpudoctor.probe.base import ProbeContext

DEFAULT_WINDOW_S = 72 * 3600.0
"""The look-back window (72 h, as leptonai/gpud's Xid component keeps by default)."""
MAX_BYTES = 4 * 1024 * 1024
"""The most log text kept from one source. A kernel ring buffer holds 256 KiB to a few MiB
(``CONFIG_LOG_BUF_SHIFT`` 17-18 plus 4 KiB per CPU); a journal of a node in an Xid storm can
hold gigabytes: it is read newest first. Either way the newest lines are kept, and a cut
reading says so (``truncated``)."""
MAX_SECONDS = 2.0
"""The most time one source may take (a journal on a hung or slow disk)."""
MAX_LINE = 16 * 1024
"""A longer line (no newline in sight) is cut: only its start can be an NVRM line."""
MAX_MESSAGE = 300
SOURCES = ("/dev/kmsg", "journalctl", "dmesg")
"""Tried in this order; the first that can be read is used."""
MAX_EVENTS = 100

_XID = re.compile(
    r"NVRM: Xid \((?:PCI:)?([0-9A-Fa-f:.]+)(?: GPU-I:\d{1,3}(?: GPU-CI:\d{1,3})?)?\): "
    r"(\d{1,4}),\s*(.*)",
    re.ASCII,
)
"""``NVRM: Xid (PCI:0000:3b:00): 79, ...``; with MIG on, the GPU instance (and compute
instance) the driver puts the Xid on follows the address: ``(PCI:0000:01:00 GPU-I:05)``,
``(PCI:0000:3b:00 GPU-I:01 GPU-CI:02)`` (open-gpu-kernel-modules kernel_rc.c); the count
is the GPU's."""
_SXID = re.compile(
    r"nvidia-nvswitch\d*: SXid \((?:PCI:)?([0-9A-Fa-f:.]+)\): (\d{1,5}),\s*(.*)", re.ASCII
)
# "pid=2024380, name=nvidia-smi, " (R470 and later); "pid='<unknown>', name=<unknown>, "; and
# "pid=1896, " alone (older drivers)
_PID = re.compile(r"^pid=(?:'?<unknown>'?|(\d+)),\s*(?:name=(.*?),\s*)?", re.ASCII)
MAX_PID_DIGITS = 10
"""Linux's pid_max is at most 2**22 (7 digits); a longer pid is no process's (int() refuses
more than 4,300 digits, and a report refuses a number beyond 64 bits): read as unknown."""
LAST_TIME = 253402300799.0
"""9999-12-31T23:59:59Z, the last time an ISO date can name: a record's time beyond it (or
not finite) is no time, and is read as a record without one."""
_INIT_FAILED = re.compile(
    r"NVRM: (?:GPU ([0-9A-Fa-f:.]+): )?(RmInitAdapter failed!?|rm_init_adapter failed)(.*)"
)
"""A GPU the driver failed to start: ``NVRM: GPU 0000:0a:00.0: RmInitAdapter failed!
(0x24:0x72:1568)`` and ``NVRM: GPU 0000:0a:00.0: rm_init_adapter failed, device minor number
5`` (NVIDIA/gpu-operator#1146, #649; NVIDIA/cuda-samples#104); older drivers name no address
(``NVRM: rm_init_adapter failed for device bearing minor number 0``)."""
INIT_MARK = "dapter failed"
"""The one cheap substring test before the expression: in ``RmInitAdapter failed`` and in
``rm_init_adapter failed`` alike."""
MAX_INIT_FAILURES = 32
"""At most this many addresses are kept (a node has 8 or 16 GPUs)."""
_DMESG = re.compile(r"^\[\s*(\d+(?:\.\d+)?)\]\s?(.*)$")
_JOURNAL = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+\S+\s+kernel:\s?(.*)$"
)
_NO_PERMISSION = ("not seeing messages from other users", "insufficient permissions")
_SXID_DETAIL = re.compile(r"^(?:Severity \d+ Engine instance|Data \{)")
"""The lines the NVSwitch driver prints after an SXid's own (``Fatal, Link 61 ...``), with the
same prefix and number: ``Severity 5 Engine instance 61 Sub-engine instance 00`` and ``Data
{0x..., ...}`` (NVIDIA/open-gpu-kernel-modules src/common/nvswitch/kernel/error_nvswitch.c,
_nvswitch_dump_error_entry). They are details of the same error, not errors of their own."""

BURST_XID = 13
"""Xid 13 (graphics engine exception) is printed as a burst: for one exception the driver logs
a Warp, a Global and an ESR line for every SM that faulted (``Graphics SM Warp Exception on
(GPC 0, TPC 0, SM 0): Illegal Instruction Parameter``, ``Graphics SM Global Exception on (...):
Multiple Warp Errors``, ``Graphics Exception: ESR 0x505730=...``), each with the same prefix and
number: dozens to hundreds of lines for one fault of one kernel. Bursts replayed from real logs
in tests/data/kernel_log/ (xforcevesa/new-vrwkv, 3dem/relion#436, leptonai/gpud#46,
vllm-project/vllm#5901) are 7 µs to 9 ms apart line to line and last up to half a second."""
BURST_GAP_S = 1.0
"""An Xid 13 line within this of the previous Xid 13 line of the same GPU, with no other Xid of
that GPU between them, belongs to the same exception. A second, not less: the journal is read
to the second (``short-iso``), where a burst straddling a second's end shows a step of one.
Where both lines name their process (drivers since R470 print ``pid=``, often ``'<unknown>'``)
and the processes differ, the second line is a fault of its own however close."""


@dataclass(frozen=True)
class ParsedLine:
    """The fields of one Xid or SXid message."""

    kind: str
    code: int
    pci: str
    pid: int | None
    process: str | None
    message: str


def parse_message(text: str) -> ParsedLine | None:
    """The Xid or SXid in one kernel message (its text after any timestamp), else None."""
    if "Xid" not in text:  # the common case: cheap before any regular expression
        return None
    match = _XID.search(text)
    kind = "xid"
    if match is None:
        match = _SXID.search(text)
        kind = "sxid"
    if match is None:
        return None
    pci, code, rest = match.group(1), int(match.group(2)), match.group(3)
    pid: int | None = None
    process: str | None = None
    found = _PID.match(rest)
    if found:
        digits = found.group(1)
        pid = int(digits) if digits and len(digits) <= MAX_PID_DIGITS else None
        name = (found.group(2) or "").strip()
        process = None if name in ("<unknown>", "") else name[:64]
        rest = rest[found.end() :]
    return ParsedLine(kind, code, pci, pid, process, rest.strip()[:MAX_MESSAGE])


@dataclass
class _Reading:
    """What one source gave: (time or None, message) pairs and how much was read."""

    lines: list[tuple[float | None, str]] = field(default_factory=list)
    bytes_read: int = 0
    lines_read: int = 0
    truncated: bool = False
    oldest: float | None = None
    stopped: bool = False
    """Stopped at the time bound before the end (/dev/kmsg: the newest records are missing)."""
    newest: float | None = None
    """The newest record's time (/dev/kmsg)."""

    def add(self, when: float | None, message: str) -> None:
        self.lines_read += 1
        if when is not None and (self.oldest is None or when < self.oldest):
            self.oldest = when
        if "Xid" in message or _init_mark(message):
            self.lines.append((when, message))


def _init_mark(message: str) -> bool:
    return INIT_MARK in message


def _boot_time(ctx: ProbeContext, now: float) -> float | None:
    """The wall-clock time of boot (now minus ``/proc/uptime``)."""
    text = ctx.read_text("/proc/uptime") or ""
    try:
        uptime = float(text.split()[0])
    except (IndexError, ValueError):
        return None
    return now - uptime if math.isfinite(uptime) and uptime >= 0 else None


def _wall_time(boot: float, since_boot: float) -> float | None:
    """``boot + since_boot``, or None where that is no time an ISO date can name (a
    record's stamp of hundreds of digits, an infinite one): ``iso()`` would raise on it."""
    when = boot + since_boot
    return when if math.isfinite(when) and 0 <= when <= LAST_TIME else None


def _kmsg_time(head: bytes, boot: float | None) -> float | None:
    """The wall time of a record from its header ``prio,seq,usec,flags``."""
    fields = head.split(b",")
    if len(fields) < 3 or boot is None:
        return None
    try:
        return _wall_time(boot, int(fields[2]) / 1e6)
    except (ValueError, OverflowError):  # not a number; more digits than int() or a float
        return None


def read_kmsg(ctx: ProbeContext, now: float) -> _Reading | str:
    """The records of ``/dev/kmsg`` (every record the ring buffer still holds), or why not.

    Opened non-blocking: a read returns one record, and EAGAIN once the buffer is drained. The
    buffer can only be read oldest first, so a buffer larger than :data:`MAX_BYTES`
    (``log_buf_len=`` on the kernel's command line) is read to its end and only its newest
    :data:`MAX_BYTES` are kept: the Xid that matters is the newest. :data:`MAX_SECONDS` still
    bounds the reading (what it stops on then is the older part, and ``truncated`` says so).
    """
    try:
        fd = os.open(ctx.path("/dev/kmsg"), os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return f"/dev/kmsg: {exc.strerror or exc}"
    reading = _Reading()
    boot = _boot_time(ctx, now)
    deadline = time.monotonic() + MAX_SECONDS
    chunks: deque[bytes] = deque()
    kept = dropped = 0
    starts_whole = True  # the oldest chunk kept starts at a record's beginning
    read, append, bound = os.read, chunks.append, MAX_BYTES  # locals: one record per loop
    try:
        while True:
            # The clock is asked every 256 reads, not at each: a full 4 MiB ring buffer is
            # 36,000 records, one read each.
            for _ in range(256):
                try:
                    chunk = read(fd, 65536)
                except BlockingIOError:
                    chunk = b""  # EAGAIN: every record read
                except OSError as exc:
                    if exc.errno == errno.EPIPE:  # the record was overwritten meanwhile
                        continue
                    chunk = b""
                if not chunk:
                    break
                append(chunk)
                kept += len(chunk)
                while kept > bound and len(chunks) > 1:
                    oldest = chunks.popleft()
                    kept -= len(oldest)
                    dropped += len(oldest)
                    starts_whole = oldest.endswith(b"\n")
            else:
                if time.monotonic() > deadline:
                    reading.truncated = reading.stopped = True
                    break
                continue
            break
    finally:
        os.close(fd)
    reading.bytes_read = kept + dropped
    reading.truncated = reading.truncated or dropped > 0
    data = b"".join(chunks)
    if not starts_whole:  # a chunk of a file cut mid-record: its first line is a fragment
        data = data.partition(b"\n")[2]
    # Split and filter in C, and decode and time only the Xid lines. The buffer is read in
    # order: the first record is the oldest. Continuation lines (" KEY=value") start with a
    # space.
    records = [r for r in data.split(b"\n") if r and not r.startswith(b" ")]
    reading.lines_read = len(records)
    if records:
        reading.oldest = _kmsg_time(records[0].partition(b";")[0], boot)
        reading.newest = _kmsg_time(records[-1].partition(b";")[0], boot)
    for record in records:
        if b"Xid" not in record and b"dapter failed" not in record:
            continue
        head, sep, message = record[:MAX_LINE].partition(b";")
        if sep:
            reading.lines.append((_kmsg_time(head, boot), message.decode("utf-8", "replace")))
    return reading


def _run_source(ctx: ProbeContext, argv: list[str]) -> tuple[str, bool] | str:
    """A command's output (and whether it was cut), or why it could not be read."""
    binary = shutil.which(argv[0], path=f"{ctx.env.get('PATH', '')}:/usr/bin:/bin:/usr/sbin:/sbin")
    if binary is None:
        return f"{argv[0]}: not found"
    result = ctx.run(
        [binary, *argv[1:]], timeout_s=MAX_SECONDS, env=ctx.env, max_output_bytes=MAX_BYTES
    )
    said = f"{result.stderr} {result.stdout[:2000]}".lower()
    if result.start_error:
        return f"{argv[0]}: {result.start_error}"
    if any(hint in said for hint in _NO_PERMISSION) or "operation not permitted" in said:
        return f"{argv[0]}: no permission to read the kernel messages"
    if "no journal files were found" in said:
        # exit 0 and "-- No entries --" (a container, Storage=none): nothing was read, which
        # is not a log without Xids
        return f"{argv[0]}: no journal files were found"
    cut = result.timed_out or result.overflowed
    if result.returncode not in (0, None) and not result.stdout.strip():
        first = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        return f"{argv[0]}: {first[:200]}"
    return result.stdout, cut


def read_journal(ctx: ProbeContext, since: float, until: float | None = None) -> _Reading | str:
    """The kernel's lines in the journal since ``since`` (also from earlier boots), and before
    ``until`` where given (to the second above it: the journal is read to the second)."""
    bound = [f"--until=@{math.ceil(until)}"] if until is not None else []
    out = _run_source(
        ctx,
        [
            "journalctl",
            "_TRANSPORT=kernel",
            f"--since=@{int(since)}",
            *bound,
            "-o",
            "short-iso",
            "--no-pager",
            # newest first, so that a reading cut at its bound keeps the newest lines
            "--reverse",
        ],
    )
    if isinstance(out, str):
        return out
    text, cut = out
    reading = _Reading(bytes_read=len(text), truncated=cut)
    for line in reversed(text.splitlines()):
        match = _JOURNAL.match(line)
        if match:
            reading.add(_iso_time(match.group(1)), match.group(2))
    return reading


def read_dmesg(ctx: ProbeContext, now: float) -> _Reading | str:
    """``dmesg``'s lines (the kernel ring buffer, seconds since boot)."""
    out = _run_source(ctx, ["dmesg"])
    if isinstance(out, str):
        return out
    text, cut = out
    boot = _boot_time(ctx, now)
    reading = _Reading(bytes_read=len(text), truncated=cut)
    for line in text.splitlines():
        match = _DMESG.match(line)
        if match:
            secs, message = float(match.group(1)), match.group(2)
            reading.add(_wall_time(boot, secs) if boot is not None else None, message)
        else:
            reading.add(None, line)  # printk.time=0: no timestamps at all
    return reading


def _iso_time(text: str) -> float | None:
    text = text.replace(",", ".")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00 for Python 3.10
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def iso(when: float | None) -> str | None:
    """``2026-12-07T04:05:06Z`` for an epoch time."""
    if when is None:
        return None
    return utc_stamp(datetime.fromtimestamp(when, timezone.utc))


def summarise(reading: _Reading, since: float) -> tuple[tuple[XidCount, ...], tuple[XidEvent, ...]]:
    """Counts per (kind, code, device) and the newest events, of the lines in the window."""
    # Times stay numbers until the end: an Xid storm has thousands of lines, and only the
    # first and last of each group and the newest events are written out.
    newest: deque[tuple[float | None, ParsedLine]] = deque(maxlen=MAX_EVENTS)
    groups: dict[tuple[str, int, str], list[Any]] = {}
    burst: dict[str, tuple[float, int | None]] = {}  # GPU -> its Xid 13 burst's latest line
    for when, message in reading.lines:
        if when is not None and when < since:
            continue
        parsed = parse_message(message)
        if parsed is None:
            continue
        if parsed.kind == "sxid" and _SXID_DETAIL.match(parsed.message):
            # counted once per error, and the line said last stays "Fatal, Link ..."
            continue
        if parsed.kind == "xid" and _continues_burst(burst, parsed, when):
            # one exception, one event: its follow-up lines would count dozens of Xid 13s
            # and push the other Xids out of the newest events the storm rule reads
            continue
        newest.append((when, parsed))
        key = (parsed.kind, parsed.code, parsed.pci)
        group = groups.get(key)
        if group is None:
            groups[key] = [1, when, when, parsed.message]
        else:
            group[0] += 1
            group[1] = group[1] if group[1] is not None else when
            group[2] = when if when is not None else group[2]
            group[3] = parsed.message
    counts = tuple(
        XidCount(
            kind=kind,
            code=code,
            pci=pci,
            count=n,
            first=iso(first),
            last=iso(last),
            last_message=message,
        )
        for (kind, code, pci), (n, first, last, message) in sorted(groups.items())
    )
    events = tuple(
        XidEvent(
            kind=p.kind,
            code=p.code,
            pci=p.pci,
            time=iso(when),
            pid=p.pid,
            process=p.process,
            message=p.message,
        )
        for when, p in newest
    )
    return counts, events


def init_failures(reading: _Reading, since: float) -> tuple[InitFailure, ...]:
    """The ``RmInitAdapter failed`` lines of the window, per PCI address (oldest first)."""
    groups: dict[str | None, list[Any]] = {}
    for when, message in reading.lines:
        if (when is not None and when < since) or not _init_mark(message):
            continue
        match = _INIT_FAILED.search(message)
        if match is None:
            continue
        pci = match.group(1)
        text = (match.group(2) + match.group(3)).strip()[:MAX_MESSAGE]
        group = groups.get(pci)
        if group is None:
            if len(groups) >= MAX_INIT_FAILURES:
                continue
            groups[pci] = group = [0, when, when, text]
        group[0] += 1
        group[1] = group[1] if group[1] is not None else when
        group[2] = when if when is not None else group[2]
        if match.group(2).startswith("RmInitAdapter") or not group[3].startswith("RmInit"):
            group[3] = text  # the line with the error code, not the minor number's
    return tuple(
        InitFailure(pci=pci, count=n, first=iso(first), last=iso(last), last_message=text)
        for pci, (n, first, last, text) in sorted(groups.items(), key=lambda kv: kv[0] or "")
    )


def _continues_burst(
    burst: dict[str, tuple[float, int | None]], parsed: ParsedLine, when: float | None
) -> bool:
    """Whether an Xid line is a follow-up line of the Xid 13 burst going on on its GPU (and
    keep ``burst`` up to date). A line without a time cannot be placed, so it counts."""
    if parsed.code != BURST_XID or when is None:
        burst.pop(parsed.pci, None)  # another Xid of the GPU: the next Xid 13 is a new fault
        return False
    latest = burst.get(parsed.pci)
    burst[parsed.pci] = (when, parsed.pid)
    if latest is None or abs(when - latest[0]) > BURST_GAP_S:
        return False
    return latest[1] is None or parsed.pid is None or latest[1] == parsed.pid


WRAP_MARGIN_S = 60.0
"""A ring buffer whose oldest record is younger than boot plus this has lost records."""


def lost_part_of_window(reading: _Reading, since: float, boot: float | None) -> bool:
    """True when a /dev/kmsg reading no longer holds all of this boot's part of the window:
    its oldest record is later than both the boot and the window's start (the ring buffer
    wrapped), or the reading stopped at its time bound before the newest record."""
    if reading.stopped:
        return True
    if reading.oldest is None or boot is None:
        return False
    return reading.oldest > max(since, boot + WRAP_MARGIN_S)


def window_before_boot(since: float, boot: float | None) -> bool:
    """True when the window starts before this boot: the lines of the boots before it (an
    Xid that made someone reboot the node) are in the journal alone, not in /dev/kmsg."""
    return boot is not None and boot > since + WRAP_MARGIN_S


def with_journal(kmsg: _Reading, journal: _Reading) -> tuple[_Reading, bool]:
    """``kmsg`` with the journal's lines from outside its span added (older than its oldest
    record; newer than its newest where it stopped at its time bound), and whether any was.

    Added, never replaced: a journal that can be read may still hold nothing of the kernel
    (no journal files in a container, ``Storage=none``), and the ring buffer's lines stay.
    """
    if kmsg.oldest is None:
        return kmsg, False
    # The journal is read to the second (short-iso), the ring buffer to the microsecond: a
    # record of the second kmsg's oldest falls in shows in the journal as older than it, and
    # was counted twice. Of that second, only lines kmsg does not hold are added.
    second = math.floor(kmsg.oldest)
    held = {m for w, m in kmsg.lines if w is not None and math.floor(w) == second}
    older = [
        (w, m)
        for w, m in journal.lines
        if w is not None and w < kmsg.oldest and (w < second or m not in held)
    ]
    newer = []
    if kmsg.stopped and kmsg.newest is not None:
        newer = [(w, m) for w, m in journal.lines if w is not None and w > kmsg.newest]
    if not older and not newer:
        return kmsg, False
    oldest = min(w for w in (kmsg.oldest, journal.oldest) if w is not None)
    merged = _Reading(
        lines=[*older, *kmsg.lines, *newer],
        bytes_read=kmsg.bytes_read + journal.bytes_read,
        lines_read=kmsg.lines_read + journal.lines_read,
        truncated=kmsg.truncated or journal.truncated,
        oldest=oldest,
    )
    return merged, True


def probe_kernel_log(
    ctx: ProbeContext, window_s: float = DEFAULT_WINDOW_S, now: float | None = None
) -> KernelLogInfo:
    """The Xid and SXid lines of the last ``window_s`` seconds from the first readable source.

    ``/dev/kmsg`` needs no child process but only holds the current boot; the journal also
    holds earlier boots, and completes /dev/kmsg where the window reaches past the boot or
    the ring buffer wrapped; ``dmesg`` is the fallback. Each is bounded by :data:`MAX_BYTES` and
    :data:`MAX_SECONDS`. Where none can be read (``kernel.dmesg_restrict``, no journal group),
    the status says so and nothing is guessed.
    """
    now = time.time() if now is None else now
    since = now - window_s
    if not ctx.path("/proc").is_dir():
        return KernelLogInfo(
            status="unsupported",
            since=iso(since),
            window_h=round(window_s / 3600, 3),
            message="no /proc: not a Linux kernel",
        )
    why: list[str] = []
    boot = _boot_time(ctx, now)
    for tried in SOURCES:
        source = tried
        if source == "/dev/kmsg":
            reading = read_kmsg(ctx, now)
            if not isinstance(reading, str) and (
                lost_part_of_window(reading, since, boot) or window_before_boot(since, boot)
            ):
                # The ring buffer has wrapped (or was cut by time) inside the window, or the
                # window reaches back past this boot: those Xids are gone from it, or were
                # never in it. The journal, where readable and persistent, holds them.
                # Only what /dev/kmsg lacks is asked for: newest first, the journal's 4 MiB
                # and 2 s would go to this boot's lines, which the ring buffer holds already,
                # before reaching the boot before it. Where kmsg stopped at its time bound,
                # its newest records are missing too, and the journal is read to the end.
                until = reading.oldest if not reading.stopped else None
                journal = read_journal(ctx, since, until)
                if not isinstance(journal, str):
                    reading, added = with_journal(reading, journal)
                    if added:
                        source = "/dev/kmsg+journalctl"
        elif source == "journalctl":
            reading = read_journal(ctx, since)
        else:
            reading = read_dmesg(ctx, now)
        if isinstance(reading, str):
            why.append(reading)
            continue
        counts, events = summarise(reading, since)
        return KernelLogInfo(
            status="ok",
            source=source,
            since=iso(since),
            boot_time=iso(boot),
            window_h=round(window_s / 3600, 3),
            covered_from=iso(max(reading.oldest, since) if reading.oldest else None),
            lines_read=reading.lines_read,
            bytes_read=reading.bytes_read,
            truncated=reading.truncated,
            counts=counts,
            events=events,
            init_failures=init_failures(reading, since),
        )
    return KernelLogInfo(
        status="unreadable",
        since=iso(since),
        window_h=round(window_s / 3600, 3),
        message="; ".join(why),
    )
