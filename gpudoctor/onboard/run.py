"""The executor: runs the plan's steps through probe/runcmd.py, logs each, undoes a failed one."""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gpudoctor.errors import ExitCode, GpudoctorError
from gpudoctor.onboard.plan import CUDA_OVERRIDE, Step
from gpudoctor.probe.runcmd import CmdResult, how_it_ended, run_cmd
from gpudoctor.tomlcompat import tomllib

MAX_OUTPUT_BYTES = 16 << 20
"""What one step may print (uv and conda are chatty, but not this chatty)."""


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """How one step ended."""

    step: Step
    ok: bool
    why: str = ""
    """Why it failed, in words ("exited with status 1: <its last line>")."""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    log: str | None = None


class StepFailed(GpudoctorError):
    """A step failed: the message names it, why, and where its log is."""

    exit_code = ExitCode.PROBLEMS


class Progress(Protocol):
    """What the CLI shows while the steps run."""

    def started(self, index: int, total: int, step: Step) -> None:
        """A step begins."""

    def finished(self, index: int, total: int, result: StepResult) -> None:
        """A step ended (passed or failed)."""

    def said(self, index: int, total: int, step: Step, line: str) -> None:
        """The running step's child wrote ``line`` on stderr (srun: queued, allocated)."""

    def running(self, index: int, total: int, step: Step, last: Callable[[], str]) -> None:
        """The step's command runs (after ``started``, until ``finished`` or ``stopped``);
        ``last()`` is the last line it has printed so far, on stdout or stderr ("" if none)."""

    def stopped(self, index: int, total: int, step: Step, log: str | None) -> None:
        """The running step was stopped (Ctrl-C, SIGTERM); ``log`` holds what it wrote."""


OWN_ERROR = "gpudoctor: error: "
"""How gpudoctor's own commands (check, make-env) say why they failed, on one line."""


def _last_line(text: str, limit: int = 200) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if line.startswith(OWN_ERROR):
        # a gpudoctor command's one line ends with its remedy: kept whole (cut, make-env's
        # "give their driver and lowest compute capa..." lost the options to rerun with)
        line, limit = line.removeprefix(OWN_ERROR), 2000
    return line if len(line) <= limit else line[: limit - 3] + "..."


CAUSES = ("cause:", "Caused by:")
"""How uv (and other Rust tools) chain the causes below their ``error:`` line."""


def _error_chain(text: str, limit: int = 500) -> str:
    """uv's ``error:`` line with the cause that names what failed and the root cause, e.g.
    ``error: Request failed after 3 retries; Failed to download `https://.../cpython-3.14...`;
    failed to lookup address information: ...``; "" when ``text`` has no such chain.

    Its last line alone (the root cause: a DNS error) did not say that uv was downloading a
    Python, a wheel or an index page."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    heads = [i for i, line in enumerate(lines) if line.startswith("error:")]
    if not heads:
        return ""
    head = heads[-1]
    causes = []
    for line in lines[head + 1 :]:
        cause = next((line[len(p) :].strip() for p in CAUSES if line.startswith(p)), None)
        if cause is None:
            break
        causes.append(cause)
    if not causes:
        return ""
    named = next((c for c in causes if "`" in c), causes[0])
    parts = list(dict.fromkeys((lines[head], named, causes[-1])))
    chain = "; ".join(parts)
    return chain if len(chain) <= limit else chain[: limit - 3] + "..."


def describe_failure(result: CmdResult, step: Step) -> str:
    """Why a command did not pass, in words."""
    if result.start_error is not None:
        return f"could not start {result.argv[0]}: {result.start_error}"
    if result.timed_out:
        # "still running after 3600 s: stopped" alone did not say whether uv was still
        # downloading gigabytes of wheels or waiting on an index that never answered
        last = _last_line(result.stderr) or _last_line(result.stdout)
        said = f"; it last printed: {last}" if last else ""
        limit = f"{step.timeout_s:g} s" + (
            f" ({step.timeout_option})" if step.timeout_option else ""
        )
        return f"still running after {limit}: stopped{said}{_past_its_limit(step)}"
    if result.overflowed:
        return f"printed more than {MAX_OUTPUT_BYTES >> 20} MiB: stopped"
    if result.cancelled:
        return "interrupted"
    last = (
        (_verify_failure(result.stdout) if step.name == "verify" else "")
        or _error_chain(result.stderr)
        or _last_line(_SRUN_TASK_EXIT.sub("", result.stderr))
        or _last_line(result.stdout)
    )
    return how_it_ended(result.returncode) + (f": {last}" if last else "")


def _past_its_limit(step: Step) -> str:
    """What to do about a step stopped at its time limit, in onboard's options.

    The limits were fixed: a download slower than an hour, or a verify job that waited longer
    than that in SLURM's queue, could not be given more time, and the line named no option.
    """
    option = step.timeout_option
    if step.name in ("create", "install") and option:
        return (
            "; a download slower than onboard's limit for this step: rerun with --force "
            f"{option} SECONDS (more than {step.timeout_s:g}), or where the network is faster, "
            "or run the command in the log yourself"
        )
    if step.name == "verify" and option:
        return (
            f"; to give it longer (a verify job's wait in SLURM's queue counts), rerun with "
            f"--force {option} SECONDS (more than {step.timeout_s:g})"
        )
    if step.name == "check":
        # no option: check itself bounds each probe (its --timeout), not the whole run
        return (
            "; run `gpudoctor check --format json -o check.json` yourself (each probe is "
            "bounded by check's --timeout) and rerun onboard with --from-report check.json"
        )
    if not step.hint:  # the plan step's hint, where it has one, says what to do
        return "; run the command in the log yourself to see where it waits"
    return ""


_SRUN_TASK_EXIT = re.compile(r"^srun: error: \S+: tasks? [0-9][0-9,\-]*: .*$", re.MULTILINE)
"""What srun says last on a task that failed (``srun: error: n1: task 0: Exited with exit code
1``): they hid the line before them, which says why."""

VERIFY_FAILED = "✗ fail: "
"""How verify's text names what failed, one reason a line, the root causes first."""


