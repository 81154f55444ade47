"""The onboarding summary: Markdown and HTML say the same, HTML escapes every string, and the
page renders in headless Chromium (the screenshot was looked at when this test was written)."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import partial
from pathlib import Path

import pytest

from gpudoctor.fleet.slurm import job_step
from gpudoctor.onboard.plan import Facts, Request, make_plan
from gpudoctor.onboard.summary import StepLine, Summary, html, markdown

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def sample(**kw: object) -> Summary:
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), shadowing_modules=("cuda/12.4",))
    request = Request(
        gpudoctor=("/usr/bin/python3", "-m", "gpudoctor"),
        prefix="/home/ada/gpudoctor-env",
        tool="uv",
        tool_exe="/usr/bin/uv",
        gpudoctor_spec="gpudoctor==0.1.0",
        report_dir="/home/ada",
        driver="580.95.05",
        cc="9.0",
        on_partition=partial(job_step, job_name="gpudoctor-verify"),
    )
    plan = make_plan(request, facts, None)
    base: dict[str, object] = {
        "created_at": "2026-12-05 10:00 UTC",
        "hostname": "login1",
        "target": plan.target.text,
        "why_target": plan.target.why,
        "problems": ("GD-HOST-007: This is a SLURM login node: its GPUs are on the compute nodes",),
        "tool": "uv",
        "prefix": plan.prefix,
        "manifest": plan.manifest,
        "env_dir": plan.env_dir,
        "activate": plan.activate,
        "steps": tuple(
            StepLine(title=s.title, command=s.command, status="passed", duration_s=1.5)
            for s in plan.steps
            if s.name != "finish"
        ),
        "verify_output": "torch 2.9.1+cu128 · cuda:0 NVIDIA H100 80GB HBM3\n"
        "  lenet5     ✓ pass   0.4 ms/batch\n  resnet50   ✓ pass  11.8 ms/batch\nverdict: pass",
        "job_script": plan.job_script,
        "run_line": plan.run_line,
        "logs": plan.log_dir,
    }
    return Summary(**(base | kw))  # type: ignore[arg-type]


def test_markdown_has_the_activate_line_the_steps_and_the_job_script() -> None:
    md = markdown(sample())
    assert "```sh\nsource /home/ada/gpudoctor-env/.venv/bin/activate\n```" in md
    assert "#SBATCH -p gpu\n#SBATCH --gres=gpu:1" in md
    assert "module unload cuda/12.4" in md
    assert md.count("| passed |") == 5
    assert "srun python train.py" in md


def test_markdown_fences_and_table_cells_survive_hostile_strings() -> None:
    md = markdown(sample(verify_output="```\n# not a heading", problems=("a|b `c`",)))
    assert "````text\n```\n# not a heading\n````" in md
    assert "- `` a|b `c` ``" in md


def test_html_escapes_every_string() -> None:
    evil = "<script>alert(1)</script>"
    page = html(sample(hostname=evil, target=evil, verify_output=evil, problems=(evil,)))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") == 5  # the title too
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium")
def test_the_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "gpudoctor-onboard.html"
    page.write_text(html(sample()))
    png = Path(os.environ.get("ONBOARD_SCREENSHOT", tmp_path / "shot.png"))
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
         "--window-size=1280,900", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page, not a blank


def test_make_envs_warnings_are_in_both_forms() -> None:
    warning = "PyTorch 2.15 cu130: no torchvision release for it is recorded <so none>"
    s = sample(plan_warnings=(warning,))
    assert f"- Warning (make-env): {warning}\n" in markdown(s)
    assert "no torchvision release for it is recorded &lt;so none&gt;</li>" in html(s)
    assert "Warning" not in markdown(sample()) and "Warning" not in html(sample())
