"""The rules registry: each rule's stable ID, area, severity, title, explanation and check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gpudoctor.model import shell
from gpudoctor.model.findings import AREAS, Finding, Severity
from gpudoctor.model.report import FrameworkInfo, Report

AREA_PREFIX: dict[str, str] = {
    "host": "HOST",
    "driver": "DRV",
    "nvml": "NVML",
    "gpu": "GPU",
    "cuda": "CUDA",
    "torch": "TORCH",
    "tensorflow": "TF",
}
"""The ID prefix of each area: ``GD-<PREFIX>-NNN``."""

FRAMEWORK_NAMES: dict[str, str] = {"torch": "PyTorch", "tensorflow": "TensorFlow"}

AREA_TITLES: dict[str, str] = {
    "host": "Host and environment",
    "driver": "Kernel driver",
    "nvml": "NVML",
    "gpu": "GPU health",
    "cuda": "CUDA user space",
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
}

_ID = re.compile(r"^GD-([A-Z]+)-(\d{3})$")


# --- the knowledge base as the rules use it (structural, so a fake KB fits in tests) ----------


class CudaSupportLike(Protocol):
    """Whether a driver runs a CUDA runtime (``full``, ``minor_compat`` or ``none``)."""

    @property
    def level(self) -> str: ...
    @property
    def full_min_driver(self) -> str | None: ...
    @property
    def mvc_min_driver(self) -> str | None: ...


class ArchCoverageLike(Protocol):
    """How an arch list covers a GPU (``sass``, ``ptx_jit``, ``none`` or ``unknown``)."""

    @property
    def kind(self) -> str: ...
    @property
    def matched(self) -> str | None: ...


class VariantLike(Protocol):
    """One build of a framework release, as far as a fix command names it."""

    @property
    def package(self) -> str | None: ...


class ReleaseLike(Protocol):
    """A framework release's supported Python range and its builds."""

    @property
    def python_min(self) -> str | None: ...
    @property
    def python_max(self) -> str | None: ...
    @property
    def variants(self) -> Sequence[VariantLike]: ...


class PciRangeLike(Protocol):
    """A GPU generation by PCI device ID: its last driver branch and kernel-module flavour."""

    @property
    def generation(self) -> str: ...
    @property
    def last_branch(self) -> int | None: ...
    @property
    def per_generation(self) -> tuple[tuple[str, int], ...]: ...
    @property
    def kernel_module(self) -> str: ...
    @property
    def source(self) -> str: ...


