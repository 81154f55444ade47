"""The SLURM module: sinfo parsing, node states, srun's complaints; the only SLURM caller."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from gpudoctor.fleet import slurm
from gpudoctor.probe.runcmd import CmdResult
from tests.fleet.fake_slurm import FakeSlurm

PACKAGE = Path(__file__).resolve().parents[2] / "gpudoctor"


def test_sinfo_lines_merge_partitions_and_drop_the_default_mark():
    text = (
        "gpu-001|idle|gpu*|none\n"
        "gpu-001|idle|debug|none\n"
        "gpu-002|drained|gpu*|maintenance: PSU swap\n"
        "gpu-003|down*|gpu*|Not responding\n"
    )
    nodes = {n.name: n for n in slurm.parse_sinfo(text)}
    assert nodes["gpu-001"].partitions == ("gpu", "debug")
    assert nodes["gpu-001"].reason == ""
    assert nodes["gpu-002"].reason == "maintenance: PSU swap"
    assert nodes["gpu-003"].state == "down*"


@pytest.mark.parametrize(
    ("state", "runnable"),
    [
        ("idle", True),
        ("mixed", True),
        ("allocated", True),
        ("completing", True),
        ("drained", False),
        ("draining", False),
        ("down", False),
        ("down*", False),
        ("idle*", False),  # not responding, though not yet marked down
        ("idle~", False),  # powered off
        ("fail", False),
        ("maint", False),
        ("reserved", False),
    ],
)
def test_which_states_can_run_a_step_now(state, runnable):
    assert slurm.SlurmNode(name="n", state=state).runnable is runnable


def test_srun_error_is_the_first_cause_not_its_consequences():
    result = CmdResult(
        argv=("srun",),
        returncode=233,
        stderr=(
            "srun: error: Task launch for StepId=3.0 failed on node n3: Communication connection "
            "failure\nsrun: error: Application launch failed\nsrun: Job step aborted\n"
        ),
    )
    assert slurm.srun_error(result) == (
        "Task launch for StepId=3.0 failed on node n3: Communication connection failure"
    )
    assert slurm.srun_error(CmdResult(argv=("srun",), returncode=0)) is None


@pytest.mark.parametrize(
    ("stderr", "said", "policy"),
    [
        (  # what srun 22.05 printed with --immediate for an account AllowAccounts left out
            "srun: Requested partition configuration not available now\n"
            "srun: job 7 queued and waiting for resources\n"
            "srun: error: Unable to allocate resources: Requested nodes are busy\n",
            "Requested partition configuration not available now",
            True,
        ),
        (  # a job held for nodes that are busy: the generic line is the reason
            "srun: job 8 queued and waiting for resources\n"
            "srun: error: Unable to allocate resources: Requested nodes are busy\n",
            "Unable to allocate resources: Requested nodes are busy",
            False,
        ),
        (
            "srun: error: Unable to allocate resources: Invalid qos specification\n",
            "Unable to allocate resources: Invalid qos specification",
            True,
        ),
        (
            "srun: error: Unable to allocate resources: Invalid account or account/partition "
            "combination specified\n",
            "Unable to allocate resources: Invalid account or account/partition combination "
            "specified",
            True,
        ),
    ],
)
def test_srun_error_keeps_why_the_job_was_held(stderr, said, policy):
    result = CmdResult(argv=("srun",), returncode=1, stderr=stderr)
    assert slurm.srun_error(result) == said
    assert slurm.refused_by_policy(said) is policy


def test_list_nodes_through_the_real_child_process_path(tmp_path, monkeypatch):
    fake = FakeSlurm(
        tmp_path,
        {
            "n1": {"state": "idle", "partitions": ["gpu"]},
            "n2": {"state": "drained", "reason": "psu", "partitions": ["gpu", "debug"]},
            "c1": {"state": "idle", "partitions": ["cpu"]},
        },
    )
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    assert [n.name for n in slurm.list_nodes(partition="gpu")] == ["n1", "n2"]
    assert [n.name for n in slurm.list_nodes(nodelist="n[1-2]")] == ["n1", "n2"]
    assert slurm.node_state("n2").reason == "psu"
    slurm.drain("n1", "gpudoctor: GD-GPU-004 ECC")
    assert fake.load()["nodes"]["n1"]["state"] == "drained"
    assert fake.calls()[-1] == [
        "scontrol",
        "update",
        "nodename=n1",
        "state=drain",
        "reason=gpudoctor: GD-GPU-004 ECC",
    ]
    slurm.resume("n1")
    assert fake.load()["nodes"]["n1"]["state"] == "idle"


def test_a_controller_that_does_not_answer_is_one_clear_error(tmp_path, monkeypatch):
    fake = FakeSlurm(tmp_path, {"n1": {}})
    fake.save({"nodes": {"n1": {}}, "controller_down": True})
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    with pytest.raises(slurm.SlurmUnavailableError, match="Unable to contact slurm controller"):
        slurm.list_nodes()


def test_node_state_is_none_only_when_sinfo_answered_without_the_node(tmp_path, monkeypatch):
    fake = FakeSlurm(tmp_path, {"n1": {}})
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    assert slurm.node_state("n9") is None
    fake.save({"nodes": {"n1": {}}, "controller_down": True})
    with pytest.raises(slurm.SlurmUnavailableError) as caught:
        slurm.node_state("n1")  # it once answered None: "SLURM does not know this node"
    assert caught.value.cause == slurm.SlurmUnavailableError.CONTROLLER_UNREACHABLE


def test_missing_slurm_commands_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(slurm.SlurmUnavailableError, match="sinfo not found on PATH"):
        slurm.list_nodes()


def test_only_fleet_slurm_runs_slurm_commands():
    # Looking a command up on PATH (shutil.which("sinfo")) is not running it.
    pattern = re.compile(r"""(?<!which\()["'](srun|sinfo|scontrol|squeue|scancel|sbatch)["']""")
    callers = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    )
    assert callers == ["fleet/slurm.py"]


def test_a_task_started_on_a_node_keeps_no_history(monkeypatch):
    """A check run on a node for a fleet or a login node must not churn the (shared) home's
    history: srun passes GPUDOCTOR_NO_HISTORY on, also when the caller gave its own env."""
    from gpudoctor.history.store import ENV_OFF, disabled

    seen: list[dict[str, str]] = []

    def fake_run(argv, **kwargs):
        seen.append(dict(kwargs["env"]))
        return CmdResult(argv=list(argv), returncode=0, stdout="{}", stderr="")

    monkeypatch.setattr(slurm, "_require", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(slurm, "run_cmd", fake_run)
    monkeypatch.delenv(ENV_OFF, raising=False)
    slurm.srun_on("gpu-01", ["gpudoctor", "check"], timeout_s=5, immediate_s=1)
    slurm.srun_on(
        "gpu-01", ["gpudoctor", "check"], timeout_s=5, immediate_s=1, env={"PATH": "/bin"}
    )
    # fleet pairs' tasks too: srun_pair ran them with the caller's environment as it was
    slurm.srun_pair(["gpu-01", "gpu-02"], ["python", "-m", "x"], timeout_s=5, immediate_s=1)
    assert slurm.NO_HISTORY_VARIABLE == ENV_OFF
    assert all(disabled(env) for env in seen) and len(seen) == 3
    assert seen[1]["PATH"] == "/bin"  # the caller's environment, with the variable added


JOB_VARIABLES = {
    "SLURM_JOB_ID": "60",
    "SLURM_JOBID": "60",
    "SLURM_CPUS_PER_TASK": "8",
    "SLURM_EXPORT_ENV": "NONE",
    "SLURM_ACCOUNT": "lab",
    "SLURM_CONF": "/etc/slurm/slurm.conf",
    "SLURM_CLUSTERS": "gpu-cluster",
}


@pytest.mark.parametrize("pair", [False, True])
def test_srun_from_inside_a_job_is_a_job_of_its_own(tmp_path, monkeypatch, pair):
    """`fleet run` in an salloc shell or a nightly sbatch: srun read the job's SLURM_JOB_ID
    and made a step of it, and every node was "Unable to create step for job 60: Requested
    node configuration is not available"."""
    fake = FakeSlurm(tmp_path, {"n1": {"srun": "run"}, "n2": {"srun": "run"}})
    for key, value in {**fake.env(), **JOB_VARIABLES}.items():
        monkeypatch.setenv(key, value)
    show = "import json, os; print(json.dumps(sorted(k for k in os.environ if 'SLURM' in k)))"
    command = [sys.executable, "-c", show]
    kwargs = {"timeout_s": 20, "immediate_s": 1}
    if pair:  # the fake srun -N2 runs the command on the first node it is given
        monkeypatch.setattr(
            slurm, "pair_argv", lambda srun, nodes, cmd, *a: [srun, "--nodelist=n1", *cmd]
        )
        done = slurm.srun_pair(["n1", "n2"], command, **kwargs)
    else:
        done = slurm.srun_on("n1", command, **kwargs)
    seen = set(json.loads(done.stdout))
    assert not seen & {"SLURM_JOB_ID", "SLURM_JOBID", "SLURM_CPUS_PER_TASK", "SLURM_EXPORT_ENV"}
    assert {"SLURM_ACCOUNT", "SLURM_CONF", "SLURM_CLUSTERS"} <= seen  # the person's defaults stay
    outside = {k: v for k, v in JOB_VARIABLES.items() if k not in ("SLURM_JOB_ID", "SLURM_JOBID")}
    assert slurm.own_job_env(outside) == outside  # outside a job nothing is left out


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("10:00", 10),  # minutes:seconds, as sinfo %l prints MaxTime=10
        ("30", 30),
        ("1:00:00", 60),
        ("2-00:00:00", 2880),
        ("2-12", 3600),
        ("1-01:30", 1530),
        ("0:30", 1),  # under a minute: at least one
        ("infinite", None),
        ("UNLIMITED", None),
        ("n/a", None),
        # int() raised on these (an internal error where a partition's limit was asked)
        ("1" + "0" * 5000, None),
        ("10:" + "9" * 5000, None),
        ("\u0661\u0660", None),  # Arabic-Indic 10: no limit sinfo prints
    ],
)
def test_slurm_time_limits_in_minutes(text, minutes):
    assert slurm.parse_time_limit(text) == minutes
