"""The parent side of ``--hardware`` and ``--burn``: one bounded child per measurement."""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from gpudoctor.errors import BadInputError, ReportFormatError
from gpudoctor.model.hardware import AllReduce
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.runcmd import CmdResult, how_it_ended, stream_cmd
from gpudoctor.verify.bandwidth import CPU_SWEEP, GPU_SWEEP
from gpudoctor.verify.harness import child_env
from gpudoctor.verify.model import (
    GPU_ONLY,
    ITEMS,
    Bandwidth,
    BurnDevice,
    HardwareFloor,
    HardwareResult,
    HardwareSettings,
)
from gpudoctor.verify.references import References

Streamer = Callable[..., CmdResult]
MIB = 1 << 20
MAX_BURN_S = 24 * 3600


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Every child's deadline, and the sizes measured (tests shrink them)."""

    startup_s: float = 60.0
    """Importing torch and creating a CUDA context, before any measurement."""
    per_gpu_s: float = 30.0
    init_timeout_s: float = 30.0
    """How long the all-reduce's ranks wait for each other to join."""
    cpu_sizes: tuple[int, ...] = CPU_SWEEP
    gpu_sizes: tuple[int, ...] = GPU_SWEEP
    seconds_per_size: float = 0.3
    cpu_copy_bytes: int = 256 * MIB
    gpu_copy_bytes: int = 1024 * MIB
    burn_grace_s: float = 60.0


def parse_items(text: str) -> tuple[str, ...]:
    """``--hardware``'s list: names from ITEMS, or ``all``; anything else is bad input."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not names:
        raise BadInputError("--hardware needs a list: all, or some of " + ", ".join(ITEMS))
    unknown = [n for n in names if n != "all" and n not in ITEMS]
    if unknown:
        raise BadInputError(
            f"--hardware: unknown measurement {unknown[0]!r} (all, or some of {', '.join(ITEMS)})"
        )
    return ITEMS if "all" in names else tuple(i for i in ITEMS if i in names)


def free_port() -> int:
    """A TCP port free on the loopback now, for the local all-reduce's rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Lines:
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # not JSON; 4,300+ digits; nested too deep
            return
        if isinstance(event, dict):
            self.events.append(event)


def _failure(what: str, result: CmdResult, events: list[dict[str, Any]]) -> str | None:
    """One line on why a child gave no complete answer, or None when it finished."""
    said = [str(e.get("message", "")) for e in events if e.get("event") == "error"]
    if result.start_error:
        return f"{what}: could not start: {result.start_error}"
    if result.timed_out:
        hung = " and would not die (left behind)" if result.abandoned else ""
        return f"{what}: no answer within {result.duration_s:.0f} s (a hung GPU or peer){hung}"
    if said:
        return f"{what}: {said[0]}"
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] if result.stderr else []
        return f"{what}: {how_it_ended(result.returncode)}" + (
            f" ({tail[0][:300]})" if tail else ""
        )
    return None


HUNG_NEXT = (
    "run `gpudoctor check` for the cause (it reads the kernel log's Xid lines for each GPU), "
    "then reset the GPU (`sudo nvidia-smi -r -i N` once no process uses it) or reboot"
)
"""What to do after a GPU stopped answering, as check's GD-GPU findings on a GPU that fell off
the bus or hung say it: it stays wedged until it is reset."""


def _with_next_step(why: str) -> str:
    """``why`` of a GPU measurement that got no answer, and what to do next."""
    return f"{why}; {HUNG_NEXT}"


def _hung_where(measure: str, devices: list[str], events: list[dict[str, Any]], why: str) -> str:
    """``why`` naming the GPU (or pair) the child was on when it stopped answering, and the
    GPUs it never reached: one child measures every GPU in turn, so a GPU that hangs costs
    the figures of those after it too."""
    started = [e for e in events if e.get("event") == "start"]
    if not started:
        return why
    last = started[-1]
    where = str(last.get("device", "?")) + (f" -> {last['peer']}" if last.get("peer") else "")
    said = why.split(": ", 1)[1] if ": " in why else why
    line = f"{measure} on {where}: {said}"
    if measure != "p2p":
        reached = {str(e.get("device")) for e in started}
        never = [d for d in devices if d not in reached]
        if never:
            line += f"; not measured after it: {', '.join(never)}"
    return line


