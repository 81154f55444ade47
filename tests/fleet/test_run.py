"""fleet run's gathering: one srun per node, never waiting on a node that cannot answer."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from gpudoctor.fleet import slurm
from gpudoctor.fleet.run import NodeJob, gather
from tests.fleet.fake_slurm import FakeSlurm

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"
HEALTHY = REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"
JOB = NodeJob(check=("gpudoctor", "check", "--format", "json"), node_timeout_s=3, immediate_s=2)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    def make(nodes):
        fake = FakeSlurm(tmp_path, nodes)
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        return fake

    return make


def outcomes_by_node(outcomes):
    return {o.node: o for o in outcomes}


def test_every_kind_of_node_ends_as_a_report_or_a_reason(cluster):
    fake = cluster(
        {
            "n1": {"srun": "report", "report": str(HEALTHY)},
            "n2": {"state": "drained", "reason": "maintenance: PSU"},
            "n3": {"srun": "busy"},
            "n4": {"srun": "launch_fail"},
            "n5": {"srun": "hang"},
            "n6": {"srun": "garbage"},
            "n7": {"srun": "crash"},
            "n8": {"state": "down*", "reason": "Not responding"},
        }
    )
    start = time.monotonic()
    seen = []
    out = outcomes_by_node(
        gather(slurm.list_nodes(), JOB, time_limit_s=60, concurrency=8, on_done=seen.append)
    )
    took = time.monotonic() - start
    assert took < 15  # the hanging node costs its --node-timeout (3 s), not the time limit
    assert len(seen) == 8
    assert json.loads(out["n1"].check_json)["nvml"]["driver_version"] == "590.48.01"
    assert out["n2"].not_reached == ("drained", "maintenance: PSU")
    assert out["n3"].not_reached[1] == "Unable to allocate resources: Requested nodes are busy"
    assert "Communication connection failure" in out["n4"].not_reached[1]
    assert out["n5"].not_reached[1] == "no answer within 3 s (--node-timeout)"
    assert out["n6"].errors[0][1].startswith("the node's output is not JSON")
    assert out["n7"].errors[0][1] == (
        "the command failed on the node: /usr/bin/python3: No module named gpudoctor"
    )
    assert out["n8"].not_reached == ("down*", "Not responding")
    called = {next(a for a in c if a.startswith("--nodelist=")) for c in fake.calls()}
    assert "--nodelist=n2" not in called and "--nodelist=n8" not in called  # never waited on
    first = fake.calls()[0]
    assert "--immediate=2" in first and first[-4:] == list(JOB.check)


def test_the_time_limit_bounds_the_whole_run(cluster):
    cluster({f"n{i}": {"srun": "hang"} for i in range(1, 4)})
    start = time.monotonic()
    out = gather(slurm.list_nodes(), JOB, time_limit_s=4, concurrency=1)
    assert time.monotonic() - start < 12
    reasons = sorted(o.not_reached[1] for o in out)
    assert "the run's --time-limit ran out before this node's turn" in reasons
    assert len(out) == 3


def test_a_node_the_time_limit_cut_short_says_so_not_its_node_timeout(cluster):
    # `fleet run --time-limit 6` (--node-timeout 180): "n1: not reached (idle: no answer
    # within 6 s)", a limit the person never set for a node
    cluster({"n1": {"srun": "hang"}})
    job = dataclasses.replace(JOB, node_timeout_s=60)
    (outcome,) = gather(slurm.list_nodes(), job, time_limit_s=3, concurrency=1)
    assert outcome.not_reached is not None
    assert outcome.not_reached[1] == "no answer within 3 s (the run's --time-limit ran out)"
    (alone,) = gather(slurm.list_nodes(), JOB, time_limit_s=60, concurrency=1)
    assert alone.not_reached is not None
    # the node's own limit, named: the option that gives a slow node longer
    assert alone.not_reached[1] == f"no answer within {JOB.node_timeout_s:.0f} s (--node-timeout)"


def test_cancel_stops_every_srun_and_keeps_what_came_back(cluster):
    cluster(
        {
            "n1": {"srun": "report", "report": str(HEALTHY)},
            "n2": {"srun": "hang"},
            "n3": {"srun": "hang"},
        }
    )
    cancel = threading.Event()
    threading.Timer(1.5, cancel.set).start()
    start = time.monotonic()
    job = NodeJob(check=JOB.check, node_timeout_s=120, immediate_s=2)
    out = outcomes_by_node(
        gather(slurm.list_nodes(), job, time_limit_s=120, concurrency=3, cancel=cancel)
    )
    assert time.monotonic() - start < 12  # srun gets SIGTERM and up to 5 s, not 120 s
    assert out["n1"].check_json is not None
    assert out["n2"].not_reached[1] == "interrupted before it answered"


def test_verify_runs_after_check_and_its_failure_is_its_own(cluster):
    cluster(
        {
            "n1": {"srun": "report", "report": str(HEALTHY), "verify": str(HEALTHY)},
            "n2": {"srun": "run"},
        }
    )
    job = NodeJob(
        check=(sys.executable, "-c", "print('{\"ok\": 1}')"),
        verify=(sys.executable, "-c", "import sys; sys.exit(3)", "verify"),
        node_timeout_s=20,
        immediate_s=2,
    )
    out = outcomes_by_node(gather(slurm.list_nodes(), job, time_limit_s=60, concurrency=2))
    assert out["n1"].verify_json is not None
    assert out["n2"].check_json.strip() == '{"ok": 1}'  # the real command ran "on" n2
    assert out["n2"].errors == (
        # srun's word on the task: it said nothing itself
        ("n2.verify.json", "the command failed on the node: n2: task 0: Exited with exit code 3"),
    )


def test_a_node_name_that_is_no_safe_file_name_is_refused(cluster):
    cluster({"../etc": {"srun": "report", "report": str(HEALTHY)}})
    (outcome,) = gather(slurm.list_nodes(), JOB, time_limit_s=10, concurrency=1)
    assert outcome.not_reached[1] == "node name is not a safe file name"


def test_a_node_that_floods_srun_is_unreadable_at_the_report_cap(cluster, monkeypatch):
    # Two nodes sending 100 MB each once held 619 MiB; now each costs at most the cap.
    from gpudoctor.model import serialize

    monkeypatch.setattr(serialize, "MAX_REPORT_BYTES", 1 << 20)
    cluster(
        {
            "n1": {"srun": "flood", "bytes": 64 << 20},
            "n2": {"srun": "report", "report": str(HEALTHY)},
        }
    )
    start = time.monotonic()
    out = outcomes_by_node(gather(slurm.list_nodes(), JOB, time_limit_s=60, concurrency=2))
    assert time.monotonic() - start < 30
    assert out["n1"].check_json is None and out["n1"].not_reached is None
    assert out["n1"].errors == (
        ("n1.json", "the node's output is larger than 1 MiB, the most a report may be"),
    )
    assert out["n2"].check_json is not None
    # what it sent is kept for the admin, bounded: its start and its end, not 1 MiB
    ((name, kept),) = out["n1"].outputs
    assert name == "n1.json" and len(kept) < 300_000
    assert "# ended: stopped (more output than a report may be)" in kept
    assert f"--- stdout ({1 << 20} characters; the first 65536 and the last 196608 kept)" in kept
    assert "[... 786432 characters left out ...]" in kept
    assert out["n2"].outputs == ()


def test_what_a_node_sent_instead_of_a_report_is_kept_with_its_command(cluster):
    # a traceback, a cut-off report or a wrong program's words were counted, then dropped
    cluster({"n6": {"srun": "garbage"}, "n7": {"srun": "crash"}})
    out = outcomes_by_node(gather(slurm.list_nodes(), JOB, time_limit_s=60, concurrency=2))
    ((_, garbage),) = out["n6"].outputs
    lines = garbage.splitlines()
    assert lines[0] == "# what node n6 printed instead of a report (gpudoctor fleet run)"
    assert lines[1].startswith("# command: ") and lines[1].endswith(
        " gpudoctor check --format json"
    )
    assert lines[2:] == [
        "# ended: exit status 0",
        "# unusable: the node's output is not JSON (Expecting value: line 1 column 1 (char 0))",
        "--- stdout (17 characters)",
        "this is not JSON",
        "--- stderr (0 characters)",
    ]
    ((_, crash),) = out["n7"].outputs
    assert crash.endswith(
        "--- stderr (93 characters)\n/usr/bin/python3: No module named gpudoctor\n"
        "srun: error: n7: task 0: Exited with exit code 1\n"
    )


def test_srun_names_the_nodes_partition_and_a_users_srun_arg_comes_after(cluster):
    # without it srun asked the default partition, which refuses a node outside it
    fake = cluster(
        {
            "n1": {"srun": "report", "report": str(HEALTHY), "partitions": ["a100", "all"]},
            "n2": {"srun": "report", "report": str(HEALTHY), "partitions": ["h100"]},
        }
    )
    job = NodeJob(check=JOB.check, node_timeout_s=3, immediate_s=2, srun_args=("-p", "x"))
    gather(slurm.list_nodes(), job, time_limit_s=60, concurrency=2)
    calls = {next(a for a in c if a.startswith("--nodelist=")): c for c in fake.calls()}
    for node, partition in (("n1", "a100"), ("n2", "h100")):
        call = calls[f"--nodelist={node}"]
        assert call.index(f"--partition={partition}") < call.index("-p")
