"""The onboarding plan: the target, and the steps as command lines (what each makes and undoes).

Pure: facts and a request in, a frozen plan out. Every step but the last two runs one of
gpudoctor's own commands (or uv, conda, pixi, srun) as a printable command line, so that
``--dry-run`` shows exactly what a real run does and onboard never reaches into another
command's internals.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Protocol

from gpudoctor.errors import BadInputError

TOOLS = ("uv", "conda", "pixi")
MANIFESTS = {"uv": "pyproject.toml", "conda": "environment.yml", "pixi": "pixi.toml"}
"""The file make-env writes for each tool (its --format has the tool's name)."""
ENV_DIRS = {"uv": ".venv", "conda": "env", "pixi": ".pixi"}
"""The folder the tool creates the environment in, under the prefix."""
ENV_PYTHONS = {
    "uv": ".venv/bin/python",
    "conda": "env/bin/python",
    "pixi": ".pixi/envs/default/bin/python",
}
LOG_DIR = "gpudoctor-logs"
MARKER = "gpudoctor-onboard.json"
"""Written last, once every step passed: only an environment with it is finished."""
MARKER_VERSION = 1
"""The marker's form (docs/onboard.md, docs/onboard-schema.json); bumped on any change that
breaks a reader."""
MARKER_TOOL = "gpudoctor onboard"
SUMMARY_FILES = ("gpudoctor-onboard.md", "gpudoctor-onboard.html")
CHECK_REPORT = "check.json"
"""check's JSON report, kept in the log folder; make-env plans from it."""
STEPS_AFTER_CHECK = 6
"""plan, create, install, verify, summary, finish."""
VERIFY_FRAMEWORK = {"torch": "torch", "tensorflow": "tensorflow", "both": "all"}
CUDA_OVERRIDE = "CONDA_OVERRIDE_CUDA"
"""conda's stand-in for the __cuda virtual package: a login node has no GPU for conda to see."""
SRUN_TIME = "00:30:00"
"""The time limit of the verify job step: --quick takes minutes; a queue wait is not counted."""
VERIFY_MINUTES = 30
"""SRUN_TIME in minutes: less where the partition's MaxTime is less."""
JOB_MINUTES = 60
"""The job script's time limit: less where the partition's MaxTime is less."""

# Per-step bounds: a wedged child is killed, never waited for. check's and the plan's are
# internal guards (each says what to do when it fires); the create, install and verify steps
# wait on a network or on SLURM's queue, which only the person knows to be slow: their bounds
# are the defaults of --create-timeout, --install-timeout and --verify-timeout.
CHECK_TIMEOUT_S = 300.0
PLAN_TIMEOUT_S = 120.0
PLAN_NODE_TIMEOUT_S = 600.0
"""The plan step's bound when make-env first checks a node of the partition through srun: it
tries up to 3 nodes, each --immediate (10 s) plus --remote-timeout (180 s), so that its own
message, which names the node, comes before this bound."""
CREATE_TIMEOUT_S = 3600.0  # CUDA wheels are gigabytes
INSTALL_TIMEOUT_S = 900.0
VERIFY_TIMEOUT_S = 3600.0  # srun may wait in the queue first


@dataclass(frozen=True, kw_only=True)
class Finished:
    """PREFIX/gpudoctor-onboard.json: the environment is finished, and how to enter it."""

    created_at: str
    """When the last step finished: UTC, ``2026-12-07T04:05:06Z``."""
    finished: bool = True
    """Always true: the file is written only once every step passed."""
    env_tool: str
    """The tool that made the environment: ``uv``, ``conda`` or ``pixi`` (before 2026-12-07
    the file named it as ``tool``)."""
    activate: str
    """The line that enters it, for a login script: ``source PREFIX/.venv/bin/activate``."""

    def document(self, gpudoctor_version: str) -> dict[str, object]:
        """The JSON object: what wrote it, as every gpudoctor document says, then the fields."""
        return {
            "schema_version": MARKER_VERSION,
            "tool": MARKER_TOOL,
            "gpudoctor_version": gpudoctor_version,
            "created_at": self.created_at,
            "finished": self.finished,
            "env_tool": self.env_tool,
            "activate": self.activate,
        }


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What check found that the plan depends on (the CLI reads them off the report)."""

    hostname: str | None = None
    has_gpu: bool
    """This machine has an NVIDIA GPU that the driver drives."""
    in_job: bool = False
    """This process runs inside a SLURM job (then the node is the target, not a partition)."""
    gpu_partitions: tuple[str, ...] = ()
    """Partitions whose nodes offer a ``gpu`` GRES, default first (a login node's view)."""
    idle_less_partitions: tuple[str, ...] = ()
    """GPU partitions whose nodes are all drained, down or not responding now (sinfo %F)."""
    closed_partitions: tuple[tuple[str, str], ...] = ()
    """GPU partitions that take no job now, with sinfo's state (%a: ``down``, ``drain``,
    ``inact``): srun queues a job in a down one, and refuses one in the others."""
    slurm_unanswered: str | None = None
    """Why sinfo did not answer, when SLURM's commands are here but its controller was not
    reached (or its configuration is missing): whether GPU partitions exist is unknown."""
    slurm_unconfigured: str | None = None
    """What sinfo said when SLURM's commands are here with no configuration at all (no
    slurm.conf: slurm-client on a workstation): no login node, and no list of partitions."""
    partitions: tuple[str, ...] | None = None
    """Every partition sinfo listed; None when SLURM did not answer (nothing to check
    --partition against)."""
    shadowing_modules: tuple[str, ...] = ()
    """Environment modules check names as shadowing pip's CUDA libraries."""
    problems: tuple[str, ...] = ()
    """``GD-XXX-NNN: title`` of each error and warning finding."""
    other_gpus: tuple[str, ...] = ()
    """Frameworks here that use GPUs other than NVIDIA's (``PyTorch 2.9.1+rocm6.4 sees 1 AMD
    GPU through ROCm``): the environment onboard plans (CUDA or CPU-only) uses none of them."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where the environment must work: this machine, or the nodes of a SLURM partition."""

    partition: str | None = None
    gpu: bool
    """verify runs on the GPU (else ``--device cpu``)."""
    why: str
    unchecked: str | None = None
    """Why --partition's name and GPUs could not be checked (sinfo did not answer, ...): the
    partition is taken as given, and the plan and the summary say so."""
    planned_for: str | None = None
    """``driver 580.95.05, compute capability 9.0``: this machine's environment is made for the
    GPU --driver/--cc name, not for what is here."""

    @property
    def text(self) -> str:
        """The target in words."""
        if self.partition is not None:
            return f"SLURM partition {self.partition}"
        if self.planned_for is not None and not self.gpu:
            # "CPU only" beside CUDA builds read as a contradiction: say what each is for
            return f"this machine (environment for {self.planned_for}; verified on its CPU)"
        return "this machine" + ("" if self.gpu else " (CPU only)")


def choose_target(facts: Facts, partition: str | None) -> Target:
    """--partition; else, on a login node without a GPU, its only GPU partition; else here."""
    if partition is not None:
        unchecked = _check_partition(facts, partition)
        why = "--partition" + (f"; not checked: {unchecked}" if unchecked else "")
        return Target(partition=partition, gpu=True, why=why, unchecked=unchecked)
    if not (facts.has_gpu or facts.in_job) and facts.slurm_unanswered is not None:
        # a login node whose sinfo failed once would get a CPU-only environment
        raise BadInputError(
            f"this machine has no GPU and SLURM's commands are here, but sinfo did not answer "
            f"({facts.slurm_unanswered}): onboard cannot tell where the GPUs are; try again "
            "when `sinfo` answers, or name the target with --partition P"
        )
    if facts.has_gpu or facts.in_job or not facts.gpu_partitions:
        why = "this machine has a GPU" if facts.has_gpu else "no GPU here and no GPU partition"
        if not facts.has_gpu and facts.other_gpus:
            # "no GPU here" on a box whose ROCm or XPU build uses its GPU
            why = (
                f"no NVIDIA GPU here and no GPU partition; {'; '.join(facts.other_gpus)}, "
                "which the CPU-only environment planned here will not use"
            )
        return Target(gpu=facts.has_gpu, why=why)
    if len(facts.gpu_partitions) > 1:
        raise BadInputError(
            f"this login node sees {len(facts.gpu_partitions)} GPU partitions "
            f"({', '.join(facts.gpu_partitions)}): choose one with --partition"
        )
    (only,) = facts.gpu_partitions
    return Target(partition=only, gpu=True, why="the only GPU partition this login node sees")


def _check_partition(facts: Facts, partition: str) -> str | None:
    """Refuse a --partition that sinfo does not list, or whose nodes offer no GPU: the verify
    job (``--gres=gpu:1``) and the job script would be refused by SLURM after minutes of work.

    Without sinfo's list, why the name could not be checked. The partition is then taken as
    given rather than refused: --partition is the way on that the refusal of a login node
    whose sinfo did not answer names, as make-env's does, and SLURM itself refuses a wrong
    name at the first step that asks it (make-env's node check, or the verify job).
    """
    if facts.partitions is None:
        if facts.slurm_unanswered is not None:
            return f"sinfo did not answer ({facts.slurm_unanswered})"
        if facts.in_job:
            return "check does not ask sinfo inside a SLURM job"
        if facts.slurm_unconfigured is not None:
            return f"SLURM is not configured on this machine ({facts.slurm_unconfigured})"
        return "check found no sinfo here"
    refuse_partition(partition, facts.partitions, facts.gpu_partitions)
    return None


def refuse_partition(
    partition: str, partitions: Sequence[str], gpu_partitions: Sequence[str]
) -> None:
    """Refuse ``partition`` where sinfo's ``partitions`` lack it or it has no GPU GRES."""
    gpu = ", ".join(gpu_partitions) or "none"
    if partition not in partitions:
        raise BadInputError(
            f"--partition {partition}: no such partition (this cluster has: "
            f"{', '.join(partitions) or 'none'}; with GPUs: {gpu})"
        )
    if partition not in gpu_partitions:
        raise BadInputError(
            f"--partition {partition} has no GPU GRES: its nodes offer no GPU for the "
            f"environment to verify on; choose a GPU partition ({gpu})"
        )


class OnPartition(Protocol):
    """How the CLI turns a command into a job step on one GPU of a partition."""

    def __call__(
        self, partition: str, command: tuple[str, ...], *, time_limit: str
    ) -> tuple[str, ...]:
        """The srun command line (``time_limit`` as SLURM spells it: ``00:30:00``)."""
        ...


def time_limit(minutes: int) -> str:
    """``minutes`` as SLURM's ``HH:MM:SS``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the person asked for, resolved by the CLI (absolute paths, the tool found)."""

    gpudoctor: tuple[str, ...]
    """The command line that runs gpudoctor itself: ``python -m gpudoctor``."""
    prefix: str
    """The folder that holds the manifest, the environment, the logs and the marker."""
    tool: str
    tool_exe: str
    """uv, conda or pixi as found on PATH (its name when not found: --dry-run)."""
    framework: str = "torch"
    python: str | None = None
    torch: str | None = None
    tensorflow: str | None = None
    torch_index_url: str | None = None
    driver: str | None = None
    cc: str | None = None
    from_report: str | None = None
    """A saved check report used instead of running check."""
    gpudoctor_spec: str
    """What to install so that verify runs inside the environment: a requirement or a wheel."""
    report_dir: str
    """Where the Markdown and HTML summaries go."""
    force: bool = False
    create_timeout_s: float = CREATE_TIMEOUT_S
    """--create-timeout: the create step's bound."""
    install_timeout_s: float = INSTALL_TIMEOUT_S
    """--install-timeout: the install step's bound."""
    verify_timeout_s: float = VERIFY_TIMEOUT_S
    """--verify-timeout: the verify step's bound, a wait in SLURM's queue included."""
    on_partition: OnPartition | None = None
    """(partition, command, time_limit) -> the command line that runs it on one GPU of that
    partition; SLURM's commands are spelled in fleet/slurm.py alone, so the CLI hands this in."""
    partition_minutes: Callable[[str], int | None] | None = None
    """partition -> its MaxTime in minutes (None: no limit, or not known): the verify job and
    the job script ask for no more. Asked for more, SLURM queued them for ever
    (PartitionTimeLimit), and onboard waited behind its spinner for its 60 minutes."""


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step: a command line (none for the steps gpudoctor does itself), bounded."""

    name: str
    """A short name for messages and log files: check, plan, create, install, verify, summary."""
    title: str
    argv: tuple[str, ...] = ()
    makes: tuple[str, ...] = ()
    """The paths it creates."""
    undo: tuple[str, ...] = ()
    """The paths removed when it fails or is interrupted: nothing half-made looks finished."""
    timeout_s: float = 60.0
    timeout_option: str = ""
    """onboard's option that sets ``timeout_s`` (``--create-timeout``), named when the step is
    stopped at it; "" for a fixed bound."""
    ok_codes: tuple[int, ...] = (0,)
    term_grace_s: float = 0.0
    """SIGTERM first, then this long before SIGKILL (srun cancels its job step on SIGTERM)."""
    hint: str = ""
    """What to do when it fails, in onboard's own options (the command's message names its
    own)."""
    env: tuple[tuple[str, str], ...] = ()
    """Variables the command gets on top of gpudoctor's own environment."""
    env_from: str | None = None
    """An environment.yml whose ``variables:`` CONDA_OVERRIDE_CUDA the command gets as well,
    read when the step starts: make-env writes it there (and on its ``Create with:`` line)
    exactly when conda must solve for the compute nodes' CUDA rather than this machine's."""
    index_from: str | None = None
    """The manifest whose package indexes (the PyTorch wheel index make-env chose, or the
    --torch-index-url mirror) a failed step's message names when it could not reach one."""

    @property
    def shown(self) -> tuple[str, ...]:
        """The lines a dry run prints for the step: ``$ `` and a line a shell runs as it is;
        what gpudoctor does itself, and a variable known only once the plan step has written
        its file, as words with no prompt (pasted, ``[VAR=<...>]`` or ``(gpudoctor writes
        ...)`` is no command)."""
        if not self.argv:
            return (self.command,)
        if self.env_from is not None and not self.env:
            where = PurePosixPath(self.env_from).name
            return (
                f"$ {shlex.join(self.argv)}",
                f"  (run with {CUDA_OVERRIDE} set to the nodes' CUDA, as {where} sets it)",
            )
        return (f"$ {self.command}",)

    @property
    def command(self) -> str:
        """The command line as a shell would take it, or what gpudoctor does itself."""
        if not self.argv:
            return f"(gpudoctor writes {', '.join(self.makes)})"
        words = [f"{name}={shlex.quote(value)}" for name, value in self.env]
        if self.env_from is not None and not self.env:
            where = PurePosixPath(self.env_from).name
            words.append(f"[{CUDA_OVERRIDE}=<the nodes' CUDA, as {where} sets it>]")
        return " ".join([*words, shlex.join(self.argv)])


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything onboard will do, in order, and what the person gets at the end."""

    target: Target
    tool: str
    prefix: str
    manifest: str
    env_dir: str
    env_python: str
    activate: str
    log_dir: str
    check_report: str
    marker: str
    summary_files: tuple[str, str]
    steps: tuple[Step, ...]
    job_script: str | None
    """A batch script for the partition target; None for this machine."""
    run_line: str
    node_check: bool = False
    """make-env (step 2) checks one of the partition's nodes through srun --immediate."""


def _join(*parts: str) -> str:
    return str(PurePosixPath(*parts))


def check_step(request: Request) -> Step:
    """Step 1: check this machine (read-only; exit 1 only means check found problems)."""
    return Step(
        name="check",
        title="check this machine",
        argv=(*request.gpudoctor, "check", "--format", "json"),
        makes=(_join(request.prefix, LOG_DIR, CHECK_REPORT),),
        timeout_s=CHECK_TIMEOUT_S,
        ok_codes=(0, 1),
        # SIGTERM first, as for srun: a check killed outright on Ctrl-C left its
        # /tmp/gpudoctor-* folder behind; on SIGTERM it removes it (within 3 s) and exits
        term_grace_s=5.0,
    )


def _target_flags(request: Request, target: Target, report: str, facts: Facts) -> tuple[str, ...]:
    """make-env's options that name the machine to plan for."""
    if request.driver is not None or request.cc is not None:
        # with the partition beside them (read with sinfo, no node check) make-env plans for
        # the nodes: the file names them and, for conda, the nodes' CUDA (CONDA_OVERRIDE_CUDA)
        named = target.partition is not None and facts.partitions is not None
        return (
            *(("--driver", request.driver) if request.driver else ()),
            *(("--cc", request.cc) if request.cc else ()),
            *(("--partition", target.partition) if named and target.partition else ()),
        )
    if target.partition is None:
        return ("--from-report", report)
    # make-env runs a check on one of the partition's nodes (through srun) and plans from it
    return ("--partition", target.partition)


def activate_line(tool: str, prefix: str) -> str:
    """The line that activates the environment in a shell (and in a job script)."""
    if tool == "uv":
        return f"source {shlex.quote(_join(prefix, '.venv/bin/activate'))}"
    if tool == "conda":
        return f"conda activate {shlex.quote(_join(prefix, 'env'))}"
    manifest = shlex.quote(_join(prefix, MANIFESTS["pixi"]))
    return f'eval "$(pixi shell-hook --manifest-path {manifest})"'


def _one_line(text: str) -> str:
    """A line of the job script with each newline or other control character a space: a
    partition's name can end no line of the script and start one."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _sbatch_word(partition: str) -> str:
    """The partition as one word that sbatch reads back as it is from ``#SBATCH -p``, else
    PARTITION (sbatch then refuses the script: *invalid partition specified*). sbatch splits
    the line itself: at whitespace (``-p gpu --job-name=x`` named the job too), at an unquoted
    ``#``; quotes group and go; a backslash escapes even inside quotes; a leading ``:`` is
    fatal (model/shell.sbatch_word says more; onboard does not import the model)."""
    bad = not partition or not partition.isprintable() or partition.startswith("-")
    if bad or "\\" in partition:
        return "PARTITION"
    quoted = shlex.quote(partition)
    return f"'{quoted}'" if quoted.startswith(":") else quoted


def job_script(
    target: Target, activate: str, modules: tuple[str, ...], max_minutes: int | None = None
) -> str | None:
    """A batch script for the partition: one GPU, clean modules, the environment, srun; at
    most an hour, and no more than the partition's MaxTime (``max_minutes``)."""
    if target.partition is None:
        return None
    minutes = JOB_MINUTES if max_minutes is None else min(JOB_MINUTES, max_minutes)
    lines = [
        "#!/bin/bash",
        "#SBATCH --job-name=train",
        # one word as sbatch reads the line (quoted, or PARTITION): 'gpu --output=F' set
        # --output too, and a partition's name can end no line of the script and start one
        f"#SBATCH -p {_sbatch_word(target.partition)}",
        "#SBATCH --gres=gpu:1",
        *(
            [_one_line(f"# partition {target.partition}'s MaxTime")]
            if minutes < JOB_MINUTES
            else []
        ),
        f"#SBATCH --time={time_limit(minutes)}",
        "",
    ]
    if modules:
        # `|| exit 1`: a batch bash without `module` (submitted from zsh, which exports no
        # functions) printed "module: command not found" and trained with them loaded
        lines += [
            "# check named these modules as shadowing the CUDA libraries the environment brings;",
            "# the job stops if they cannot be unloaded",
            f"module unload {' '.join(shlex.quote(m) for m in modules)} || exit 1",
        ]
    if activate.startswith("conda activate "):
        # a batch script is a non-interactive bash: it reads no ~/.bashrc, so the `conda`
        # shell function `conda init` put there is missing and `conda activate` fails
        # ("Run 'conda init' before 'conda activate'"); the hook defines it (conda/conda#7980)
        lines.append('eval "$(conda shell.bash hook)"')
    lines += [activate, "srun python train.py", ""]
    return "\n".join(lines)


def _unload_then(unload: str) -> str:
    """The bash script of the verify step that unloads ``unload`` first, or stops saying why."""
    why = (
        f"gpudoctor: error: module unload {unload} failed in the verify job, so verify would "
        "run with the CUDA libraries it put on LD_LIBRARY_PATH, which the job script unloads: "
        f"unload it in this shell (module unload {unload}) and run onboard again"
    )
    # double quotes, not shlex.quote: inside the single-quoted script shown in the plan and
    # the summary, its quotes read '"'"'
    said = "".join("\\" + c if c in '\\"$`' else c for c in why)
    return f'module unload {unload} || {{ echo "{said}" >&2; exit 1; }}; exec "$@"'


def make_plan(request: Request, facts: Facts, partition: str | None) -> Plan:
    """Choose the target and lay out the steps after check."""
    if request.tool not in TOOLS:
        raise BadInputError(f"--tool {request.tool}: use {' or '.join(TOOLS)}")
    target = choose_target(facts, partition)
    if target.partition is None and (request.driver is not None or request.cc is not None):
        named = (
            *((f"driver {request.driver}",) if request.driver else ()),
            *((f"compute capability {request.cc}",) if request.cc else ()),
        )
        target = replace(target, planned_for=", ".join(named))
    prefix, tool = request.prefix, request.tool
    log_dir = _join(prefix, LOG_DIR)
    report = request.from_report or _join(log_dir, CHECK_REPORT)
    manifest = _join(prefix, MANIFESTS[tool])
    env_dir = _join(prefix, ENV_DIRS[tool])
    env_python = _join(prefix, ENV_PYTHONS[tool])
    plan_argv = (
        *request.gpudoctor,
        "make-env",
        "--format",
        tool,
        "-o",
        manifest,
        "--framework",
        request.framework,
        *_target_flags(request, target, report, facts),
        *(("--python", request.python) if request.python else ()),
        *(("--torch", request.torch) if request.torch else ()),
        *(("--tensorflow", request.tensorflow) if request.tensorflow else ()),
        *(("--torch-index-url", request.torch_index_url) if request.torch_index_url else ()),
        *(("--force",) if request.force else ()),
    )
    exe = request.tool_exe
    create = {
        "uv": (exe, "sync", "--project", prefix),
        "conda": (exe, "env", "create", "-p", env_dir, "-f", manifest),
        "pixi": (exe, "install", "--manifest-path", manifest),
    }[tool]
    install = (
        (exe, "pip", "install", "--python", env_python, request.gpudoctor_spec)
        if tool == "uv"
        else (env_python, "-I", "-m", "pip", "install", request.gpudoctor_spec)
    )
    # -I: the new environment's own packages only (no PYTHONPATH, no current folder, no user
    # site-packages), so that verify proves this environment and not a checkout beside it
    verify: tuple[str, ...] = (
        env_python,
        "-I",
        "-m",
        "gpudoctor",
        "verify",
        "--quick",
        "--framework",
        VERIFY_FRAMEWORK[request.framework],
        *(() if target.gpu else ("--device", "cpu")),
    )
    max_minutes = None
    if target.partition is not None and request.partition_minutes is not None:
        max_minutes = request.partition_minutes(target.partition)
    if target.partition is not None:
        if request.on_partition is None:
            raise BadInputError(f"cannot run a job on partition {target.partition} here")
        if facts.shadowing_modules:
            # srun passes this shell's environment on, loaded modules included: verify ran
            # with the CUDA libraries the job script unloads first on LD_LIBRARY_PATH, so it
            # proved another environment than the one the jobs get. It unloads them the same
            # way (Lmod and Environment Modules export `module` to child bash shells; not from
            # zsh, nor through a /bin/sh wrapper). When the unload fails, verify does not run:
            # it ran on ("module: command not found" in its log) and passed with the modules'
            # libraries first on LD_LIBRARY_PATH.
            unload = " ".join(shlex.quote(m) for m in facts.shadowing_modules)
            verify = ("bash", "-c", _unload_then(unload), "verify", *verify)
        verify_minutes = VERIFY_MINUTES if max_minutes is None else min(VERIFY_MINUTES, max_minutes)
        verify = request.on_partition(
            target.partition, verify, time_limit=time_limit(verify_minutes)
        )
    node_check = target.partition is not None and request.driver is None and request.cc is None
    summaries = (
        _join(request.report_dir, SUMMARY_FILES[0]),
        _join(request.report_dir, SUMMARY_FILES[1]),
    )
    steps = (
        Step(
            name="plan",
            title=f"plan the environment ({MANIFESTS[tool]})",
            argv=plan_argv,
            makes=(manifest,),
            timeout_s=PLAN_NODE_TIMEOUT_S if node_check else PLAN_TIMEOUT_S,
            hint=(
                "onboard plans without that node check when given the nodes' driver and "
                "compute capability: rerun with --force --driver VERSION --cc X.Y"
                if node_check
                else ""
            ),
        ),
        Step(
            name="create",
            title=f"create the environment with {tool}",
            argv=create,
            makes=(env_dir,),
            undo=(env_dir,),
            timeout_s=request.create_timeout_s,
            timeout_option="--create-timeout",
            # conda on a login node sees no __cuda: without make-env's override a conda CUDA
            # build would not solve there, or conda would pick a CPU build; pixi refuses to
            # install a workspace whose [system-requirements] cuda this machine lacks
            env_from=manifest if tool in ("conda", "pixi") and target.partition else None,
            index_from=manifest,
        ),
        Step(
            name="install",
            title="install gpudoctor into it (for verify)",
            argv=install,
            timeout_s=request.install_timeout_s,
            timeout_option="--install-timeout",
        ),
        Step(
            name="verify",
            title="verify --quick inside it"
            + (f" on partition {target.partition}" if target.partition else ""),
            argv=verify,
            timeout_s=request.verify_timeout_s,
            timeout_option="--verify-timeout",
            term_grace_s=10.0 if target.partition else 0.0,
        ),
        Step(name="summary", title="write the summary", makes=summaries),
        Step(name="finish", title="mark the environment finished", makes=(_join(prefix, MARKER),)),
    )
    activate = activate_line(tool, prefix)
    return Plan(
        target=target,
        tool=tool,
        prefix=prefix,
        manifest=manifest,
        env_dir=env_dir,
        env_python=env_python,
        activate=activate,
        log_dir=log_dir,
        check_report=report,
        marker=_join(prefix, MARKER),
        summary_files=summaries,
        steps=steps,
        job_script=job_script(target, activate, facts.shadowing_modules, max_minutes),
        run_line="sbatch train.sbatch" if target.partition else "python train.py",
        node_check=node_check,
    )
