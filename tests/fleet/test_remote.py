"""check --partition's machinery: node choice, and every way srun can fail, one line each."""

from __future__ import annotations

import pytest

from gpudoctor.errors import ExitCode
from gpudoctor.fleet import remote, slurm
from tests.fleet.fake_slurm import FakeSlurm

REPORT = "tests/data/reports/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"
SINFO = (
    "n1|drained|gpu*|gpu:h100:8(S:0-1)|maintenance\n"
    "n2|allocated|gpu*|gpu:h100:8|none\n"
    "n3|mixed|gpu*|gpu:h100:8|none\n"
    "n4|idle*|gpu*|gpu:h100:8|none\n"
    "c1|idle|cpu|(null)|none\n"
)


def test_sinfo_with_gres_is_read_per_node():
    nodes = {cn.node.name: cn for cn in slurm.parse_sinfo_gres(SINFO)}
    assert nodes["n1"].gres == ("gpu:h100:8(S:0-1)",)
    assert nodes["n1"].node.reason == "maintenance"
    assert nodes["c1"].gres == ()


def test_an_idle_node_is_chosen_first_then_a_mixed_one_never_drained_or_down():
    nodes = slurm.parse_sinfo_gres(SINFO)
    where = remote.choose_node(nodes[:4], "gpu")  # what sinfo -p gpu lists
    assert where == remote.Where(node="n3", state="mixed", partition="gpu", gpu=True)
    assert remote.srun_argv(where) == ["--partition=gpu", "--gres=gpu:1"]
    cpu = remote.choose_node(nodes, None)
    assert cpu is not None and cpu.node == "c1" and not cpu.gpu
    assert remote.srun_argv(cpu) == ["--partition=cpu"]
    assert remote.choose_node(nodes[:2] + nodes[3:4], "gpu") is None


def test_bad_partition_names_are_refused():
    with pytest.raises(remote.BadInputError, match="a partition name has"):
        remote.check_partition_name("gpu,cpu")


def _run(tmp_path, monkeypatch, mode, timeout_s=20.0, **entry):
    fake = FakeSlurm(tmp_path, {"n1": {"srun": mode, "report": REPORT, **entry}})
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    where = remote.Where(node="n1", state="idle", partition="gpu", gpu=True)
    return remote.run_check(where, ["gpudoctor", "check"], timeout_s=timeout_s, immediate_s=1)


def test_the_node_report_comes_back_with_where_it_ran(tmp_path, monkeypatch):
    report = _run(tmp_path, monkeypatch, "report")
    assert report.site is not None and report.site.remote is not None
    ran = report.site.remote
    assert (ran.node, ran.partition, ran.gres) == ("n1", "gpu", "gpu:1")
    assert "--gres=gpu:1" in ran.command and "--immediate=1" in ran.command


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("busy", "srun refused the job: Unable to allocate resources: Requested nodes are busy"),
        ("garbage", "the output is not a report"),
        ("crash", "the check failed there: /usr/bin/python3: No module named gpudoctor"),
        ("launch_fail", "the job could not start there: Task launch for StepId=3.0 failed"),
    ],
)
def test_every_failure_is_one_line_exit_1(tmp_path, monkeypatch, mode, said):
    with pytest.raises(remote.NodeUnavailableError, match="node n1 \\(partition gpu\\)") as caught:
        _run(tmp_path, monkeypatch, mode)
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == ExitCode.PROBLEMS


def test_a_hanging_srun_is_stopped_at_the_remote_timeout(tmp_path, monkeypatch):
    with pytest.raises(remote.NodeUnavailableError, match="no report within 2 s"):
        _run(tmp_path, monkeypatch, "hang", timeout_s=2.0)


def test_output_over_16_mib_is_refused(tmp_path, monkeypatch):
    with pytest.raises(remote.NodeUnavailableError, match="larger than 16 MiB"):
        _run(tmp_path, monkeypatch, "flood", bytes=17 << 20)


def test_missing_srun_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(slurm.SlurmUnavailableError, match="sinfo not found"):
        remote.find_node(partition="gpu", nodelist=None)


def test_a_busy_node_is_passed_over_for_the_next_one(tmp_path, monkeypatch):
    # three mixed nodes, n1's GPUs all taken: check --partition gave up on n1 with "Requested
    # nodes are busy ... try again later" while n2 and n3 had GPUs free
    nodes = {
        "n1": {"state": "mixed", "srun": "busy"},
        "n2": {"state": "mixed", "srun": "report", "report": REPORT},
        "n3": {"state": "mixed", "srun": "busy"},
    }
    fake = FakeSlurm(tmp_path, nodes)
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    wheres = remote.find_nodes(partition="gpu", nodelist=None)
    assert [w.node for w in wheres] == ["n1", "n2", "n3"]
    heard: list[str] = []
    report = remote.run_check_on_one_of(
        wheres,
        ["gpudoctor", "check"],
        announce=lambda w: heard.append(f"run {w.node}"),
        on_busy=lambda w, why: heard.append(f"busy {w.node}"),
        immediate_s=1,
    )
    assert report.site is not None and report.site.remote is not None
    assert report.site.remote.node == "n2"
    assert heard == ["run n1", "busy n1", "run n2"]
    fake.save({"nodes": {n: {**e, "srun": "busy"} for n, e in nodes.items()}})
    with pytest.raises(remote.NodeBusyError, match=r"nodes tried: n1, n2, n3\)$") as caught:
        remote.run_check_on_one_of(wheres, ["gpudoctor", "check"], announce=print, immediate_s=1)
    assert caught.value.exit_code == ExitCode.PROBLEMS


def test_a_partition_that_refuses_the_account_is_said_so_not_busy(tmp_path, monkeypatch):
    # AllowAccounts=physics on partition gpu: srun --immediate printed the reason, then "Requested
    # nodes are busy"; check said the idle nodes were busy, tried each (10 s apiece) and
    # advised to try again later, which never helps
    nodes = {n: {"state": "idle", "srun": "partition_config"} for n in ("n1", "n2")}
    fake = FakeSlurm(tmp_path, nodes)
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    wheres = remote.find_nodes(partition="gpu", nodelist=None)
    with pytest.raises(remote.NodeUnavailableError) as caught:
        remote.run_check_on_one_of(wheres, ["gpudoctor", "check"], announce=print, immediate_s=1)
    said = str(caught.value)
    assert not isinstance(caught.value, remote.NodeBusyError)
    assert said.startswith(
        "node n1 (partition gpu): srun refused the job: Requested partition configuration not "
        "available now (SLURM does not let this job run there: see the partition's "
        "AllowAccounts, AllowQos and limits with `scontrol show partition gpu`"
    )
    assert "busy" not in said and "try again" not in said
    assert len([c for c in fake.calls() if c[0] != "scontrol"]) == 1
