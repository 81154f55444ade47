"""The JSON form: the versioned report with its facts, the findings and each area's status."""

from __future__ import annotations

from gpudoctor.model.findings import Diagnosis
from gpudoctor.model.report import Report
from gpudoctor.model.serialize import report_to_json


def render_json(report: Report, diagnosis: Diagnosis, *, verbose: bool = False) -> str:
    """The document docs/report-format.md describes; always complete, so ``verbose`` is moot."""
    return report_to_json(report, diagnosis)
