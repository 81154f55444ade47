"""The verdict on --hardware and --burn: floors, wrong sums, corruption, throttling, drift."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.model.clock_events import ClockEvent
from gpudoctor.verify.hwverdict import drifted
from gpudoctor.verify.model import Bandwidth, BurnDevice, HardwareResult, HardwareSettings
from gpudoctor.verify.references import Floor, References
from gpudoctor.verify.verdict import judge
from tests.verify import hwfactories as f


def refs(verified: bool = False) -> References:
    return References(
        floors=tuple(
            Floor(
                gpu=x.gpu, kind=x.kind, gbps=x.gbps, verified=verified, source=x.source, gpus=x.gpus
            )
            for x in f.floors(verified)
        )
    )


def codes(hw: HardwareResult, verified: bool = False) -> dict[str, str]:
    v = judge(f.result(hw), refs(verified))
    return {r.code: r.level.value for r in v.reasons}


def test_a_healthy_node_passes():
    v = judge(f.result(f.healthy()), refs())
    assert v.overall == "pass", v.reasons


def test_below_an_unverified_floor_warns_and_below_a_verified_one_fails():
    slow = list(f.healthy().bandwidths)
    slow[0] = replace(slow[0], gbps=1500.0)
    hw = f.healthy(bandwidths=tuple(slow))
    v = judge(f.result(hw), refs())
    (reason,) = [r for r in v.reasons if r.code == "below_floor"]
    assert reason.level.value == "warn" and reason.device == "cuda:0"
    assert "1500.0 GB/s" in reason.message and "1905" in reason.message
    assert "unverified" in reason.message
    assert codes(hw, verified=True)["below_floor"] == "fail"


def test_a_pcie_pair_where_nvlink_is_expected_is_named():
    bws = [
        b if b.kind != "p2p" else replace(b, link="pcie", gbps=40.0) for b in f.healthy().bandwidths
    ]
    v = judge(f.result(f.healthy(bandwidths=tuple(bws))), refs())
    (reason,) = [r for r in v.reasons if r.code == "below_floor"]
    assert "cuda:0 -> cuda:1 over PCIE" in reason.message


def test_allreduce_below_its_floor_on_eight_gpus_only():
    assert codes(f.healthy(allreduce=f.sweep(busbw=300.0)))["below_floor"] == "warn"
    # four GPUs: the 8-GPU floor does not apply
    assert "below_floor" not in codes(f.healthy(allreduce=f.sweep(busbw=300.0, n=4)))


def test_a_wrong_sum_fails():
    c = codes(f.healthy(allreduce=f.sweep(correct=False)))
    assert c["allreduce_wrong"] == "fail"


def test_silent_data_corruption_fails_and_names_the_gpu():
    burns = (f.burn("cuda:3", mismatched_rounds=2, max_rel_diff=0.5),)
    v = judge(f.result(f.healthy(burn=burns)), refs())
    (r,) = [r for r in v.reasons if r.code == "silent_data_corruption"]
    assert r.level.value == "fail" and r.device == "cuda:3" and "2 of 9 rounds" in r.message
    burns = (f.burn("cuda:2", finite=False),)
    assert codes(f.healthy(burn=burns))["silent_data_corruption"] == "fail"


def test_a_gpu_that_throttles_in_the_burn_is_named():
    burns = (f.burn("cuda:5", telemetry=f.telemetry(reasons=int(ClockEvent.HW_THERMAL_SLOWDOWN))),)
    v = judge(f.result(f.healthy(burn=burns)), refs())
    (r,) = [r for r in v.reasons if r.code == "hw_slowdown"]
    assert r.level.value == "fail" and r.device == "cuda:5" and "burn cuda:5" in r.message


def test_drift_on_a_gpu_warns_but_a_busy_cpu_is_not_judged():
    falling = tuple([5e13] * 3 + [4.5e13] * 3 + [3e13] * 3)
    assert drifted(falling) == 0.6
    assert drifted((5e13,) * 9) is None
    assert drifted((5e13, 1e13)) is None  # too few rounds to say
    assert codes(f.healthy(burn=(f.burn("cuda:1", flops=falling),)))["burn_drift"] == "warn"
    cpu = BurnDevice(device="cpu", rounds=9, flops=falling)
    hw = HardwareResult(settings=HardwareSettings(device="cpu"), burn=(cpu,))
    assert "burn_drift" not in codes(hw)


def test_a_failed_measurement_fails():
    hw = f.healthy(errors=("h2d: no answer within 300 s (a hung GPU or peer)",))
    v = judge(f.result(hw), refs())
    assert v.overall == "fail"
    assert any(r.message.startswith("h2d: no answer") for r in v.reasons)
    burns = (BurnDevice(device="cuda:0", status="error", message="no answer"),)
    assert codes(f.healthy(burn=burns))["burn_error"] == "fail"


def test_the_cpu_has_no_floor_its_figures_only_inform():
    mem = Bandwidth(kind="memory", device="cpu", device_name="host memory", gbps=15.0)
    hw = HardwareResult(
        settings=HardwareSettings(items=("memory",), device="cpu"), bandwidths=(mem,)
    )
    v = judge(f.result(hw), refs())
    assert v.overall == "pass"
    assert [r.code for r in v.reasons] == ["no_floor"]
    # and hardware alone is not "no run was timed"
    assert "nothing_timed" not in {r.code for r in v.reasons}


def test_a_cpu_blas_rounding_difference_is_a_note_a_large_one_fails():
    small = BurnDevice(device="cpu", rounds=9, mismatched_rounds=2, max_rel_diff=3e-7)
    hw = HardwareResult(settings=HardwareSettings(device="cpu"), burn=(small,))
    assert codes(hw) == {"burn_cpu_rounding": "note"}
    large = replace(small, max_rel_diff=0.2)
    assert codes(replace(hw, burn=(large,)))["silent_data_corruption"] == "fail"
    # on a GPU, any difference at all fails
    gpu = f.burn("cuda:0", mismatched_rounds=1, max_rel_diff=3e-7)
    assert codes(f.healthy(burn=(gpu,)))["silent_data_corruption"] == "fail"
