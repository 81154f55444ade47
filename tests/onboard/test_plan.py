"""The step plan for a workstation, a CPU-only machine and a login node (pure, from recorded
reports): the target, each step's command line, what it makes and undoes, the job script."""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from pathlib import Path

import pytest

from gpudoctor.cli.onboard import _diagnosed, _facts
from gpudoctor.errors import BadInputError
from gpudoctor.fleet.slurm import job_step
from gpudoctor.onboard.plan import SRUN_TIME, Facts, Plan, Request, make_plan
from gpudoctor.userfiles.read import load_report
from tests.onboard.standins import LOGIN, WORKSTATION, report_variant

GD = ("/py", "-m", "gpudoctor")


def request(**kw: object) -> Request:
    base: dict[str, object] = {
        "gpudoctor": GD,
        "prefix": "/home/ada/gpudoctor-env",
        "tool": "uv",
        "tool_exe": "/usr/bin/uv",
        "gpudoctor_spec": "gpudoctor==0.1.0",
        "report_dir": "/home/ada",
        "on_partition": partial(job_step, time_limit=SRUN_TIME, job_name="gpudoctor-verify"),
    }
    return Request(**(base | kw))  # type: ignore[arg-type]


def facts_of(path: Path) -> Facts:
    report = load_report(path)
    return _facts(report, _diagnosed(report))


def step(plan: Plan, name: str) -> tuple[str, ...]:
    return next(s for s in plan.steps if s.name == name).argv


def test_a_workstation_is_its_own_target_and_verify_uses_its_gpu() -> None:
    facts = facts_of(WORKSTATION)
    assert facts.has_gpu and not facts.gpu_partitions
    plan = make_plan(request(), facts, None)
    assert plan.target.partition is None and plan.target.gpu
    assert [s.name for s in plan.steps] == [
        "plan", "create", "install", "verify", "summary", "finish"
    ]  # fmt: skip
    assert step(plan, "plan") == (
        *GD, "make-env", "--format", "uv", "-o", "/home/ada/gpudoctor-env/pyproject.toml",
        "--framework", "torch",
        "--from-report", "/home/ada/gpudoctor-env/gpudoctor-logs/check.json",
    )  # fmt: skip
    assert step(plan, "create") == ("/usr/bin/uv", "sync", "--project", "/home/ada/gpudoctor-env")
    verify = step(plan, "verify")
    assert verify[0] == "/home/ada/gpudoctor-env/.venv/bin/python" and "--device" not in verify
    create = next(s for s in plan.steps if s.name == "create")
    assert create.undo == ("/home/ada/gpudoctor-env/.venv",)  # a half-made env goes
    assert plan.job_script is None and plan.run_line == "python train.py"
    assert plan.activate == "source /home/ada/gpudoctor-env/.venv/bin/activate"


def test_a_cpu_only_machine_verifies_on_the_cpu(tmp_path: Path) -> None:
    facts = facts_of(report_variant(tmp_path, "cpu", partitions=None))
    assert not facts.has_gpu
    plan = make_plan(request(), facts, None)
    assert plan.target.text == "this machine (CPU only)"
    assert step(plan, "verify")[-2:] == ("--device", "cpu")


def test_a_rocm_box_is_told_its_amd_gpu_goes_unused(tmp_path: Path) -> None:
    # its target read "this machine (CPU only) (no GPU here and no GPU partition)" beside an
    # AMD GPU that its ROCm build of PyTorch trains on
    from gpudoctor.model.serialize import report_to_json
    from tests.rules.builders import rocm_machine

    saved = tmp_path / "rocm.json"
    saved.write_text(report_to_json(rocm_machine()), encoding="utf-8")
    facts = facts_of(saved)
    assert facts.other_gpus == ("PyTorch 2.9.1+rocm6.4 sees 1 AMD GPU through ROCm",)
    plan = make_plan(request(), facts, None)
    assert plan.target.why == (
        "no NVIDIA GPU here and no GPU partition; PyTorch 2.9.1+rocm6.4 sees 1 AMD GPU through "
        "ROCm, which the CPU-only environment planned here will not use"
    )
    assert step(plan, "verify")[-2:] == ("--device", "cpu")


def test_a_login_node_with_one_gpu_partition_targets_it(tmp_path: Path) -> None:
    facts = facts_of(report_variant(tmp_path, "one", partitions=("gpu",)))
    assert facts.gpu_partitions == ("gpu",)
    plan = make_plan(request(driver="580.95.05", cc="9.0"), facts, None)
    assert plan.target.partition == "gpu"
    assert "--driver" in step(plan, "plan") and "--from-report" not in step(plan, "plan")
    verify = step(plan, "verify")
    assert verify[:4] == ("srun", "-p", "gpu", "--gres=gpu:1")
    assert "--device" not in verify  # the nodes have GPUs
    assert plan.job_script is not None
    lines = plan.job_script.splitlines()
    assert "#SBATCH -p gpu" in lines and "#SBATCH --gres=gpu:1" in lines
    assert lines[-2:] == [plan.activate, "srun python train.py"]
    assert not any(line.startswith("module") for line in lines)


