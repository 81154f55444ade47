"""`gpudoctor check --from-report`: exit statuses, formats, redaction, output, colour, --debug."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gpudoctor.model.serialize import report_to_json
from tests.conftest import DATA, Cli
from tests.rules.builders import healthy, no_gpu_machine, with_env, with_framework

REPORTS = DATA / "reports"
MIG = REPORTS / "linux-x86_64__nvidia-h100-mig__590.48.01__idle.json"
CPU_TORCH = REPORTS / "failure__torch_cpu_only_on_gpu.json"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
)


def saved(tmp_path: Path, report, name: str = "report.json") -> str:
    path = tmp_path / name
    path.write_text(report_to_json(report), encoding="utf-8")
    return str(path)


def one_line_error(result) -> None:
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert result.stderr.startswith("gpudoctor: error: ")


def test_a_healthy_report_exits_0(cli: Cli, tmp_path):
    result = cli("check", "--from-report", saved(tmp_path, healthy()))
    assert result.exit_code == 0, result
    assert "0 errors, 0 warnings" in result.stdout


def test_an_error_finding_exits_1(cli: Cli):
    result = cli("check", "--from-report", str(CPU_TORCH))
    assert result.exit_code == 1, result
    assert "GD-TORCH-004" in result.stdout


@pytest.mark.parametrize(
    ("machine", "strict_exit"),
    [("rocm", 0), ("xpu", 0), ("mac_mps", 0), ("mac_no_mps", 1), ("cpu_laptop", 1)],
)
def test_machines_that_are_no_nvidia_servers_exit_as_docs_check_md_says(
    cli: Cli, tmp_path, machine, strict_exit
):
    # a ROCm or XPU build using its GPU read as a CPU-only machine (a warning: --strict failed)
    from tests.rules import builders as b

    report = {
        "rocm": b.rocm_machine,
        "xpu": b.xpu_machine,
        "mac_mps": b.mac,
        "mac_no_mps": lambda: b.mac(mps_devices=0),
        "cpu_laptop": b.no_gpu_machine,
    }[machine]()
    path = saved(tmp_path, report)
    result = cli("check", "--from-report", path)
    assert result.exit_code == 0, result  # nothing broken: no error finding
    assert cli("check", "--from-report", path, "--strict").exit_code == strict_exit


def test_a_warning_exits_1_only_with_strict(cli: Cli, tmp_path):
    path = saved(tmp_path, with_env(healthy(), CUDA_LAUNCH_BLOCKING="1"))
    assert cli("check", "--from-report", path).exit_code == 0
    result = cli("check", "--from-report", path, "--strict")
    assert result.exit_code == 1, result
    assert "GD-HOST-004" in result.stdout


def test_a_missing_file_is_bad_input(cli: Cli, tmp_path):
    result = cli("check", "--from-report", str(tmp_path / "nope.json"))
    one_line_error(result)
    assert "nope.json: no such file" in result.stderr


def test_a_corrupt_file_is_bad_input(cli: Cli, tmp_path):
    path = tmp_path / "corrupt.json"
    path.write_text('{"schema_version": 1, "host": ', encoding="utf-8")
    result = cli("check", "--from-report", str(path))
    one_line_error(result)
    assert "not valid JSON" in result.stderr


def test_a_report_from_a_newer_gpudoctor_is_bad_input(cli: Cli, tmp_path):
    doc = json.loads(report_to_json(healthy()))
    path = tmp_path / "future.json"
    path.write_text(json.dumps({**doc, "schema_version": 99}), encoding="utf-8")
    result = cli("check", "--from-report", str(path))
    one_line_error(result)
    assert "schema version 99" in result.stderr and "update this one" in result.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            (
                "diff",
                str(REPORTS / "failure__no_driver.json"),
                str(REPORTS / "failure__one_gpu_lost.json"),
            ),
            "the output of gpudoctor diff",
        ),
        (
            ("fleet", "report", str(REPORTS / "failure__one_gpu_lost.json")),
            "a gpudoctor fleet report",
        ),
        (
            (
                "check",
                "--health-check",
                "--from-report",
                str(REPORTS / "failure__one_gpu_lost.json"),
            ),
            "the health gate's result (check --health-check)",
        ),
        (("history", "--history-dir", "{tmp}"), "the output of gpudoctor history"),
        (("models",), "the output of gpudoctor models"),
    ],
    ids=["diff", "fleet", "health", "history", "models"],
)
def test_another_gpudoctor_document_is_named_as_such(cli: Cli, tmp_path, args, named):
    # a diff or a fleet report (schema_version 2) read 'report uses schema version 2, this
    # gpudoctor reads up to 1: ... update this one', and a health result "missing field 'host'"
    made = cli(*(a.format(tmp=tmp_path) for a in args), "--format", "json")
    path = tmp_path / "other.json"
    path.write_text(made.stdout, encoding="utf-8")
    for command in (("check", "--from-report"), ("diff", str(REPORTS / "failure__no_driver.json"))):
        result = cli(*command, str(path))
        one_line_error(result)
        assert f"is {named}, not a check report" in result.stderr, result.stderr
        assert "update this one" not in result.stderr


def test_from_report_and_python_cannot_be_combined(cli: Cli, tmp_path):
    path = saved(tmp_path, healthy())
    one_line_error(cli("check", "--from-report", path, "--python", path))


def test_json_output_parses_and_validates_against_the_schema(cli: Cli):
    result = cli("check", "--from-report", str(CPU_TORCH), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["verdict"] == "error" and doc["areas"]["torch"] == "error"
    assert doc["redacted"] is True


def test_json_is_redacted_by_default_findings_included(cli: Cli):
    raw = MIG.read_text(encoding="utf-8")
    uuid = json.loads(raw)["nvml"]["gpus"][0]["mig_devices"][0]["uuid"]
    result = cli("check", "--from-report", str(MIG), "--format", "json")
    assert uuid.startswith("MIG-") and uuid not in result.stdout
    assert "MIG-<redacted>-0" in result.stdout
    kept = cli("check", "--from-report", str(MIG), "--format", "json", "--no-redact")
    assert uuid in kept.stdout
    assert json.loads(kept.stdout)["redacted"] is False


def test_output_writes_a_redacted_file_and_refuses_to_overwrite(cli: Cli, tmp_path):
    report = with_env(healthy(), LD_LIBRARY_PATH="/home/ada/cuda/lib64")
    src = saved(tmp_path, report)
    out = tmp_path / "shared.md"
    result = cli("check", "--from-report", src, "--format", "markdown", "--output", str(out))
    assert result.exit_code == 0, result
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert "GPU-8f3e2a4b" not in text and "node-17" not in text and "/home/ada" not in text
    assert "## gpudoctor check" in text
    again = cli("check", "--from-report", src, "--output", str(out))
    one_line_error(again)
    assert "--force" in again.stderr
    assert out.read_text(encoding="utf-8") == text
    forced = cli("check", "--from-report", src, "--output", str(out), "--force", "--format", "text")
    assert forced.exit_code == 0, forced
    assert "[✓] Host" in out.read_text(encoding="utf-8")


def test_text_to_a_pipe_or_with_no_color_has_no_escape_codes(cli: Cli, tmp_path):
    path = saved(tmp_path, with_framework(healthy(), "torch", cuda_build=False))
    for env in ({}, {"NO_COLOR": "1"}):
        result = cli("check", "--from-report", path, env=env)
        assert result.exit_code == 1, result
        assert "\x1b[" not in result.stdout
        assert "[✗] PyTorch" in result.stdout


def test_text_on_the_terminal_is_not_redacted(cli: Cli, tmp_path):
    result = cli("check", "--from-report", saved(tmp_path, healthy()), "--verbose")
    assert "node-17" in result.stdout and "GPU-8f3e2a4b" in result.stdout


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(
    cli: Cli, tmp_path, monkeypatch
):
    def broken(report, kb):
        raise RuntimeError("rule exploded")

    monkeypatch.setattr("gpudoctor.rules.diagnose", broken)
    path = saved(tmp_path, healthy())
    quiet = cli("check", "--from-report", path)
    assert quiet.exit_code == 3, quiet
    assert "Traceback" not in quiet.stderr
    assert "internal error: RuntimeError: rule exploded" in quiet.stderr
    loud = cli("check", "--from-report", path, "--debug")
    assert loud.exit_code == 3, loud
    assert "Traceback" in loud.stderr and "rule exploded" in loud.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_every_recorded_report_replays_in_every_format(cli: Cli, fmt):
    for path in sorted(REPORTS.glob("*.json")):
        result = cli("check", "--from-report", str(path), "--format", fmt)
        assert result.exit_code in (0, 1), (path.name, result)
        assert result.stdout and "Traceback" not in result.stderr


def test_a_machine_without_a_gpu_exits_0_and_says_so(cli: Cli, tmp_path):
    path = saved(tmp_path, no_gpu_machine(container="docker"))
    result = cli("check", "--from-report", path)
    assert result.exit_code == 0, result
    assert "No NVIDIA GPU: deep learning here runs on the CPU only" in result.stdout
    assert "without GPU access" not in result.stdout
    assert "0 errors, 1 warning" in result.stdout
    assert cli("check", "--from-report", path, "--strict").exit_code == 1


def test_python_that_is_not_an_interpreter_is_bad_input(cli, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("just text\n")
    fake.chmod(0o755)
    result = cli("check", "--no-frameworks", "--python", str(fake))
    assert result.exit_code == 2, result
    assert "not a Python interpreter" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_in_the_current_folder_is_run_from_there(cli, tmp_path, monkeypatch):
    # "./python" reaches click as "python"; run as given it would be looked up on PATH.
    (tmp_path / "python").write_text("#!/bin/sh\necho not-python\n")
    (tmp_path / "python").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--no-frameworks", "--python", "./python")
    one_line_error(result)
    assert "it printed 'not-python'" in result.stderr


def test_a_missing_output_folder_is_refused_before_probing(cli, tmp_path, monkeypatch):
    from gpudoctor.probe import collect

    def never(*args, **kwargs):
        raise AssertionError("probes ran although --output cannot be written")

    monkeypatch.setattr(collect, "start_collect", never)
    result = cli("check", "--no-frameworks", "-o", str(tmp_path / "absent" / "r.json"))
    assert result.exit_code == 2, result
    assert "no such directory" in result.stderr


@pytest.mark.parametrize(("fmt", "renderer"), [("text", "rich.console"), ("json", "json_")])
def test_the_knowledge_base_and_the_renderer_load_while_the_probes_run(
    cli: Cli, tmp_path, monkeypatch, fmt, renderer
):
    """The parent only waits for its probe children; what it needs after them loads then."""
    import sys
    from concurrent.futures import Future

    from gpudoctor import kb
    from gpudoctor.probe import collect

    module = renderer if "." in renderer else f"gpudoctor.render.{renderer}"
    kb.load.cache_clear()
    monkeypatch.delitem(sys.modules, module, raising=False)
    seen: dict[str, bool] = {}

    def probes(*args, **kwargs):
        done: Future = Future()
        done.set_result(healthy())
        return done

    def answer(pending):
        if pending.result() is not None and not seen:  # the probes' answer, not sinfo's
            seen["kb"] = kb.load.cache_info().currsize == 1
            seen["renderer"] = module in sys.modules
        return pending.result()

    monkeypatch.setattr(collect, "start_collect", probes)
    monkeypatch.setattr(collect, "result_of", answer)
    out = tmp_path / "r.out"
    result = cli("check", "--no-frameworks", "--no-history", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result
    assert seen == {"kb": True, "renderer": True}


def test_the_gate_asks_slurm_about_its_node_while_its_probes_run(cli: Cli, monkeypatch):
    """--drain's sinfo (up to 5 s where the controller does not answer) runs beside the
    probes; it ran after them, adding their time to its own."""
    import threading
    from concurrent.futures import Future

    from gpudoctor.cli import check
    from gpudoctor.probe import collect

    asked = threading.Event()
    seen: dict[str, object] = {}

    def ask(name):  # answers None: SLURM does not list the node
        seen["node"] = name
        asked.set()

    def probes(*args, **kwargs):
        done: Future = Future()
        done.set_result(healthy())
        return done

    def answer(pending):
        seen["asked while probing"] = asked.wait(2.0)
        return pending.result()

    monkeypatch.setattr(check, "_ask_slurm", ask)
    monkeypatch.setattr(collect, "start_collect", probes)
    monkeypatch.setattr(collect, "result_of", answer)
    result = cli("check", "--health-check", "--drain", "--node", "n1", "--format", "json")
    assert result.exit_code == 0, result
    assert seen == {"node": "n1", "asked while probing": True}
    assert json.loads(result.stdout)["node"] == "n1"


@pytest.mark.parametrize(
    ("name", "marker"), [("r.json", '"schema_version"'), ("r.md", "## gpudoctor check")]
)
def test_the_output_suffix_picks_the_format_when_none_is_given(cli: Cli, tmp_path, name, marker):
    out = tmp_path / name
    result = cli("check", "--from-report", str(MIG), "--output", str(out))
    assert result.exit_code == 0, result
    assert marker in out.read_text(encoding="utf-8")


def test_an_explicit_format_wins_over_the_suffix(cli: Cli, tmp_path):
    out = tmp_path / "r.json"
    result = cli("check", "--from-report", str(MIG), "--format", "text", "--output", str(out))
    assert result.exit_code == 0, result
    assert out.read_text(encoding="utf-8").startswith("gpudoctor check")


def test_output_dash_is_standard_output(cli: Cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--from-report", str(MIG), "--format", "json", "--output", "-")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["schema_version"] >= 1
    assert "wrote" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_force_without_an_output_file_is_one_line_of_bad_input(cli: Cli, tmp_path):
    # check writes no file of the user's but --output (the history is its own): 'check
    # --force' took the flag and did nothing with it (the gate notes it: tests/cli/test_fleet)
    result = cli("check", "--from-report", str(MIG), "--force")
    one_line_error(result)
    assert "--force goes with --output FILE (it lets FILE be replaced)" in result.stderr
    assert cli("check", "--from-report", str(MIG), "-o", "-", "--force").exit_code == 0
    out = tmp_path / "r.json"
    assert cli("check", "--from-report", str(MIG), "-o", str(out), "--force").exit_code == 0


def test_from_report_and_no_frameworks_cannot_be_combined(cli: Cli):
    one_line_error(cli("check", "--from-report", str(MIG), "--no-frameworks"))


def test_from_report_and_timeout_cannot_be_combined(cli: Cli):
    # nothing is probed in a replay: --timeout was dropped without a word, as --no-frameworks,
    # --python and --since are not
    result = cli("check", "--from-report", str(MIG), "--timeout", "5")
    one_line_error(result)
    assert "--from-report and --timeout cannot be combined" in result.stderr


def test_from_report_dash_reads_standard_input(cli: Cli):
    result = cli("check", "--from-report", "-", input=MIG.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result
    assert "[✓] NVML" in result.stdout
    bad = cli("check", "--from-report", "-", input="not json")
    one_line_error(bad)
    assert "standard input: not valid JSON" in bad.stderr


def test_dot_slash_dash_names_a_file_called_dash(cli: Cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--from-report", str(MIG), "--format", "json", "--output", "./-")
    assert result.exit_code == 0, result
    assert result.stdout == ""
    assert json.loads((tmp_path / "-").read_text(encoding="utf-8"))["schema_version"] >= 1


def test_from_report_dash_on_a_terminal_is_refused(monkeypatch):
    import io

    from gpudoctor.cli import check
    from gpudoctor.errors import BadInputError

    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(check.sys, "stdin", Terminal())
    with pytest.raises(BadInputError, match="standard input, which is a terminal"):
        check._replayed_report(Path("-"))


def _fake_sinfo(folder: Path, body: str) -> dict[str, str | None]:
    sinfo = folder / "sinfo"
    sinfo.write_text(f"#!/bin/sh\n{body}\n")
    sinfo.chmod(0o755)
    import os

    return {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}", "SLURM_JOB_ID": None}


def test_check_attaches_the_cluster_sinfo_describes(cli, tmp_path):
    env = _fake_sinfo(tmp_path, "echo 'gpu*|up|4|gpu:h100:8|(null)|g[1-4]'")
    result = cli("check", "--no-frameworks", "--format", "json", "--no-redact", env=env)
    doc = json.loads(result.stdout)
    assert doc["site"]["slurm"]["reachable"] is True
    assert doc["site"]["slurm"]["partitions"][0]["gres"] == ["gpu:h100:8"]
    assert doc["site"]["slurm_commands"] is True


def test_check_inside_a_job_does_not_ask_the_controller(cli, tmp_path):
    env = {**_fake_sinfo(tmp_path, "exit 7"), "SLURM_JOB_ID": "9"}
    doc = json.loads(cli("check", "--no-frameworks", "--format", "json", env=env).stdout)
    assert doc["site"]["slurm"] is None
    assert doc["site"]["slurm_job"]["job_id"] == "9"


def test_check_partition_shows_a_node_name_and_srun_s_words_inert(cli: Cli, tmp_path, monkeypatch):
    # sinfo's node name and srun's complaint reached the terminal as they were: an OSC
    # sequence in a node's name set the terminal's title ("running on node n1<ESC>]0;...")
    from tests.fleet.fake_slurm import FakeSlurm

    hostile = "n1\x1b]0;pwned\x07"
    nodes = {hostile: {"state": "mixed", "srun": "busy"}, "n2": {"state": "mixed", "srun": "busy"}}
    for key, value in FakeSlurm(tmp_path, nodes).env().items():
        monkeypatch.setenv(key, value)
    done = cli("check", "--partition", "gpu", "--immediate", "1")
    assert "running on node n1\\x1b]0;pwned\\x07 (partition gpu" in done.stderr
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr


def test_a_mac_without_a_framework_is_pointed_at_pip_not_make_env(cli: Cli, tmp_path):
    # it read "`gpudoctor make-env` plans one", and make-env plans nothing for a Mac
    from dataclasses import replace

    from gpudoctor.model.report import FrameworkInfo
    from tests.rules.builders import mac

    bare = replace(mac(), frameworks=(FrameworkInfo(name="torch", status="not_installed"),))
    result = cli("check", "--from-report", saved(tmp_path, bare))
    assert result.exit_code == 0, result
    out = " ".join(result.stdout.split())
    assert "No framework is installed: `python3 -m pip install torch`" in out
    assert "make-env" not in out
