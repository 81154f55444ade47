"""The executor's failure line: a gpudoctor command's own error is quoted whole, with the
step's hint in onboard's options."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from gpudoctor.onboard.plan import Facts, Step, make_plan
from gpudoctor.onboard.run import StepFailed, StepResult, execute
from tests.onboard.test_plan import request, step

REMEDY = "give their driver and lowest compute capability (--partition gpu --driver VERSION ...)"
LONG_ERROR = "gpudoctor: error: the check run on node n1 of partition gpu found " + "x" * 150


class _Quiet:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.results: list[StepResult] = []

    def started(self, index: int, total: int, step: object) -> None:
        """Nothing shown; the command line kept."""
        self.shown.append(step.command)  # type: ignore[attr-defined]

    def finished(self, index: int, total: int, result: StepResult) -> None:
        """Nothing shown; the result kept."""
        self.results.append(result)

    def said(self, index: int, total: int, step: object, line: str) -> None:
        """Nothing shown."""

    def running(self, index: int, total: int, step: object, last: object) -> None:
        """Nothing shown."""

    def stopped(self, index: int, total: int, step: object, log: str | None) -> None:
        """Nothing shown."""


def _fail_with(
    tmp_path: Path,
    stderr: str,
    *,
    step: str = "plan",
    status: int = 1,
    stdout: str = "",
    **plan_kw: object,
) -> str:
    """What onboard says when its step ``step`` writes ``stderr`` (and ``stdout``) and exits
    with ``status``."""
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(**plan_kw), facts, None)
    index = next(i for i, s in enumerate(plan.steps) if s.name == step)
    chosen = plan.steps[index]
    code = (
        f"import sys; sys.stdout.write({stdout!r}); sys.stderr.write({stderr!r} + '\\n'); "
        f"sys.exit({status})"
    )
    failing = type(chosen)(**{**chosen.__dict__, "argv": (sys.executable, "-c", code)})
    return _failure(tmp_path, failing, first=index + 2, total=7)


def _failure(tmp_path: Path, failing: Step, *, first: int, total: int) -> str:
    """What onboard says when the one step ``failing`` fails."""
    with pytest.raises(StepFailed) as failed:
        execute(
            [failing],
            first=first,
            total=total,
            log_dir=tmp_path,
            write_log=lambda path, text: path.write_text(text),
            in_process=lambda step: None,
            progress=_Quiet(),
        )
    return str(failed.value)


def test_make_envs_error_keeps_its_remedy_and_onboard_names_its_own_options(
    tmp_path: Path,
) -> None:
    # the line was cut at 200 characters: "... give their driver and lowest compute capa..."
    message = _fail_with(tmp_path, f"{LONG_ERROR}: {REMEDY}")
    assert message.startswith("step 2/7 plan (plan the environment (pyproject.toml)) failed: ")
    assert "exited with status 1: the check run on node n1 of partition gpu found x" in message
    assert REMEDY in message and "gpudoctor: error:" not in message
    assert message.endswith("rerun with --force --driver VERSION --cc X.Y")
    assert f"log: {tmp_path / '2-plan.log'}" in message


def test_make_envs_options_that_onboard_lacks_are_said_to_be_make_envs(tmp_path: Path) -> None:
    # make-env's "or --cpu for a CPU-only environment" came through as if onboard took --cpu
    said = (
        "gpudoctor: error: no PyTorch GPU build from pip fits driver 470.256.02 (CUDA 11.4), "
        "CC 3.0 (Kepler), linux-64: ...; or --cpu for a CPU-only environment"
    )
    message = _fail_with(tmp_path, said, driver="470.256.02", cc="3.0")
    assert message.endswith(
        "; --cpu: make-env's, not onboard's: to use it, run the make-env command in the log "
        "with it yourself"
    )
    both = _fail_with(tmp_path, "error: (--from-fleet DIR), or --cpu", driver="1.2.3", cc="9.0")
    assert both.endswith(
        "; --from-fleet, --cpu: make-env's, not onboard's: to use them, run the "
        "make-env command in the log with them yourself"
    )
    # onboard's own options (--driver, --python) and other steps' failures get no such words
    plain = _fail_with(tmp_path, "error: --python 3.9 has no build", driver="1.2.3", cc="9.0")
    assert "make-env's, not onboard's" not in plain
    create = _fail_with(tmp_path, "error: --cpu", step="create")
    assert "make-env's, not onboard's" not in create


def test_make_env_only_lists_what_make_env_takes_and_onboard_does_not() -> None:
    from gpudoctor.cli.make_env import command as make_env
    from gpudoctor.cli.onboard import command as onboard
    from gpudoctor.onboard.run import MAKE_ENV_ONLY

    def flags(command) -> set[str]:
        return {o for p in command.params for o in p.opts if o.startswith("--")}

    # --format, --output, --stdout: onboard sets them itself for its manifest
    own = {"--format", "--output", "--stdout"}
    assert set(MAKE_ENV_ONLY) == flags(make_env) - flags(onboard) - own


def test_other_tools_long_lines_are_still_cut_and_a_driver_given_needs_no_hint(
    tmp_path: Path,
) -> None:
    message = _fail_with(tmp_path, "error: " + "y" * 400, driver="580.95.05", cc="9.0")
    assert "y" * 180 + "..." in message and "y" * 200 not in message
    assert "rerun with" not in message


VERIFY_OUT = """\
model   framework  device  batch  images/s  spread  of peak  verdict
lenet5  torch      cpu        32       976     41%     0.1%  warn

