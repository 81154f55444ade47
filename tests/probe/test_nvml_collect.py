"""collect_nvml against the fake NVML: real captures, failure scenarios, and broken bindings."""

from __future__ import annotations

import ctypes
from types import SimpleNamespace

import pytest

from gpudoctor.probe.nvml_collect import collect_nvml, decode_cuda_version, text
from tests.probe.fake_nvml import FakeNvml, capture_scenario_names, load_scenario

CAPTURES = capture_scenario_names()


def errors_by_field(gpu):
    return {e.field: e.code for e in gpu.errors}


def test_there_is_a_scenario_for_every_capture_phase():
    assert len(CAPTURES) == 20
    assert {n.rsplit("__", 1)[1] for n in CAPTURES} == {"idle", "load"}


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_scenario_replays_every_gpu(name):
    scenario = load_scenario(name)
    info = collect_nvml(FakeNvml(scenario))
    assert info.status == "ok"
    assert info.driver_version == scenario["system"]["nvmlSystemGetDriverVersion"]
    assert len(info.gpus) == scenario["system"]["nvmlDeviceGetCount"]
    for gpu, device in zip(info.gpus, scenario["devices"], strict=True):
        calls = device["calls"]
        assert not gpu.lost
        assert gpu.name == calls["nvmlDeviceGetName"]
        major, minor = calls["nvmlDeviceGetCudaComputeCapability"]
        assert gpu.compute_capability == f"{major}.{minor}"
        assert gpu.pci_bus_id == calls["nvmlDeviceGetPciInfo"]["busId"]
        assert gpu.memory_total_mib == calls["nvmlDeviceGetMemoryInfo"]["total"] // 2**20
        assert len(gpu.mig_devices) == len(device["mig_devices"])
        assert [p.pid for p in gpu.processes] == [
            p["pid"] for p in calls["nvmlDeviceGetComputeRunningProcesses"]
        ]
        # No field may fail for a reason other than NVML's own answer.
        assert {e.code for e in gpu.errors} <= {"not_supported", "deprecated"}


@pytest.mark.parametrize(
    ("name", "gpu_name", "cc", "arch", "cuda", "mig"),
    [
        (
            "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle",
            "NVIDIA H100 80GB HBM3",
            "9.0",
            "Hopper",
            "13.1",
            0,
        ),
        (
            "linux-x86_64__nvidia-h100-mig__590.48.01__load",
            "NVIDIA H100 80GB HBM3",
            "9.0",
            "Hopper",
            "13.1",
            4,
        ),
        (
            "linux-x86_64__nvidia-h200-mig__590.48.01__idle",
            "NVIDIA H200",
            "9.0",
            "Hopper",
            "13.1",
            5,
        ),
        (
            "linux-x86_64__nvidia-l40s__595.80__idle",
            "NVIDIA L40S",
            "8.9",
            "Ada Lovelace",
            "13.2",
            0,
        ),
        (
            "linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__idle",
            "NVIDIA GeForce RTX 2080 SUPER",
            "7.5",
            "Turing",
            "13.3",
            0,
        ),
        (
            "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__load",
            "NVIDIA GeForce RTX 2080 SUPER",
            "7.5",
            "Turing",
            "13.1",
            0,
        ),
    ],
)
def test_known_machines(name, gpu_name, cc, arch, cuda, mig):
    """Facts read off the raw captures by hand (nvidia-smi -q / -L)."""
    info = collect_nvml(FakeNvml(name))
    (gpu,) = info.gpus
    assert (gpu.name, gpu.compute_capability, gpu.architecture) == (gpu_name, cc, arch)
    assert info.cuda_driver_version == cuda
    assert info.cuda_driver_version_source == "v2"
    assert len(gpu.mig_devices) == mig
    assert gpu.mig_enabled is (
        True if mig else (None if "geforce" in name or "l40s" in name else False)
    )


