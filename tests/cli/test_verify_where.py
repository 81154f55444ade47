"""`gpudoctor verify` with no GPU on a SLURM cluster: a login node, a job given no GPU."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.verify.model import Settings, VerifyResult
from tests.conftest import Cli
from tests.verify import factories as f

SINFO = """#!/bin/sh
# sinfo -h -o '%P|%a|%D|%G|%f|%F|%N', as the test cluster of scripts/slurm-cluster answers
echo 'gpu*|up|2|gpu:h100:8|(null)|2/0/0/2|n[1-2]'
echo 'cpu|up|1|(null)|(null)|1/0/0/1|n3'
"""
NO_GPU_PARTITION = "#!/bin/sh\necho 'cpu*|up|1|(null)|(null)|1/0/0/1|n3'\n"
DOWN = "#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller' >&2\nexit 1\n"
UNCONFIGURED = (
    "#!/bin/sh\necho 'sinfo: fatal: Could not establish a configuration source' >&2\nexit 1\n"
)
JOB = {"SLURM_JOB_ID": "19", "SLURMD_NODENAME": "n1", "SLURM_JOB_PARTITION": "gpu"}


def cpu_only_result() -> VerifyResult:
    """verify --quick's result on a machine without a GPU: lenet5 on the CPU."""
    env = f.env(
        version="2.13.0+cpu",
        cuda_build=False,
        cuda_version=None,
        gpus=(),
        nvml_gpu_count=None,
        nvml_error="NVML Shared Library Not Found",
    )
    settings = Settings(
        models=("lenet5",), framework="torch", device="all", quick=True, gpu_required=False
    )
    return VerifyResult(settings=settings, frameworks=(env,), runs=(f.run("lenet5", "cpu"),))


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpudoctor.verify import harness

    monkeypatch.setattr(harness, "run_verify", lambda *a, **k: cpu_only_result())