def test_a_login_node_with_several_gpu_partitions_is_told_to_choose() -> None:
    facts = facts_of(LOGIN)
    assert facts.gpu_partitions == ("gpu", "debug")  # the two `gpu` rows are one partition
    with pytest.raises(BadInputError, match=r"2 GPU partitions \(gpu, debug\).*--partition"):
        make_plan(request(), facts, None)
    assert make_plan(request(driver="580.95.05", cc="9.0"), facts, "debug").target.partition == (
        "debug"
    )


def test_the_partition_step_hands_make_env_the_partition_or_driver_and_cc() -> None:
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",))
    # make-env checks one of the partition's nodes through srun and plans from it
    assert step(make_plan(request(), facts, None), "plan")[-2:] == ("--partition", "gpu")
    plan = make_plan(request(driver="580.95.05", cc="9.0"), facts, None)
    assert step(plan, "plan")[-4:] == ("--driver", "580.95.05", "--cc", "9.0")
    # with sinfo answering, make-env also learns the partition, so that the file is for its
    # nodes (a conda file then carries their CUDA for CONDA_OVERRIDE_CUDA); no node check
    listed = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(driver="580.95.05", cc="9.0"), listed, None)
    assert step(plan, "plan")[-6:] == (
        "--driver", "580.95.05", "--cc", "9.0", "--partition", "gpu"
    )  # fmt: skip
    here = make_plan(request(driver="580.95.05", cc="9.0"), Facts(has_gpu=True), None)
    assert "--partition" not in step(here, "plan")


def test_driver_and_cc_for_this_machine_without_a_gpu_plan_for_them_and_verify_the_cpu() -> None:
    # docs/onboard.md: the environment is for the driver given, verify runs on the CPU here
    plan = make_plan(request(driver="580.95.05", cc="9.0"), Facts(has_gpu=False), None)
    # the target says both: "CPU only" beside CUDA builds read as a contradiction
    assert plan.target.partition is None and plan.target.text == (
        "this machine (environment for driver 580.95.05, compute capability 9.0; "
        "verified on its CPU)"
    )
    assert step(plan, "plan")[-4:] == ("--driver", "580.95.05", "--cc", "9.0")
    assert step(plan, "verify")[-2:] == ("--device", "cpu")
    alone = make_plan(request(cc="8.6"), Facts(has_gpu=False), None).target.text
    assert alone == "this machine (environment for compute capability 8.6; verified on its CPU)"


def test_shadowing_modules_are_unloaded_in_the_job_script() -> None:
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), shadowing_modules=("cuda/12.4",))
    plan = make_plan(request(), facts, None)
    assert plan.job_script is not None
    assert "module unload cuda/12.4 || exit 1" in plan.job_script.splitlines()
    # and verify, through srun (which passes the loaded modules' LD_LIBRARY_PATH on), runs
    # with them unloaded too: it proved another environment than the job script's
    verify = step(plan, "verify")
    at = verify.index("bash")
    assert verify[0] == "srun" and verify[at : at + 2] == ("bash", "-c")
    assert verify[at + 2].startswith("module unload cuda/12.4 || {") and verify[at + 3] == "verify"
    assert verify[at + 4 :] == (
        "/home/ada/gpudoctor-env/.venv/bin/python", "-I", "-m", "gpudoctor", "verify",
        "--quick", "--framework", "torch",
    )  # fmt: skip
    plain = make_plan(request(), dataclasses.replace(facts, shadowing_modules=()), None)
    assert "bash" not in step(plain, "verify")


@pytest.mark.parametrize(
    ("max_minutes", "verify", "job"),
    [
        (None, "00:30:00", "01:00:00"),
        (120, "00:30:00", "01:00:00"),
        (45, "00:30:00", "00:45:00"),
        (10, "00:10:00", "00:10:00"),
    ],
)
def test_the_jobs_ask_for_no_more_time_than_the_partition_allows(
    max_minutes: int | None, verify: str, job: str
) -> None:
    # with MaxTime=10 on partition gpu, the verify job's --time=00:30:00 queued it for ever
    # (squeue: PartitionTimeLimit) and onboard waited its 60 minutes; the job script's
    # 01:00:00 did the same to the person's first job
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",))
    asked: list[str] = []

    def minutes(partition: str) -> int | None:
        asked.append(partition)
        return max_minutes

    plan = make_plan(request(partition_minutes=minutes), facts, None)
    assert asked == ["gpu"]
    assert f"--time={verify}" in step(plan, "verify")
    assert plan.job_script is not None
    lines = plan.job_script.splitlines()
    assert f"#SBATCH --time={job}" in lines
    assert ("# partition gpu's MaxTime" in lines) is (job != "01:00:00")