✗ fail: SLURM job 16 on node n1 (partition gpu) was given GPUs (SLURM_STEP_GPUS=0), but verify \
found none there (NVML cannot be read: NVML Shared Library Not Found), ...
! warn: torch lenet5 cpu: spread 41% of the median (over 10%): ...
✗ fail: a later failure
verdict: FAIL
"""


def test_a_failed_verify_through_srun_says_why_verify_failed(tmp_path: Path) -> None:
    # it said "exited with status 1: srun: error: n1: task 0: Exited with exit code 1", srun's
    # last line, and the reason was in the log's stdout only
    srun = (
        "verify: torch lenet5 cpu: 976.2 images/s\nsrun: error: n1: task 0: Exited with exit code 1"
    )
    message = _fail_with(tmp_path, srun, step="verify", stdout=VERIFY_OUT, driver="5", cc="9")
    assert message.startswith("step 5/7 verify (verify --quick inside it on partition gpu) failed")
    assert (
        "failed: exited with status 1: SLURM job 16 on node n1 (partition gpu) was given GPUs "
        "(SLURM_STEP_GPUS=0), but verify found none there (NVML cannot be read: NVML Shared "
        "Library Not Found), ...; log: "
    ) in message
    assert "srun: error" not in message and "later failure" not in message
    # another step's stdout is not read so
    other = _fail_with(tmp_path, "error: no", step="create", stdout=VERIFY_OUT, driver="5", cc="9")
    assert "exited with status 1: error: no; log:" in other


UV_DOWNLOAD_FAILED = """\
error: Request failed after 3 retries in 10.4s
  cause: Failed to download `https://github.com/astral-sh/python-build-standalone/releases/download/20261110/cpython-3.14.10%2B20261110-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz`
  cause: error sending request for url (https://github.com/astral-sh/python-build-standalone/...)
  cause: client error (Connect)
  cause: dns error
  cause: failed to lookup address information: Name or service not known"""


def test_uvs_error_chain_names_what_failed_not_only_its_root_cause(tmp_path: Path) -> None:
    # (uv 0.13.9's words when a login node cannot reach the host of the Python it downloads)
    # the line said only "failed to lookup address information: Name or service not known"
    message = _fail_with(tmp_path, UV_DOWNLOAD_FAILED, driver="580.95.05", cc="9.0")
    assert "exited with status 1: error: Request failed after 3 retries in 10.4s; " in message
    assert "Failed to download `https://github.com/astral-sh/python-build-standalone/" in message
    assert "cpython-3.14.10" in message
    assert "; failed to lookup address information: Name or service not known; log:" in message
    assert "client error" not in message  # the middle of the chain is in the log


UV_INDEX_UNREACHED = """\
Using CPython 3.11.7 interpreter at: /usr/bin/python3
Creating virtual environment at: gpudoctor-env/.venv
error: Request failed after 3 retries in 7.9s
  cause: Failed to fetch: https://download.pytorch.org/whl/cpu/torch/
  cause: error sending request for url (https://download.pytorch.org/whl/cpu/torch/)
  cause: client error (Connect)
  cause: dns error
  cause: error resolving DNS
  cause: failed to lookup address information: Name or service not known"""


def _cpu_manifest(tmp_path: Path, **env_kw: object) -> None:
    """The pyproject.toml make-env writes for a CPU-only machine, where onboard's create step
    (prefix ``tmp_path``) reads it."""
    from gpudoctor import kb
    from gpudoctor.envplan.forms import render
    from gpudoctor.envplan.plan import Request as EnvRequest
    from gpudoctor.envplan.plan import make_plan as make_env_plan
    from gpudoctor.envplan.target import target_from_args

    knowledge = kb.load()
    env_plan = make_env_plan(
        knowledge, target_from_args(knowledge, driver=None, cc=None), EnvRequest(**env_kw)
    )
    manifest = tmp_path / "pyproject.toml"
    manifest.write_text(render(env_plan, "uv", str(manifest)))


def test_a_create_step_that_cannot_reach_the_torch_index_says_what_to_do(tmp_path: Path) -> None:
    # (uv 0.9's words on a VM where download.pytorch.org does not resolve, 2026-12-08) the line
    # named the URL and the DNS error, and no way round it
    _cpu_manifest(tmp_path)
    message = _fail_with(
        tmp_path, UV_INDEX_UNREACHED, step="create", status=2, prefix=str(tmp_path)
    )
    assert (
        "Failed to fetch: https://download.pytorch.org/whl/cpu/torch/; failed to lookup" in message
    )
    assert message.endswith(
        "; the PyTorch wheel index https://download.pytorch.org/whl/cpu did not answer: rerun "
        "with --force when this machine reaches it, or with --force --torch-index-url URL naming "
        "a mirror of it ({variant} in URL becomes cpu, cu126, ...)"
    )
    # a mirror given with --torch-index-url is the index named
    _cpu_manifest(tmp_path, torch_index_url="http://127.0.0.1:9/whl/{variant}")
    mirror = UV_INDEX_UNREACHED.replace("https://download.pytorch.org", "http://127.0.0.1:9")
    message = _fail_with(tmp_path, mirror, step="create", status=2, prefix=str(tmp_path))
    assert "the PyTorch wheel index http://127.0.0.1:9/whl/cpu did not answer" in message
    # PyPI, which no option of onboard replaces, gets no such hint; nor does a torch that the
    # index has no wheel of
    pypi = UV_INDEX_UNREACHED.replace(
        "https://download.pytorch.org/whl/cpu/torch/", "https://pypi.org/simple/numpy/"
    )
    message = _fail_with(tmp_path, pypi, step="create", status=2, prefix=str(tmp_path))
    assert "Failed to fetch: https://pypi.org/simple/numpy/" in message
    assert "wheel index" not in message
    unsolved = "error: No solution found: torch==2.15.* not in https://download.pytorch.org/whl/cpu"
    message = _fail_with(tmp_path, unsolved, step="create", prefix=str(tmp_path))
    assert "wheel index" not in message


def test_a_create_step_past_its_time_limit_says_what_it_last_printed(tmp_path: Path) -> None:
    # "still running after 3600 s: stopped": a download too slow and an index that never
    # answered read the same
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(prefix=str(tmp_path)), facts, None)
    create = next(s for s in plan.steps if s.name == "create")
    code = (
        "import sys, time; sys.stderr.write('Downloading torch (870.2MiB)\\n'); "
        "sys.stderr.flush(); time.sleep(30)"
    )
    slow = type(create)(
        **{**create.__dict__, "argv": (sys.executable, "-c", code), "timeout_s": 1.0}
    )
    message = _failure(tmp_path, slow, first=3, total=7)
    assert message.startswith(
        "step 3/7 create (create the environment with uv) failed: still running after 1 s "
        "(--create-timeout): stopped; it last printed: Downloading torch (870.2MiB); a download "
        "slower than onboard's limit for this step: rerun with --force --create-timeout SECONDS "
        "(more than 1), or where the network is faster, or run the command in the log "
        "yourself; log: "
    ), message


def _stopped_at_its_limit(tmp_path: Path, name: str, *, here: bool = False) -> str:
    """What onboard says when its step ``name`` prints a line and then waits past 1 s; the
    target is the login node's GPU partition, or this machine (``here``)."""
    facts = Facts(has_gpu=here, gpu_partitions=("gpu",), partitions=("gpu",))
    tmp_path.mkdir(exist_ok=True)
    plan = make_plan(request(prefix=str(tmp_path)), facts, None)
    chosen = next(s for s in plan.steps if s.name == name)
    code = "import sys, time; print('working', file=sys.stderr, flush=True); time.sleep(30)"
    slow = type(chosen)(
        **{**chosen.__dict__, "argv": (sys.executable, "-c", code), "timeout_s": 1.0}
    )
    return _failure(tmp_path, slow, first=2, total=7)


def test_a_verify_step_past_its_time_limit_names_the_option_that_gives_it_longer(
    tmp_path: Path,
) -> None:
    # a verify job that waited an hour in a busy queue was stopped with no way to wait longer
    message = _stopped_at_its_limit(tmp_path, "verify")
    assert "failed: still running after 1 s (--verify-timeout): stopped; it last printed: " in (
        message
    )
    assert (
        "working; to give it longer (a verify job's wait in SLURM's queue counts), rerun with "
        "--force --verify-timeout SECONDS (more than 1); log: "
    ) in message, message


def test_a_plan_step_past_its_fixed_limit_says_what_to_do(tmp_path: Path) -> None:
    # the plan step's bound is an internal guard: no option, but a way on all the same
    plain = _stopped_at_its_limit(tmp_path / "a", "plan", here=True)
    assert "still running after 1 s: stopped; it last printed: working; run the command in " in (
        plain
    ), plain
    # with the partition's node check, its own hint says how to plan without it
    partition = _stopped_at_its_limit(tmp_path / "b", "plan")
    assert "run the command in the log" not in partition, partition
    assert partition.endswith("rerun with --force --driver VERSION --cc X.Y"), partition


SHOWN: list[str] = []
"""The command lines the last _conda_create's progress was shown, and its results' commands."""


def _conda_create(
    tmp_path: Path, has_gpu: bool, cpu: bool = False, tool: str = "conda"
) -> tuple[str, str]:
    """Run the create step of a conda onboarding (the conda replaced by a Python that prints
    the override it got) on the environment.yml make-env writes for it: (its output, its
    log)."""
    from gpudoctor import kb
    from gpudoctor.envplan.cluster import for_nodes
    from gpudoctor.envplan.forms import render
    from gpudoctor.envplan.plan import Request as EnvRequest
    from gpudoctor.envplan.plan import make_plan as make_env_plan
    from gpudoctor.envplan.target import target_from_args

    facts = Facts(has_gpu=has_gpu, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(tool=tool, prefix=str(tmp_path)), facts, None)
    knowledge = kb.load()
    target = target_from_args(knowledge, driver="570.124.06", cc="9.0")
    if plan.target.partition is not None:
        target = for_nodes(target, partition="gpu", nodes="n[1-2]", gpu="h100", unload=())
    env_plan = make_env_plan(knowledge, target, EnvRequest(cpu=cpu))
    Path(plan.manifest).write_text(render(env_plan, tool, plan.manifest))
    create = next(s for s in plan.steps if s.name == "create")
    code = "import os; print(os.environ.get('CONDA_OVERRIDE_CUDA', 'none'))"
    fake = type(create)(**{**create.__dict__, "argv": (sys.executable, "-c", code)})
    (result,) = execute(
        [fake],
        first=3,
        total=7,
        log_dir=tmp_path,
        write_log=lambda path, text: path.write_text(text),
        in_process=lambda step: None,
        progress=(quiet := _Quiet()),
    )
    SHOWN[:] = [*quiet.shown, *(r.step.command for r in quiet.results)]
    return result.stdout.strip(), (tmp_path / "3-create.log").read_text()


def test_conda_for_a_partition_creates_with_the_override_make_env_asks_for(
    tmp_path: Path,
) -> None:
    # the header said "Create with: CONDA_OVERRIDE_CUDA=12.8 conda env create", onboard ran
    # conda without it: on a GPU-less login node conda has no __cuda to solve CUDA builds for
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(tool="conda", tool_exe="/c", prefix="/e"), facts, None)
    create = next(s for s in plan.steps if s.name == "create")
    assert create.command.startswith(
        "[CONDA_OVERRIDE_CUDA=<the nodes' CUDA, as environment.yml sets it>] /c env create"
    )
    # the dry run printed that after '$ ': pasted, '[CONDA_OVERRIDE_CUDA=' is no command and
    # '<the' a redirection; the prompt now stands before what a shell runs, the rest below it
    assert create.shown == (
        "$ /c env create -p /e/env -f /e/environment.yml",
        "  (run with CONDA_OVERRIDE_CUDA set to the nodes' CUDA, as environment.yml sets it)",
    )
    got, log = _conda_create(tmp_path, has_gpu=False)
    assert got == "12.8"
    assert log.startswith("$ CONDA_OVERRIDE_CUDA=12.8 ")
    # the progress line and the summary (from the result) show the command as run, not the
    # dry run's placeholder (the summary's table had "[CONDA_OVERRIDE_CUDA=<the nodes' ...")
    assert len(SHOWN) == 2 and all(c.startswith("CONDA_OVERRIDE_CUDA=12.8 ") for c in SHOWN)
    # a CPU-only plan sets no override, and neither does the create step
    assert _conda_create(tmp_path, has_gpu=False, cpu=True)[0] == "none"


def test_conda_on_this_machine_lets_conda_see_its_own_gpu(tmp_path: Path) -> None:
    facts = Facts(has_gpu=True)
    plan = make_plan(request(tool="conda", tool_exe="/c", prefix="/e"), facts, None)
    assert next(s for s in plan.steps if s.name == "create").command.startswith("/c env create")
    assert _conda_create(tmp_path, has_gpu=True)[0] == "none"


def test_pixi_for_a_partition_installs_with_the_nodes_cuda(tmp_path: Path) -> None:
    # pixi refuses a workspace whose [system-requirements] cuda the machine lacks ("Virtual
    # package '__cuda' does not match any of the available virtual packages on your machine",
    # fieldsoftheworld/ftw-baselines#117): onboard ran `pixi install` on the GPU-less login
    # node without CONDA_OVERRIDE_CUDA
    got, log = _conda_create(tmp_path, has_gpu=False, tool="pixi")
    assert got == "12.8"
    assert log.startswith("$ CONDA_OVERRIDE_CUDA=12.8 ")
    assert _conda_create(tmp_path, has_gpu=True, tool="pixi")[0] == "none"


def test_a_python_uv_could_not_download_gets_the_way_round(tmp_path: Path) -> None:
    said = _fail_with(
        tmp_path, UV_DOWNLOAD_FAILED, step="create", status=2, driver="580.95.05", cc="9.0"
    )
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert said.endswith(
        "; uv could not download the Python the manifest asks for: rerun with --force "
        f"--python X.Y naming a Python this machine has (gpudoctor runs on {here} here)"
    )
    # another failure of the plan step gets no such hint
    assert "could not download" not in _fail_with(tmp_path, "error: boom")


FAKE_SRUN = """echo "srun: job 42 queued and waiting for resources" >&2
i=0; while [ ! -e "$GO" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
[ -e "$GO" ] || exit 3
echo "srun: job 42 has been allocated resources" >&2
echo "verify: torch lenet5 cuda:0 ..." >&2
echo verified"""


def test_a_queued_verify_job_is_said_to_be_waiting_and_why_while_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # onboard's verify job waited in the SLURM queue for up to an hour behind a spinner: srun's
    # "queued and waiting for resources" reached only the log, once the job had ended
    from gpudoctor.fleet.slurm import pending_reason
    from tests.onboard.standins import fake_tool

    srun = fake_tool(tmp_path / "bin", "srun", FAKE_SRUN)
    fake_tool(tmp_path / "bin", "squeue", '[ "$3" = 42 ] && [ "$5" = "%r" ] && echo Resources')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("GO", str(tmp_path / "go"))
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(), facts, "gpu")
    verify = next(s for s in plan.steps if s.name == "verify")
    verify = type(verify)(**{**verify.__dict__, "argv": (str(srun),), "timeout_s": 30.0})

    news: list[str] = []

    class Heard(_Quiet):
        def said(self, index: int, total: int, step: object, line: str) -> None:
            news.append(f"[{index}/{total}] {line}")
            (tmp_path / "go").touch()  # the job starts only once the person was told

    (result,) = execute(
        [verify],
        first=4,
        total=6,
        log_dir=tmp_path,
        write_log=lambda path, text: path.write_text(text),
        in_process=lambda step: None,
        progress=Heard(),
        pending_reason=pending_reason,
    )
    assert result.ok and result.stdout == "verified\n", result
    assert news == [
        "[4/6] srun: job 42 queued and waiting for resources (squeue gives the reason: Resources)",
        "[4/6] srun: job 42 has been allocated resources",
    ]
    assert "srun: job 42 queued" in (tmp_path / "4-verify.log").read_text()


