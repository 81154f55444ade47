"""Rules: pure functions from a report (and the knowledge base) to findings."""

from __future__ import annotations

from gpudoctor.rules.diagnose import diagnose
from gpudoctor.rules.registry import REGISTRY, KnowledgeBase, Rule

__all__ = ["REGISTRY", "KnowledgeBase", "Rule", "diagnose"]
