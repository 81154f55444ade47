"""`check --from-report` keeps the bridges' ACS record and judges it again; old reports replay."""

from __future__ import annotations

import json
from pathlib import Path

from gpudoctor.model.serialize import to_dict
from gpudoctor.userfiles.read import load_report
from tests.cli.test_check import saved
from tests.conftest import Cli
from tests.rules.builders import pcie_acs_box


def test_a_replayed_report_keeps_the_acs_record_and_its_finding(cli: Cli, tmp_path):
    report = pcie_acs_box()
    path = saved(tmp_path, report)
    assert load_report(Path(path)) == report
    result = cli("check", "--from-report", path, "--format", "json")
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert report.hardware is not None
    assert doc["hardware"]["iommu"] == to_dict(report.hardware.iommu)
    assert doc["hardware"]["iommu"]["bridges"][1]["enabled"] == [
        "SrcValid",
        "ReqRedir",
        "CmpltRedir",
        "UpstreamFwd",
    ]
    (found,) = [f for f in doc["findings"] if f["id"] == "GD-HOST-060"]
    assert found["severity"] == "warning" and "0000:02:08.0" in found["evidence"][0]
    text = cli("check", "--from-report", path, "--verbose").stdout
    assert "redirect on at 2" in text and "ACS 0000:02:10.0" in text


def test_a_report_saved_without_root_replays_as_needing_root(cli: Cli, tmp_path):
    path = saved(tmp_path, pcie_acs_box(control=None, status="needs_root"))
    doc = json.loads(cli("check", "--from-report", path, "--format", "json").stdout)
    assert doc["hardware"]["iommu"]["acs_readable"] is False
    (found,) = [f for f in doc["findings"] if f["id"] == "GD-HOST-060"]
    assert found["severity"] == "info" and "a check run with sudo" in found["title"]


def test_a_report_from_before_the_acs_probe_still_replays(cli: Cli, tmp_path):
    doc = json.loads(Path(saved(tmp_path, pcie_acs_box())).read_text(encoding="utf-8"))
    for key in ("bridges", "acs_readable"):
        doc["hardware"]["iommu"].pop(key)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    result = cli("check", "--from-report", str(path), "--format", "json")
    assert result.exit_code == 0, result
    replayed = json.loads(result.stdout)
    assert replayed["hardware"]["iommu"]["bridges"] is None
    assert "GD-HOST-060" not in [f["id"] for f in replayed["findings"]]
