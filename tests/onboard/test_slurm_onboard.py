"""onboard end to end against a real SLURM cluster (scripts/slurm-cluster, GPU_NODES=2): the
login node's check finds the one GPU partition, uv creates the environment offline from
stand-in wheels, verify (the stand-in) runs inside it through srun on a GPU node, and the
summary's job script runs there with sbatch; and, with Lmod, verify's job step unloads the CUDA
modules the job script unloads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpudoctor import __version__
from tests.fleet.conftest import running_cluster, slurm_path, why_no_slurm
from tests.onboard.standins import standin_indexes, uv_offline_env

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
PY = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_onboard_on_a_login_node_verifies_on_the_gpu_partition(tmp_path: Path) -> None:
    reason = why_no_slurm() or (None if UV.exists() else "uv is in the test extra")
    if reason is not None:
        pytest.skip(reason)
    with running_cluster(3, GPU_NODES="2") as cluster:
        directory = cluster.dir
        mirror, pypi = standin_indexes(tmp_path / "idx", "cu128")
        env = {
            **os.environ,
            "PATH": slurm_path(),
            "SLURM_CONF": str(directory / "etc" / "slurm.conf"),
            "PYTHONPATH": str(ROOT),
        }
        for key, value in uv_offline_env(tmp_path, pypi, sys.executable).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        work = tmp_path / "home"
        work.mkdir()
        done = subprocess.run(
            [sys.executable, "-m", "gpudoctor", "onboard", "--yes", "--driver", "580.95.05",
             "--cc", "9.0", "--python", PY, "--torch", "2.9.1", "--torch-index-url", mirror,
             # the stand-in index's gpudoctor wheel, not this checkout (its build needs an index)
             "--gpudoctor-spec", f"gpudoctor=={__version__}"],
            cwd=work, env=env, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "target SLURM partition gpu (the only GPU partition" in done.stderr
        verify = (work / "gpudoctor-env" / "gpudoctor-logs" / "5-verify.log").read_text()
        assert re.search(r"in SLURM partition gpu on node n[12]\b", verify), verify
        md = (work / "gpudoctor-onboard.md").read_text()
        script = md.split("## A job script for the partition", 1)[1].split("```sh\n", 1)[1]
        script = script.split("\n```", 1)[0]
        assert "#SBATCH -p gpu\n#SBATCH --gres=gpu:1" in script
        (work / "train.sbatch").write_text(script + "\n")
        (work / "train.py").write_text(
            "import os, sys, torch\nprint('trained with', torch.__version__, 'on',"
            " os.environ['SLURMD_NODENAME'], 'in', sys.prefix)\n"
        )
        sbatch = shutil.which("sbatch", path=slurm_path()) or "/usr/bin/sbatch"
        job = subprocess.run(
            [sbatch, "--wait", "-o", str(work / "train.out"), "train.sbatch"],
            cwd=work, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert job.returncode == 0, job.stderr
        out = (work / "train.out").read_text()
        assert re.search(r"trained with 2.9.1\+cu128 on n[12] in .*gpudoctor-env/.venv", out), out
        # the partition's MaxTime, which onboard's jobs stay within (a longer --time queued
        # them for ever: PartitionTimeLimit), as sinfo says it
        from gpudoctor.fleet.slurm import partition_max_minutes

        assert partition_max_minutes("gpu", env) is None  # MaxTime=INFINITE
        scontrol = shutil.which("scontrol", path=slurm_path()) or "/usr/bin/scontrol"
        limit = [scontrol, "update", "partitionname=gpu", "maxtime=10"]
        subprocess.run(limit, env=env, capture_output=True, timeout=30, check=True)
        assert partition_max_minutes("gpu", env) == 10
        # a job asking for more waits for ever: the step is stopped, and its job cancelled
        from gpudoctor.fleet.slurm import job_step, pending_reason
        from gpudoctor.onboard.plan import Step
        from gpudoctor.onboard.run import Heard, run_step

        argv = job_step("gpu", ("true",), time_limit="00:30:00", job_name="qa-never", env=env)
        over = Step(
            name="verify", title="verify", argv=argv, timeout_s=60, term_grace_s=10,
            env=tuple((k, env[k]) for k in ("SLURM_CONF", "PATH")),
        )  # fmt: skip
        result = run_step(over, Heard(pending_reason=lambda job: pending_reason(job, env)))
        assert not result.ok and result.duration_s < 30, result.stderr
        assert "will never start it (squeue gives the reason: Partition" in result.why
        squeue = shutil.which("squeue", path=slurm_path()) or "/usr/bin/squeue"
        left = subprocess.run(
            [squeue, "-h", "-n", "qa-never"], env=env, capture_output=True, text=True,
            timeout=30, check=True,
        )  # fmt: skip
        assert left.stdout == ""


LMOD_INIT = Path("/usr/share/lmod/lmod/init/bash")
BASH = shutil.which("bash") or "/bin/bash"
CUDA_MODULE = 'prepend_path("LD_LIBRARY_PATH", "{lib}")\n'


def test_verify_runs_with_the_modules_the_job_script_unloads_unloaded(tmp_path: Path) -> None:
    # srun passes the login shell's environment on: verify ran with a loaded CUDA module's
    # LD_LIBRARY_PATH, which the job script unloads, so it proved another environment
    from gpudoctor.onboard.plan import Facts, make_plan
    from tests.onboard.test_plan import request

    reason = why_no_slurm() or (None if LMOD_INIT.is_file() else "Lmod is not installed")
    if reason is not None:
        pytest.skip(reason)
    lib = tmp_path / "cuda-12.4" / "lib64"
    lib.mkdir(parents=True)
    (tmp_path / "modules" / "cuda").mkdir(parents=True)
    (tmp_path / "modules" / "cuda" / "12.4.lua").write_text(CUDA_MODULE.format(lib=lib))
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), shadowing_modules=("cuda/12.4",))
    verify = next(s for s in make_plan(request(), facts, None).steps if s.name == "verify")
    argv = verify.argv[: verify.argv.index("/home/ada/gpudoctor-env/.venv/bin/python")]
    plain = argv[: argv.index("bash")]
    login = (
        f"source {LMOD_INIT} && export MODULEPATH={tmp_path / 'modules'} && "
        'module load cuda/12.4 && exec "$@"'
    )
    with running_cluster(3, GPU_NODES="2") as cluster:
        env = {**os.environ, **cluster.env}

        def on_node(command: tuple[str, ...]) -> str:
            done = subprocess.run(
                [BASH, "-c", login, "login", *command, "/usr/bin/env"],
                env=env, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert f"LD_LIBRARY_PATH={lib}" in on_node(plain)  # what srun alone passes on
        seen = on_node(argv)
        assert "SLURM_JOB_PARTITION=gpu" in seen and str(lib) not in seen, seen