def test_inside_a_job_the_node_is_the_target() -> None:
    facts = Facts(has_gpu=True, in_job=True, gpu_partitions=("gpu", "debug"))
    assert make_plan(request(), facts, None).target.partition is None


@pytest.mark.parametrize(
    ("tool", "create", "python", "activate"),
    [
        (
            "conda",
            ("/c", "env", "create", "-p", "/e/env", "-f", "/e/environment.yml"),
            "/e/env/bin/python",
            "conda activate /e/env",
        ),
        (
            "pixi",
            ("/c", "install", "--manifest-path", "/e/pixi.toml"),
            "/e/.pixi/envs/default/bin/python",
            'eval "$(pixi shell-hook --manifest-path /e/pixi.toml)"',
        ),
    ],
)
def test_conda_and_pixi(tool: str, create: tuple[str, ...], python: str, activate: str) -> None:
    plan = make_plan(request(tool=tool, tool_exe="/c", prefix="/e"), Facts(has_gpu=True), None)
    assert step(plan, "create") == create
    assert step(plan, "install") == (python, "-I", "-m", "pip", "install", "gpudoctor==0.1.0")
    assert "--format" in step(plan, "plan") and tool in step(plan, "plan")
    assert plan.activate == activate


def test_paths_with_spaces_are_quoted_in_the_printed_commands() -> None:
    plan = make_plan(request(prefix="/home/a b/env"), Facts(has_gpu=True), None)
    assert plan.activate == "source '/home/a b/env/.venv/bin/activate'"
    assert "'/home/a b/env'" in plan.steps[1].command


def test_a_partition_sinfo_does_not_list_is_refused_before_anything_runs() -> None:
    # the login node's sinfo lists cpu, gpu and debug: a typo was planned and dry-run said 0
    facts = facts_of(LOGIN)
    assert facts.partitions == ("cpu", "gpu", "debug")
    with pytest.raises(
        BadInputError,
        match=r"--partition gpus: no such partition \(this cluster has: cpu, gpu, debug; "
        r"with GPUs: gpu, debug\)",
    ):
        make_plan(request(), facts, "gpus")


def test_a_partition_without_gpus_is_refused_not_sent_a_gres_job() -> None:
    # verify ran `srun -p cpu --gres=gpu:1`, which SLURM refuses, and the job script asked
    # for a GPU the partition does not have
    with pytest.raises(BadInputError, match=r"--partition cpu has no GPU GRES.*\(gpu, debug\)"):
        make_plan(request(), facts_of(LOGIN), "cpu")


def test_without_sinfo_the_partition_is_taken_as_given_and_said_to_be(tmp_path: Path) -> None:
    facts = facts_of(report_variant(tmp_path, "none", partitions=None))
    assert facts.partitions is None
    target = make_plan(request(), facts, "gpu").target
    assert target.partition == "gpu"
    assert target.unchecked == "check found no sinfo here"
    assert target.why == "--partition; not checked: check found no sinfo here"
    in_job = dataclasses.replace(facts, in_job=True)
    assert make_plan(request(), in_job, "gpu").target.unchecked == (
        "check does not ask sinfo inside a SLURM job"
    )
    # sinfo listed it: checked, and nothing to say
    checked = make_plan(request(), facts_of(LOGIN), "gpu").target
    assert (checked.why, checked.unchecked) == ("--partition", None)


def _login_whose_sinfo_failed(message: str, tmp_path: Path) -> Facts:
    """The login node's facts, but its sinfo failed with ``message``."""
    doc = json.loads(LOGIN.read_text())
    doc["site"]["slurm"] = {
        "reachable": False,
        "command": "sinfo -h -o '%P|%a|%D|%G|%f|%N'",
        "message": message,
    }
    path = tmp_path / "sinfo-failed.json"
    path.write_text(json.dumps(doc))
    return facts_of(path)


def test_a_login_node_whose_sinfo_did_not_answer_gets_no_cpu_environment(tmp_path: Path) -> None:
    # the controller was unreachable for a moment: onboard chose "this machine (CPU only)"
    # on a GPU cluster's login node and planned a CPU-only torch
    facts = _login_whose_sinfo_failed(
        "sinfo failed: slurm_load_partitions: Unable to contact slurm controller", tmp_path
    )
    assert facts.slurm_unanswered is not None and facts.partitions is None
    with pytest.raises(BadInputError, match=r"sinfo did not answer \(sinfo failed: .*controller\)"):
        make_plan(request(), facts, None)
    # named: taken as given (--partition is the way on the refusal names), and said to be,
    # in the target's why that the plan's first line and the summary show
    target = make_plan(request(), facts, "gpu").target
    assert target.partition == "gpu"
    assert target.why == (
        "--partition; not checked: sinfo did not answer (sinfo failed: "
        "slurm_load_partitions: Unable to contact slurm controller)"
    )
    with_gpu = Facts(has_gpu=True, slurm_unanswered="no answer")
    assert make_plan(request(), with_gpu, None).target.partition is None


