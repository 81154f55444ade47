"""The onboarding summary as Markdown and as one self-contained HTML page (formatting only)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True, kw_only=True)
class StepLine:
    """One step as the summary shows it."""

    title: str
    command: str
    status: str
    """``passed``, ``failed`` or ``not run``."""
    duration_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class Summary:
    """What onboarding found, made and proved (the CLI fills it from the plan and the results)."""

    created_at: str
    hostname: str | None
    target: str
    why_target: str
    problems: tuple[str, ...]
    tool: str
    prefix: str
    manifest: str
    env_dir: str
    activate: str
    steps: tuple[StepLine, ...]
    verify_output: str
    job_script: str | None
    run_line: str
    logs: str
    plan_warnings: tuple[str, ...] = ()
    """What make-env warned about the environment it planned (no torchvision pinned, build data
    not confirmed, ...): said here, not only in the plan step's log."""


def _fence(text: str, lang: str = "") -> list[str]:
    """A fenced block that no backtick run inside ``text`` can close early."""
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    ticks = "`" * max(3, longest + 1)
    while ticks in text:
        ticks += "`"
    return [f"{ticks}{lang}", text.rstrip("\n"), ticks]


def _code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    ticks = "`"
    while ticks in text:
        ticks += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


def markdown(s: Summary) -> str:
    """The summary for a README or a ticket."""
    out = [
        "# gpudoctor onboard",
        "",
        f"Made {s.created_at}" + (f" on {_code(s.hostname)}" if s.hostname else "") + ".",
        "",
        "## What check found",
        "",
        f"- Target: {s.target} ({s.why_target})",
    ]
    out += [f"- {_code(p)}" for p in s.problems] or ["- No error or warning finding."]
    out += [
        "",
        "## What was created",
        "",
        f"- Environment ({s.tool}): {_code(s.env_dir)}",
        f"- Its manifest: {_code(s.manifest)}",
        f"- Logs: {_code(s.logs)}",
        *(f"- Warning (make-env): {w}" for w in s.plan_warnings),
        "",
        "Activate it:",
        "",
        *_fence(s.activate, "sh"),
        "",
        "## Steps",
        "",
        "| # | Step | Command | Result | Time |",
        "|---|------|---------|--------|------|",
    ]
    for n, step in enumerate(s.steps, 1):
        command = _code(step.command).replace("|", "\\|")
        out.append(
            f"| {n} | {step.title} | {command} | {step.status} | {_seconds(step.duration_s)} |"
        )
    out += ["", "## verify --quick", "", *_fence(s.verify_output or "(no output)", "text"), ""]
    if s.job_script is not None:
        out += [
            "## A job script for the partition",
            "",
            "Save it as `train.sbatch` next to your `train.py`, then `sbatch train.sbatch`:",
            "",
            *_fence(s.job_script, "sh"),
            "",
        ]
    else:
        out += ["## Run your code", "", *_fence(f"{s.activate}\n{s.run_line}", "sh"), ""]
    return "\n".join(out)


_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
  max-width: 60rem; padding: 0 1rem; color: #1d232a; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 1.8rem;
  border-bottom: 1px solid #d8dee4; padding-bottom: .2rem; }
.meta { color: #57606a; margin-top: 0; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px; padding: .7rem 1rem;
  overflow-x: auto; white-space: pre; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #d8dee4; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td code { overflow-wrap: anywhere; }
col.n { width: 2.5rem; } col.title { width: 14rem; } col.result { width: 5.5rem; }
col.time { width: 5rem; }
.passed { color: #1a7f37; font-weight: 600; } .failed { color: #cf222e; font-weight: 600; }
.not-run { color: #57606a; } .warning { color: #9a6700; font-weight: 600; }
ul { padding-left: 1.3rem; }
"""


def html(s: Summary) -> str:
    """The summary as one HTML page with its style inline (no script, nothing fetched)."""
    e = escape
    problems = "".join(f"<li><code>{e(p)}</code></li>" for p in s.problems) or (
        "<li>No error or warning finding.</li>"
    )
    rows = "".join(
        f"<tr><td>{n}</td><td>{e(step.title)}</td><td><code>{e(step.command)}</code></td>"
        f'<td class="{e(step.status.replace(" ", "-"))}">{e(step.status)}</td>'
        f"<td>{e(_seconds(step.duration_s))}</td></tr>"
        for n, step in enumerate(s.steps, 1)
    )
    where = f" on <code>{e(s.hostname)}</code>" if s.hostname else ""
    warnings = "".join(
        f'<li><span class="warning">Warning</span> (make-env): {e(w)}</li>' for w in s.plan_warnings
    )
    if s.job_script is not None:
        run = (
            "<h2>A job script for the partition</h2><p>Save it as <code>train.sbatch</code> next "
            "to your <code>train.py</code>, then <code>sbatch train.sbatch</code>:</p>"
            f"<pre>{e(s.job_script)}</pre>"
        )
    else:
        run = f"<h2>Run your code</h2><pre>{e(s.activate)}\n{e(s.run_line)}</pre>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>gpudoctor onboard: {e(s.target)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>gpudoctor onboard</h1><p class="meta">Made {e(s.created_at)}{where}.</p>'
        f"<h2>What check found</h2><ul><li>Target: {e(s.target)} ({e(s.why_target)})</li>"
        f"{problems}</ul>"
        f"<h2>What was created</h2><ul><li>Environment ({e(s.tool)}): <code>{e(s.env_dir)}"
        f"</code></li><li>Its manifest: <code>{e(s.manifest)}</code></li>"
        f"<li>Logs: <code>{e(s.logs)}</code></li>{warnings}</ul>"
        f"<p>Activate it:</p><pre>{e(s.activate)}</pre>"
        '<h2>Steps</h2><table><colgroup><col class="n"><col class="title"><col>'
        '<col class="result"><col class="time"></colgroup>'
        "<tr><th>#</th><th>Step</th><th>Command</th><th>Result</th><th>Time</th></tr>"
        f"{rows}</table>"
        f"<h2>verify --quick</h2><pre>{e(s.verify_output or '(no output)')}</pre>"
        f"{run}</body></html>\n"
    )
