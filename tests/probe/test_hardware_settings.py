"""NVLinks, power limits, applications clocks, BAR1 and GSP from recorded NVML values."""

from __future__ import annotations

import copy

from gpudoctor.probe.nvml_collect import collect_nvml
from tests.probe.fake_nvml import FakeNvml, load_scenario

H100 = "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle"
H200 = "linux-x86_64__nvidia-h200__590.48.01__idle"
H100_MIG = "linux-x86_64__nvidia-h100-mig__590.48.01__idle"
L40S = "linux-x86_64__nvidia-l40s__595.80__idle"
RTX2080 = "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__idle"


def gpu_of(scenario):
    info = collect_nvml(FakeNvml(scenario))
    assert info.status == "ok"
    return info.gpus[0]


def test_a_recorded_h100_has_eighteen_active_nvlinks_and_its_power_limits():
    # shared/captures: `nvidia-smi nvlink -s` lists links 0-17; -q: 700 W default, 200-700 W.
    gpu = gpu_of(H100)
    assert (gpu.nvlink_count, gpu.nvlinks_up) == (18, 18)
    # every link up and clean (the capture has no error counters: unknown, not zero): none kept
    assert gpu.nvlinks == ()
    assert (gpu.power_limit_w, gpu.power_limit_default_w) == (700.0, 700.0)
    assert (gpu.power_limit_min_w, gpu.power_limit_max_w) == (200.0, 700.0)
    assert gpu.bar1_total_mib == 131072
    assert (gpu.gsp_firmware_enabled, gpu.gsp_firmware_default) == (True, True)
    assert gpu.gsp_firmware_version == "590.48.01"
    # Hopper: "Requested functionality has been deprecated" is no error, just no value
    assert gpu.app_clock_graphics_mhz is None
    assert not [e for e in gpu.errors if "app_clock" in e.field or "nvlinks" in e.field]


def test_the_requested_power_limit_is_read_beside_the_enforced_one():
    # The enforced limit takes every limiter into account; the requested one is what
    # nvidia-smi -pl sets: GD-GPU-065 tells the two apart. The H100 capture's Requested Power
    # Limit is 700 W; a scenario without it is unknown (not an error), one that sets another
    # is read in watts.
    assert gpu_of(H100).power_limit_requested_w == 700.0
    scenario = copy.deepcopy(load_scenario(H100))
    del scenario["devices"][0]["calls"]["nvmlDeviceGetPowerManagementLimit"]
    unknown = gpu_of(scenario)
    assert unknown.power_limit_requested_w is None
    assert not [e for e in unknown.errors if "power" in e.field]
    scenario["devices"][0]["calls"]["nvmlDeviceGetPowerManagementLimit"] = 650000
    gpu = gpu_of(scenario)
    assert (gpu.power_limit_w, gpu.power_limit_requested_w) == (700.0, 650.0)
    assert not [e for e in gpu.errors if "power" in e.field]


def test_a_recorded_h200_too():
    gpu = gpu_of(H200)
    assert (gpu.nvlink_count, gpu.nvlinks_up, gpu.nvlinks) == (18, 18, ())
    # `nvidia-smi nvlink -s`: every link at 26.562 GB/s
    assert gpu.nvlink_speed_mbps == 26562
    assert gpu.bar1_total_mib == 262144


def test_a_card_without_nvlink_lists_none_and_mig_mode_leaves_them_unknown():
    l40s = gpu_of(L40S)  # "Device does not have or support Nvlink"
    assert (l40s.nvlink_count, l40s.nvlinks_up, l40s.nvlink_version, l40s.nvlinks) == (
        0,
        0,
        None,
        (),
    )
    assert gpu_of(RTX2080).bar1_total_mib == 256
    mig = gpu_of(H100_MIG)  # "not supported for Devices in MIG mode": unknown
    assert (mig.nvlink_count, mig.nvlinks_up, mig.nvlink_version, mig.nvlinks) == (None,) * 4


def with_calls(name, **calls):
    scenario = copy.deepcopy(load_scenario(name))
    scenario["devices"][0]["calls"].update(calls)
    return scenario


