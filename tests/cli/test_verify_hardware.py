"""`gpudoctor verify --hardware/--burn`: bad input, hardware alone, hardware beside the models."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from gpudoctor.verify import hardware, harness, plan
from gpudoctor.verify.model import Bandwidth, HardwareResult
from tests.verify import hwfactories as f


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--hardware", "memory,nvlink"), "'nvlink'"),
        (("--hardware", ","), "needs a list"),
        (("--burn", "-5"), "burn"),
        (("--burn", "nan"), "burn"),
        (("--ranks", "1"), "ranks"),
        # options nothing reads were dropped without a word: the result read as measured so
        (("--ranks", "8"), "--ranks sets the processes of the all-reduce: give it with"),
        (("--hardware", "memory", "--ranks", "4"), "--ranks sets the processes"),
        (("--burn", "5", "--ranks", "4"), "--ranks sets the processes"),
        (("--hardware", "--precision", "amp-fp16"), "--precision: only the reference models"),
        (("--burn", "5", "--mode", "training", "--batch-size", "8"), "--mode, --batch-size: "),
        # GPU-only measurements alone on the CPU measured nothing and passed, exit 0
        (("--hardware", "p2p"), "--hardware p2p: measured between a GPU and the host or another"),
        (("--hardware", "h2d,d2h", "--models", "lenet5"), "so --device cpu leaves nothing of it"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, needle, monkeypatch):
    def must_not_run(*a, **k):
        raise AssertionError("measured")

    monkeypatch.setattr(hardware, "run_hardware", must_not_run)
    result = cli("verify", "--device", "cpu", *args)
    assert result.exit_code == 2, result
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_gpu_only_measurement_beside_one_the_cpu_has_still_runs(cli, measured):
    result = cli("verify", "--hardware", "memory,p2p", "--device", "cpu", "--format", "json")
    assert result.exit_code == 0, result
    assert measured[0].items == ("memory", "p2p")  # p2p is left out with a note there


@pytest.fixture
def measured(monkeypatch):
    asked = []

    def fake(hw, **kwargs):
        asked.append(hw)
        mem = Bandwidth(kind="memory", device="cpu", device_name="host memory", gbps=15.0)
        return HardwareResult(
            settings=hw, bandwidths=(mem,), allreduce=f.sweep(n=2), duration_s=6.42
        )

    monkeypatch.setattr(hardware, "run_hardware", fake)
    return asked


def test_hardware_alone_runs_no_model(cli, measured, monkeypatch):
    def must_not_run(*a, **k):
        raise AssertionError("the models ran")

    monkeypatch.setattr(harness, "run_verify", must_not_run)
    monkeypatch.setattr(plan, "usable_cpus", lambda: 4)  # three ranks fit
    result = cli(
        "verify",
        "--hardware",
        "memory,allreduce",
        "--device",
        "cpu",
        "--ranks",
        "3",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["runs"] == [] and doc["settings"]["models"] == []
    assert doc["hardware"]["bandwidths"][0]["gbps"] == 15.0
    assert doc["hardware"]["settings"] == {
        "items": ["memory", "allreduce"],
        "burn_s": None,
        "device": "cpu",
        "ranks": 3,
    }
    assert doc["verdict"] == "pass"
    assert doc["duration_s"] == 6.42  # the whole verify's wall time: it said 0.0
    assert "measuring the hardware" in result.stderr
    # UTC as every other document writes it (and jq's fromdateiso8601 reads): it said +00:00
    datetime.strptime(doc["started_at"], "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("ranks", ["5", "64", "10000"])
def test_ranks_beyond_the_cpus_are_refused_before_anything_runs(cli, monkeypatch, ranks):
    """--ranks 64 on a login node's 4 CPUs started 64 processes with torch each."""

    def must_not_run(*a, **k):
        raise AssertionError("measured")

    monkeypatch.setattr(hardware, "run_hardware", must_not_run)
    monkeypatch.setattr(plan, "usable_cpus", lambda: 4)
    result = cli("verify", "--hardware", "allreduce", "--device", "cpu", "--ranks", ranks)
    assert result.exit_code == 2, result
    [line] = result.stderr.strip().splitlines()
    assert f"--ranks {ranks}: at most 4 (this process may use 4 CPUs" in line


