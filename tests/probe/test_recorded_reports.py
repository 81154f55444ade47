"""The recorded reports in tests/data/reports: they load, and they are up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.model.serialize import report_to_json
from gpudoctor.userfiles.read import load_report
from tests.probe.make_reports import OUT, all_reports

RECORDED = sorted(OUT.glob("*.json"))


@pytest.fixture(scope="module")
def regenerated():
    return all_reports()


def test_every_capture_and_failure_has_a_report(regenerated):
    assert {p.stem for p in RECORDED} == set(regenerated)
    assert len([p for p in RECORDED if p.stem.startswith("failure__")]) >= 10


def test_probes_md_counts_the_reports_of_each_kind(regenerated):
    # docs/probes.md listed 11 failures by name while the folder held 44, and left out the two
    # reports recorded on a real H200: a reader took the list for all there was
    import re

    from tests.probe.fake_nvml import capture_scenario_names
    from tests.probe.make_reports import real_reports

    doc = (Path(__file__).resolve().parents[2] / "docs" / "probes.md").read_text("utf-8")
    section = doc.split("## Recorded reports", 1)[1].split("\n## ", 1)[0]
    said = {
        "all": r"golden tests, (\d+) of them:",
        "captures": r"^- (\d+), one per capture scenario",
        "real": r"^- (\d+) that `scripts/gpu-validate` recorded",
        "failures": r"^- (\d+) `failure__<what failed>`",
    }
    counts = {k: int(re.search(p, section, re.M).group(1)) for k, p in said.items()}
    failures = [name for name in regenerated if name.startswith("failure__")]
    assert counts == {
        "all": len(regenerated),
        "captures": len(capture_scenario_names()),
        "real": len(real_reports()),
        "failures": len(failures),
    }


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_recorded_report_is_current(path: Path, regenerated):
    assert path.read_text(encoding="utf-8") == report_to_json(regenerated[path.stem]), (
        "stale: run python -m tests.probe.make_reports"
    )
    assert load_report(path) == regenerated[path.stem]


def test_failure_reports_say_what_failed(regenerated):
    assert regenerated["failure__no_driver"].nvml.status == "library_not_found"
    assert regenerated["failure__driver_library_mismatch"].nvml.status == (
        "lib_rm_version_mismatch"
    )
    assert regenerated["failure__cuda_v2_missing_utility_container"].nvml.cuda_v2_error == (
        "library_not_found"
    )
    lost = regenerated["failure__one_gpu_lost"].nvml.gpus
    assert [g.lost for g in lost] == [False, True]
    wedged = regenerated["failure__wedged_driver_timeout"]
    assert wedged.nvml.status == "timeout"
    assert {p.name: p.status for p in wedged.probes}["nvml"] == "timeout"
    cpu = regenerated["failure__torch_cpu_only_on_gpu"].framework("torch")
    assert cpu is not None and cpu.cuda_build is False


def test_the_real_h200_runs_record_the_module_flavour_and_the_cudnn_file(regenerated):
    # the first run predates the fields; the second (2026-12-04, same machine) has them
    old = regenerated["linux-x86_64__nvidia-h200__580.159.04__open_module"]
    new = regenerated["linux-x86_64__nvidia-h200__580.159.04__flavour_and_cudnn_file"]
    assert old.driver.module_flavour is None
    assert "Open Kernel Module" in (old.driver.proc_version_line or "")
    assert new.driver.module_flavour == "open"
    torch = new.framework("torch")
    assert torch is not None and torch.cudnn_library is not None
    assert torch.cudnn_library.origin == "pip"
    assert torch.cudnn_library.version == torch.cudnn_runtime == "9.19.0"
    assert torch.cudnn_library.path.endswith("site-packages/nvidia/cudnn/lib/libcudnn.so.9")
    for report in (old, new):
        assert report.redacted and report.host.hostname == "<redacted>"
        assert all("redacted" in (g.uuid or "") + (g.serial or "") for g in report.nvml.gpus)