def test_mig_devices_carry_uuid_name_and_memory():
    info = collect_nvml(FakeNvml("linux-x86_64__nvidia-h100-mig__590.48.01__idle"))
    (gpu,) = info.gpus
    assert gpu.mig_pending is True
    first = gpu.mig_devices[0]
    assert first.uuid.startswith("MIG-")
    assert first.name.endswith("MIG 3g.40gb")
    assert first.memory_total_mib == 40448
    # MIG hides utilisation: NVML says NOT_SUPPORTED, we keep it as Unavailable.
    assert gpu.utilization_gpu_pct is None
    assert errors_by_field(gpu)["gpu[0].utilization_gpu_pct"] == "not_supported"


def test_datacentre_gpu_health_fields():
    info = collect_nvml(FakeNvml("linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load"))
    (gpu,) = info.gpus
    assert gpu.ecc_enabled is True
    assert gpu.ecc_uncorrected_volatile == 0
    assert gpu.remapped_rows_uncorrectable == 0
    assert gpu.remap_pending is False
    assert gpu.inforom_valid is True
    assert gpu.persistence_mode is True
    assert (gpu.pcie_gen, gpu.pcie_gen_max, gpu.pcie_width, gpu.pcie_width_max) == (5, 5, 16, 16)
    assert gpu.power_draw_w == pytest.approx(631.95)
    assert gpu.power_limit_w == pytest.approx(700.0)
    assert gpu.clock_event_reasons == 0
    assert gpu.utilization_gpu_pct == 100
    assert {p.name for p in gpu.processes} == {"/root/tools/memhog", "./gpu_burn"}
    # H100 retires no pages (it remaps rows instead): NVML answers NOT_SUPPORTED.
    assert errors_by_field(gpu)["gpu[0].retired_pages_sbe"] == "not_supported"


def test_geforce_not_supported_fields_become_unavailable():
    info = collect_nvml(FakeNvml("linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05__idle"))
    (gpu,) = info.gpus
    errors = errors_by_field(gpu)
    for field in ("ecc_enabled", "remapped_rows_correctable", "retired_pages_dbe", "mig_enabled"):
        assert getattr(gpu, field) is None
        assert errors[f"gpu[0].{field}"] == "not_supported"
    assert gpu.serial is None
    assert gpu.temperature_c == 43
    assert gpu.clock_event_reasons == 1  # GpuIdle
    assert gpu.pcie_gen == 1 and gpu.pcie_gen_max == 4  # idle downtraining, by design


def test_windows_wddm_has_no_persistence_mode():
    info = collect_nvml(FakeNvml("windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__idle"))
    (gpu,) = info.gpus
    assert gpu.persistence_mode is None
    assert errors_by_field(gpu)["gpu[0].persistence_mode"] == "not_supported"
    # WDDM cannot tell per-process memory.
    assert gpu.processes and all(p.used_memory_mib is None for p in gpu.processes)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("failure__library_not_found", "library_not_found"),
        ("failure__driver_not_loaded", "driver_not_loaded"),
        ("failure__lib_rm_version_mismatch", "lib_rm_version_mismatch"),
        ("failure__no_permission", "no_permission"),
        ("failure__unknown_init_error", "unknown_error"),
    ],
)
def test_init_failures_have_named_causes(name, status):
    fake = FakeNvml(name)
    info = collect_nvml(fake)
    assert info.status == status
    assert info.gpus == ()
    assert "nvmlInit failed" in info.message
    assert "nvmlShutdown" not in fake.calls  # never shut down what did not start


def test_shutdown_after_a_successful_init():
    fake = FakeNvml("linux-x86_64__nvidia-l40s__595.80__idle")
    collect_nvml(fake)
    assert fake.calls[0] == "nvmlInit"
    assert fake.calls[-1] == "nvmlShutdown"


def test_v1_answers_when_v2_cannot_find_libcuda():
    info = collect_nvml(FakeNvml("failure__cuda_v2_library_not_found"))
    assert info.status == "ok"
    assert info.cuda_driver_version == "13.2"
    assert info.cuda_driver_version_source == "v1"
    assert info.cuda_v2_error == "library_not_found"
    assert len(info.gpus) == 1


