"""`gpudoctor verify` end to end: bad input, the no-GPU exit, never a half-written output."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import Cli, have_gpu

VERIFY_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "verify-schema.json").read_text()
)

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
        (("--layout", "nhwc"), "nhwc"),
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


@pytest.mark.usefixtures("must_not_run")
def test_a_chart_is_never_overwritten_without_force(cli, tmp_path, monkeypatch):
    # the README: no file is replaced without --force; --plot's PNG is one of them
    from gpudoctor.verify import plot

    monkeypatch.setattr(plot, "require_matplotlib", lambda: None)
    chart = tmp_path / "verify.png"
    chart.write_text("keep me")
    result = cli("verify", *TINY, "--plot", str(chart))
    assert result.exit_code == 2, result
    assert _one_line(result.stderr).endswith("exists; use --force to overwrite it")
    assert chart.read_text() == "keep me"


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


@pytest.fixture
def must_not_run(monkeypatch):
    from gpudoctor.verify import harness

    def refuse(*args, **kwargs):
        raise AssertionError("verify ran")

    monkeypatch.setattr(harness, "run_verify", refuse)


@pytest.fixture
def broken_matplotlib(tmp_path, monkeypatch):
    """An installed matplotlib that fails on import, as with a numpy ABI mismatch."""
    import sys

    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise ImportError("numpy.core.multiarray failed to import\\nsecond line")\n'
    )
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(fake.parent))


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    return line


@pytest.mark.usefixtures("broken_matplotlib", "must_not_run")
def test_plot_with_a_broken_matplotlib_is_refused_before_anything_runs(cli, tmp_path):
    result = cli("verify", *TINY, "--plot", str(tmp_path / "chart.png"))
    assert result.exit_code == 2, result
    line = _one_line(result.stderr)
    assert "working matplotlib" in line and "ImportError: numpy.core.multiarray" in line
    assert not (tmp_path / "chart.png").exists()


@pytest.mark.parametrize(("broken", "exit_code"), [(False, 0), (True, 1)])
def test_a_plot_failing_after_the_run_keeps_the_results_and_the_verdict(
    cli, tmp_path, monkeypatch, broken_matplotlib, broken, exit_code
):
    from dataclasses import replace

    from gpudoctor.verify import harness, plot
    from tests.verify import factories as f

    measured = f.healthy(("lenet5",))
    if broken:  # a verdict of fail must still exit 1, not 3
        measured = replace(measured, frameworks=(f.env(cudnn_enabled=False),))
    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: measured)
    monkeypatch.setattr(plot, "require_matplotlib", lambda: None)  # the pre-check was fooled
    out, chart = tmp_path / "verify.json", tmp_path / "chart.png"
    result = cli("verify", *TINY, "--format", "json", "-o", str(out), "--plot", str(chart))
    assert result.exit_code == exit_code, result
    assert json.loads(out.read_text())["verdict"] == ("fail" if broken else "pass")
    assert not chart.exists()
    warning = [ln for ln in result.stderr.splitlines() if "chart.png" in ln]
    assert warning == [
        f"gpudoctor: warning: --plot: {chart} not written "
        "(ImportError: numpy.core.multiarray failed to import)"
    ]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_plot_failing_after_the_run_still_prints_the_results(cli, tmp_path, monkeypatch):
    from gpudoctor.verify import harness, plot
    from tests.verify import factories as f

    def broken(*args, **kwargs):
        raise RuntimeError("Agg backend exploded")

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: f.healthy(("lenet5",)))
    monkeypatch.setattr(plot, "require_matplotlib", lambda: None)
    monkeypatch.setattr(plot, "render_png", broken)
    result = cli("verify", *TINY, "--plot", str(tmp_path / "chart.png"))
    assert result.exit_code == 0, result
    assert result.stdout.rstrip().endswith("verdict: PASS")
    assert "RuntimeError: Agg backend exploded" in _one_line(result.stderr)


@pytest.mark.usefixtures("must_not_run")
@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("spelling", ["same", "dotted", "absolute", "symlink"])
def test_output_and_plot_naming_one_file_are_refused_before_anything_runs(
    cli, tmp_path, monkeypatch, spelling, force
):
    monkeypatch.chdir(tmp_path)
    plot_name = {
        "same": "dup.png",
        "dotted": "./sub/../dup.png",
        "absolute": str(tmp_path / "dup.png"),
        "symlink": "link.png",
    }[spelling]
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        (tmp_path / "link.png").symlink_to(tmp_path / "dup.png")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = ("--force",) if force else ()
    result = cli("verify", *TINY, "-o", "dup.png", "--plot", plot_name, *args)
    assert result.exit_code == 2, result
    assert "--output and --plot both name" in _one_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.usefixtures("must_not_run")
def test_force_without_a_file_to_replace_is_refused_before_anything_runs(cli):
    # verify writes no file of the user's but --output and --plot (the history is its own):
    # 'verify --force' ran every model and did nothing with the flag
    result = cli("verify", *TINY, "--force")
    assert result.exit_code == 2, result
    line = _one_line(result.stderr)
    assert "--force goes with --output FILE or --plot FILE (it lets FILE be replaced)" in line


@pytest.mark.usefixtures("must_not_run")
def test_output_and_plot_as_hard_links_of_one_file_are_refused(cli, tmp_path):
    (tmp_path / "a.png").write_bytes(b"keep")
    (tmp_path / "b.png").hardlink_to(tmp_path / "a.png")
    a, b = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    result = cli("verify", *TINY, "-o", a, "--plot", b, "--force")
    assert result.exit_code == 2, result
    assert "--output and --plot both name" in _one_line(result.stderr)
    assert (tmp_path / "a.png").read_bytes() == b"keep"


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
    # auto: channels-last on the CPU, where torch runs it faster
    assert (doc["settings"]["layout"], run["layout"]) == ("auto", "channels_last")
    assert "verify: torch lenet5 cpu" in result.stderr  # plain progress lines off a terminal
    # UTC as every other document writes it (and jq's fromdateiso8601 reads): it said +00:00
    datetime.strptime(doc["started_at"], "%Y-%m-%dT%H:%M:%SZ")
    jsonschema.validate(doc, VERIFY_SCHEMA)


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
    assert "`gpudoctor verify --device cpu` verifies the CPU alone" in why["message"]


@pytest.mark.torch
@pytest.mark.skipif(have_gpu(), reason="this machine has a GPU")
def test_quick_without_a_device_on_a_machine_without_a_gpu_verifies_the_cpu_and_passes(cli):
    result = cli("verify", "--quick", *TINY)
    assert result.exit_code == 0, result
    assert "no GPU found" in result.stdout and "on the CPU only" in result.stdout
    assert "no GPU could be verified" not in result.stdout
    # asking for the GPUs by name is asking for them: that still fails without one
    asked = cli("verify", "--quick", *TINY, "--device", "all", "--format", "json")
    assert asked.exit_code == 1, asked
    doc = json.loads(asked.stdout)
    assert doc["settings"]["gpu_required"] is True
    # TINY gives --time-budget 1: that holds for the CPU too
    assert doc["settings"]["cpu_time_budget_s"] is None
    assert {r["code"] for r in doc["reasons"]} & {"no_gpu", "cpu_only_build"}


@pytest.mark.torch
@pytest.mark.skipif(have_gpu(), reason="this machine has a GPU")
def test_text_output_says_why_no_gpu_was_verified(cli):
    result = cli("verify", *TINY, "--device", "cuda")
    assert result.exit_code == 1, result
    assert "no GPU could be verified with torch" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: FAIL")


@pytest.mark.parametrize(("name", "marker"), [("r.json", '"schema_version"'), ("r.md", "| model")])
def test_the_output_suffix_picks_the_format(cli, tmp_path, monkeypatch, name, marker):
    from gpudoctor.verify import harness
    from tests.verify import factories as f

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: f.healthy(("lenet5",)))
    out = tmp_path / name
    result = cli("verify", *TINY, "--output", str(out))
    assert result.exit_code == 0, result
    assert marker in out.read_text(encoding="utf-8")


def test_output_dash_is_standard_output(cli, tmp_path, monkeypatch):
    from gpudoctor.verify import harness
    from tests.verify import factories as f

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: f.healthy(("lenet5",)))
    monkeypatch.chdir(tmp_path)
    result = cli("verify", *TINY, "--format", "json", "--output", "-")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["verdict"] == "pass"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("must_not_run")
def test_an_output_link_loop_is_bad_input_before_anything_runs(cli, tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    result = cli("verify", *TINY, "-o", str(loop), "--plot", str(tmp_path / "c.png"))
    assert result.exit_code == 2, result
    assert "cannot follow the link" in _one_line(result.stderr)


@pytest.mark.torch
def test_the_layout_option_reaches_the_runs_and_the_text(cli):
    result = cli("verify", *TINY, "--device", "cpu", "--layout", "nchw")
    assert result.exit_code == 0, result
    assert "layout: torch cpu nchw" in result.stdout


def test_a_model_or_measurement_named_twice_runs_once(cli, monkeypatch):
    """A repeat, under the same or another spelling, is dropped (the first place kept), as
    a hostlist drops a repeated node: the user asked for the model, not for two runs of it."""
    from gpudoctor.verify import harness
    from gpudoctor.verify.hardware import parse_items

    seen = {}

    def record(settings, progress, **kwargs):
        seen["models"] = settings.models
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "run_verify", record)
    cli("verify", "--models", "lenet5,resnet50,lenet5,ResNet-50,LeNet_5")
    assert seen["models"] == ("lenet5", "resnet50")
    assert parse_items("memory,h2d,Memory, memory") == ("memory", "h2d")


@pytest.mark.parametrize(
    ("args", "required"),
    [((), True), (("--quick",), False), (("--device", "cpu"), False), (("--device", "all"), True)],
)
def test_gpu_required_says_whether_the_run_asks_for_a_gpu(cli, monkeypatch, args, required):
    # `--device cpu` asks for no GPU: its JSON said "gpu_required": true
    from gpudoctor.verify import harness

    seen = {}

    def record(settings, progress, **kwargs):
        seen["settings"] = settings
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "run_verify", record)
    cli("verify", *TINY, *args)
    assert seen["settings"].gpu_required is required


def test_an_absurd_batch_size_is_bad_input(cli):
    result = cli("verify", "--batch-size", str(10**20), "--device", "cpu")
    assert result.exit_code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1


def test_quick_gives_the_cpu_a_shorter_budget(cli, monkeypatch):
    from gpudoctor.verify import harness, plan

    seen = {}

    def record(settings, progress, **kwargs):
        seen["settings"] = settings
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "run_verify", record)
    cli("verify", "--quick", "--models", "lenet5")
    s = seen["settings"]
    assert (s.time_budget_s, s.cpu_budget_s) == (4.0, plan.QUICK_CPU_BUDGET_S) == (4.0, 1.5)
    cli("verify", "--quick", "--models", "lenet5", "--time-budget", "3")
    assert (seen["settings"].time_budget_s, seen["settings"].cpu_budget_s) == (3.0, 3.0)


def test_models_takes_the_usual_spellings_and_refuses_others_in_one_line(cli, monkeypatch):
    from gpudoctor.verify import harness

    seen = {}

    def record(settings, progress, **kwargs):
        seen["models"] = settings.models
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "run_verify", record)
    # resnet-50 was refused while inception-v3 was accepted
    cli("verify", "--models", "resnet-50,ResNet152,inception-v3,inception-v1,vgg-16,lenet-5")
    assert seen["models"] == (
        "resnet50",
        "resnet152",
        "inception_v3",
        "googlenet",
        "vgg16",
        "lenet5",
    )
    result = cli("verify", "--models", "resnet-18")
    assert result.exit_code == 2, result
    [line] = result.stderr.strip().splitlines()
    assert "'resnet-18'" in line
    assert "lenet5, alexnet, vgg16, googlenet, inception_v3, resnet50, resnet152" in line
