"""Redaction removes identities and keeps everything a diagnosis needs."""

from __future__ import annotations

from gpudoctor.model.redact import redact
from gpudoctor.model.serialize import report_to_json
from tests.model.test_serialize import make_report


def test_identifiers_hostname_and_user_names_are_gone():
    report = make_report()
    text = report_to_json(redact(report))
    assert "GPU-1234" not in text
    assert "node7" not in text
    assert "/home/ada/" not in text
    assert "/home/<user>/venv/bin/python" in text


def test_redaction_keeps_the_facts_rules_use():
    red = redact(make_report())
    assert red.redacted
    gpu = red.nvml.gpus[0]
    assert gpu.uuid is not None and gpu.uuid.startswith("GPU-")
    assert gpu.compute_capability == "9.0"
    assert red.nvml.driver_version == "590.48.01"


def test_redaction_is_idempotent():
    once = redact(make_report())
    assert redact(once) == once
