"""scripts/gpu-validate: masking, its capture file round-trips through capture-to-scenario."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    loader = importlib.machinery.SourceFileLoader(
        name.replace("-", "_"), str(ROOT / "scripts" / name)
    )
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


validate = load("gpu-validate")
convert = load("capture-to-scenario")


def test_mask_hides_uuids_and_serials_but_keeps_their_shape():
    text = (
        "    Serial Number          : 1652921012345\n"
        "    GPU UUID               : GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6\n"
        "  MIG 1g.10gb Device 0: (UUID: MIG-11111111-2222-3333-4444-555555555555)\n"
        "again GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6\n"
    )
    masked = validate.mask(text)
    assert "1652921012345" not in masked and "0000000000000" in masked
    assert "8d2f1c3a" not in masked and "MIG-11111111" not in masked
    lines = masked.splitlines()
    assert lines[1].split(": ")[1] == lines[3].split(" ")[1]  # same UUID, same mask


def test_verify_section_marker_is_there():
    text = (ROOT / "scripts" / "gpu-validate").read_text()
    assert "# --- verify (added by the verify work) ---" in text
    for forbidden in ("-pm", "-pl", "-mig", "-lgc", "-rgc", "--applications-clocks", "-e "):
        assert f'"{forbidden}"' not in text  # it only reads


@pytest.mark.skipif(not (SHARED / "captures").is_dir(), reason="shared/captures not present")
def test_capture_txt_round_trips_through_the_converter(tmp_path):
    source = SHARED / "captures" / "linux-x86_64__nvidia-l40s__595.80.txt"
    _, sections = convert.split_sections(source.read_text())
    picked = {
        "capabilities :: version\n# $ nvidia-smi --version": convert.section(
            sections, "capabilities", "version"
        ),
        "capabilities :: list (-L)\n# $ nvidia-smi -L": convert.section(
            sections, "capabilities", "list"
        ),
        "idle :: query (-q)\n# $ nvidia-smi -q": convert.section(sections, "idle", "query (-q)"),
        "idle :: query-gpu (csv)\n# $ nvidia-smi --query-gpu": convert.section(
            sections, "idle", "query-gpu"
        ),
    }
    capture = tmp_path / "linux-x86_64__nvidia-l40s__595.80.txt"
    capture.write_text(validate.capture_text(picked))
    mine = convert.convert(capture, "idle")
    assert convert.convert(capture, "load") is None
    original = json.loads(
        (ROOT / "tests/data/nvml/linux-x86_64__nvidia-l40s__595.80__idle.json").read_text()
    )
    assert mine["devices"] == original["devices"]
    assert mine["system"] == original["system"]


def test_mask_hides_serials_in_nvml_json_and_query_csv():
    # The shapes a real H200 run (2026-12-04) left unmasked: the NVML child's JSON field and
    # the serial column of --query-gpu's CSV (the card's own serial is replaced here).
    nvml = '{"gpus": [{"index": 0, "serial": "1650000012345", "memory_total_mib": 143771}]}'
    csv = (
        "timestamp, driver_version, count, name, serial, uuid\n"
        "2026/12/04 16:31:51.851, 580.159.04, 1, NVIDIA H200, 1650000012345, GPU-x\n"
    )
    for text in (nvml, csv):
        masked = validate.mask(text)
        assert "1650000012345" not in masked
        assert "0000000000000" in masked
    assert "143771" in validate.mask(nvml)  # other numbers are kept
    assert "580.159.04" in validate.mask(csv)


def test_the_hardware_run_is_recorded_and_summed_up_on_one_line():
    name, args, timeout_s = validate.HARDWARE_RUN
    assert name == "verify-hardware" and "--burn" in args and "60" in args
    assert timeout_s > 60 + 60  # the burn and the start-up
    assert "verify-hardware.json" in validate.KEEP and len(validate.KEEP) == 7
    hw = {
        "bandwidths": [
            {"kind": "memory", "device": "cuda:0", "gbps": 2950.0},
            {"kind": "p2p", "device": "cuda:0", "gbps": 370.0},
            {"kind": "p2p", "device": "cuda:1", "gbps": 360.0},
        ],
        "allreduce": {
            "points": [{"bytes": 8, "busbw_gbps": 1.0}, {"bytes": 1 << 30, "busbw_gbps": 480.0}]
        },
        "burn": [{"device": "cuda:0", "flops": [5.0e13, 5.1e13], "mismatched_rounds": 0}],
    }
    line = validate.hardware_summary(hw)
    assert "memory cuda:0 2950.0" in line and "p2p min 360.0 max 370.0" in line
    assert "allreduce busbw 480.0 at 1073741824 B" in line
    assert "burn cuda:0 51.0 TFLOP/s, 0 mismatched" in line


def test_the_training_run_is_resnet50_under_amp_in_the_auto_layout():
    # auto = channels-last for AMP on tensor-core GPUs, the faster layout there; summary.txt
    # sets its images/s beside NVIDIA's published figure (tests/verify/test_published.py)
    (args,) = [a for name, a, _ in validate.VERIFY_RUNS if name == "verify-train-resnet50"]
    assert args[args.index("--models") + 1] == "resnet50"
    assert args[args.index("--mode") + 1] == "training"
    assert args[args.index("--precision") + 1].startswith("amp-")
    assert "--layout" not in args


def recorder(tmp_path, budget_s=540.0):
    out, stage = tmp_path / "out", tmp_path / "stage"
    out.mkdir()
    stage.mkdir()
    return validate.Recorder(out, redact=True, stage=stage, budget_s=budget_s), out


def test_each_step_is_published_as_it_ends_so_a_killed_run_still_returns_data(tmp_path):
    # The device tool kills the command at its limit: before, summary.txt and the archive were
    # written only at the very end, so a run stopped in its last step returned neither, and
    # every raw file lay loose in OUT (more than the 8 files the tool brings back).
    import sys
    import tarfile

    rec, out = recorder(tmp_path)
    rec.run("first step", [sys.executable, "-c", "print('hi')"], 30.0)
    rec.save("nvml.json", '{"serial": "1652921012345"}\n')
    rec.save("nvidia-smi-q.txt", "raw\n")
    summary = (out / "summary.txt").read_text()
    assert "first step" in summary and "exit 0" in summary
    assert summary.splitlines()[-1].startswith("still running")
    with tarfile.open(out / "gpu-validate.tar.gz") as tar:
        names = tar.getnames()
    assert "gpu-validate/nvidia-smi-q.txt" in names and "gpu-validate/summary.txt" in names
    assert sorted(p.name for p in out.iterdir()) == [
        "gpu-validate.tar.gz",
        "nvml.json",
        "summary.txt",
    ]  # only KEEP's files loose, and no half-written .part file
    assert "1652921012345" not in (out / "nvml.json").read_text()


def test_a_step_gets_only_what_is_left_of_the_budget_and_none_below_the_minimum(
    tmp_path, monkeypatch
):
    # Before, the steps' own timeouts summed to 600 s with --hardware-only and 1,080 s without,
    # past the device tool's 600 s: one hang could eat the whole command.
    import sys
    import time

    monkeypatch.setattr(validate, "MIN_STEP_S", 0.5)
    rec, out = recorder(tmp_path, budget_s=2.0)
    began = time.monotonic()
    slow = rec.run("slow", [sys.executable, "-c", "import time; time.sleep(30)"], 300.0)
    assert slow.timed_out and time.monotonic() - began < 10
    skipped = rec.run("next", [sys.executable, "-c", "print(1)"], 300.0)
    assert skipped.returncode is None and skipped.start_error
    assert "skipped: 0 s left of the 2 s budget" in (out / "summary.txt").read_text()


def test_the_script_keeps_what_it_recorded_when_a_step_of_its_own_breaks(tmp_path, monkeypatch):
    def record(rec):
        for name in ("report.json", "report.txt", "nvml.json", "a.txt", "b.txt", "c.txt"):
            rec.save(name, "{}\n")
        for name in ("d.txt", "e.txt", "f.txt", "g.txt"):
            rec.save(name, "x\n")

    def broken(rec, hardware_only=False):
        raise json.JSONDecodeError("Expecting value", "", 0)

    monkeypatch.setattr(validate, "record_gpudoctor", record)
    monkeypatch.setattr(validate, "record_nvidia_smi", lambda rec: {})
    monkeypatch.setattr(validate, "verify", broken)
    monkeypatch.setattr(validate.tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "out"
    assert validate.main([str(out)]) == 1
    summary = (out / "summary.txt").read_text()
    assert "gpu-validate itself failed: JSONDecodeError: Expecting value" in summary
    assert summary.splitlines()[-1].startswith("total ")
    assert len(list(out.iterdir())) <= 8
    assert not list(tmp_path.glob("gpu-validate-*"))  # the staging folder is gone


@pytest.mark.parametrize(
    "argv", [["--budget", "soon", "out"], ["--budget=0", "out"], ["out", "--budget"]]
)
def test_an_unreadable_budget_is_the_usage_and_exit_2(argv, capsys):
    assert validate.main(argv) == 2
    assert "Usage" in capsys.readouterr().err


def test_the_runs_issue_20_lacks_come_first():
    # fp32 and AMP inference were recorded on the H200 (tests/data/verify/h200); the training
    # run and the hardware run never were: a budget that runs out must cut the former.
    names = [name for name, _, _ in validate.ordered_runs()]
    assert names[:2] == ["verify-hardware", "verify-train-resnet50"]
    assert sorted(names) == sorted(
        [validate.HARDWARE_RUN[0], *(n for n, _, _ in validate.VERIFY_RUNS)]
    )


def test_worst_case_of_the_short_run_fits_the_budget():
    # --hardware-only: check, its text, the NVML child and benchmark, six nvidia-smi calls (the
    # query retried with the core fields) and the hardware run, each at its own timeout, must
    # fit the default budget: a hang in every step before it still leaves the hardware run its
    # whole timeout.
    worst = (
        validate.CHECK_TIMEOUT_S
        + validate.TEXT_TIMEOUT_S
        + validate.PROBE_TIMEOUT_S
        + validate.NVML_BENCH_TIMEOUT_S
        + 6 * validate.SMI_TIMEOUT_S
        + validate.HARDWARE_RUN[2]
    )
    assert worst <= validate.BUDGET_S <= 600 - 30
    # docs/verify.md's one call, --budget 420: the hardware run still gets more than its burn
    # and start-up need (60 + 60 s), and it runs first of the verify runs
    assert 420 - (worst - validate.HARDWARE_RUN[2]) > 200
    assert validate.ordered_runs()[0] == validate.HARDWARE_RUN


def test_a_summary_line_says_so_when_nothing_was_measured():
    assert validate.hardware_summary({"bandwidths": [], "burn": []}) == "nothing measured"
    doc = {"verdict": "warn", "reasons": [{"level": "warn", "message": "noisy"}]}
    assert validate.verdict_line(doc) == "verdict warn: noisy"
    assert validate.verdict_line({"verdict": "pass", "reasons": []}) == "verdict pass"


def test_the_summary_says_what_was_measured_on_the_gpu_and_what_was_not(tmp_path):
    # Before, a run where CUDA was absent ended 'verify-train-resnet50 ... exit 0' and 'verdict
    # warn: no run was timed', 'verify-fp32 ... exit 0' for CPU runs alone and 'NVML
    # node-fitness calls ... exit 1' with its reason in the archive: nothing said which of the
    # figures issue 20 wants came back. Now summary.txt ends with one line per figure.
    no_gpu = {
        "verdict": "fail",
        "reasons": [{"level": "fail", "message": "no GPU found (torch sees none)"}],
        "hardware": {"bandwidths": [], "allreduce": None, "burn": [], "notes": [], "errors": []},
    }
    lines = validate.gpu_measured("verify-hardware", no_gpu)
    assert [line.split(":")[0] for line in lines] == [
        f"NOT measured  {f}" for f in validate.HARDWARE_FIGURES
    ]
    assert all(line.endswith("no GPU found (torch sees none)") for line in lines)
    cpu_only = {
        "verdict": "warn",
        "reasons": [
            {"level": "note", "message": "no GPU found (NVML cannot be read): verified the CPU"},
            {"level": "warn", "message": "torch lenet5 cpu: spread 19% of the median"},
        ],
        "runs": [{"device": "cpu", "status": "ok", "images_per_second": 20.0}],
    }
    assert validate.gpu_measured("verify-fp32", cpu_only) == [
        "NOT measured  verify-fp32: no GPU run was timed (no GPU found (NVML cannot be read): "
        "verified the CPU)"
    ]
    gone = validate.gpu_measured("verify-amp", None, "skipped (budget)")
    assert gone == ["NOT measured  verify-amp: verify-amp wrote no report (skipped (budget))"]

    one_gpu = {
        "verdict": "pass",
        "reasons": [],
        "hardware": {
            "bandwidths": [
                {"kind": "memory", "device": "cuda:0", "gbps": 2950.0},
                {"kind": "h2d", "device": "cuda:0", "gbps": 55.1},
                {"kind": "d2h", "device": "cuda:0", "gbps": 54.9},
                {"kind": "memory", "device": "cpu", "gbps": 13.0},
            ],
            "allreduce": None,
            "burn": [
                {
                    "device": "cuda:0",
                    "seconds": 60.0,
                    "rounds": 900,
                    "flops": [5.0e14, 5.1e14],
                    "mismatched_rounds": 0,
                    "status": "ok",
                }
            ],
            "notes": ["p2p: needs two GPUs or more", "allreduce: needs two GPUs or more"],
            "errors": [],
        },
    }
    assert validate.gpu_measured("verify-hardware", one_gpu) == [
        "measured      memory GB/s: cuda:0 2950.0",
        "measured      h2d GB/s: cuda:0 55.1",
        "measured      d2h GB/s: cuda:0 54.9",
        "NOT measured  p2p: p2p: needs two GPUs or more",
        "NOT measured  allreduce: allreduce: needs two GPUs or more",
        "measured      burn cuda:0: 60 s, 900 rounds, 510.0 TFLOP/s, 0 mismatched (ok)",
    ]
    train = {
        "runs": [
            {
                "device": "cuda:0",
                "status": "ok",
                "images_per_second": 3012.4,
                "framework": "torch",
                "model": "resnet50",
                "mode": "training",
                "precision": "amp-fp16",
            }
        ]
    }
    assert validate.gpu_measured("verify-train-resnet50", train) == [
        "measured      verify-train-resnet50: torch resnet50 training amp-fp16 on cuda:0: "
        "3,012 images/s"
    ]

    rec, out = recorder(tmp_path)
    rec.measured += validate.gpu_measured("verify-amp", None, "timed out")
    rec.publish(done=True)
    summary = (out / "summary.txt").read_text()
    assert "on the GPU (what issue 20 asks of this run):" in summary
    assert "NOT measured  verify-amp: verify-amp wrote no report (timed out)" in summary


def test_why_a_step_measured_nothing_is_its_first_line_or_its_status():
    from gpudoctor.probe.runcmd import CmdResult

    said = CmdResult(argv=("x",), returncode=1, stdout="\nNVML: library_not_found: no\nmore\n")
    assert validate.why_not(said) == "NVML: library_not_found: no"
    skipped = CmdResult(argv=("x",), returncode=None, start_error="skipped (budget)")
    assert validate.why_not(skipped) == "skipped (budget)"
    assert validate.why_not(CmdResult(argv=("x",), returncode=3)) == "exit 3, no output"
