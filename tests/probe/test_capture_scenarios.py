"""scripts/capture-to-scenario: its parsers, and that committed scenarios match the captures."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "capture-to-scenario"
CAPTURES = SHARED / "captures"  # in CI, shared/ sits beside the clone
SCENARIOS = ROOT / "tests" / "data" / "nvml"


def load_converter():
    loader = importlib.machinery.SourceFileLoader("capture_to_scenario", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


conv = load_converter()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[N/A]", {"error": "not_supported"}),
        ("[Not Supported]", {"error": "not_supported"}),
        ("N/A", {"error": "not_supported"}),
        ("[Insufficient Permissions]", {"error": "no_permission"}),
        ("[GPU is lost]", {"error": "gpu_is_lost"}),
        ("[Something new]", {"error": "unknown"}),
        ("42", None),
    ],
)
def test_error_of(raw, expected):
    assert conv.error_of(raw) == expected


def test_number_parses_units_and_refuses_words():
    assert conv.number("81559 MiB", int, 2**20) == 81559 * 2**20
    assert conv.number("631.95 W", int, 1000) == 631950
    assert conv.number("Not available in WDDM driver model") == {"error": "not_supported"}


def test_parse_q_nests_by_indentation():
    text = """
Driver Version                            : 610.57.04 [Deprecated; will be removed]
GPU 00000000:0C:00.0
    Product Name                          : NVIDIA GeForce RTX 2080 SUPER
    PCI
        Bus Id                            : 00000000:0C:00.0
    Processes
        Process ID                        : 28511
            Type                          : C
            Name                          : ffmpeg
            Used GPU Memory               : 230 MiB
        Process ID                        : 1720
            Type                          : G
            Name                          : /usr/bin/gnome-shell
            Used GPU Memory               : 173 MiB
"""
    tree = conv.parse_q(text)
    assert conv.strip_deprecation(conv.value(tree, "Driver Version")) == "610.57.04"
    (gpu,) = conv.children(tree, "GPU")
    assert gpu["value"] == "00000000:0C:00.0"
    assert conv.value(gpu, "PCI/Bus Id") == "00000000:0C:00.0"
    procs = conv.processes(gpu)
    assert procs == [{"pid": 28511, "usedGpuMemory": 230 * 2**20, "name": "ffmpeg"}]


def test_parse_csv_drops_units_from_keys():
    rows = conv.parse_csv("name, memory.total [MiB]\nNVIDIA L40S, 46068 MiB\n")
    assert rows == [{"name": "NVIDIA L40S", "memory.total": "46068 MiB"}]


def test_missing_functions_from_a_symbol_list():
    symbols = "nvmlInit_v2\nnvmlDeviceGetRemappedRows\nnvmlDeviceGetMigMode\n"
    missing = conv.missing_functions(symbols)
    assert "nvmlDeviceGetRemappedRows" not in missing
    assert "nvmlDeviceGetCurrentClocksEventReasons" in missing
    assert conv.missing_functions(None) == []


@pytest.mark.skipif(not CAPTURES.is_dir(), reason="shared/captures is not next to the clone")
def test_committed_scenarios_match_the_captures():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(CAPTURES), str(SCENARIOS), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"re-run scripts/capture-to-scenario:\n{result.stdout}"


def test_the_requested_power_limit_comes_from_either_layout_of_the_capture():
    # nvidia-smi's "Requested Power Limit" (the CSV's power.limit) was never mapped, so every
    # capture's report read power_limit_requested_w null
    assert conv.requested_power_limit({"power.limit": "700.00 W"}, conv.parse_q("")) == "700.00 W"
    for block in ("", "        GPU Ceiling Power Limit\n"):
        indent = "    " if block else ""
        q = conv.parse_q(
            "GPU 00000000:0C:00.0\n"
            "    GPU Power Readings\n"
            f"{block}"
            f"        {indent}Current Power Limit   : 250.00 W\n"
            f"        {indent}Requested Power Limit : 240.00 W\n"
        )
        (gpu,) = conv.children(q, "GPU")
        assert conv.requested_power_limit({}, gpu) == "240.00 W", block


@pytest.mark.parametrize(
    "name",
    ["linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01", "linux-x86_64__nvidia-h200__590.48.01"],
)
def test_the_recorded_h100_and_h200_carry_their_requested_power_limit(name):
    import json

    from gpudoctor.userfiles.read import load_report

    for phase in ("idle", "load"):
        scenario = json.loads((SCENARIOS / f"{name}__{phase}.json").read_text())
        for device in scenario["devices"]:
            assert device["calls"]["nvmlDeviceGetPowerManagementLimit"] == 700_000
        report = load_report(ROOT / "tests" / "data" / "reports" / f"{name}__{phase}.json")
        assert {g.power_limit_requested_w for g in report.nvml.gpus} == {700.0}