def test_a_link_down_and_error_counters_are_read_per_link():
    states = [1] * 18
    states[7] = 0
    scenario = with_calls(
        H100,
        nvmlDeviceGetNvLinkState=states,
        nvmlDeviceGetNvLinkVersion=4,
        **{
            "nvmlDeviceGetNvLinkErrorCounter:0": 0,
            "nvmlDeviceGetNvLinkErrorCounter:1": 0,
            "nvmlDeviceGetNvLinkErrorCounter:2": 0,
            "nvmlDeviceGetNvLinkErrorCounter:3": 0,
            "nvmlDeviceGetNvLinkErrorCounter:2:3": 12,  # CRC flit errors on link 3
            "nvmlDeviceGetNvLinkErrorCounter:1:3": 1,  # one recovery on link 3
        },
    )
    fake = FakeNvml(scenario)
    gpu = collect_nvml(fake).gpus[0]
    assert (gpu.nvlink_count, gpu.nvlinks_up, gpu.nvlink_version) == (18, 17, 4)
    # only the link down and the one counting errors are kept
    assert gpu.nvlinks is not None and [link.link for link in gpu.nvlinks] == [3, 7]
    three, seven = gpu.nvlinks
    assert (three.version, three.crc_flit_errors, three.recovery_errors) == (4, 12, 1)
    assert three.error_total == 13 and three.active
    # kept for its errors at full speed: its speed is the GPU's, not repeated (report-format.md)
    assert (three.speed_mbps, gpu.nvlink_speed_mbps) == (None, 26562)
    assert not seven.active and seven.version is None and seven.error_total == 0
    # a link that is down is not asked for counters (each call may be a GSP round trip)
    assert not any(
        c.startswith("nvmlDeviceGetNvLinkErrorCounter") and c.endswith(":7") for c in fake.calls
    )


def test_a_link_slower_than_its_siblings_is_kept_with_its_speed_in_one_call():
    speeds: list[object] = [26562] * 18
    speeds[5] = 13281
    speeds[9] = {"error": "not_supported"}  # no speed for this one: not judged slow
    fake = FakeNvml(with_calls(H100, **{"nvmlDeviceGetFieldValues:164": speeds}))
    gpu = collect_nvml(fake).gpus[0]
    assert gpu.nvlink_speed_mbps == 26562
    assert gpu.nvlinks is not None and [(n.link, n.speed_mbps) for n in gpu.nvlinks] == [(5, 13281)]
    assert gpu.nvlinks[0].active and gpu.nvlinks[0].error_total == 0
    # all 18 links in one nvmlDeviceGetFieldValues call, not a round trip per link
    asked = [c for c in fake.calls if c.startswith("nvmlDeviceGetFieldValues")]
    assert len(asked) == 1 and asked[0].count("(164, ") == 18


def test_a_link_in_its_low_power_state_is_not_judged_slow():
    # idle links may sleep (NVML_NVLINK_POWER_STATE_LOW): slower by design, not a fault
    speeds: list[object] = [26562] * 18
    speeds[5] = speeds[6] = 13281
    power = [0] * 18
    power[5] = 1
    fake = FakeNvml(
        with_calls(
            H100,
            **{"nvmlDeviceGetFieldValues:164": speeds, "nvmlDeviceGetFieldValues:167": power},
        )
    )
    gpu = collect_nvml(fake).gpus[0]
    assert [(n.link, n.speed_mbps) for n in gpu.nvlinks or ()] == [(6, 13281)]
    (asked,) = [c for c in fake.calls if c.startswith("nvmlDeviceGetFieldValues")]
    assert asked.count("(167, ") == 18  # asked in the same call as the speeds


def test_a_binding_whose_field_values_are_not_a_list_leaves_the_speed_unknown():
    class Broken(FakeNvml):
        def nvmlDeviceGetFieldValues(self, handle, field_ids):
            return 26562

    info = collect_nvml(Broken(H100))
    assert info.status == "ok" and info.gpus[0].nvlinks_up == 18
    assert info.gpus[0].nvlink_speed_mbps is None