def test_ranks_with_a_gpu_device_is_refused_not_checked_against_the_cpus(cli, monkeypatch):
    """On GPUs the all-reduce runs one rank per GPU: --ranks 8 on a 4-CPU GPU node was refused
    with a message about CPUs, for a number nothing would read."""

    def must_not_run(*a, **k):
        raise AssertionError("measured")

    monkeypatch.setattr(hardware, "run_hardware", must_not_run)
    monkeypatch.setattr(plan, "usable_cpus", lambda: 4)
    result = cli("verify", "--hardware", "allreduce", "--device", "cuda", "--ranks", "8")
    assert result.exit_code == 2, result
    [line] = result.stderr.strip().splitlines()
    assert "--ranks sets the local processes of the all-reduce on the CPU" in line
    assert "CPUs" not in line


def test_ranks_unused_on_the_gpus_of_device_all_is_noted(cli, monkeypatch):
    def on_gpus(hw, **kwargs):
        return HardwareResult(settings=hw, allreduce=f.sweep(n=2))

    monkeypatch.setattr(hardware, "run_hardware", on_gpus)
    monkeypatch.setattr(plan, "usable_cpus", lambda: 4)
    args = ("verify", "--hardware", "allreduce", "--format", "json")
    doc = json.loads(cli(*args, "--ranks", "3").stdout)
    assert "--ranks 3: not used, the all-reduce ran one rank per GPU" in doc["hardware"]["notes"]
    doc = json.loads(cli(*args).stdout)  # not given: nothing to say
    assert not any("--ranks" in n for n in doc["hardware"]["notes"])


def test_burn_alone(cli, measured):
    result = cli("verify", "--burn", "2", "--device", "cpu")
    assert result.exit_code == 0, result
    assert measured[0].items == () and measured[0].burn_s == 2.0


def test_with_models_both_run(cli, measured, monkeypatch):
    from gpudoctor.verify.model import VerifyResult

    ran = []

    def fake_verify(settings, progress, **k):
        ran.append(settings.models)
        return VerifyResult(settings=settings, duration_s=20.0)

    monkeypatch.setattr(harness, "run_verify", fake_verify)
    result = cli(
        "verify",
        "--models",
        "lenet5",
        "--hardware",
        "memory",
        "--device",
        "cpu",
        "--format",
        "json",
    )
    assert ran == [("lenet5",)]
    doc = json.loads(result.stdout)
    assert doc["hardware"] is not None
    assert doc["duration_s"] == 26.42  # the models' 20 s and the measurements' 6.42 s


def test_a_failed_measurement_exits_1(cli, monkeypatch):
    monkeypatch.setattr(
        hardware,
        "run_hardware",
        lambda hw, **k: HardwareResult(settings=hw, errors=("memory: no answer within 60 s",)),
    )
    result = cli("verify", "--hardware", "memory", "--device", "cpu")
    assert result.exit_code == 1, result
    assert "memory: no answer within 60 s" in result.stdout


def test_the_chart(cli, measured, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "hw.png"
    result = cli("verify", "--hardware", "memory", "--device", "cpu", "--plot", str(png))
    assert result.exit_code == 0, result
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "items"),
    [
        # the issue's own spelling: before, --hardware took "--device" as its list and the
        # run failed with "Got unexpected extra argument (cpu)"
        (("--hardware", "--device", "cpu"), hardware.ITEMS),
        (("--device", "cpu", "--hardware"), hardware.ITEMS),
        (("--hardware", "--burn", "3", "--device", "cpu"), hardware.ITEMS),
        (("--hardware", "memory", "--device", "cpu"), ("memory",)),
        (("--hardware=allreduce", "--device", "cpu"), ("allreduce",)),
    ],
)
def test_hardware_alone_means_all(cli, measured, args, items):
    result = cli("verify", *args)
    assert result.exit_code in (0, 1), result.stderr
    assert [hw.items for hw in measured] == [items]


def test_a_cuda_index_past_the_last_gpu_is_one_line_and_exit_2(cli, monkeypatch):
    # two GPUs, --device cuda:5: a typo, refused as the models' verify refuses it
    import functools

    from tests.verify.test_hardware import FakeChildren

    real = hardware.run_hardware
    monkeypatch.setattr(
        hardware, "run_hardware", functools.partial(real, stream=FakeChildren(gpus=2))
    )
    result = cli("verify", "--hardware", "memory", "--device", "cuda:5", "--no-history")
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "gpudoctor: error: no device cuda:5: torch sees cuda:0, cuda:1"
    )
