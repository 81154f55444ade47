"""collect_nvml through the real nvidia-ml-py, down to a fake libnvidia-ml (fake_libnvml.py)."""

from __future__ import annotations

import ctypes
import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from gpudoctor.model.report import NvmlInfo, Unavailable
from gpudoctor.probe import nvml_api as api
from gpudoctor.probe.nvml_api import NvmlLike
from gpudoctor.probe.nvml_collect import collect_nvml
from tests.probe.fake_libnvml import FakeLibNvml, FakeLibUsageError, install
from tests.probe.fake_nvml import FakeNvml, FakeNVMLError, load_scenario, scenario_names

H200_LOAD = "linux-x86_64__nvidia-h200__590.48.01__load"
MIB = 1024 * 1024

Collect = Callable[[dict[str, Any] | str], tuple[NvmlInfo, FakeLibNvml]]


@pytest.fixture
def pynvml() -> ModuleType:
    """The installed nvidia-ml-py; tests change its state only through ``monkeypatch``."""
    # Imported here, not at module level: pynvml is a heavy module (pyproject: TID253).
    return importlib.import_module("pynvml")


@pytest.fixture
def through_pynvml(monkeypatch: pytest.MonkeyPatch, pynvml: ModuleType) -> Collect:
    """Run collect_nvml on the real ``pynvml`` module, loaded with a fake library."""

    def collect(scenario: dict[str, Any] | str) -> tuple[NvmlInfo, FakeLibNvml]:
        lib = FakeLibNvml(scenario)
        install(monkeypatch, pynvml, lib)
        return collect_nvml(pynvml), lib

    return collect


def replay(scenario: dict[str, Any] | str) -> NvmlInfo:
    """collect_nvml on the Python-level fake (tests/probe/fake_nvml.py)."""
    return collect_nvml(cast(NvmlLike, FakeNvml(scenario)))


def all_errors(info: NvmlInfo) -> list[Unavailable]:
    return [*info.errors, *(e for g in info.gpus for e in g.errors)]


def with_calls(name: str, **calls: Any) -> dict[str, Any]:
    """Scenario ``name`` with device 0's captured answers for ``calls`` replaced."""
    scenario = load_scenario(name)  # a fresh copy from the file
    scenario["devices"][0]["calls"].update(calls)
    return scenario


def with_missing(name: str, *missing: str) -> dict[str, Any]:
    scenario = load_scenario(name)
    scenario["missing_functions"] = list(missing)
    return scenario


@pytest.mark.parametrize("name", scenario_names())
def test_real_pynvml_agrees_with_the_python_fake(through_pynvml: Collect, name: str) -> None:
    """Every recorded machine gives the same NvmlInfo through both paths, messages included."""
    scenario = load_scenario(name)
    real, lib = through_pynvml(scenario)
    assert lib.usage_errors == []
    assert "exception" not in {e.code for e in all_errors(real)}
    # A function name nvidia-ml-py lacks (a typo in the collector) is missing on both paths
    # alike, so equality alone would not see it: only the scenario's hidden ones may be missing.
    assert set(real.missing_functions) == set(scenario["missing_functions"])
    assert real == replay(scenario)
    if scenario["init_error"] == "library_not_found":
        assert lib.calls == []  # nvidia-ml-py failed to load it: nothing was called
    elif scenario["init_error"]:
        assert lib.calls == ["nvmlInitWithFlags"]
    else:
        assert lib.calls[0] == "nvmlInitWithFlags"
        assert lib.calls[-1] == "nvmlShutdown"
        assert not lib.initialised


# The Python fake answers these without looking at "missing_functions", so hiding them would
# differ by construction (FakeNvml models a missing function only for scenario lookups).
NOT_MODELLED_AS_MISSING = {
    "nvmlInit",
    "nvmlSystemGetProcessName",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetMigDeviceHandleByIndex",
}
HIDEABLE = sorted(
    n for n in vars(api.NvmlLike) if n.startswith("nvml") and n not in NOT_MODELLED_AS_MISSING
)