BASH = shutil.which("bash") or "/bin/bash"


@pytest.mark.parametrize("module", ["cuda/12.4", 'odd $HOME `x` \\ "name"'])
def test_verify_does_not_run_when_the_modules_cannot_be_unloaded(module: str) -> None:
    # without a `module` in the job's bash (a zsh login shell exports none; a /bin/sh wrapper
    # drops bash's exported functions) the step ran on: "verify: line 1: module: command not
    # found" in its log, and verify passed with the module's CUDA libraries first
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), shadowing_modules=(module,))
    verify = step(make_plan(request(), facts, None), "verify")
    script = verify[verify.index("bash") :][:4]
    command = (*script, "echo", "verify ran")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASH_FUNC_")}
    none = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert none.returncode == 1 and "verify ran" not in none.stdout
    quoted = shlex.quote(module)
    assert none.stderr.splitlines()[-1] == (
        f"gpudoctor: error: module unload {quoted} failed in the verify job, so verify would run "
        "with the CUDA libraries it put on LD_LIBRARY_PATH, which the job script unloads: "
        f"unload it in this shell (module unload {quoted}) and run onboard again"
    )
    # with Lmod's exported function it unloads, then runs verify
    fake = {**env, "BASH_FUNC_module%%": '() {  echo "unloaded $2" >&2\n}'}
    done = subprocess.run(
        command, env=fake, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0 and done.stdout == "verify ran\n", done.stderr
    assert done.stderr == f"unloaded {module}\n"


def test_the_line_before_sruns_last_words_says_why_a_step_failed(tmp_path: Path) -> None:
    said = "gpudoctor: error: module unload cuda/12.4 failed in the verify job, so ..."
    srun = f"{said}\nsrun: error: n1: task 0: Exited with exit code 1"
    message = _fail_with(tmp_path, srun, step="verify", driver="5", cc="9")
    assert "exited with status 1: module unload cuda/12.4 failed in the verify job" in message
    assert "srun: error" not in message


def test_the_job_script_stops_when_the_modules_cannot_be_unloaded(tmp_path: Path) -> None:
    # submitted from zsh (no exported `module`), it printed "module: command not found" and
    # ran train.py with cuda/12.4's libraries first on LD_LIBRARY_PATH
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), shadowing_modules=("cuda/12.4",))
    script = make_plan(request(), facts, None).job_script
    assert script is not None
    (tmp_path / "srun").write_text('#!/bin/sh\necho srun ran "$@"\n')
    (tmp_path / "srun").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASH_FUNC_")}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    run = partial(subprocess.run, [BASH, "-s"], input=script, capture_output=True, text=True)
    none = run(env=env, timeout=30, check=False)
    assert none.returncode == 1 and "srun ran" not in none.stdout
    assert "module: command not found" in none.stderr
    fake = {**env, "BASH_FUNC_module%%": "() {  :\n}"}
    done = run(env=fake, timeout=30, check=False)
    assert done.stdout == "srun ran python train.py\n", done.stderr