def test_one_lost_gpu_keeps_the_other():
    info = collect_nvml(FakeNvml("failure__one_of_two_gpus_lost"))
    good, lost = info.gpus
    assert not good.lost and good.name == "NVIDIA H100 80GB HBM3"
    assert good.compute_capability == "9.0"
    assert lost.lost and lost.index == 1 and lost.name is None
    assert lost.errors[0].code == "gpu_is_lost"


def test_gpu_lost_mid_query_stops_querying_it():
    fake = FakeNvml("failure__gpu_lost_during_query")
    info = collect_nvml(fake)
    good, lost = info.gpus
    assert not good.lost
    assert lost.lost
    assert lost.name == "NVIDIA H100 80GB HBM3"  # read before the GPU fell off the bus
    assert lost.memory_total_mib is None and lost.temperature_c is None
    assert [e.code for e in lost.errors] == ["gpu_is_lost", "gpu_is_lost"]
    second_gpu_calls = fake.calls[fake.calls.index("nvmlDeviceGetHandleByIndex:1") :]
    assert not any(c.startswith("nvmlDeviceGetTemperature") for c in second_gpu_calls)


def test_function_not_found_is_listed_once_and_falls_back():
    fake = FakeNvml("failure__function_not_found")
    info = collect_nvml(fake)
    assert set(info.missing_functions) == {
        "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetRemappedRows",
        "nvmlDeviceGetArchitecture",
    }
    assert len(info.missing_functions) == len(set(info.missing_functions))
    (gpu,) = info.gpus
    # Read through the old ClocksThrottleReasons name (0x4: SW power cap in this capture).
    assert "nvmlDeviceGetCurrentClocksThrottleReasons" in fake.calls
    assert gpu.clock_event_reasons == 0x4
    assert info.cuda_driver_version_source == "v1"
    assert gpu.architecture is None
    # A missing function is not a per-GPU error.
    assert not any(e.code == "function_not_found" for e in gpu.errors)


def test_function_not_found_is_called_once_across_gpus():
    scenario = load_scenario("failure__one_of_two_gpus_lost")
    scenario["devices"][1]["handle_error"] = None
    scenario["missing_functions"] = ["nvmlDeviceGetRemappedRows"]
    fake = FakeNvml(scenario)
    info = collect_nvml(fake)
    assert len(info.gpus) == 2
    assert fake.calls.count("nvmlDeviceGetRemappedRows") == 1


class _Broken(FakeNvml):
    def nvmlDeviceGetTemperatureV(self, handle, sensor):
        raise ZeroDivisionError("binding bug")

    def __getattribute__(self, name):
        if name == "nvmlDeviceGetSerial":
            raise AttributeError(name)  # an old nvidia-ml-py without the function
        return super().__getattribute__(name)


def test_binding_bugs_become_unavailable_not_crashes():
    info = collect_nvml(_Broken("linux-x86_64__nvidia-l40s__595.80__idle"))
    (gpu,) = info.gpus
    assert errors_by_field(gpu)["gpu[0].temperature_c"] == "exception"
    assert "nvmlDeviceGetSerial" in info.missing_functions
    assert gpu.name == "NVIDIA L40S"


LOADED_H100 = "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load"
PROCS_V3 = "nvmlDeviceGetComputeRunningProcesses_v3"
PROCS_V2 = "nvmlDeviceGetComputeRunningProcesses_v2"
PROCS = "nvmlDeviceGetComputeRunningProcesses"


def _with_missing(name, *missing):
    scenario = load_scenario(name)
    scenario["missing_functions"] = list(missing)
    return scenario


def _captured_pids(scenario):
    return [p["pid"] for p in scenario["devices"][0]["calls"][PROCS]]