@pytest.mark.parametrize("hidden", HIDEABLE)
def test_a_driver_without_one_function_agrees(through_pynvml: Collect, hidden: str) -> None:
    """Hiding one function (its C symbol, for the fake library) gives the same NvmlInfo."""
    scenario = with_missing("linux-x86_64__nvidia-h100-mig__590.48.01__load", hidden)
    real, lib = through_pynvml(scenario)
    assert lib.usage_errors == []
    assert real == replay(scenario)


def test_h200_under_load(through_pynvml: Collect) -> None:
    """Facts of the H200 capture (nvidia-smi -q), read through nvidia-ml-py's ctypes structs."""
    info, _ = through_pynvml(H200_LOAD)
    assert info.status == "ok"
    assert (info.driver_version, info.nvml_version) == ("590.48.01", "590.48")
    assert (info.cuda_driver_version, info.cuda_driver_version_source) == ("13.1", "v2")
    (gpu,) = info.gpus
    assert gpu.name == "NVIDIA H200"
    assert gpu.uuid == "GPU-00000000-0000-0000-0000-000000000000"
    assert gpu.pci_bus_id == "00000000:83:00.0"
    assert (gpu.memory_total_mib, gpu.memory_used_mib) == (143771, 32362)
    assert (gpu.compute_capability, gpu.architecture) == ("9.0", "Hopper")
    assert gpu.temperature_c == 52
    assert gpu.power_draw_w == pytest.approx(627.4)
    assert gpu.power_limit_w == pytest.approx(700.0)
    assert (gpu.sm_clock_mhz, gpu.sm_clock_max_mhz, gpu.utilization_gpu_pct) == (1980, 1980, 100)
    assert (gpu.pcie_gen, gpu.pcie_gen_max, gpu.pcie_width, gpu.pcie_width_max) == (5, 5, 16, 16)
    assert (gpu.ecc_enabled, gpu.ecc_pending, gpu.ecc_uncorrected_volatile) == (True, True, 0)
    assert (gpu.remapped_rows_uncorrectable, gpu.remap_pending) == (0, False)
    assert (gpu.inforom_valid, gpu.persistence_mode, gpu.compute_mode) == (True, True, "default")
    assert (gpu.mig_enabled, gpu.mig_devices) == (False, ())
    assert gpu.clock_event_reasons == 0
    assert [(p.pid, p.name, p.used_memory_mib) for p in gpu.processes] == [
        (10291, "/root/tools/memhog", 2690646016 // MIB),
        (10293, "/root/tools/memhog", 1616904192 // MIB),
        (10309, "./gpu_burn", 29605494784 // MIB),
    ]
    assert {e.field: e.code for e in gpu.errors} == {
        "gpu[0].retired_pages_sbe": "not_supported",
        "gpu[0].retired_pages_dbe": "not_supported",
        "gpu[0].retired_pages_pending": "not_supported",
    }


@pytest.mark.parametrize(
    ("scenario", "reasons"),
    [
        (H200_LOAD, 0),
        ("linux-x86_64__nvidia-h200__590.48.01__idle", 0x1),  # GpuIdle
        # SW power cap + HW slowdown: the bits a loaded GPU shows when it throttles.
        (with_calls(H200_LOAD, nvmlDeviceGetCurrentClocksEventReasons=0xC), 0xC),
        ("failure__function_not_found", 0x4),  # through the old ClocksThrottleReasons symbol
    ],
    ids=["load", "idle", "throttled", "old-symbol"],
)
def test_clock_event_reasons(through_pynvml: Collect, scenario: Any, reasons: int) -> None:
    info, lib = through_pynvml(scenario)
    assert info.gpus[0].clock_event_reasons == reasons
    assert lib.usage_errors == []


def test_nvlink_speeds_through_the_field_value_structs(through_pynvml: Collect) -> None:
    """``nvmlFieldValue_t`` as nvml.h lays it out: link in scopeId, each entry's own return."""
    speeds: list[object] = [26562] * 18
    speeds[4] = 13281
    speeds[11] = {"error": "not_supported"}
    speeds[12] = 13281
    power = [0] * 18
    power[12] = 1  # asleep: not judged
    scenario = with_calls(
        H200_LOAD,
        **{"nvmlDeviceGetFieldValues:164": speeds, "nvmlDeviceGetFieldValues:167": power},
    )
    info, lib = through_pynvml(scenario)
    assert lib.usage_errors == []
    (gpu,) = info.gpus
    assert gpu.nvlink_speed_mbps == 26562
    assert [(n.link, n.speed_mbps) for n in gpu.nvlinks or ()] == [(4, 13281)]
    assert info == replay(scenario)


def test_pcie_current_and_maximum_are_not_swapped(through_pynvml: Collect) -> None:
    """An idle GeForce trains its link down: current and maximum differ."""
    info, _ = through_pynvml("linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05__idle")
    (gpu,) = info.gpus
    assert (gpu.pcie_gen, gpu.pcie_gen_max, gpu.pcie_width, gpu.pcie_width_max) == (1, 4, 16, 16)


def test_wddm_process_memory_is_not_available(through_pynvml: Collect) -> None:
    """WDDM answers NVML_VALUE_NOT_AVAILABLE (2**64 - 1); nvidia-ml-py turns it into None."""
    info, _ = through_pynvml("windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__load")
    (gpu,) = info.gpus
    assert len(gpu.processes) == 21
    assert all(p.used_memory_mib is None for p in gpu.processes)
    assert gpu.processes[0].name == "C:\\Windows\\System32\\dwm.exe"


def test_processes_from_the_v2_symbol_on_a_driver_without_v3(through_pynvml: Collect) -> None:
    info, lib = through_pynvml(with_missing(H200_LOAD, "nvmlDeviceGetComputeRunningProcesses_v3"))
    assert [p.pid for p in info.gpus[0].processes] == [10291, 10293, 10309]
    assert "nvmlDeviceGetComputeRunningProcesses_v2" in lib.calls
    assert info.missing_functions == ("nvmlDeviceGetComputeRunningProcesses_v3",)


def test_library_mismatch_error_of_the_real_wrapper(through_pynvml: Collect) -> None:
    """Neither _v3 nor _v2: nvidia-ml-py's unversioned wrapper raises NVMLLibraryMismatchError."""
    versions = (
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2",
    )
    info, _ = through_pynvml(with_missing(H200_LOAD, *versions))
    (gpu,) = info.gpus
    assert gpu.processes == ()
    assert set(info.missing_functions) == {*versions, "nvmlDeviceGetComputeRunningProcesses"}
    assert "exception" not in {e.code for e in gpu.errors}
    assert gpu.temperature_c == 52


def test_temperature_falls_back_to_the_deprecated_symbol(through_pynvml: Collect) -> None:
    info, lib = through_pynvml(with_missing(H200_LOAD, "nvmlDeviceGetTemperatureV"))
    assert info.gpus[0].temperature_c == 52
    assert "nvmlDeviceGetTemperature" in lib.calls
    assert info.missing_functions == ("nvmlDeviceGetTemperatureV",)


def test_retired_pages_through_the_two_call_protocol(through_pynvml: Collect) -> None:
    """No capture has retired pages; nvidia-ml-py sizes the array, then fills it."""
    scenario = with_calls(
        "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load",
        **{
            "nvmlDeviceGetRetiredPages:0": [0x1A000, 0x2B000, 0x3C000],
            "nvmlDeviceGetRetiredPages:1": [],
            "nvmlDeviceGetRetiredPagesPendingStatus": 1,
        },
    )
    info, lib = through_pynvml(scenario)
    (gpu,) = info.gpus
    assert (gpu.retired_pages_sbe, gpu.retired_pages_dbe) == (3, 0)
    assert gpu.retired_pages_pending is True
    assert lib.calls.count("nvmlDeviceGetRetiredPages") == 4  # size, then fill, per cause
    assert info == replay(scenario)


def test_error_classes_and_texts_match_the_python_fake(
    monkeypatch: pytest.MonkeyPatch, pynvml: ModuleType
) -> None:
    """The Python fake's NVMLError says what nvidia-ml-py says, for every NVML code we name."""
    install(monkeypatch, pynvml, FakeLibNvml(H200_LOAD))  # its nvmlErrorString, for the rest
    for code in api.ERROR_NAMES:
        error = pynvml.NVMLError(code)
        assert isinstance(error, pynvml.NVMLError)
        assert error.value == code
        assert str(error) == str(FakeNVMLError(code)), code


def test_every_protocol_function_exists_in_nvidia_ml_py(pynvml: ModuleType) -> None:
    names = [n for n in vars(api.NvmlLike) if n.startswith(("nvml", "NVML"))]
    assert len(names) > 40
    assert [n for n in names if not hasattr(pynvml, n)] == []


def test_install_is_undone(pynvml: ModuleType) -> None:
    before = (pynvml.nvmlLib, pynvml._nvmlGetFunctionPointer_cache, pynvml.CDLL)
    for name in (H200_LOAD, "failure__library_not_found"):
        with pytest.MonkeyPatch.context() as mp:
            install(mp, pynvml, FakeLibNvml(name))
            collect_nvml(pynvml)
        assert (pynvml.nvmlLib, pynvml._nvmlGetFunctionPointer_cache, pynvml.CDLL) == before


# --- the fake library itself must be able to catch a binding's mistakes ---------------------
def test_fake_library_rejects_a_wrong_struct_version(
    monkeypatch: pytest.MonkeyPatch, pynvml: ModuleType
) -> None:
    install(monkeypatch, pynvml, FakeLibNvml(H200_LOAD))
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    assert pynvml.nvmlDeviceGetTemperatureV1(handle, 0) == 52
    monkeypatch.setattr(pynvml, "nvmlTemperature_v1", 0x200000C)  # a v2 tag on a v1 struct
    with pytest.raises(pynvml.NVMLError_ArgumentVersionMismatch):
        pynvml.nvmlDeviceGetTemperatureV1(handle, 0)
    pynvml.nvmlShutdown()


def test_fake_library_rejects_a_wrong_out_type(
    monkeypatch: pytest.MonkeyPatch, pynvml: ModuleType
) -> None:
    """A 32-bit out-parameter where nvml.h has a 64-bit one would be overrun by real NVML."""
    lib = FakeLibNvml(H200_LOAD)
    install(monkeypatch, pynvml, lib)
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(FakeLibUsageError, match=r"4 bytes, nvml\.h has 8"):
        lib.nvmlDeviceGetCurrentClocksEventReasons(handle, ctypes.byref(ctypes.c_uint()))
    assert lib.usage_errors
    pynvml.nvmlShutdown()
    with pytest.raises(pynvml.NVMLError_Uninitialized):  # as real NVML after shutdown
        pynvml.nvmlDeviceGetName(handle)


def test_fake_library_exports_only_what_nvidia_ml_py_calls(pynvml: ModuleType) -> None:
    """Every fake symbol is looked up by name somewhere in nvidia-ml-py's source."""
    source = Path(str(pynvml.__file__)).read_text(encoding="utf-8")
    assert [s for s in sorted(FakeLibNvml.symbols()) if f'"{s}"' not in source] == []


def test_dataclass_equality_is_deep() -> None:
    """The agreement test relies on NvmlInfo == comparing every nested field."""
    info = replay(H200_LOAD)
    (gpu,) = info.gpus
    changed = dataclasses.replace(gpu, processes=gpu.processes[:-1])
    assert dataclasses.replace(info, gpus=(changed,)) != info


def test_excluded_gpus_through_the_real_structs(through_pynvml: Collect) -> None:
    """nvmlExcludedDeviceInfo_t's PCI bus id and UUID read through nvidia-ml-py's ctypes."""
    scenario = load_scenario(H200_LOAD)
    uuid = "GPU-5d5e7c4a-3b1e-9c3f-1e8a-2f1d0c9b8a77"
    scenario["system"]["nvmlGetExcludedDeviceCount"] = 1
    scenario["excluded_devices"] = [{"pci": {"busId": "00000000:08:00.0"}, "uuid": uuid}]
    real, lib = through_pynvml(scenario)
    assert lib.usage_errors == []
    assert real.excluded_gpus is not None
    assert [(g.pci_bus_id, g.uuid) for g in real.excluded_gpus] == [("00000000:08:00.0", uuid)]
    assert real == replay(scenario)