QUEUED_FOR_EVER = """\
import sys, time
sys.stderr.write("srun: job 43 queued and waiting for resources\\n")
sys.stderr.flush()
time.sleep(float(sys.argv[1]))
print("verify ran")
"""


@pytest.mark.parametrize(
    ("reason", "stops"),
    [
        ("QOSMaxWallDurationPerJobLimit", True),
        ("PartitionTimeLimit", True),
        ("PartitionConfig", True),
        ("Resources", False),
        ("Priority", False),
        (None, False),
    ],
)
def test_a_verify_job_slurm_will_never_start_is_not_waited_for(
    tmp_path: Path, reason: str | None, stops: bool
) -> None:
    # with --time over the QOS's MaxWall the job sat in the queue (squeue: the limit's name)
    # and onboard waited behind its spinner for the step's 60 minutes
    from gpudoctor.onboard.plan import Step
    from gpudoctor.onboard.run import Heard, run_step

    wait = 30.0 if stops else 0.5
    step = Step(
        name="verify", title="verify", argv=(sys.executable, "-c", QUEUED_FOR_EVER, str(wait))
    )
    heard = Heard(pending_reason=lambda job: reason if job == "43" else None)
    result = run_step(step, heard)
    if stops:
        assert not result.ok and result.duration_s < 10
        assert result.why == (
            f"SLURM queued job 43 and will never start it (squeue gives the reason: {reason}): "
            "it asks for more than the partition, account or QOS allows, or names an account "
            "or QOS it may not use; cancelled (`scontrol show partition`, `sacctmgr show assoc "
            "user=$USER` and `sacctmgr show qos` say the limits)"
        )
    else:
        assert result.ok and result.stdout == "verify ran\n", result.why


