"""Findings: what the rules conclude from a report, each with evidence and a fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass

DOCS_URL = ""
"""Where a packager publishes docs/findings.md, set when building (for example
``sed -i 's|^DOCS_URL = ""|DOCS_URL = "https://docs.example.org/findings.html"|'`` in the build
recipe). Empty, as shipped: a finding points at ``gpudoctor explain <ID>``, which prints its entry
from the copy inside the installed package, offline."""


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that ``max()`` gives the worst."""

    OK = 0
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        """The lower-case name used in JSON and Markdown."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """The severity named by ``text`` (``ok``, ``info``, ``warning``, ``error``)."""
        try:
            return cls[text.upper()]
        except KeyError:
            msg = f"unknown severity {text!r}"
            raise ValueError(msg) from None


AREAS: tuple[str, ...] = ("host", "driver", "nvml", "gpu", "cuda", "torch", "tensorflow")
"""The areas of the stack, in the order the terminal shows them (one line each)."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One conclusion about the machine."""

    id: str
    """Stable identifier, e.g. ``GD-NVML-001``; it names the entry in docs/findings.md."""
    severity: Severity
    area: str
    """One of :data:`AREAS`."""
    title: str
    """One line: the named cause."""
    evidence: tuple[str, ...] = ()
    """The facts that triggered it, as the report has them."""
    fix: tuple[str, ...] = ()
    """Concrete next steps, commands where possible."""

    @property
    def doc_url(self) -> str:
        """Where this finding is explained: its entry under :data:`DOCS_URL` when one was set
        at build time, else the offline command ``gpudoctor explain <ID>``."""
        return f"{DOCS_URL}#{self.id.lower()}" if DOCS_URL else f"gpudoctor explain {self.id}"


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """All findings for one report, in a stable order."""

    findings: tuple[Finding, ...]
    refused_pci: tuple[str, ...] = ()
    """PCI addresses (``dddd:bb:dd.f``) of the GPUs the installed driver cannot drive, which
    GD-DRV-007, -008 or -009 name: the fleet's GD-GPU-068 calls them refused by the driver,
    not lost, as check's does (the fleet layer reads no rules, so the diagnosis carries them)."""

    @property
    def worst(self) -> Severity:
        """The most severe finding (OK when there is none)."""
        return max((f.severity for f in self.findings), default=Severity.OK)

    def in_area(self, area: str) -> tuple[Finding, ...]:
        """The findings of one area, worst first."""
        return tuple(
            sorted(
                (f for f in self.findings if f.area == area),
                key=lambda f: (-f.severity, f.id),
            )
        )

    def count(self, severity: Severity) -> int:
        """How many findings have exactly this severity."""
        return sum(1 for f in self.findings if f.severity == severity)
