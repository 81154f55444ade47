"""benchmarks/nvml_section1.py: it times the node-fitness NVML calls of a whole collection."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.probe.fake_nvml import FakeNvml

ROOT = Path(__file__).resolve().parents[2]
H100 = "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle"


def load():
    spec = importlib.util.spec_from_file_location(
        "nvml_section1", ROOT / "benchmarks" / "nvml_section1.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load()


def test_every_node_fitness_call_of_an_h100_is_counted_and_timed():
    results = bench.measure(FakeNvml(H100), rounds=2)
    calls = results[0].calls
    # 18 links up: a state each, then per link its version and four error counters; the
    # speeds of all 18 in one field-value call
    assert calls["nvmlDeviceGetNvLinkState"] == 18
    assert calls["nvmlDeviceGetNvLinkVersion"] == 18
    assert calls["nvmlDeviceGetNvLinkErrorCounter"] == 72
    assert calls["nvmlDeviceGetFieldValues"] == 1
    assert all(r.spent["(whole collection)"] > 0 for r in results)
    lines: list[str] = []
    share = bench.summary(results, out=lines.append)
    # each round's share is timed inside its whole collection, so the median share is within
    # the longest collection; round 0 alone (x2) failed on a loaded runner
    assert 0 < share <= max(r.spent["(whole collection)"] for r in results)
    assert any(line.startswith("*nvmlDeviceGetNvLinkErrorCounter") for line in lines)
    assert not any(line.startswith("*nvmlDeviceGetName") for line in lines)


def test_a_machine_whose_nvml_does_not_start_is_an_error_not_a_figure():
    with pytest.raises(SystemExit, match="driver_not_loaded"):
        bench.measure(FakeNvml("failure__driver_not_loaded"), rounds=1)