class Runner:
    """Starts the children; ``stream`` is the one child-process primitive (tests fake it)."""

    def __init__(self, python: str, stream: Streamer, limits: Limits) -> None:
        self.python, self.stream, self.limits = python, stream, limits
        self.hung: dict[str, str] = {}
        """Each GPU a child stopped answering on -> the measurement: a GPU that hung once
        hangs again, and each later child would wait out its whole deadline on it."""

    def child(
        self, module: str, config: dict[str, Any], timeout_s: float
    ) -> tuple[CmdResult, list[dict[str, Any]]]:
        lines = _Lines()
        argv = [self.python, "-m", f"gpudoctor.verify.children.{module}", json.dumps(config)]
        result = self.stream(argv, timeout_s=timeout_s, on_line=lines, env=child_env())
        return result, lines.events

    def gpus(self) -> tuple[list[str], str | None]:
        """The CUDA devices torch sees, or ([], why none)."""
        result, events = self.child("hardware", {"measure": "devices"}, self.limits.startup_s)
        found = next((e for e in events if e.get("event") == "devices"), None)
        if found is None:
            return [], _failure("finding the GPUs", result, events) or "no answer"
        return [str(d) for d in found.get("devices", [])], None

    def bandwidths(self, measure: str, devices: list[str]) -> tuple[list[Bandwidth], str | None]:
        on_cpu = devices == ["cpu"]
        config = {
            "measure": measure,
            "devices": devices,
            "bytes": self.limits.cpu_copy_bytes if on_cpu else self.limits.gpu_copy_bytes,
        }
        pairs = len(devices) * (len(devices) - 1) if measure == "p2p" else len(devices)
        timeout = self.limits.startup_s + self.limits.per_gpu_s * max(1, pairs)
        result, events = self.child("hardware", config, timeout)
        found = []
        for e in events:
            if e.get("event") == "bandwidth":
                try:
                    found.append(from_dict(Bandwidth, e["bandwidth"]))
                except (ReportFormatError, KeyError):
                    continue
        why = _failure(measure, result, events)
        if why is not None and result.timed_out:
            why = _hung_where(measure, devices, events, why)
            started = [e for e in events if e.get("event") == "start"]
            if started and str(started[-1].get("device")) in devices:
                self.hung.setdefault(str(started[-1]["device"]), measure)
            if not on_cpu:
                why = _with_next_step(why)
        return found, why

    def allreduce(self, devices: list[str]) -> tuple[AllReduce | None, str | None]:
        """All ranks at once, one child each; rank 0's answer, or why there is none."""
        on_cpu = devices[0] == "cpu"
        ranks = len(devices)
        port = free_port()
        sizes = self.limits.cpu_sizes if on_cpu else self.limits.gpu_sizes
        timeout = (
            self.limits.startup_s
            + self.limits.init_timeout_s
            + len(sizes) * (4 * self.limits.seconds_per_size + 5)
        )

        def one(rank: int) -> tuple[CmdResult, list[dict[str, Any]]]:
            config = {
                "rank": rank,
                "world_size": ranks,
                "local_rank": 0 if on_cpu else int(devices[rank].split(":")[1]),
                "addr": "127.0.0.1",
                "port": port,
                "device": "cpu" if on_cpu else "cuda",
                "sizes": list(sizes),
                "init_timeout_s": self.limits.init_timeout_s,
                "seconds_per_size": self.limits.seconds_per_size,
            }
            return self.child("allreduce", config, timeout)

        with ThreadPoolExecutor(max_workers=ranks, thread_name_prefix="allreduce") as pool:
            outcomes = list(pool.map(one, range(ranks)))
        for _, events in outcomes:
            for e in events:
                if e.get("event") == "allreduce":
                    try:
                        return from_dict(AllReduce, e["allreduce"]), None
                    except (ReportFormatError, KeyError) as exc:
                        return None, f"allreduce: unreadable answer ({exc})"
        why = [
            w
            for rank, (result, events) in enumerate(outcomes)
            if (w := _failure(f"allreduce rank {rank}", result, events)) is not None
        ]
        said = "; ".join(why[:2]) or "allreduce: no rank answered"
        if not on_cpu and any(result.timed_out for result, _ in outcomes):
            said = _with_next_step(said)
        return None, said

    def burn(self, devices: list[str], seconds: float) -> tuple[list[BurnDevice], list[str]]:
        """Every device at once (one child each), for ``seconds``."""
        timeout = seconds + self.limits.startup_s + self.limits.burn_grace_s

        def one(device: str) -> tuple[CmdResult, list[dict[str, Any]]]:
            config = {"measure": "burn", "devices": [device], "seconds": seconds}
            return self.child("hardware", config, timeout)

        with ThreadPoolExecutor(max_workers=len(devices), thread_name_prefix="burn") as pool:
            outcomes = list(pool.map(one, devices))
        found: list[BurnDevice] = []
        errors: list[str] = []
        for device, (result, events) in zip(devices, outcomes, strict=True):
            got = next((e for e in events if e.get("event") == "burn"), None)
            why = _failure(f"burn {device}", result, events)
            if why is not None and result.timed_out and device != "cpu":
                why = _with_next_step(why)
            if got is not None:
                try:
                    found.append(from_dict(BurnDevice, got["burn"]))
                    continue
                except (ReportFormatError, KeyError) as exc:
                    why = f"burn {device}: unreadable answer ({exc})"
            found.append(BurnDevice(device=device, status="error", message=why or "no answer"))
            errors.append(why or f"burn {device}: no answer")
        return found, errors


