"""Every finding a rule test produces has a severity its rule declares (docs/findings.md lists
them), so a hit that raises or lowers a rule's severity cannot go undocumented."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gpudoctor.model.findings import Finding
from gpudoctor.rules.registry import Hit, Rule


@pytest.fixture(autouse=True)
def declared_severities_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    plain = Rule.finding

    def checked(self: Rule, hit: Hit) -> Finding:
        found = plain(self, hit)
        assert found.severity in self.severity_range, (
            f"{self.id} reported {found.severity.label}, but declares only "
            f"{' / '.join(s.label for s in self.severity_range)}: add it to severities="
        )
        return found

    monkeypatch.setattr(Rule, "finding", checked)
    yield