def test_processes_fall_back_to_v2_on_a_driver_without_v3():
    """An R470-era driver: nvidia-ml-py's unversioned call would raise a mismatch error."""
    scenario = _with_missing(LOADED_H100, PROCS_V3)
    fake = FakeNvml(scenario)
    info = collect_nvml(fake)
    (gpu,) = info.gpus
    assert [p.pid for p in gpu.processes] == _captured_pids(scenario)
    assert {p.name for p in gpu.processes} == {"/root/tools/memhog", "./gpu_burn"}
    assert info.missing_functions == (PROCS_V3,)
    assert PROCS_V2 in fake.calls
    assert PROCS not in fake.calls
    assert "gpu[0].processes" not in errors_by_field(gpu)


def test_library_mismatch_error_counts_as_a_missing_function():
    """Neither _v3 nor _v2: the unversioned wrapper raises NVMLLibraryMismatchError."""
    fake = FakeNvml(_with_missing(LOADED_H100, PROCS_V3, PROCS_V2))
    info = collect_nvml(fake)
    (gpu,) = info.gpus
    assert PROCS in fake.calls
    assert set(info.missing_functions) == {PROCS_V3, PROCS_V2, PROCS}
    assert gpu.processes == ()
    assert "exception" not in {e.code for e in gpu.errors}
    assert gpu.temperature_c == 59  # the rest of the GPU is still read


class _OldBindings(FakeNvml):
    """An nvidia-ml-py from before _v3 and TemperatureV: the attributes do not exist."""

    def __getattribute__(self, name):
        if name in (PROCS_V3, "nvmlDeviceGetTemperatureV", "NVMLLibraryMismatchError"):
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_old_bindings_use_the_functions_they_have():
    info = collect_nvml(_OldBindings(LOADED_H100))
    (gpu,) = info.gpus
    assert [p.pid for p in gpu.processes] == _captured_pids(load_scenario(LOADED_H100))
    assert gpu.temperature_c == 59
    assert "exception" not in {e.code for e in gpu.errors}
    assert {PROCS_V3, "nvmlDeviceGetTemperatureV"} <= set(info.missing_functions)


def test_temperature_falls_back_to_the_deprecated_call_on_an_old_driver():
    fake = FakeNvml(_with_missing(LOADED_H100, "nvmlDeviceGetTemperatureV"))
    info = collect_nvml(fake)
    assert info.gpus[0].temperature_c == 59
    assert "nvmlDeviceGetTemperature:0" in fake.calls
    assert info.missing_functions == ("nvmlDeviceGetTemperatureV",)


def test_temperature_without_the_deprecated_call():
    """A driver that dropped nvmlDeviceGetTemperature (announced for CUDA 14)."""
    fake = FakeNvml(_with_missing(LOADED_H100, "nvmlDeviceGetTemperature"))
    info = collect_nvml(fake)
    assert info.gpus[0].temperature_c == 59
    assert "nvmlDeviceGetTemperatureV:0" in fake.calls
    assert "nvmlDeviceGetTemperature:0" not in fake.calls
    assert info.missing_functions == ()


def test_strings_are_normalised_from_bytes():
    info = collect_nvml(FakeNvml("linux-x86_64__nvidia-l40s__595.80__idle"))
    assert isinstance(info.nvml_version, str) and info.nvml_version == "595.80"
    assert isinstance(info.gpus[0].name, str)
    assert text(b"abc\x00") == "abc"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12040, "12.4"), (13010, "13.1"), (11080, "11.8"), (12041, "12.4.1"), (10010, "10.1")],
)
def test_decode_cuda_version(value, expected):
    assert decode_cuda_version(value) == expected


class _FabricInfo(ctypes.Structure):
    _fields_ = [("state", ctypes.c_uint)]  # the one field read, as nvidia-ml-py names it


class _FabricNvml(FakeNvml):
    """An HGX H100 whose fabric Fabric Manager has not set up (state 1, not started)."""

    c_nvmlGpuFabricInfo_t = _FabricInfo

    def __init__(self, scenario: str, state: int | None) -> None:
        super().__init__(scenario)
        self.state = state

    def nvmlDeviceGetGpuFabricInfo(self, handle, ref):
        if self.state is None:
            raise self.NVMLError(3)  # NOT_SUPPORTED
        ref._obj.state = self.state