def test_a_step_killed_by_a_signal_names_the_signal(tmp_path: Path) -> None:
    # uv or pip stopped by the OOM killer read 'exited with status -9', an exit code no
    # program returns
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    chosen = next(s for s in make_plan(request(), facts, None).steps if s.name == "plan")
    killed = type(chosen)(**{**chosen.__dict__, "argv": (sys.executable, "-c", code)})
    message = _failure(tmp_path, killed, first=1, total=1)
    assert "killed by SIGKILL" in message and "status -9" not in message


def test_the_last_line_a_step_printed_is_plain_text_and_bounded() -> None:
    # it is written into onboard's lines in a log: a colour code reached it as it was
    from gpudoctor.onboard.run import Heard

    heard = Heard()
    assert heard.last_line() == ""
    heard.stdout("\x1b[1m\x1b[32mDownloading\x1b[0m torch (870.2MiB)\x07")
    heard("   ")
    assert heard.last_line() == "Downloading torch (870.2MiB)"
    heard("x" * 5000)
    assert len(heard.last_line()) == 200 and heard.last_line().endswith("...")


@pytest.mark.parametrize(
    "text",
    [
        "system-requirements = 5\n",
        "system-requirements = [1]\n",
        "[system-requirements]\ncuda = 12\n",
    ],
)
def test_a_pixi_manifest_without_a_cuda_table_sets_no_override(tmp_path: Path, text: str) -> None:
    # 'system-requirements = 5' (a manifest edited between make-env and the create step)
    # raised AttributeError ('int' object has no attribute 'get') out of the create step
    from gpudoctor.onboard.run import manifest_override

    manifest = tmp_path / "pixi.toml"
    manifest.write_text(text)
    assert manifest_override(str(manifest)) is None