def test_only_the_links_that_are_up_are_asked_their_speed():
    states = [1] * 18
    states[2] = 0
    fake = FakeNvml(with_calls(H200, nvmlDeviceGetNvLinkState=states))
    gpu = collect_nvml(fake).gpus[0]
    (asked,) = [c for c in fake.calls if c.startswith("nvmlDeviceGetFieldValues")]
    assert "(164, 2)" not in asked and asked.count("(164, ") == 17
    assert gpu.nvlink_speed_mbps == 26562
    assert [(n.link, n.active, n.speed_mbps) for n in gpu.nvlinks or ()] == [(2, False, None)]


def test_nvlink_speed_unknown_where_the_driver_does_not_give_it():
    # no field 164 recorded: each entry answers NOT_SUPPORTED, as on a driver without it
    scenario = with_calls(H100)
    del scenario["devices"][0]["calls"]["nvmlDeviceGetFieldValues:164"]
    gpu = gpu_of(scenario)
    assert gpu.nvlink_speed_mbps is None and gpu.nvlinks == ()
    assert not [e for e in gpu.errors if "nvlink" in e.field]
    # the call itself refused: recorded once, the links still counted
    gpu = gpu_of(with_calls(H100, nvmlDeviceGetFieldValues={"error": "no_permission"}))
    assert (gpu.nvlinks_up, gpu.nvlink_speed_mbps) == (18, None)
    assert [e.code for e in gpu.errors if e.field == "gpu[0].nvlink_speed_mbps"] == [
        "no_permission"
    ]
    # bindings or a driver without nvmlDeviceGetFieldValues: unknown, and listed as missing
    scenario = copy.deepcopy(load_scenario(H100))
    scenario["missing_functions"] = ["nvmlDeviceGetFieldValues"]
    info = collect_nvml(FakeNvml(scenario))
    assert info.gpus[0].nvlink_speed_mbps is None and info.gpus[0].nvlinks_up == 18
    assert "nvmlDeviceGetFieldValues" in info.missing_functions


def test_no_permission_for_nvlink_is_unknown_not_absent():
    gpu = gpu_of(with_calls(H100, nvmlDeviceGetNvLinkState={"error": "no_permission"}))
    assert (gpu.nvlink_count, gpu.nvlinks_up, gpu.nvlinks) == (None, None, None)
    assert [e.code for e in gpu.errors if e.field == "gpu[0].nvlinks"] == ["no_permission"]


def test_an_old_driver_without_the_new_functions_is_recorded_as_missing():
    scenario = copy.deepcopy(load_scenario(H100))
    scenario["missing_functions"] = [
        "nvmlDeviceGetGspFirmwareMode",
        "nvmlDeviceGetGspFirmwareVersion",
        "nvmlDeviceGetNvLinkState",
        "nvmlDeviceGetPowerManagementDefaultLimit",
    ]
    info = collect_nvml(FakeNvml(scenario))
    gpu = info.gpus[0]
    assert gpu.gsp_firmware_enabled is None and gpu.power_limit_default_w is None
    # FUNCTION_NOT_FOUND: unknown, not "no NVLink"
    assert (gpu.nvlink_count, gpu.nvlinks_up, gpu.nvlinks) == (None, None, None)
    assert set(scenario["missing_functions"]) <= set(info.missing_functions)
    assert gpu.power_limit_max_w == 700.0  # the other calls still answer


def test_bindings_without_the_functions_do_not_break_the_probe():
    class OldBindings(FakeNvml):
        def __getattribute__(self, name):
            if name.startswith(("nvmlDeviceGetNvLink", "nvmlDeviceGetGsp", "nvmlDeviceGetBAR1")):
                raise AttributeError(name)
            return super().__getattribute__(name)

    info = collect_nvml(OldBindings(H100))
    gpu = info.gpus[0]
    assert gpu.nvlinks is None and gpu.nvlink_count is None and gpu.bar1_total_mib is None
    assert "nvmlDeviceGetNvLinkState" in info.missing_functions
    assert gpu.power_limit_default_w == 700.0
