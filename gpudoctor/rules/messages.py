"""A framework's failure messages, and the causes the knowledge base's catalogue names for them."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.model.report import FrameworkInfo, Report
from gpudoctor.rules.facts import ask
from gpudoctor.rules.registry import KnowledgeBase, MessageMatchLike

QUOTE_MAX = 300
"""Characters of a message quoted as evidence (the probes bound what they record; a replayed
report may hold anything)."""


def failure_messages(fw: FrameworkInfo) -> list[str]:
    """Every message the framework's probe recorded about something that failed, in order.

    The import's error (and the exceptions chained to it, the warnings and lines it printed),
    the CUDA initialisation error, the warnings of a working import (``message``), and each
    GPU's failed computation or convolution.
    """
    if not (fw.message or fw.import_messages or fw.init_error or fw.devices):
        return []  # the common case, asked of every framework by a dozen rules
    found: list[str] = []
    if fw.message and fw.status in ("import_error", "crashed", "ok"):
        found.append(fw.message)
    found += fw.import_messages
    if fw.init_error:
        found.append(fw.init_error)
    for dev in fw.devices:
        found += [text for text in (dev.smoke_error, dev.conv_error) if text]
    return [m for m in dict.fromkeys(found) if m.strip()]


def quote(text: str) -> str:
    """One line of a message, as evidence: whitespace collapsed, at most QUOTE_MAX characters."""
    line = " ".join(text.split())
    return line if len(line) <= QUOTE_MAX else line[: QUOTE_MAX - 1] + "…"


@dataclass(frozen=True)
class Classified:
    """A framework's failure message whose cause the catalogue names."""

    framework: FrameworkInfo
    message: str
    match: MessageMatchLike

    @property
    def cause(self) -> str:
        return self.match.cause


def classify(fw: FrameworkInfo, kb: KnowledgeBase) -> list[Classified]:
    """Each failure message of ``fw`` that the catalogue knows, with its cause (one per row)."""
    out: list[Classified] = []
    seen: set[tuple[str, str]] = set()
    for message in failure_messages(fw):
        match = ask(kb.message_cause, message)
        if match is None:
            continue
        key = (match.cause, match.title)
        if key not in seen:
            seen.add(key)
            out.append(Classified(fw, message, match))
    return out


def classified(report: Report, kb: KnowledgeBase, *causes: str) -> list[Classified]:
    """The classified failure messages of every framework in the report, of ``causes``."""
    return [c for fw in report.frameworks for c in classify(fw, kb) if c.cause in causes]


def import_explained(fw: FrameworkInfo, kb: KnowledgeBase) -> bool:
    """True when the catalogue names the cause of a failed import (its own finding reports it,
    so the generic "fails to import" finding stays out)."""
    if fw.status not in ("import_error", "crashed"):
        return False
    texts = [fw.message, *fw.import_messages]
    return any(ask(kb.message_cause, t) is not None for t in texts if t)


CAUSES_ON_OTHER_LINES: dict[str, tuple[str, str]] = {
    "glibc": ("GD-HOST-034", "Host"),
    "glibcxx": ("GD-HOST-035", "Host"),
    "cpu_isa": ("GD-HOST-036", "Host"),
    "cudnn_mixed": ("GD-CUDA-033", "CUDA"),
}
"""Causes of a failed import whose finding is shown on another area's line than the
framework's (the C library, the CPU, the cuDNN files), each with that finding's ID and line."""


def import_explained_elsewhere(fw: FrameworkInfo, kb: KnowledgeBase) -> list[tuple[str, str]]:
    """The findings (ID, line) that explain a failed import when every cause the catalogue
    names for it is reported on another area's line; empty otherwise.

    Without a finding on its own line the framework would show as fine ([✓]) while it cannot
    even be imported, so the generic finding then stays, pointing at these.
    """
    if fw.status not in ("import_error", "crashed"):
        return []
    causes = [
        match.cause
        for t in (fw.message, *fw.import_messages)
        if t and (match := ask(kb.message_cause, t)) is not None
    ]
    if not causes or any(c not in CAUSES_ON_OTHER_LINES for c in causes):
        return []
    return list(dict.fromkeys(CAUSES_ON_OTHER_LINES[c] for c in causes))