def _targets(hw: HardwareSettings, runner: Runner) -> tuple[list[str], list[str], list[str]]:
    """The devices to measure, notes and errors; the CPU when asked, or when no GPU is here."""
    if hw.device == "cpu":
        return ["cpu"], [], []
    gpus, why = runner.gpus()
    if hw.device.startswith("cuda:") and gpus:
        if hw.device not in gpus:
            # a typo, not a broken install: bad input, as the models' verify says it
            raise BadInputError(f"no device {hw.device}: torch sees {', '.join(gpus)}")
        return [hw.device], [], []
    if gpus:
        return gpus, [], []
    reason = why or "torch sees none"
    if hw.device == "all":
        # The host is still measured, but a GPU node whose torch is a CPU-only build (or whose
        # driver is broken) must not pass a burn meant for its GPUs, as plain verify fails.
        # Only GPU measurements asked: the host has none of them, and nothing is measured.
        host = hw.burn_s is not None or any(i not in GPU_ONLY for i in hw.items)
        said = "only the host was measured" if host else "nothing was measured"
        return (
            ["cpu"],
            [],
            [
                f"no GPU found ({reason}): {said}; run "
                "`gpudoctor check` for the cause and the fix; on a machine meant to be CPU-only, "
                "--device cpu measures the host alone"
            ],
        )
    # `--device cuda:0` with no GPU read "cuda:0: not among the GPUs found (None)"
    return (
        [],
        [],
        [
            f"no GPU found ({reason}): nothing was measured on {hw.device}; run `gpudoctor "
            "check` for the cause and the fix"
        ],
    )


def _hung_note(hung: dict[str, str]) -> str:
    """``cuda:1 stopped answering in memory (not waited on again)``."""
    said = ", ".join(f"{device} stopped answering in {measure}" for device, measure in hung.items())
    return f"{said} (not waited on again)"


def run_hardware(
    hw: HardwareSettings,
    *,
    python: str = sys.executable,
    stream: Streamer = stream_cmd,
    limits: Limits | None = None,
    say: Callable[[str], object] | None = None,
) -> HardwareResult:
    """Measure every item asked, then burn; each child bounded, failures recorded, never raised.

    ``say`` gets one line as each measurement starts: a burn can last hours, and one line at
    the start left the terminal silent all that time.
    """
    t0 = time.monotonic()
    runner = Runner(python, stream, limits or Limits())
    tell = say or (lambda line: None)
    devices, notes, errors = _targets(hw, runner)
    where = ", ".join(devices)
    bandwidths: list[Bandwidth] = []
    allreduce = None
    burns: list[BurnDevice] = []
    on_cpu = devices == ["cpu"]
    left_out = [i for i in hw.items if i in GPU_ONLY] if on_cpu else []
    if left_out:
        verb = "needs" if len(left_out) == 1 else "need"
        notes.append(f"{', '.join(left_out)}: {verb} a GPU; left out on the CPU")
    for item in hw.items if devices else ():
        if item in left_out:
            continue
        if runner.hung:
            # a GPU that stopped answering is not waited on again: each later child would
            # spend its whole deadline on it (a wedged GPU stays wedged until it is reset)
            devices = [d for d in devices if d not in runner.hung]
            where = ", ".join(devices)
            if not devices or item == "allreduce":
                notes.append(f"{item}: not measured: {_hung_note(runner.hung)}")
                continue
        if item == "p2p" and len(devices) < 2:
            notes.append("p2p: needs two GPUs or more")
            continue
        if item == "allreduce":
            ranks = ["cpu"] * max(2, hw.ranks) if on_cpu else devices
            if len(ranks) < 2:
                notes.append("allreduce: needs two GPUs or more")
                continue
            tell(f"allreduce across {len(ranks)} {'processes' if on_cpu else 'GPUs'} ...")
            allreduce, why = runner.allreduce(ranks)
            if why:
                errors.append(why)
            continue
        tell(f"{item} on {where} ...")
        found, why = runner.bandwidths(item, devices)
        bandwidths += found
        if why:
            errors.append(why)
    if runner.hung:
        devices = [d for d in devices if d not in runner.hung]
        where = ", ".join(devices)
        if hw.burn_s:
            left = f"burn on {where} only" if devices else "burn: not run"
            notes.append(f"{left}: {_hung_note(runner.hung)}")
    if hw.burn_s and devices:
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=hw.burn_s)
        tell(f"burn {hw.burn_s:g} s on {where}, until about {until:%H:%M:%S} UTC ...")
        burns, why_burn = runner.burn(devices, hw.burn_s)
        errors += why_burn
    return HardwareResult(
        settings=hw,
        bandwidths=tuple(bandwidths),
        allreduce=allreduce,
        burn=tuple(burns),
        notes=tuple(notes),
        errors=tuple(errors),
        duration_s=round(time.monotonic() - t0, 2),
    )


def with_floors(hw: HardwareResult, refs: References) -> HardwareResult:
    """``hw`` with the knowledge base's floors for the GPU models it measured."""
    names = {b.device_name.strip().lower() for b in hw.bandwidths if b.device != "cpu"}
    names |= {b.device_name.strip().lower() for b in hw.burn if b.device != "cpu"}
    floors = tuple(
        HardwareFloor(
            gpu=f.gpu, kind=f.kind, gbps=f.gbps, verified=f.verified, source=f.source, gpus=f.gpus
        )
        for f in refs.floors
        if f.gpu.lower() in names
    )
    return replace(hw, floors=floors)
