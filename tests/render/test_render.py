"""The renderers: every format has one, text honours colour, Markdown escapes, JSON round-trips."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import click
import pytest

from gpudoctor import kb
from gpudoctor.cli.check import command as check_command
from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.report import FrameworkDevice
from gpudoctor.model.serialize import report_from_json
from gpudoctor.render import FORMATS, RENDERERS, render_report
from gpudoctor.render.markdown import escape, fix_step, prose
from gpudoctor.rules import diagnose
from tests.render.scenarios import many_problems
from tests.rules.builders import (
    healthy,
    no_gpu_machine,
    with_framework,
    with_gpu,
    with_host,
)


def render(fmt, report, *, verbose=False, color=False):
    return render_report(fmt, report, diagnose(report, kb.load()), verbose=verbose, color=color)


def test_every_format_the_cli_offers_has_a_renderer():
    (option,) = [p for p in check_command.params if p.name == "fmt"]
    assert isinstance(option.type, click.Choice)
    assert set(option.type.choices) == set(FORMATS) == set(RENDERERS)


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        render("yaml", healthy())


def test_text_has_one_line_per_area_and_a_summary():
    text = render("text", many_problems())
    lines = text.splitlines()
    for label in ("Host", "Kernel driver", "NVML", "GPUs", "CUDA", "PyTorch", "TensorFlow"):
        assert any(line[4:].startswith(label) for line in lines if line.startswith("[")), label
    assert "[✗] PyTorch" in text and "[!] GPUs" in text and "[✓] NVML" in text
    assert "1 error, 5 warnings, 1 info" in text


def test_a_clean_gpu_without_frameworks_is_not_sent_to_verify_alone():
    # It said "`gpudoctor verify` proves it", and verify fails with neither framework there.
    bare = healthy()
    for name in ("torch", "tensorflow"):
        bare = with_framework(bare, name, status="not_installed", version=None, devices=())
    lines = render("text", bare).splitlines()
    assert lines[-3].endswith(": nothing blocks the GPU here.")
    assert lines[-2] == (
        "No framework is installed: `gpudoctor make-env` plans one, then `gpudoctor verify` "
        "proves it."
    )
    assert (
        render("text", healthy())
        .splitlines()[-2]
        .endswith(": nothing blocks the GPU here; `gpudoctor verify` proves it.")
    )


def test_text_shows_evidence_fix_and_link_for_problems_and_one_line_for_information():
    text = render("text", many_problems())
    assert "· the local version label +cpu marks a CPU wheel" in text
    assert "fix:  $ gpudoctor make-env" in text
    assert "docs: gpudoctor explain GD-TORCH-004" in text
    assert "i Persistence mode is off  [GD-GPU-011]" in text
    assert "persistence mode off on GPU 0" not in text
    assert "persistence mode off on GPU 0" in render("text", many_problems(), verbose=True)


def test_text_prints_user_strings_literally():
    text = render("text", many_problems())
    assert "'[bold]'" in text and "<python>" in text


def test_text_without_colour_has_no_escape_codes_and_with_colour_has_them():
    assert "\x1b[" not in render("text", many_problems(), color=False)
    assert "\x1b[" in render("text", many_problems(), color=True)


def test_verbose_text_shows_every_fact():
    text = render("text", healthy(), verbose=True)
    for fact in (
        "GPU-8f3e2a4b-1c2d-4e5f-9a8b-7c6d5e4f3a2b",
        "compute capability",
        "Probes",
        "nvidia-cudnn-cu12",
    ):
        assert fact in text
    assert "compute capability" not in render("text", healthy())


def test_text_lines_fit_the_fixed_width():
    assert (
        max(len(line) for line in render("text", many_problems(), verbose=True).splitlines()) <= 100
    )


LONG = (
    "gpudoctor make-env --driver 535.230.02 --cc 8.9 --os linux --framework torch "
    "--python 3.12 --name a-rather-long-environment-name"
)


def lines_of(finding, report=None):
    report = report or healthy()
    text = render_report("text", report, Diagnosis(findings=(finding,)), verbose=False, color=False)
    return text.splitlines()


def test_commands_in_fixes_are_never_broken_across_lines():
    finding = Finding(
        id="GD-TORCH-005",
        severity=Severity.ERROR,
        area="torch",
        title="t",
        fix=(
            f"$ {LONG}",
            f"or install a build for an older CUDA: $ {LONG}",
            "prose that wraps wherever it likes, but the command `nvidia-smi --query-gpu=name,"
            "uuid --format=csv` in it stays whole on one line of the terminal output",
        ),
    )
    lines = lines_of(finding)
    assert sum(line.strip().removeprefix("fix:").strip() == f"$ {LONG}" for line in lines) == 2
    assert any(line.strip() == "or install a build for an older CUDA:" for line in lines)
    assert any("`nvidia-smi --query-gpu=name,uuid --format=csv`" in line for line in lines)
    prose = [line for line in lines if line.startswith(" " * 12) and "$" not in line]
    assert all(len(line) <= 100 for line in prose)


def test_a_command_that_fits_stays_on_the_line_of_its_prose():
    finding = Finding(
        id="GD-DRV-001",
        severity=Severity.WARNING,
        area="driver",
        title="t",
        fix=("If it should have one: $ lspci -nn | grep -i nvidia   # on the host",),
    )
    assert (
        "      fix:  If it should have one: $ lspci -nn | grep -i nvidia   # on the host"
        in lines_of(finding)
    )


def test_a_long_title_goes_on_under_its_first_word_not_under_the_mark():
    title = "A title long enough to wrap " + "word " * 16 + "and the end"
    for severity in (Severity.ERROR, Severity.INFO):
        finding = Finding(id="GD-TORCH-003", severity=severity, area="torch", title=title)
        lines = lines_of(finding)
        first = next(i for i, line in enumerate(lines) if "A title long enough" in line)
        assert lines[first].startswith(f"    {'✗' if severity == Severity.ERROR else 'i'} A title")
        second = lines[first + 1]
        assert second.startswith("      word word") and second.endswith("the end  [GD-TORCH-003]")


def test_an_area_line_breaks_between_its_parts():
    report = with_host(
        healthy(),
        os_release="Debian GNU/Linux 12 (bookworm)",
        container="docker",
        python=replace(healthy().host.python, env_kind="venv", env_name="venv"),
    )
    first, second = render("text", report).splitlines()[2:4]
    assert first == "[✓] Host          Debian GNU/Linux 12 (bookworm), x86_64, docker container,"
    assert second == " " * 18 + "Python 3.12.3 (venv venv)"


def test_markdown_keeps_quoted_commands_in_prose_as_code():
    assert fix_step("or list the UUIDs `nvidia-smi -L` prints, each once") == (
        "or list the UUIDs `nvidia-smi -L` prints, each once"
    )
    assert fix_step("set `A_B`, not A_B: $ export A_B=1") == "set `A_B`, not A\\_B: `export A_B=1`"
    assert prose("a `x|y` b*c") == "a `x|y` b\\*c"


def test_markdown_escapes_what_github_would_eat():
    assert escape("GPU-<redacted>-0") == "GPU-&lt;redacted&gt;-0"
    assert escape("a|b *c*") == "a\\|b \\*c\\*"
    assert fix_step("$ nvidia-smi -L") == "`nvidia-smi -L`"
    assert fix_step("or: $ sudo nvidia-smi -pm 1") == "or: `sudo nvidia-smi -pm 1`"
    assert fix_step("$ echo `x`") == "`` echo `x` ``"
    assert fix_step("> wsl --update") == "`> wsl --update`"


def test_markdown_has_a_summary_a_findings_table_and_collapsed_details():
    md = render("markdown", many_problems())
    assert md.startswith("## gpudoctor check: 1 error, 5 warnings\n")
    assert "| ✗ error | `GD-TORCH-004` |" in md
    assert "What this means: `gpudoctor explain GD-TORCH-004`" in md
    assert "<summary>✗ error GD-TORCH-004:" in md
    assert "<details><summary>Machine facts</summary>" in md
    assert "&lt;python&gt;" in md and "<python>" not in md
    assert "No problems found." in render("markdown", healthy())
    assert "### Machine facts" in render("markdown", healthy(), verbose=True)


def test_json_is_the_versioned_report_with_areas_and_findings():
    report = many_problems()
    doc = json.loads(render("json", report))
    assert doc["schema_version"] == 1
    assert doc["verdict"] == "error"
    assert set(doc["areas"]) == set(AREAS)
    assert doc["areas"]["torch"] == "error" and doc["areas"]["nvml"] == "ok"
    assert doc["areas"]["gpu"] == "warning"
    assert all(f["doc_url"] == "gpudoctor explain " + f["id"] for f in doc["findings"])
    assert report_from_json(render("json", report)) == report


def test_json_and_markdown_never_carry_colour():
    for fmt in ("json", "markdown"):
        assert "\x1b[" not in render(fmt, many_problems(), color=True)


def test_only_the_text_renderer_imports_rich():
    code = (
        "import sys; from gpudoctor import kb; from gpudoctor.render import render_report;"
        "from gpudoctor.rules import diagnose; from tests.rules.builders import healthy;"
        "r = healthy(); d = diagnose(r, kb.load());"
        "render_report('json', r, d, verbose=False, color=False);"
        "render_report('markdown', r, d, verbose=True, color=False);"
        "before = 'rich' in sys.modules;"
        "render_report('text', r, d, verbose=False, color=False);"
        "sys.exit(0 if (not before and 'rich' in sys.modules) else 1)"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_verbose_framework_facts_say_cuda_available_and_usable_only_from_the_smoke_test():
    failed = FrameworkDevice(
        index=0, name="Tesla P100", compute_capability="6.0", smoke_ok=False, smoke_error="boom"
    )
    report = with_framework(healthy(), "torch", devices=(failed,))
    text = render("text", report, verbose=True)
    assert "GPU usable" not in text
    torch_facts = text.split("\nPyTorch\n", 1)[1]
    assert "CUDA available" in torch_facts.split("\n\n", 1)[0]
    assert "not usable: smoke test FAILED: boom" in text
    assert "1 GPU visible, smoke test failed on 1" in text
    assert "1 GPU usable" not in text
    assert "PyTorch       2.9.1+cu128, CUDA 12.8, cuDNN 9.10.2, 1 GPU usable" in render(
        "text", healthy()
    )
    assert "1 GPU visible" in render("text", healthy())  # TensorFlow ran no smoke test


def test_verbose_ecc_shows_a_pending_mode_change():
    report = with_gpu(healthy(), ecc_enabled=True, ecc_pending=False)
    assert "yes, pending no" in render("text", report, verbose=True)
    assert (
        "pending" not in render("text", healthy(), verbose=True).split("ECC", 1)[1].split("\n")[0]
    )


def test_without_a_gpu_the_nvml_gpu_and_cuda_lines_say_not_applicable():
    text = render("text", no_gpu_machine(container="docker"))
    for label in ("NVML", "GPUs", "CUDA"):
        (line,) = [x for x in text.splitlines() if x.startswith(f"[i] {label} ")]
        assert line.endswith("not applicable: no NVIDIA GPU")
    assert "[!] Kernel driver no NVIDIA GPU on the PCI bus" in text
    assert "0 errors, 1 warning" in text


def test_wsl1_is_named_wsl_1_not_wsl2():
    # WSL 1 (no GPU support) was shown as "WSL2" on the Host and Kernel driver lines and in
    # the verbose facts, beside findings that say it is WSL 1.
    report = with_host(no_gpu_machine(), wsl=True, kernel="4.4.0-19041-Microsoft")
    text = render_report("text", report, diagnose(report, kb.load()), verbose=True, color=False)
    named = [line for line in text.splitlines() if "WSL" in line and "WSL 2" not in line]
    assert named and not any("WSL2" in line for line in named), named
    assert "x86_64, WSL 1, Python" in text
    assert "WSL 1, Windows driver" in text
    wsl2 = with_host(report, kernel="6.6.87.2-microsoft-standard-WSL2")
    assert "x86_64, WSL2, Python" in render_report(
        "text", wsl2, diagnose(wsl2, kb.load()), verbose=False, color=False
    )


@pytest.mark.parametrize(
    ("backend", "line"),
    [
        (
            {"gpu_backend": "rocm", "gpu_backend_devices": 0},
            "2.18.0, ROCm build, no CUDA, no AMD GPU",
        ),
        (
            {"gpu_backend": "metal", "gpu_backend_devices": 1},
            "2.18.0, Metal plugin, 1 Apple GPU visible",
        ),
        ({}, "2.18.0, CPU-only build"),
    ],
)
def test_a_tensorflow_for_other_gpus_is_no_cpu_only_build(backend, line):
    # tensorflow-rocm and a Mac's Metal plugin read "CPU-only build"
    from gpudoctor.model.report import FrameworkInfo
    from gpudoctor.render.headlines import headline
    from tests.rules.builders import mac

    tf = FrameworkInfo(name="tensorflow", status="ok", version="2.18.0", cuda_build=False)
    report = replace(mac(), frameworks=(replace(tf, **backend),))
    assert headline(report, "tensorflow") == line
