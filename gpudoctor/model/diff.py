"""What changed between two snapshots of a machine: the typed diff and the one comparison."""

from __future__ import annotations

import enum
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.facts import GROUP_ORDER, Fact
from gpudoctor.model.findings import Severity

DIFF_SCHEMA_VERSION = 2
"""Bumped on any change that breaks a reader of the JSON form (docs/diff-schema.json). 2: a
finding may be ``changed`` (its severity moved), with ``old_severity``."""

NOISE_FLOOR = 0.03
"""A throughput change smaller than 3 % is never reported, whatever the spreads: clocks and
temperature move a rerun that much even when each run's own blocks agree closely."""
NOISE_SPREADS = 2.0
"""A change must also exceed twice the larger of the two runs' spreads (inter-quartile range
over median of the timed blocks, verify's ``spread``)."""


class Change(enum.Enum):
    """How one fact moved; its value is the word JSON and the renderers use."""

    CHANGED = "changed"
    APPEARED = "appeared"
    GONE = "gone"


@dataclass(frozen=True, kw_only=True)
class FactChange:
    """One fact whose value differs between OLD and NEW."""

    key: str
    """Stable: ``nvml.driver_version``, ``gpu.0.power_limit_w``, ``cuda.lib.cudnn.path``,
    ``framework.torch``, ``env.LD_LIBRARY_PATH`` ... (docs/history.md lists them)."""
    group: str
    """One of model/facts.py's GROUPS: what the fact is about."""
    label: str
    """The fact in words: ``NVML driver``, ``GPU 0 power limit (W)``."""
    change: Change
    old: str | None
    """OLD's value; null for a fact that appeared."""
    new: str | None
    """NEW's value; null for a fact that went away."""


@dataclass(frozen=True, kw_only=True)
class FindingChange:
    """A finding ID that one side has and the other has not, or whose severity moved."""

    id: str
    severity: Severity
    """NEW's severity (OLD's for a finding that went away)."""
    title: str
    change: Change
    """APPEARED (only NEW has it), GONE (only OLD had it) or CHANGED (both have it, at
    different severities)."""
    old_severity: Severity | None = None
    """OLD's severity for a CHANGED finding; null otherwise."""


@dataclass(frozen=True, kw_only=True)
class ThroughputSample:
    """One timed verify run, as the diff matches it: images/s and the run's own spread."""

    framework: str
    model: str
    device: str
    device_name: str
    mode: str
    precision: str
    batch_size: int
    layout: str = ""
    images_per_second: float
    spread: float | None = None
    """Inter-quartile range over median of the per-block images/s (None: not recorded)."""

    @property
    def key(self) -> tuple[str, str, str, str, str, int, str]:
        """What must be equal for two runs to be the same measurement."""
        return (
            self.framework,
            self.model,
            self.device,
            self.mode,
            self.precision,
            self.batch_size,
            self.layout,
        )