H100 = "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle"


@pytest.mark.parametrize(
    ("state", "recorded"), [(1, "not_started"), (2, "in_progress"), (3, "completed"), (None, None)]
)
def test_fabric_state_where_the_driver_has_it(state, recorded):
    info = collect_nvml(_FabricNvml(H100, state))
    assert [g.fabric_state for g in info.gpus] == [recorded] * len(info.gpus)
    # an unsupported call is silent: no Unavailable, no missing function
    assert not any("fabric" in e.field for g in info.gpus for e in g.errors)
    assert "nvmlDeviceGetGpuFabricInfo" not in info.missing_functions


def test_no_fabric_call_in_the_bindings_records_nothing():
    assert [g.fabric_state for g in collect_nvml(FakeNvml(H100)).gpus] == [None]


class _VgpuNvml(FakeNvml):
    """A vGPU guest (NVML mode 2) whose licensable features are, or are not, licensed; or a
    driver that lacks the licence call (FUNCTION_NOT_FOUND, code 13)."""

    def __init__(self, scenario: str, mode: int, states: list[int] | None) -> None:
        super().__init__(scenario)
        self.mode, self.states = mode, states

    def nvmlDeviceGetVirtualizationMode(self, handle):
        return self.mode

    def nvmlDeviceGetGridLicensableFeatures(self, handle):
        if self.states is None:
            raise self.NVMLError(13)
        features = [SimpleNamespace(featureState=s) for s in self.states]
        return SimpleNamespace(
            isGridLicenseSupported=1,
            licensableFeaturesCount=len(features),
            gridLicensableFeatures=[*features, SimpleNamespace(featureState=1)],  # past count
        )


@pytest.mark.parametrize(
    ("mode", "states", "recorded", "licensed"),
    [
        (2, [0], "vgpu", False),
        (2, [0, 1], "vgpu", True),
        (2, None, "vgpu", None),  # an old driver: the licence state stays unknown
        (0, [0], "none", None),  # bare metal: licensing is not asked
        (1, [0], "passthrough", None),  # a cloud GPU passed through: needs no licence
    ],
)
def test_virtualization_mode_and_vgpu_licence(mode, states, recorded, licensed):
    info = collect_nvml(_VgpuNvml(H100, mode, states))
    assert [(g.virtualization_mode, g.vgpu_licensed) for g in info.gpus] == [(recorded, licensed)]
    assert "nvmlDeviceGetGridLicensableFeatures" not in info.missing_functions
    assert not any("virtual" in e.field or "licen" in e.field for g in info.gpus for e in g.errors)


def test_probes_md_counts_the_nvml_functions_of_the_protocol():
    # the page said 53 after nvmlDeviceGetFieldValues (the NVLink speeds) made it 54
    import re
    from pathlib import Path

    from gpudoctor.probe.nvml_api import NvmlLike

    doc = (Path(__file__).resolve().parents[2] / "docs" / "probes.md").read_text("utf-8")
    said = re.search(r"Protocol of the (\d+) NVML functions", " ".join(doc.split()))
    assert said, "probes.md no longer counts NvmlLike's functions"
    assert int(said[1]) == len([n for n in dir(NvmlLike) if n.startswith("nvml")])


def test_a_device_count_no_machine_has_reads_the_first_64():
    # a broken libnvidia-ml's count (4294967295, uninitialised): every index was read, for
    # hours and gigabytes in the NVML child (the fuzzer's process reached 23 GB); 1,000 here
    # so that the old code fails fast
    import copy
    import time

    scenario = copy.deepcopy(load_scenario(CAPTURES[0]))
    scenario["devices"] = [copy.deepcopy(scenario["devices"][0]) for _ in range(70)]
    scenario["system"]["nvmlDeviceGetCount"] = 1000
    start = time.monotonic()
    info = collect_nvml(FakeNvml(scenario))
    assert time.monotonic() - start < 30
    assert len(info.gpus) == 64
    (said,) = [e for e in info.errors if e.field == "nvml.device_count"]
    assert said.message == (
        "NVML counts 1000 devices, more than any machine has: the first 64 were read"
    )