def test_slurm_commands_without_a_configuration_are_no_login_node(tmp_path: Path) -> None:
    # slurm-client with no slurm.conf: onboard refused with "try again when sinfo answers"
    facts = _login_whose_sinfo_failed(
        "sinfo failed: sinfo: fatal: Could not establish a configuration source", tmp_path
    )
    assert facts.slurm_unanswered is None and facts.partitions is None
    assert make_plan(request(), facts, None).target.partition is None
    # a partition named there is taken as given, and why it was not checked is true: the
    # reason read "check found no sinfo here" beside /usr/bin/sinfo
    target = make_plan(request(), facts, "gpu").target
    assert target.unchecked is not None
    assert target.unchecked.startswith("SLURM is not configured on this machine (sinfo failed: ")
    assert "Could not establish a configuration source" in target.unchecked


def test_a_conda_job_script_defines_conda_activate_before_using_it() -> None:
    # sbatch runs the script in a non-interactive bash without ~/.bashrc, where `conda
    # activate` failed: "Run 'conda init' before 'conda activate'"
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    script = make_plan(request(tool="conda", prefix="/e"), facts, None).job_script
    assert script is not None
    assert 'eval "$(conda shell.bash hook)"\nconda activate /e/env\nsrun python train.py' in script
    uv = make_plan(request(), facts, None).job_script
    assert uv is not None and "shell.bash hook" not in uv


def test_the_step_timeouts_asked_for_bound_their_steps_and_name_their_options() -> None:
    asked = request(create_timeout_s=7200.0, install_timeout_s=60.0, verify_timeout_s=86400.0)
    plan = make_plan(asked, facts_of(WORKSTATION), None)
    bounds = {s.name: (s.timeout_s, s.timeout_option) for s in plan.steps if s.argv}
    assert bounds == {
        "plan": (120.0, ""),
        "create": (7200.0, "--create-timeout"),
        "install": (60.0, "--install-timeout"),
        "verify": (86400.0, "--verify-timeout"),
    }
    defaults = make_plan(request(), facts_of(WORKSTATION), None)
    assert [s.timeout_s for s in defaults.steps if s.argv] == [120.0, 3600.0, 900.0, 3600.0]


def test_the_plan_step_outlasts_make_envs_node_check_so_its_message_is_the_one_seen() -> None:
    from gpudoctor.fleet.remote import IMMEDIATE_S, MAX_TRIES, REMOTE_TIMEOUT_S

    # make-env --partition tries up to MAX_TRIES nodes, each waiting --immediate then
    # --remote-timeout; onboard killing it sooner hid make-env's own message naming the node
    worst = MAX_TRIES * (IMMEDIATE_S + REMOTE_TIMEOUT_S)
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",))
    checked = next(s for s in make_plan(request(), facts, None).steps if s.name == "plan")
    assert checked.argv[-2:] == ("--partition", "gpu")
    assert checked.timeout_s > worst
    assert "--driver VERSION --cc X.Y" in checked.hint
    # given the nodes' driver and compute capability, no node is checked: the short bound
    told = make_plan(request(driver="580.95.05", cc="9.0"), facts, None)
    plan = next(s for s in told.steps if s.name == "plan")
    assert plan.timeout_s < worst and plan.hint == ""
    only_cc = next(s for s in make_plan(request(cc="9.0"), facts, None).steps if s.name == "plan")
    assert "--partition" not in only_cc.argv and only_cc.hint == ""


def test_the_job_script_keeps_a_partitions_name_on_its_line():
    # '#SBATCH -p {partition}' and '# partition {partition}'s MaxTime' wrote a partition's name
    # as it came: one with a newline (a fleet report's, a node report's) put a line of its own
    # into the script, which sbatch ran as a command
    from gpudoctor.onboard.plan import Target, job_script

    target = Target(partition="gpu\nrm -rf ~", gpu=True, why="")
    script = job_script(target, "source /x/.venv/bin/activate", (), max_minutes=30)
    assert script is not None
    lines = script.splitlines()
    assert "#SBATCH -p PARTITION" in lines  # sbatch refuses it; nothing of it runs
    assert "# partition gpu rm -rf ~'s MaxTime" in lines
    assert "rm -rf ~" not in [line.strip() for line in lines]