def _verify_failure(stdout: str, limit: int = 600) -> str:
    """The first reason verify failed, e.g. ``SLURM job 16 on node n1 (partition gpu) was given
    GPUs (...), but verify found none there ...``; "" when it printed none.

    Through srun the last line of stderr is srun's ``srun: error: n1: task 0: Exited with exit
    code 1``, and that was all the step's failure said."""
    for line in stdout.splitlines():
        if line.strip().startswith(VERIFY_FAILED):
            reason = line.strip().removeprefix(VERIFY_FAILED)
            return reason if len(reason) <= limit else reason[: limit - 3] + "..."
    return ""


def manifest_override(path: str) -> str | None:
    """The ``CONDA_OVERRIDE_CUDA`` under ``variables:`` in the environment.yml make-env wrote
    (``  CONDA_OVERRIDE_CUDA: "12.8"``), or the ``[system-requirements] cuda`` of its pixi.toml;
    None when it sets none or cannot be read."""
    if path.endswith(".toml"):
        return _pixi_cuda(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None  # the create step says what is wrong with the file
    in_variables = False
    for line in lines:
        if line and not line[0].isspace():
            in_variables = line.rstrip() == "variables:"
            continue
        name, sep, value = line.strip().partition(":")
        if in_variables and sep and name == CUDA_OVERRIDE:
            value = value.strip()
            try:  # make-env quotes YAML scalars the JSON way
                return str(json.loads(value)) if value.startswith('"') else value or None
            except ValueError:
                return None
    return None


def _pixi_cuda(path: str) -> str | None:
    """``[system-requirements] cuda`` of a pixi.toml: pixi refuses to install a workspace
    whose CUDA the machine (a login node without a GPU) does not have, unless told."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # the create step says what is wrong with the file
    needs = doc.get("system-requirements")  # a hand-edited file's may be no table
    cuda = needs.get("cuda") if isinstance(needs, dict) else None
    return cuda if isinstance(cuda, str) and cuda else None


def resolved(step: Step) -> Step:
    """``step`` with the variables its ``env_from`` manifest sets, read now."""
    if step.env_from is None:
        return step
    cuda = manifest_override(step.env_from)
    return dataclasses.replace(step, env=((CUDA_OVERRIDE, cuda),) if cuda else ())


def run_step(step: Step, heard: Heard | None = None) -> StepResult:
    """Run one command step through run_cmd (bounded, killed with gpudoctor); its stdout and
    stderr lines go to ``heard`` as they come."""
    start = time.monotonic()
    result = run_cmd(
        step.argv,
        env={**os.environ, **dict(step.env)} if step.env else None,
        timeout_s=step.timeout_s,
        cancel=heard.never_starts if heard is not None else None,
        term_grace_s=step.term_grace_s,
        max_output_bytes=MAX_OUTPUT_BYTES,
        on_stderr_line=heard,
        on_stdout_line=heard.stdout if heard is not None else None,
    )
    ok = result.returncode is not None and result.returncode in step.ok_codes
    ok = ok and not (result.timed_out or result.overflowed or result.cancelled)
    doomed = heard.doomed if heard is not None and heard.never_starts.is_set() else ""
    return StepResult(
        step=step,
        ok=ok,
        why="" if ok else doomed or describe_failure(result, step),
        stdout=result.stdout,
        stderr=result.stderr,
        duration_s=time.monotonic() - start,
    )


def log_text(result: StepResult) -> str:
    """A step's log: the command, how it ended, and everything it printed."""
    verdict = "passed" if result.ok else f"failed: {result.why}"
    return (
        f"$ {result.step.command}\n# {verdict} after {result.duration_s:.1f} s\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
    )


def undo(step: Step) -> None:
    """Remove what a failed or interrupted step half-made."""
    for name in step.undo:
        path = Path(name)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink(missing_ok=True)


PYTHON_DOWNLOADS = "python-build-standalone"
"""Where uv fetches a Python that this machine does not have (a cluster's login node often
cannot reach it)."""


def _python_download_hint(step: Step, result: StepResult) -> str:
    """For a create step in which uv failed to download a Python: how to do without."""
    if step.name != "create" or PYTHON_DOWNLOADS not in result.stderr:
        return ""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        "; uv could not download the Python the manifest asks for: rerun with --force "
        f"--python X.Y naming a Python this machine has (gpudoctor runs on {here} here)"
    )