class MessageMatchLike(Protocol):
    """A framework failure message and the cause the knowledge base's catalogue names for it."""

    @property
    def cause(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def fix(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> str: ...
    @property
    def matched(self) -> str: ...
    @property
    def groups(self) -> Mapping[str, str]: ...


class NumpyLimitLike(Protocol):
    """A numpy ceiling for framework releases built against numpy 1.x."""

    @property
    def requirement(self) -> str: ...


class XidLike(Protocol):
    """One Xid of NVIDIA's catalogue: what it means, who is usually at fault, what to do."""

    @property
    def code(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def meaning(self) -> str: ...
    @property
    def blame(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def note(self) -> str: ...
    @property
    def source(self) -> str: ...


class GpuStartLike(Protocol):
    """How a container runtime is started with the host's GPU (the knowledge base's row)."""

    @property
    def start(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def text(self) -> str: ...


class GpuModelLike(Protocol):
    """A datacenter GPU model: the NVLinks it should have up, whether ECC belongs on."""

    @property
    def label(self) -> str: ...
    @property
    def nvlinks(self) -> int | None: ...
    @property
    def ecc(self) -> bool: ...
    @property
    def source(self) -> str: ...


class KnowledgeBase(Protocol):
    """The knowledge-base queries the rules ask (see gpudoctor.kb)."""

    def cuda_support(self, driver: str, cuda: str, os: str) -> CudaSupportLike: ...
    def max_cuda_for_driver(self, driver: str, os: str) -> str | None: ...
    def past_known_branches(self, driver: str) -> bool: ...
    def arch_coverage(self, cc: str, arch_list: Sequence[str]) -> ArchCoverageLike: ...
    def gpu_build_covers(self, cc: str) -> bool: ...
    def last_cuda_for_cc(self, cc: str) -> str | None: ...
    def torch_release(self, version: str) -> ReleaseLike | None: ...
    def tensorflow_release(self, version: str) -> ReleaseLike | None: ...
    def pci_range(self, device_id: str) -> PciRangeLike | None: ...
    def driver_drops_device(self, driver: str, device_id: str) -> PciRangeLike | None: ...
    def message_cause(self, message: str) -> MessageMatchLike | None: ...
    def numpy_max(self, framework: str, version: str, platform: str) -> NumpyLimitLike | None: ...
    def xid(self, code: int) -> XidLike | None: ...
    def gpu_model(self, name: str) -> GpuModelLike | None: ...
    def gpu_start(self, runtime: str) -> GpuStartLike | None: ...


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One occurrence of a rule: what the check found; the rule turns it into a Finding."""

    evidence: tuple[str, ...] = ()
    fix: tuple[str, ...] = ()
    severity: Severity | None = None
    """Overrides the rule's default severity (e.g. an ECC history is a warning, not an error)."""
    title: str | None = None
    """Overrides the rule's title with a more precise one (naming the GPU, the library)."""


Check = Callable[[Report, KnowledgeBase], Iterable[Hit]]
FrameworkCheck = Callable[[Report, KnowledgeBase, FrameworkInfo], Iterable[Hit]]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A registered rule and the metadata that docs/findings.md is generated from."""

    id: str
    area: str
    severity: Severity
    """The default severity; a hit may lower or raise it (documented in ``why``, declared in
    ``severities``)."""
    severities: tuple[Severity, ...] = ()
    """Every severity a hit may give the finding, when hits raise or lower the default (empty:
    always ``severity``). docs/findings.md lists them all."""
    title: str
    why: str
    """What the finding means and how it is detected (Markdown)."""
    fix: str
    """The generic fix (Markdown); findings carry fixes specific to the machine."""
    check: Check | None = None
    """None for the per-area OK entries that :func:`gpudoctor.rules.diagnose` adds."""
    marks_unchecked: bool = False
    """True when a hit means the area could not be checked (no OK line is added for it)."""
    sources: tuple[str, ...] = ()
    """Where the facts behind the rule come from (vendor pages, issues, knowledge-base files)."""

    def __post_init__(self) -> None:
        if self.severities and self.severity not in self.severities:
            msg = f"rule {self.id}: default severity {self.severity.label} not in its severities"
            raise ValueError(msg)

    @property
    def severity_range(self) -> tuple[Severity, ...]:
        """The severities this rule's findings can have, worst first."""
        return tuple(sorted({self.severity, *self.severities}, reverse=True))

    def run(self, report: Report, kb: KnowledgeBase) -> Iterator[Finding]:
        """The findings of this rule on ``report``."""
        if self.check is None:
            return
        for hit in self.check(report, kb):
            yield self.finding(hit)

    def finding(self, hit: Hit) -> Finding:
        """A Finding from one hit, with the rule's defaults filled in."""
        return Finding(
            id=self.id,
            severity=self.severity if hit.severity is None else hit.severity,
            area=self.area,
            title=hit.title or self.title,
            evidence=hit.evidence,
            fix=tuple(shell.one_line(line) for line in hit.fix),
        )


@dataclass
class Registry:
    """Rules by ID, in registration order."""

    rules: dict[str, Rule] = field(default_factory=dict)

    def add(self, rule: Rule) -> Rule:
        match = _ID.match(rule.id)
        if not match or rule.area not in AREAS or AREA_PREFIX[rule.area] != match.group(1):
            msg = f"rule id {rule.id!r} does not fit area {rule.area!r}"
            raise ValueError(msg)
        if rule.id in self.rules:
            msg = f"rule id {rule.id!r} registered twice"
            raise ValueError(msg)
        self.rules[rule.id] = rule
        return rule

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())

    def __getitem__(self, rule_id: str) -> Rule:
        return self.rules[rule_id]


REGISTRY = Registry()


def rule(
    rule_id: str,
    *,
    area: str,
    severity: Severity,
    severities: tuple[Severity, ...] = (),
    title: str,
    why: str,
    fix: str,
    marks_unchecked: bool = False,
    sources: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Register the decorated check as rule ``rule_id``."""

    def register(check: Check) -> Check:
        REGISTRY.add(
            Rule(
                id=rule_id,
                area=area,
                severity=severity,
                severities=severities,
                title=title,
                why=why,
                fix=fix,
                check=check,
                marks_unchecked=marks_unchecked,
                sources=sources,
            )
        )
        return check

    return register


def framework_rule(
    ids: dict[str, str],
    *,
    severity: Severity,
    severities: tuple[Severity, ...] = (),
    title: str,
    why: str,
    fix: str,
    marks_unchecked: bool = False,
    include_absent: bool = False,
    sources: tuple[str, ...] = (),
) -> Callable[[FrameworkCheck], FrameworkCheck]:
    """Register one rule per framework for the same check: ``ids`` maps each framework to its
    ID, spelled out (``{"torch": "GD-TORCH-004", "tensorflow": "GD-TF-004"}``).

    The IDs are literal so that `grep -r GD-TORCH-004 gpudoctor/` finds the rule a user's
    report names. ``title``, ``why`` and ``fix`` may name the framework as ``{fw}``. The check
    runs only when the report has a probe result for that framework, unless
    ``include_absent``: then a framework that was not probed at all arrives with status
    ``not_probed``.
    """

    def register(check: FrameworkCheck) -> FrameworkCheck:
        for name, rule_id in ids.items():
            label = FRAMEWORK_NAMES[name]
            REGISTRY.add(
                Rule(
                    id=rule_id,
                    area=name,
                    severity=severity,
                    severities=severities,
                    title=title.format(fw=label),
                    why=why.format(fw=label),
                    fix=fix.format(fw=label),
                    check=_bind(check, name, include_absent),
                    marks_unchecked=marks_unchecked,
                    sources=sources,
                )
            )
        return check

    return register


def _bind(check: FrameworkCheck, name: str, include_absent: bool) -> Check:
    def bound(report: Report, kb: KnowledgeBase) -> Iterable[Hit]:
        fw = report.framework(name)
        if fw is None and include_absent:
            fw = FrameworkInfo(name=name, status="not_probed")
        return () if fw is None else check(report, kb, fw)

    return bound


OK_IDS: dict[str, str] = {
    "host": "GD-HOST-000",
    "driver": "GD-DRV-000",
    "nvml": "GD-NVML-000",
    "gpu": "GD-GPU-000",
    "cuda": "GD-CUDA-000",
    "torch": "GD-TORCH-000",
    "tensorflow": "GD-TF-000",
}
"""Each area's "no problem found" entry, spelled out so that a grep finds it."""


def ok_rule_id(area: str) -> str:
    """The ID of an area's "no problem found" entry (``GD-<PREFIX>-000``)."""
    return OK_IDS[area]
