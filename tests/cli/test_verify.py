"""`gpudoctor verify` end to end: bad input, the no-GPU exit, never a half-written output."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Cli, have_gpu

TINY = ("--models", "lenet5", "--framework", "torch", "--time-budget", "1")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--models", "lenet5,resnet9000"), "resnet9000"),
        (("--models", ","), "no model"),
        (("--device", "gpu0"), "gpu0"),
        (("--device", "cuda:one"), "cuda:one"),
        (("--precision", "fp8"), "fp8"),
        (("--batch-size", "0"), "batch-size"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, needle):
    result = cli("verify", *args)
    assert result.exit_code == 2, result
    lines = result.stderr.strip().splitlines()
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result


def test_output_is_never_overwritten_without_force(cli, tmp_path):
    out = tmp_path / "verify.json"
    out.write_text("keep me")
    result = cli("verify", *TINY, "--output", str(out))
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert out.read_text() == "keep me"  # refused before anything ran


@pytest.mark.parametrize("option", ["--output", "--plot"])
def test_a_missing_output_folder_is_refused_before_anything_runs(
    cli, tmp_path, monkeypatch, option
):
    from gpudoctor.verify import harness

    def must_not_run(*args, **kwargs):
        raise AssertionError("verify ran")

    monkeypatch.setattr(harness, "run_verify", must_not_run)
    result = cli("verify", *TINY, option, str(tmp_path / "no-such-dir" / "verify.png"))
    assert result.exit_code == 2, result
    assert "no-such-dir: no such directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result


def test_plot_without_matplotlib_is_one_line_exit_2(cli, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    result = cli("verify", *TINY, "--plot", str(tmp_path / "chart.png"))
    assert result.exit_code == 2, result
    assert "matplotlib" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "chart.png").exists()


@pytest.mark.parametrize("name", ["chart.txt", "chart.pdf", "chart"])
def test_plot_needs_a_png_name_before_anything_runs(cli, tmp_path, monkeypatch, name):
    from gpudoctor.verify import harness

    def must_not_run(*args, **kwargs):
        raise AssertionError("verify ran")

    monkeypatch.setattr(harness, "run_verify", must_not_run)
    result = cli("verify", *TINY, "--plot", str(tmp_path / name))
    assert result.exit_code == 2, result
    assert ".png" in result.stderr and name in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_leaves_no_output_file(cli, tmp_path, monkeypatch):
    from gpudoctor.verify import harness

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "run_verify", interrupted)
    out = tmp_path / "verify.json"
    result = cli("verify", *TINY, "--format", "json", "--output", str(out))
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def cpu_only(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    result = Cli()(
        "verify",
        *TINY,
        "--device",
        "cpu",
        "--format",
        "json",
        "--output",
        str(folder / "verify.json"),
        "--plot",
        str(folder / "chart.png"),
    )
    return result, folder


@pytest.mark.torch
def test_device_cpu_verifies_the_cpu_alone_and_passes(cpu_only):
    result, folder = cpu_only
    assert result.exit_code == 0, result
    doc = json.loads((folder / "verify.json").read_text())
    assert doc["verdict"] in ("pass", "warn")
    assert doc["settings"]["device"] == "cpu"
    (run,) = doc["runs"]
    assert (run["model"], run["framework"], run["device"]) == ("lenet5", "torch", "cpu")
    assert run["batch_size"] == 32 and run["images_per_second"] > 0
    assert "verify: torch lenet5 cpu" in result.stderr  # plain progress lines off a terminal


@pytest.mark.torch
def test_the_plot_is_written_next_to_the_output(cpu_only):
    _, folder = cpu_only
    png = (folder / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


@pytest.mark.torch
@pytest.mark.skipif(have_gpu(), reason="this machine has a GPU")
def test_device_all_without_a_gpu_does_the_cpu_part_and_exits_1(cli):
    result = cli("verify", *TINY, "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "fail"
    cpu = [r for r in doc["runs"] if r["device"] == "cpu"]
    assert cpu and cpu[0]["status"] == "ok" and cpu[0]["images_per_second"] > 0
    (why,) = [r for r in doc["reasons"] if r["code"] in ("no_gpu", "cpu_only_build")]
    assert "no GPU could be verified" in why["message"]
    assert "gpudoctor check" in why["message"]


@pytest.mark.torch
@pytest.mark.skipif(have_gpu(), reason="this machine has a GPU")
def test_text_output_says_why_no_gpu_was_verified(cli):
    result = cli("verify", *TINY, "--device", "cuda")
    assert result.exit_code == 1, result
    assert "no GPU could be verified with torch" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: FAIL")