MAKE_ENV_ONLY = (
    "--cpu",
    "--source",
    "--from-fleet",
    "--os",
    "--arch",
    "--wsl",
    "--glibc",
    "--name",
    "--solve",
    "--solve-channel",
    "--solve-timeout",
)
"""make-env's options that onboard does not take (its --format, --output and --stdout onboard
sets itself): make-env's words for the plan step's failure may name them."""
_MAKE_ENV_ONLY = re.compile(
    r"(?<![\w-])(" + "|".join(map(re.escape, MAKE_ENV_ONLY)) + r")(?![\w-])"
)


def _make_env_only_hint(step: Step, result: StepResult) -> str:
    """For the plan step: make-env's line named an option onboard has no such option as
    (``..., or --cpu for a CPU-only environment``), which an onboard rerun cannot take."""
    if step.name != "plan":
        return ""
    named = list(dict.fromkeys(_MAKE_ENV_ONLY.findall(result.why)))
    if not named:
        return ""
    it = "them" if len(named) > 1 else "it"
    return (
        f"; {', '.join(named)}: make-env's, not onboard's: to use {it}, run the make-env "
        f"command in the log with {it} yourself"
    )


URL = re.compile(r"(?:https?|file)://[^\s`'\"<>()]+")
UNREACHED = (
    "Failed to fetch",
    "Failed to download",
    "Could not fetch URL",
    "error sending request",
)
"""How uv (``Failed to fetch: URL``, ``error sending request for url (URL)``) and pip (``Could
not fetch URL URL: ...``) say on one line that a URL they asked did not answer."""