def samples_from_verify(data: Mapping[str, Any], where: str) -> tuple[ThroughputSample, ...]:
    """The timed runs of a parsed verify result (main runs that finished), refusing bad ones."""
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise ReportFormatError(f"{where}: runs: expected a list")
    found = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise ReportFormatError(f"{where}: runs[{i}]: expected an object")
        if run.get("status", "ok") != "ok" or run.get("role", "main") != "main":
            continue
        ips = run.get("images_per_second")
        if ips is None:
            continue
        try:
            spread = run.get("spread")
            sample = ThroughputSample(
                framework=str(run["framework"]),
                model=str(run["model"]),
                device=str(run["device"]),
                device_name=str(run.get("device_name") or run["device"]),
                mode=str(run.get("mode", "inference")),
                precision=str(run.get("precision", "fp32")),
                batch_size=int(run.get("batch_size", 0)),
                layout=str(run.get("layout") or ""),
                images_per_second=float(ips),
                spread=float(spread) if spread is not None else None,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ReportFormatError(f"{where}: runs[{i}]: {exc}") from None
        if not math.isfinite(sample.images_per_second) or sample.images_per_second <= 0:
            raise ReportFormatError(f"{where}: runs[{i}].images_per_second: {ips!r}")
        if sample.spread is not None and not math.isfinite(sample.spread):
            sample = replace(sample, spread=None)
        found.append(sample)
    return tuple(found)


@dataclass(frozen=True, kw_only=True)
class ThroughputChange:
    """A model's images/s on one device that moved beyond the measurement's own noise."""

    framework: str
    model: str
    device: str
    device_name: str
    mode: str
    precision: str
    batch_size: int
    layout: str = ""
    old_images_per_second: float
    new_images_per_second: float
    ratio: float
    """new / old."""
    threshold: float
    """The relative change it had to exceed: max(0.03, 2 × the larger spread), as
    ``noise_threshold`` gives it."""


@dataclass(frozen=True, kw_only=True)
class PackageAction:
    """One package manager action on a driver, CUDA or kernel package, from the host's logs."""

    when: str
    """ISO 8601 UTC (``2026-12-01T06:25:11Z``); apt's local times are converted on the host
    whose log it is."""
    action: str
    """``install``, ``upgrade``, ``remove``, ``downgrade``, ``reinstall``, ``purge``."""
    package: str
    old_version: str | None = None
    new_version: str | None = None
    command: str | None = None
    """The command line that did it, where the log records one (apt's Commandline)."""
    source: str
    """The log it came from, e.g. ``/var/log/apt/history.log``."""


@dataclass(frozen=True, kw_only=True)
class Side:
    """One side of a diff: which report or history entry, when, of which machine."""

    label: str
    """Which report or history entry: a file name, ``last-good: history 2026-12-01T06:00:00Z
    (check, ok)``, ``history 3`` or ``now``."""
    created_at: str | None = None
    """ISO 8601 UTC, ``2026-12-07T04:05:06Z`` (a verify result's ``started_at``, written with
    ``+00:00`` before 2026-12-07, is given in this form too)."""
    gpudoctor_version: str | None = None
    verdict: str | None = None
    """The check verdict (``ok``, ``info``, ``warning``, ``error``) or the verify verdict
    (``pass``, ``warn``, ``fail``)."""
    host: str | None = None
    """The host name, ``<redacted>`` in a redacted report."""
    machine: str | None = None
    """History's machine fingerprint (a hash; says nothing about the machine), where the side
    came from history or a probe."""
    checked: bool = True
    """This side has a check report (false: a verify result alone)."""
    measured: bool = False
    """This side has verify results (throughput)."""


@dataclass(frozen=True, kw_only=True)
class Diff:
    """Everything that differs between OLD and NEW, in the order that matters."""

    schema_version: int = DIFF_SCHEMA_VERSION
    old: Side
    new: Side
    other_machine: str | None = None
    """Why OLD and NEW look like two machines (said before the diff); null when nothing says
    so."""
    facts: tuple[FactChange, ...] = ()
    """Facts that differ, grouped (driver, nvml, gpus, cuda, frameworks, environment, host) in
    that order."""
    findings: tuple[FindingChange, ...] = ()
    """Finding IDs only one side has, or whose severity moved (both re-diagnosed with today's
    rules); an ID raised several times stands at its worst severity."""
    throughput: tuple[ThroughputChange, ...] = ()
    within_noise: int = 0
    """Runs measured on both sides whose change stayed within the noise."""
    packages: tuple[PackageAction, ...] = ()
    """Driver, CUDA and kernel package actions between OLD's and NEW's times, from this host's
    apt and dnf logs."""
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when anything differs (the exit status of ``gpudoctor diff``)."""
        return bool(self.facts or self.findings or self.throughput)

    def in_group(self, group: str) -> tuple[FactChange, ...]:
        """The fact changes of one group (see model/facts.py GROUPS)."""
        return tuple(c for c in self.facts if c.group == group)


# --- the comparison ---------------------------------------------------------------------------


def differs(old: str | None, new: str | None) -> bool:
    """Whether two known values differ; unknown (None) on either side is no difference."""
    return old is not None and new is not None and old != new


def compare_facts(
    old: Sequence[Fact], new: Sequence[Fact], *, absent_is_change: bool = True
) -> tuple[FactChange, ...]:
    """The facts that differ, ordered by group (what matters first), then as NEW lists them.

    A key only one side has is APPEARED or GONE when ``absent_is_change`` (a GPU, a library, a
    variable that came or went); fleets compare only what both sides know. A value unknown on
    one side is never a change. Every fact of a GPU that came or went is one change.
    """
    old_by = {f.key: f for f in old}
    new_by = {f.key: f for f in new}
    order: dict[str, int] = {}
    for f in (*new, *old):
        order.setdefault(f.key, len(order))
    found: list[FactChange] = []
    for key in order:
        a, b = old_by.get(key), new_by.get(key)
        if a is not None and b is not None:
            if differs(a.value, b.value):
                found.append(_change(b, Change.CHANGED, a.value, b.value))
        elif absent_is_change and a is None and b is not None and b.value is not None:
            found.append(_change(b, Change.APPEARED, None, b.value))
        elif absent_is_change and b is None and a is not None and a.value is not None:
            found.append(_change(a, Change.GONE, a.value, None))
    found.sort(key=lambda c: (GROUP_ORDER.get(c.group, 99), order[c.key]))
    return tuple(_whole_gpus(found))


def _change(fact: Fact, change: Change, old: str | None, new: str | None) -> FactChange:
    return FactChange(
        key=fact.key, group=fact.group, label=fact.label, change=change, old=old, new=new
    )


def _whole_gpus(found: list[FactChange]) -> list[FactChange]:
    """A GPU that came or went is one line (its model), not one per setting."""
    whole = {
        c.key.rsplit(".", 1)[0]: c
        for c in found
        if c.key.startswith("gpu.") and c.key.endswith(".name") and c.change is not Change.CHANGED
    }
    if not whole:
        return found
    out = []
    for c in found:
        prefix = c.key.rsplit(".", 1)[0] if c.key.startswith("gpu.") else None
        if prefix in whole:
            if c is whole[prefix]:
                index = prefix.split(".")[1]
                out.append(
                    FactChange(
                        key=prefix,
                        group=c.group,
                        label=f"GPU {index}",
                        change=c.change,
                        old=c.old,
                        new=c.new,
                    )
                )
            continue
        out.append(c)
    return out


def compare_findings(
    old: Iterable[tuple[str, Severity, str]], new: Iterable[tuple[str, Severity, str]]
) -> tuple[FindingChange, ...]:
    """Finding IDs (id, severity, title) that appeared, went away or changed severity; new
    and changed first, worst first.

    By ID: a title that names a changing number (a temperature) is the same finding. An ID
    raised several times (once per GPU) stands at its worst severity.
    """
    old_by, new_by = _worst_by_id(old), _worst_by_id(new)
    found = (
        [
            FindingChange(id=fid, severity=sev, title=title, change=Change.APPEARED)
            for fid, (sev, title) in new_by.items()
            if fid not in old_by
        ]
        + [
            # a warning that became an error (or back) is news: "no change" would hide it
            FindingChange(
                id=fid,
                severity=sev,
                title=title,
                change=Change.CHANGED,
                old_severity=old_by[fid][0],
            )
            for fid, (sev, title) in new_by.items()
            if fid in old_by and old_by[fid][0] != sev
        ]
        + [
            FindingChange(id=fid, severity=sev, title=title, change=Change.GONE)
            for fid, (sev, title) in old_by.items()
            if fid not in new_by
        ]
    )
    return tuple(sorted(found, key=lambda f: (f.change is Change.GONE, -f.severity, f.id)))


def _worst_by_id(findings: Iterable[tuple[str, Severity, str]]) -> dict[str, tuple[Severity, str]]:
    by: dict[str, tuple[Severity, str]] = {}
    for fid, sev, title in findings:
        if sev > Severity.OK and (fid not in by or sev > by[fid][0]):
            by[fid] = (sev, title)
    return by


def noise_threshold(old: ThroughputSample, new: ThroughputSample) -> float:
    """The relative change two runs must exceed to count: twice the larger spread, at least 3 %."""
    spreads = [s for s in (old.spread, new.spread) if s is not None and s >= 0]
    return max(NOISE_FLOOR, NOISE_SPREADS * max(spreads, default=0.0))


def _pairs(
    old: Sequence[ThroughputSample], new: Sequence[ThroughputSample]
) -> tuple[list[tuple[ThroughputSample, ThroughputSample]], int]:
    """Runs of the same measurement on both sides, and how many runs found no partner.

    A run whose layout was not recorded (results written before verify recorded it) pairs with
    the one run of the other side that matches it in everything else.
    """
    old_by = {s.key: s for s in old}
    new_by = {s.key: s for s in new}
    pairs = [(old_by[k], new_by[k]) for k in new_by if k in old_by]
    left_old = {k: s for k, s in old_by.items() if k not in new_by}
    left_new = {k: s for k, s in new_by.items() if k not in old_by}
    for k_old, a in list(left_old.items()):
        loose = [k for k in left_new if k[:-1] == k_old[:-1]]
        if len(loose) == 1 and (a.layout == "" or left_new[loose[0]].layout == ""):
            pairs.append((a, left_new.pop(loose[0])))
            del left_old[k_old]
    return pairs, len(left_old) + len(left_new)


def compare_throughput(
    old: Sequence[ThroughputSample], new: Sequence[ThroughputSample]
) -> tuple[tuple[ThroughputChange, ...], int, int]:
    """Runs measured on both sides that moved beyond their noise (largest move first), how many
    stayed within it, and how many runs only one side has."""
    pairs, unmatched = _pairs(old, new)
    changes: list[ThroughputChange] = []
    within = 0
    for a, b in pairs:
        if a.images_per_second <= 0:
            continue
        ratio = b.images_per_second / a.images_per_second
        threshold = noise_threshold(a, b)
        if abs(ratio - 1.0) <= threshold:
            within += 1
            continue
        changes.append(
            ThroughputChange(
                framework=b.framework,
                model=b.model,
                device=b.device,
                device_name=b.device_name,
                mode=b.mode,
                precision=b.precision,
                batch_size=b.batch_size,
                layout=b.layout,
                old_images_per_second=a.images_per_second,
                new_images_per_second=b.images_per_second,
                ratio=ratio,
                threshold=threshold,
            )
        )
    changes.sort(key=lambda c: (-abs(c.ratio - 1.0), c.framework, c.model, c.device))
    return tuple(changes), within, unmatched


def machine_difference(old: Side, new: Side) -> str | None:
    """Why OLD and NEW look like two different machines, or None when nothing says so."""
    if old.machine and new.machine and old.machine != new.machine:
        return "OLD and NEW were recorded on different machines (history's machine fingerprint)"
    redacted = "<redacted>"
    if old.host and new.host and redacted not in (old.host, new.host) and old.host != new.host:
        return f"OLD is from host {old.host}, NEW from host {new.host}"
    return None


_GPU_KEY = re.compile(r"gpu\.\d+\.(\w+)")


def _identity(facts: Sequence[Fact]) -> dict[str, tuple[str, ...]]:
    """What names a machine's hardware: CPU model, memory, its GPUs and where they sit."""
    values = {f.key: f.value for f in facts if f.value is not None}
    per_gpu: dict[str, list[str]] = {}
    for key, value in values.items():
        if (found := _GPU_KEY.fullmatch(key)) is not None:
            per_gpu.setdefault(found.group(1), []).append(value)
    identity = {
        "CPU": (values["host.cpu"],) if "host.cpu" in values else (),
        "memory (GiB)": (values["host.memory_gib"],) if "host.memory_gib" in values else (),
        "GPU models": tuple(sorted(per_gpu.get("name", []))),
        "GPU PCI addresses": tuple(sorted(per_gpu.get("pci_bus_id", []))),
    }
    return {k: v for k, v in identity.items() if v}


def _within(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether one side's values are all among the other's: a GPU that fell off the bus (NVML
    lists it no more, or lists it lost, without a name or address) is a change, not a machine."""
    have_a, have_b = Counter(a), Counter(b)
    return have_a <= have_b or have_b <= have_a


def hardware_difference(old_facts: Sequence[Fact], new_facts: Sequence[Fact]) -> str | None:
    """Why two reports with no host name to tell them apart look like two machines.

    Two or more of CPU model, memory, the GPU models and the GPUs' PCI addresses differ; one
    alone is an upgrade or a swapped card, a change to show rather than another machine. GPUs
    that one side lists and the other does not (lost, gone) are no difference here.
    """
    a, b = _identity(old_facts), _identity(new_facts)
    differ = sorted(k for k in a.keys() & b.keys() if not _within(a[k], b[k]))
    if len(differ) < 2:
        return None
    said = "; ".join(f"{k} {', '.join(a[k])} against {', '.join(b[k])}" for k in differ)
    return f"OLD and NEW look like two machines ({said})"


def headline_throughput(samples: Sequence[ThroughputSample]) -> str | None:
    """One line for a history listing: the best GPU (else CPU) figure of a ResNet-50-like run."""
    if not samples:
        return None
    gpu = [s for s in samples if s.device != "cpu"]
    pool = gpu or list(samples)
    prefer = [s for s in pool if s.model == "resnet50"] or pool
    best = max(prefer, key=lambda s: s.images_per_second)
    ips = f"{best.images_per_second:,.0f} img/s"
    return f"{best.model} {best.framework} {best.device} {best.precision} {ips}"


def in_window(
    actions: Iterable[PackageAction], after: str | None, until: str | None
) -> tuple[PackageAction, ...]:
    """The actions after OLD was made and up to NEW (ISO 8601 UTC strings compare as times)."""
    return tuple(
        a
        for a in actions
        if (after is None or a.when > after) and (until is None or a.when <= until)
    )


def _nvml_listed(facts: Sequence[Fact]) -> str | None:
    """``ok`` when NVML listed this side's GPUs, else NVML's status; None when not recorded."""
    status = next((f.value for f in facts if f.key == "nvml.status"), None)
    return None if status is None else "ok" if status == "ok" else status


def _later(a: str | None, b: str | None) -> bool:
    """Whether time ``a`` is after time ``b`` (ISO 8601); False when either is unknown."""
    from datetime import datetime

    try:
        first = datetime.fromisoformat((a or "").replace("Z", "+00:00"))
        second = datetime.fromisoformat((b or "").replace("Z", "+00:00"))
        return first > second
    except (ValueError, TypeError):  # unknown, malformed, or one side without a zone
        return False


def make_diff(
    old: Side,
    new: Side,
    *,
    old_facts: Sequence[Fact] = (),
    new_facts: Sequence[Fact] = (),
    old_findings: Iterable[tuple[str, Severity, str]] = (),
    new_findings: Iterable[tuple[str, Severity, str]] = (),
    old_samples: Sequence[ThroughputSample] = (),
    new_samples: Sequence[ThroughputSample] = (),
    actions: Iterable[PackageAction] = (),
) -> Diff:
    """The whole diff of two snapshots: facts, findings, throughput and the package actions
    between them. A side without a check report (a verify result alone) compares no facts;
    frameworks compare only when both sides probed them."""
    notes: list[str] = []
    if _later(old.created_at, new.created_at):
        notes.append(
            f"OLD ({old.created_at}) was made after NEW ({new.created_at}): each change reads "
            "from the later to the earlier; swap OLD and NEW for what changed since"
        )
    other = machine_difference(old, new)
    if other is None and old.checked and new.checked:
        other = hardware_difference(old_facts, new_facts)
    facts: tuple[FactChange, ...] = ()
    if old.checked and new.checked:
        a, b = list(old_facts), list(new_facts)
        a_fw = any(f.group == "frameworks" for f in a)
        b_fw = any(f.group == "frameworks" for f in b)
        if a_fw != b_fw:
            which = "OLD" if not a_fw else "NEW"
            notes.append(f"{which} did not probe the frameworks: they are not compared")
            a = [f for f in a if f.group != "frameworks"]
            b = [f for f in b if f.group != "frameworks"]
        a_gpus, b_gpus = _nvml_listed(a), _nvml_listed(b)
        if a_gpus is not None and b_gpus is not None and a_gpus != b_gpus:
            # NVML that failed (a driver/library mismatch) lists no GPU: the GPUs are unknown
            # there, not gone, as the GPU count already is.
            which, status = ("OLD", a_gpus) if b_gpus == "ok" else ("NEW", b_gpus)
            notes.append(
                f"{which}'s NVML listed no GPUs (NVML: {status}): the GPUs are not compared"
            )
            a = [f for f in a if not f.key.startswith("gpu.")]
            b = [f for f in b if not f.key.startswith("gpu.")]
        facts = compare_facts(a, b)
    elif old.checked or new.checked:
        notes.append("one side has no check report: the software stack is not compared")
    findings = compare_findings(old_findings, new_findings) if old.checked and new.checked else ()
    changes: tuple[ThroughputChange, ...] = ()
    within = 0
    if old_samples and new_samples and tuple(old_samples) == tuple(new_samples):
        # a history check entry takes the timings of the verify before it, and a verify entry
        # its own: both sides can hold one run, which is 'within the noise' of itself
        notes.append(
            "both sides take their timings from the same verify run: throughput is not compared"
        )
    elif old_samples and new_samples:
        changes, within, unmatched = compare_throughput(old_samples, new_samples)
        if unmatched:
            notes.append(
                f"{unmatched} timed run(s) only one side has (other models, batches, precisions "
                "or devices): not compared"
            )
    elif old_samples or new_samples:
        notes.append("only one side has verify results: throughput is not compared")
    packages = () if other else in_window(actions, old.created_at, new.created_at)
    return Diff(
        old=old,
        new=new,
        other_machine=other,
        facts=facts,
        findings=findings,
        throughput=changes,
        within_noise=within,
        packages=packages,
        notes=tuple(notes),
    )