def test_a_mig_device_count_no_gpu_has_reads_the_first_64():
    import copy

    scenario = copy.deepcopy(load_scenario("linux-x86_64__nvidia-h100-mig__590.48.01__idle"))
    scenario["devices"][0]["calls"]["nvmlDeviceGetMaxMigDeviceCount"] = 1000
    gpu = collect_nvml(FakeNvml(scenario)).gpus[0]
    assert len(gpu.mig_devices) == 4  # the slots the GPU has; 64 asked, not 1,000
    said = [e for e in gpu.errors if e.field == "gpu[0].mig_devices"]
    assert [e.code for e in said] == ["out_of_range"]


EXCLUDED_UUID = "GPU-5d5e7c4a-3b1e-9c3f-1e8a-2f1d0c9b8a77"


def excluding(name: str, *devices: dict) -> dict:
    """Scenario ``name`` on a driver that excluded ``devices`` (NVreg_ExcludedGpus)."""
    scenario = load_scenario(name)
    scenario["system"]["nvmlGetExcludedDeviceCount"] = len(devices)
    scenario["excluded_devices"] = list(devices)
    return scenario


def test_the_gpus_the_driver_excluded_are_recorded_with_their_address():
    excluded = {"pci": {"busId": "00000000:08:00.0"}, "uuid": EXCLUDED_UUID}
    info = collect_nvml(FakeNvml(excluding(CAPTURES[0], excluded)))
    (gpu,) = info.excluded_gpus
    assert (gpu.pci_bus_id, gpu.uuid) == ("00000000:08:00.0", EXCLUDED_UUID)
    assert info.missing_functions == () and info.errors == ()
    assert collect_nvml(FakeNvml(excluding(CAPTURES[0]))).excluded_gpus == ()


def test_a_driver_without_the_excluded_calls_leaves_them_unknown_and_unsaid():
    # Drivers before R450 and old nvidia-ml-py: not a missing function worth a finding
    scenario = excluding(CAPTURES[0])
    scenario["missing_functions"] = ["nvmlGetExcludedDeviceCount"]
    info = collect_nvml(FakeNvml(scenario))
    assert info.excluded_gpus is None
    assert "nvmlGetExcludedDeviceCount" not in info.missing_functions
    assert info.errors == ()


def test_a_failing_excluded_call_is_recorded():
    scenario = excluding(CAPTURES[0])
    scenario["system"]["nvmlGetExcludedDeviceCount"] = {"error": "no_permission"}
    info = collect_nvml(FakeNvml(scenario))
    assert info.excluded_gpus is None
    assert [(e.field, e.code) for e in info.errors] == [("nvml.excluded_gpus", "no_permission")]
    bad = excluding(CAPTURES[0], {"error": "unknown"})
    info = collect_nvml(FakeNvml(bad))
    assert info.excluded_gpus == ()
    assert [(e.field, e.code) for e in info.errors] == [("nvml.excluded_gpus[0]", "unknown")]


def test_an_excluded_count_no_machine_has_is_said_cut():
    # a broken count (4294967295): the first 64 were read and the cut went unsaid, where the
    # device and MIG counts say it
    excluded = {"pci": {"busId": "00000000:08:00.0"}, "uuid": EXCLUDED_UUID}
    scenario = excluding(CAPTURES[0], *([excluded] * 70))
    scenario["system"]["nvmlGetExcludedDeviceCount"] = 4294967295
    info = collect_nvml(FakeNvml(scenario))
    assert len(info.excluded_gpus or ()) == 64
    (said,) = [e for e in info.errors if e.field == "nvml.excluded_gpus"]
    assert (said.code, said.message) == (
        "out_of_range",
        "NVML counts 4294967295 devices, more than any machine has: the first 64 were read",
    )