def manifest_urls(path: str) -> tuple[str, ...]:
    """The URLs a manifest make-env wrote names: its PyTorch wheel index (the uv index,
    pixi's per-package index, the pip section's ``--index-url``) and its comments' sources."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ()
    return tuple(dict.fromkeys(url.rstrip("/") for url in URL.findall(text)))


def _index_hint(step: Step, result: StepResult) -> str:
    """For a step whose tool could not reach the manifest's PyTorch wheel index: what to do.

    uv's line named the URL it failed to fetch and stopped there (``Failed to fetch:
    https://download.pytorch.org/whl/cpu/torch/; failed to lookup address information``),
    with no word of --torch-index-url."""
    if step.index_from is None:
        return ""
    indexes = manifest_urls(step.index_from)
    for line in result.stderr.splitlines():
        if not any(words in line for words in UNREACHED):
            continue
        for url in URL.findall(line):
            index = next((i for i in indexes if url.rstrip("/").startswith(i + "/")), None)
            if index is not None:
                return (
                    f"; the PyTorch wheel index {index} did not answer: rerun with --force "
                    "when this machine reaches it, or with --force --torch-index-url URL "
                    "naming a mirror of it ({variant} in URL becomes cpu, cu126, ...)"
                )
    return ""


def execute(
    steps: Sequence[Step],
    *,
    first: int,
    total: int,
    log_dir: Path,
    write_log: Callable[[Path, str], None],
    in_process: Callable[[Step], None],
    progress: Progress,
    pending_reason: Callable[[str], str | None] = lambda job: None,
) -> list[StepResult]:
    """Run ``steps`` in order (numbered from ``first`` of ``total``); stop at the first failure.

    A failed step's ``undo`` paths are removed and :class:`StepFailed` names the step and its
    log; Ctrl-C or SIGTERM (a KeyboardInterrupt here) undoes the running step as well, then
    goes on unwinding. What earlier steps made stays. srun's word that its job waits in the
    queue reaches ``progress.said`` at once, with ``pending_reason(job)`` (the CLI hands in
    fleet/slurm.py's squeue), so that a waiting verify job is not taken for a hung one.
    """
    results: list[StepResult] = []
    for offset, planned in enumerate(steps):
        index = first + offset
        # after the steps before it (the plan step writes the manifest): the line shown and
        # kept in the summary is the command run, CONDA_OVERRIDE_CUDA=12.8 and all, not
        # --dry-run's placeholder
        step = resolved(planned) if planned.argv else planned
        progress.started(index, total, step)
        heard = Heard(functools.partial(progress.said, index, total, step), pending_reason)
        if step.argv:  # a step gpudoctor does itself takes no time to speak of
            progress.running(index, total, step, heard.last_line)
        start = time.monotonic()
        try:
            result = _run_one(step, index, log_dir, write_log, in_process, heard)
        except BaseException:
            undo(step)
            log = None
            if step.argv:
                log = keep_log(
                    log_dir / f"{index}-{step.name}.log",
                    heard.log(step, time.monotonic() - start),
                    write_log,
                )
            progress.stopped(index, total, step, log)
            raise
        progress.finished(index, total, result)
        if not result.ok:
            undo(step)
            where = f"; log: {result.log}" if result.log else ""
            where += f"; {step.hint}" if step.hint else ""
            where += _python_download_hint(step, result)
            where += _index_hint(step, result)
            where += _make_env_only_hint(step, result)
            raise StepFailed(
                f"step {index}/{total} {step.name} ({step.title}) failed: {result.why}{where}"
            )
        results.append(result)
    return results


SRUN_NEWS = re.compile(r"srun: (job \d+ |Required node not available)")
"""What srun says of its job's place in the queue (the rest goes to the step's log only)."""
QUEUED = re.compile(r"srun: job (\d+) queued and waiting for resources")
NEVER_STARTS = frozenset(
    {
        "PartitionConfig",
        "PartitionTimeLimit",
        "PartitionNodeLimit",
        "AssocMaxWallDurationPerJobLimit",
        "QOSMaxWallDurationPerJobLimit",
        "AssocMaxNodePerJobLimit",
        "QOSMaxNodePerJobLimit",
        "InvalidAccount",
        "InvalidQOS",
    }
)
"""The reasons squeue gives for a job that waiting cannot start: it asks for more than the
partition, its account or its QOS ever allows (the site's limits, which only an admin
changes), or names an account or QOS it may not use (squeue(1), JOB REASON CODES)."""


def keep_log(path: Path, text: str, write_log: Callable[[Path, str], None]) -> str | None:
    """Write the log of a step that was stopped or failed; its path, or None when it could not
    be written (a signal's exit, or the step's own error, must not become one about a full
    disk)."""
    try:
        write_log(path, text)
    except Exception:
        return None
    return str(path)


class Heard:
    """A step's output lines as they come: srun's queue news (stderr) passed on, with the
    reason squeue gives for a queued job; the last lines of stdout and of stderr kept for the
    log of a step that is stopped (run_cmd's result, which holds them all, is lost then)."""

    def __init__(
        self,
        news: Callable[[str], None] = lambda line: None,
        pending_reason: Callable[[str], str | None] = lambda job: None,
    ) -> None:
        self.news, self.pending_reason = news, pending_reason
        self.never_starts = threading.Event()
        """Set when squeue's reason says the queued job can never start: the step stops."""
        self.doomed = ""
        self.tail: collections.deque[str] = collections.deque(maxlen=STOPPED_TAIL_LINES)
        self.out_tail: collections.deque[str] = collections.deque(maxlen=STOPPED_TAIL_LINES)
        self._last = ""

    def last_line(self) -> str:
        """The last non-blank line printed so far, on stdout or stderr, stripped and cut to
        200 characters; "" before any."""
        return self._last

    def _heard(self, line: str) -> None:
        # colour codes and other control characters would reach the log as they are
        line = _CONTROL.sub("", _CSI.sub("", line)).strip()
        if line:
            self._last = (
                line if len(line) <= LAST_LINE_CHARS else line[: LAST_LINE_CHARS - 3] + "..."
            )

    def __call__(self, line: str) -> None:
        """A stderr line."""
        self._heard(line)
        self.tail.append(_kept(line))
        if SRUN_NEWS.match(line):
            queued = QUEUED.match(line)
            reason = self.pending_reason(queued.group(1)) if queued else None
            self.news(f"{line.strip()} (squeue gives the reason: {reason})" if reason else line)
            if queued and reason and reason.split(",")[0].strip() in NEVER_STARTS:
                # it waited for the step's 60 minutes behind the spinner, for nothing
                self.doomed = (
                    f"SLURM queued job {queued.group(1)} and will never start it (squeue gives "
                    f"the reason: {reason}): it asks for more than the partition, account or "
                    "QOS allows, or names an account or QOS it may not use; cancelled "
                    "(`scontrol show partition`, `sacctmgr show assoc user=$USER` and "
                    "`sacctmgr show qos` say the limits)"
                )
                self.never_starts.set()

    def stdout(self, line: str) -> None:
        """A stdout line: how far uv, conda or verify got is often said there, not on stderr."""
        self._heard(line)
        self.out_tail.append(_kept(line))

    def log(self, step: Step, duration_s: float) -> str:
        """The log of the step stopped after ``duration_s``: its command and the last lines it
        printed on stdout and on stderr, each in its own part as a finished step's log has."""
        return (
            f"$ {step.command}\n# stopped (Ctrl-C or a signal) after {duration_s:.1f} s\n"
            f"--- stdout (its last {STOPPED_TAIL_LINES} lines at most)\n"
            + "".join(f"{line}\n" for line in self.out_tail)
            + f"--- stderr (its last {STOPPED_TAIL_LINES} lines at most)\n"
            + "".join(f"{line}\n" for line in self.tail)
        )


def _kept(line: str) -> str:
    """A line as a stopped step's log keeps it: check's JSON may be one line of megabytes."""
    if len(line) <= STOPPED_LINE_CHARS:
        return line
    return line[:STOPPED_LINE_CHARS] + f" [... {len(line) - STOPPED_LINE_CHARS} characters more]"


STOPPED_TAIL_LINES = 200
_CSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
"""A terminal's escape sequence (colour, cursor), as uv or pip write with FORCE_COLOR set."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
LAST_LINE_CHARS = 200
"""What ``Heard.last_line`` keeps of a line (uv's download line, not check's JSON)."""
STOPPED_LINE_CHARS = 4000
"""What a stopped step's log keeps of one line (200 of them, for stdout and stderr each)."""


def _run_one(
    step: Step,
    index: int,
    log_dir: Path,
    write_log: Callable[[Path, str], None],
    in_process: Callable[[Step], None],
    heard: Heard | None = None,
) -> StepResult:
    if not step.argv:  # a step gpudoctor does itself (the summary, the marker)
        start = time.monotonic()
        in_process(step)
        return StepResult(step=step, ok=True, duration_s=time.monotonic() - start)
    step = resolved(step)  # after the steps before it: the plan step writes the manifest
    result = run_step(step, heard)
    log = log_dir / f"{index}-{step.name}.log"
    write_log(log, log_text(result))
    return StepResult(
        step=step,
        ok=result.ok,
        why=result.why,
        stdout=result.stdout,
        stderr=result.stderr,
        duration_s=result.duration_s,
        log=str(log),
    )
