"""collect_report: concurrency, crash isolation, and the real probes on this machine."""

from __future__ import annotations

import time

import pytest

from gpudoctor.model.report import CudaInfo, KernelDriverInfo, NvmlInfo
from gpudoctor.model.serialize import report_from_json, report_to_json
from gpudoctor.probe import collect
from gpudoctor.probe.base import ProbeContext


@pytest.fixture
def quick_probes(monkeypatch):
    """Replace the real probes with cheap fakes that take 0.3 s each."""

    def slow(value):
        def probe(ctx):
            time.sleep(0.3)
            return value

        return probe

    monkeypatch.setattr(collect, "probe_kernel_driver", slow(KernelDriverInfo()))
    monkeypatch.setattr(collect, "probe_nvml", slow(NvmlInfo(status="library_not_found")))
    monkeypatch.setattr(collect, "probe_cuda", slow(CudaInfo(status="ok")))


def test_probes_run_concurrently(quick_probes):
    start = time.monotonic()
    report = collect.collect_report(ProbeContext(), frameworks=False)
    assert time.monotonic() - start < 0.8  # three 0.3 s probes, not 0.9 s in a row
    runs = {p.name: p.status for p in report.probes}
    assert runs == {
        "host": "ok",
        "kernel_driver": "ok",
        "nvml": "ok",
        "cuda": "ok",
        "torch": "skipped",
        "tensorflow": "skipped",
    }
    assert report.frameworks == ()


def test_a_crashing_probe_becomes_failed_data(quick_probes, monkeypatch):
    def boom(ctx):
        raise RuntimeError("probe bug")

    monkeypatch.setattr(collect, "probe_nvml", boom)
    monkeypatch.setattr(collect, "probe_host", boom)
    report = collect.collect_report(ProbeContext(), frameworks=False)
    runs = {p.name: p for p in report.probes}
    assert runs["nvml"].status == "failed"
    assert "RuntimeError: probe bug" in runs["nvml"].message
    assert report.nvml.status == "unknown_error"
    assert report.nvml.errors[0].code == "probe_failed"
    assert report.host.errors[0].code == "probe_failed"
    assert runs["cuda"].status == "ok"


def test_timeouts_are_marked_in_probe_runs(quick_probes, monkeypatch):
    monkeypatch.setattr(
        collect, "probe_cuda", lambda ctx: CudaInfo(status="timeout", message="cuInit hung")
    )
    report = collect.collect_report(ProbeContext(), frameworks=False)
    run = next(p for p in report.probes if p.name == "cuda")
    assert (run.status, run.message) == ("timeout", "cuInit hung")


def test_framework_probes_run_when_asked(quick_probes, monkeypatch):
    seen = []

    def fake_framework(ctx, name):
        seen.append(name)
        if name == "tensorflow":
            raise ValueError("oops")
        return collect.FrameworkInfo(name=name, status="not_installed")

    monkeypatch.setattr(collect, "probe_framework", fake_framework)
    report = collect.collect_report(ProbeContext(), frameworks=True)
    assert sorted(seen) == ["tensorflow", "torch"]
    assert report.framework("torch").status == "not_installed"
    assert report.framework("tensorflow").status == "crashed"


def test_real_report_of_this_machine_without_frameworks():
    """The CI machine has no GPU: NVML is missing and no NVIDIA PCI function exists."""
    report = collect.collect_report(ProbeContext(timeout_s=30), frameworks=False)
    assert report_from_json(report_to_json(report)) == report
    assert {p.name for p in report.probes} >= {"host", "kernel_driver", "nvml", "cuda"}
    assert all(p.status in ("ok", "skipped") for p in report.probes), report.probes
    if not report.driver.pci_functions:  # no NVIDIA hardware here
        assert report.nvml.status in ("library_not_found", "driver_not_loaded", "bindings_missing")
        assert report.nvml.gpus == ()
    assert report.host.python.executable


def test_start_collect_runs_in_the_background(quick_probes):
    start = time.monotonic()
    future = collect.start_collect(ProbeContext(), frameworks=False)
    assert time.monotonic() - start < 0.2  # returned before the 0.3 s probes finished
    report = future.result(timeout=10)
    assert report.nvml.status == "library_not_found"