def sinfo(tmp_path: Path, body: str, **env: str) -> dict[str, str | None]:
    """PATH with this sinfo first, and a gpudoctor command (as an activated venv has it)."""
    (tmp_path / "sinfo").write_text(body)
    (tmp_path / "sinfo").chmod(0o755)
    (tmp_path / "gpudoctor").write_text("#!/bin/sh\nexit 99\n")
    (tmp_path / "gpudoctor").chmod(0o755)
    gone = {k: None for k in os.environ if k.startswith("SLURM")}
    return {**gone, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", **env}


ARGS = ("verify", "--quick", "--framework", "torch", "--models", "lenet5", "--no-history")


@pytest.mark.usefixtures("no_gpu")
def test_verify_on_a_login_node_says_where_the_gpus_are(cli: Cli, tmp_path: Path) -> None:
    # it passed on the login node's CPU and said only "no GPU found (NVML Shared Library Not
    # Found)", as on a laptop: the new student took the install as verified
    result = cli(*ARGS, env=sinfo(tmp_path, SINFO))
    assert result.exit_code == 0, result
    assert (
        "! warn: this is a SLURM login node: the GPUs are on partition gpu, so only this node's "
        "CPU was verified; run it on a GPU node: srun -p gpu --gres=gpu:1 gpudoctor verify "
        "--quick --framework torch"
    ) in result.stdout
    assert result.stdout.rstrip().endswith("verdict: WARN")


@pytest.mark.usefixtures("no_gpu")
def test_the_srun_line_runs_this_gpudoctor_where_none_is_on_path(cli: Cli, tmp_path: Path) -> None:
    # run as `python -m gpudoctor verify` with no gpudoctor on PATH, the line said `srun ...
    # gpudoctor verify`, which failed on the node: 'execve(): gpudoctor: No such file or
    # directory'
    env = sinfo(tmp_path, SINFO)
    (tmp_path / "gpudoctor").unlink()
    result = cli(*ARGS, env={**env, "PATH": str(tmp_path)})
    assert result.exit_code == 0, result
    python = shlex.quote(sys.executable)
    assert (
        f"run it on a GPU node: srun -p gpu --gres=gpu:1 {python} -m gpudoctor verify --quick "
        "--framework torch"
    ) in result.stdout


@pytest.mark.usefixtures("no_gpu")
def test_the_srun_line_keeps_the_options_that_choose_what_runs(cli: Cli, tmp_path: Path) -> None:
    # 'verify --quick --models lenet5 --mode training' said 'srun ... gpudoctor verify --quick',
    # which on the GPU node ran every model, for inference
    result = cli(
        *ARGS,
        "--mode",
        "training",
        "--precision",
        "amp-bf16",
        "--batch-size",
        "8",
        "--time-budget",
        "2.5",
        "--device",
        "all",
        "-o",
        str(tmp_path / "v.md"),
        env=sinfo(tmp_path, SINFO),
    )
    assert result.exit_code == 0, result
    said = " ".join((tmp_path / "v.md").read_text(encoding="utf-8").split())
    assert (
        "run it on a GPU node: srun -p gpu --gres=gpu:1 gpudoctor verify --quick --framework "
        "torch --models lenet5 --device all --mode training --precision amp-bf16 --batch-size 8 "
        "--time-budget 2.5 "
    ) in said + " "
    assert "v.md" not in said.split("srun -p gpu", 1)[1].split("verdict")[0]


@pytest.mark.usefixtures("no_gpu")
def test_verify_in_a_job_given_no_gpu_says_to_ask_for_one(cli: Cli, tmp_path: Path) -> None:
    # `srun -p gpu gpudoctor verify --quick` without --gres passed on the CPU
    result = cli(*ARGS, env=sinfo(tmp_path, SINFO, **JOB))
    assert (
        "! warn: SLURM job 19 on node n1 (partition gpu) was given no GPU (no --gres or --gpus: "
        "SLURM_JOB_GPUS and SLURM_GPUS_ON_NODE are unset), so only the CPU was verified; ask "
        "for one: srun -p gpu --gres=gpu:1 gpudoctor verify"
    ) in result.stdout
    in_cpu = cli(*ARGS, env=sinfo(tmp_path, SINFO, **{**JOB, "SLURM_JOB_PARTITION": "cpu"}))
    assert (
        "SLURM job 19 on node n1 runs in partition cpu, which has no GPUs, so only the CPU was "
        "verified; the GPUs are on partition gpu: srun -p gpu --gres=gpu:1 gpudoctor verify"
    ) in in_cpu.stdout


@pytest.mark.usefixtures("no_gpu")
def test_verify_in_a_fleet_run_job_says_how_fleet_run_verifies_the_gpus(
    cli: Cli, tmp_path: Path
) -> None:
    # fleet run --verify asks for no GPU; the warning told the admin to run
    # `srun -p gpu --gres=gpu:1 gpudoctor verify --quick` by hand on each node
    fleet = {**JOB, "SLURM_JOB_NAME": "gpudoctor-fleet"}
    result = cli(*ARGS, env=sinfo(tmp_path, SINFO, **fleet))
    assert (
        "! warn: SLURM job 19 on node n1 (partition gpu) was given no GPU: fleet run asks for "
        "none, so only the CPU was verified; where a job sees only the GPUs it was given "
        "(cgroup.conf ConstrainDevices=yes), give fleet run the nodes' GPU count: "
        "--srun-arg=--gres=gpu:N"
    ) in result.stdout
    assert "srun -p gpu --gres=gpu:1 gpudoctor verify" not in result.stdout


@pytest.mark.usefixtures("no_gpu")
def test_a_controller_that_does_not_answer_still_points_at_the_compute_nodes(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli(*ARGS, env=sinfo(tmp_path, DOWN))
    assert "this looks like a SLURM login node (sinfo here, no job), but sinfo did not" in (
        result.stdout
    )
    assert "srun -p PARTITION --gres=gpu:1 gpudoctor verify" in result.stdout


@pytest.mark.usefixtures("no_gpu")
@pytest.mark.parametrize(
    ("body", "env"),
    [
        (NO_GPU_PARTITION, {}),  # a CPU cluster: the CPU is what there is
        # slurm-client installed but no slurm.conf (a laptop, a CI runner): no cluster at all;
        # it read "this looks like a SLURM login node" and WARN
        (UNCONFIGURED, {}),
    ],
)
def test_no_word_of_slurm_where_it_is_not_the_cause(
    cli: Cli, tmp_path: Path, body: str, env: dict[str, str]
) -> None:
    result = cli(*ARGS, env=sinfo(tmp_path, body, **env))
    assert result.exit_code == 0, result
    assert "SLURM" not in result.stdout and "srun" not in result.stdout
    assert result.stdout.rstrip().endswith("verdict: PASS")


@pytest.mark.usefixtures("no_gpu")
def test_verify_in_a_job_given_gpus_it_cannot_find_fails(cli: Cli, tmp_path: Path) -> None:
    # `srun -p gpu --gres=gpu:1 gpudoctor verify --quick` on a node whose GPUs are missing
    # passed on the CPU ("`gpudoctor verify --device cpu` asks for exactly that"), and
    # onboard's verify step, run so, called the environment ready
    given = {**JOB, "SLURM_STEP_GPUS": "0", "SLURM_GPUS_ON_NODE": "1"}
    result = cli(*ARGS, env=sinfo(tmp_path, SINFO, **given))
    assert result.exit_code == 1, result
    assert (
        "✗ fail: SLURM job 19 on node n1 (partition gpu) was given GPUs (SLURM_STEP_GPUS=0, "
        "SLURM_GPUS_ON_NODE=1), but verify found none there (NVML cannot be read: NVML Shared "
        "Library Not Found), so only the CPU was verified and the jobs given them would run on "
        "the CPU too: `gpudoctor check` in such a job says why (GD-DRV-001); meanwhile run "
        "elsewhere: sbatch --exclude=n1 ..."
    ) in result.stdout
    assert "--device cpu` asks for exactly that" not in result.stdout
    assert result.stdout.rstrip().endswith("verdict: FAIL")
    # no GPU in them: SLURM 23.11 puts --cpus-per-task into SLURM_TRES_PER_TASK as cpu=N
    for none in ({"SLURM_TRES_PER_TASK": "cpu=2"}, {"SLURM_GPUS_ON_NODE": "0"}):
        cpu = cli(*ARGS, env=sinfo(tmp_path, SINFO, **JOB, **none))
        assert cpu.exit_code == 0, cpu
        assert "was given no GPU (no --gres or --gpus" in cpu.stdout


def test_a_verdict_that_found_a_gpu_is_left_alone(tmp_path: Path) -> None:
    from gpudoctor.cli.verify_where import with_slurm_reason
    from gpudoctor.verify.verdict import Verdict

    verdict = Verdict(overall="pass", models=(("lenet5", "pass"),), reasons=())
    env = {"PATH": str(tmp_path), "SLURM_JOB_ID": "3"}
    assert with_slurm_reason(verdict, ["gpudoctor", "verify"], env) is verdict
    assert replace(verdict) == verdict


def _judged_cpu_only() -> object:
    from gpudoctor.verify.references import load_references
    from gpudoctor.verify.verdict import judge

    return judge(cpu_only_result(), load_references())


def _fake_root(tmp_path: Path, *, marker: str, gpu: bool) -> Path:
    root = tmp_path / "root"
    (root / marker.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / marker.lstrip("/")).touch()
    devices = root / "sys/bus/pci/devices"
    devices.mkdir(parents=True)
    if gpu:  # the host's H100, as /sys shows it inside a container
        dev = devices / "0000:01:00.0"
        dev.mkdir()
        for name, value in (("vendor", "0x10de"), ("class", "0x030200"), ("device", "0x2330")):
            (dev / name).write_text(value + "\n")
    return root


def test_verify_in_a_container_started_without_the_gpu_says_so(tmp_path: Path) -> None:
    # `docker run` without --gpus on a GPU host: verify --quick passed on the CPU and said only
    # "no GPU found (NVML cannot be read: NVML Shared Library Not Found)", as on a laptop.
    from gpudoctor.cli.verify_where import with_slurm_reason
    from gpudoctor.probe.base import ProbeContext

    verdict = _judged_cpu_only()
    assert verdict.overall == "pass"
    env = {"PATH": str(tmp_path)}
    docker = ProbeContext(env=env, root=_fake_root(tmp_path, marker="/.dockerenv", gpu=True))
    said = with_slurm_reason(verdict, ["gpudoctor", "verify"], env, docker)
    assert said.overall == "warn"
    (first, *_) = said.reasons
    assert first.code == "container_without_gpu"
    assert "docker container that was given no GPU" in first.message
    assert "PCI 0000:01:00.0: NVIDIA device 0x2330" in first.message
    assert "docker run --gpus all" in first.message


@pytest.mark.parametrize(
    ("marker", "gpu", "env", "words"),
    [
        ("/.singularity.d/env/90-environment.sh", True, {}, "apptainer exec --nv"),
        ("/.dockerenv", True, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "nvidia.com/gpu: 1"),
        ("/.dockerenv", False, {}, None),  # a laptop's container: the CPU is what there is
        # a CUDA image sets NVIDIA_VISIBLE_DEVICES=all itself: on a laptop it shows no host GPU
        ("/.dockerenv", False, {"NVIDIA_VISIBLE_DEVICES": "all"}, None),
        ("/etc/hostname", True, {}, None),  # not in a container
    ],
)
def test_each_runtime_is_told_its_own_way_to_the_gpu(
    tmp_path: Path, marker: str, gpu: bool, env: dict[str, str], words: str | None
) -> None:
    from gpudoctor.cli.verify_where import container_reason
    from gpudoctor.probe.base import ProbeContext

    ctx = ProbeContext(env=env, root=_fake_root(tmp_path, marker=marker, gpu=gpu))
    reason = container_reason(ctx)
    if words is None:
        assert reason is None
    else:
        assert reason is not None and words in reason.message


def _wsl_root(tmp_path: Path, *, dxg: bool) -> Path:
    """A docker container under WSL2: its kernel is Microsoft's, /sys shows no GPU (WSL2
    passes it as /dev/dxg, never a PCI device), and /dev/dxg is there when it was given one."""
    root = _fake_root(tmp_path, marker="/.dockerenv", gpu=False)
    (root / "proc").mkdir()
    (root / "proc/version").write_text(
        "Linux version 6.6.87.2-microsoft-standard-WSL2 (root@439a258ad544) #1 SMP\n"
    )
    if dxg:
        (root / "dev").mkdir()
        (root / "dev/dxg").touch()
    return root


def test_verify_in_a_container_under_wsl2_is_judged_by_dev_dxg_as_check_is(tmp_path: Path) -> None:
    # Under WSL2 the host's GPU is never in /sys, so verify said only "no GPU found", as on a
    # laptop, where check (GD-NVML-001) warns without /dev/dxg and errs with it.
    from gpudoctor.cli.verify_where import with_slurm_reason
    from gpudoctor.probe.base import ProbeContext

    verdict = _judged_cpu_only()
    env = {"PATH": str(tmp_path), "NVIDIA_VISIBLE_DEVICES": "all"}  # a CUDA image sets it
    bare = ProbeContext(env=env, root=_wsl_root(tmp_path / "bare", dxg=False))
    said = with_slurm_reason(verdict, ["gpudoctor", "verify"], env, bare)
    assert said.overall == "warn"
    (first, *rest) = said.reasons
    assert first.code == "container_without_gpu" and any(r.code == "no_gpu_found" for r in rest)
    assert "docker container under WSL2 that was given no GPU (no /dev/dxg" in first.message
    assert "if Windows has an NVIDIA GPU, start it with it: docker run --gpus all" in (
        first.message
    )
    given = ProbeContext(env=env, root=_wsl_root(tmp_path / "given", dxg=True))
    failed = with_slurm_reason(verdict, ["gpudoctor", "verify"], env, given)
    assert failed.overall == "fail"
    (first, *rest) = failed.reasons
    assert first.code == "container_gpu_missing" and first.level.name == "FAIL"
    assert "given WSL2's GPU device (/dev/dxg), but verify found none there (NVML" in (
        first.message
    )
    assert "--device /dev/dxg alone gives the device without" in first.message
    assert not any(r.code == "no_gpu_found" for r in rest)  # the failure holds its cause


def test_the_srun_line_gives_a_number_back_as_it_was_given() -> None:
    # '--time-budget 1234.5678' came back '--time-budget 1234.57' (format g: six digits), and
    # '--burn 2.0000001' as '--burn 2': the srun line ran another verify than this one
    import click
    from click.core import ParameterSource

    from gpudoctor.cli.verify import _given_again

    values: dict[str, object] = {
        "models": None,
        "device": None,
        "mode": "inference",
        "precision": "fp32",
        "layout": "auto",
        "batch_size": None,
        "time_budget": 1234.5678,
        "hardware": None,
        "burn": 2.0000001,
        "ranks": 2,
    }
    with click.Context(click.Command("verify")) as ctx:
        for name in ("time_budget", "burn_s"):
            ctx.set_parameter_source(name, ParameterSource.COMMANDLINE)
        for name in ("mode", "precision", "layout", "ranks"):
            ctx.set_parameter_source(name, ParameterSource.DEFAULT)
        words = _given_again(**values)
        assert words == ["--time-budget", "1234.5678", "--burn", "2.0000001"]
        assert _given_again(**{**values, "time_budget": 2.5, "burn": 60.0}) == [
            "--time-budget",
            "2.5",
            "--burn",
            "60",
        ]
