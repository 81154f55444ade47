"""fleet pairs' pure parts: which pairs, bad node versus bad link, srun's answers read."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.fleet import pairrun, slurm
from gpudoctor.fleet.pairs import analyse, baseline, choose_pairs, pairs_by_partition
from gpudoctor.model.hardware import AllReduce, AllReducePoint, PairOutcome
from gpudoctor.model.serialize import to_dict
from gpudoctor.probe.runcmd import CmdResult


@pytest.mark.parametrize("n", [3, 4, 5, 8, 33])
def test_every_node_is_in_two_pairs_or_more(n):
    nodes = [f"gpu-{i:02d}" for i in range(n)]
    pairs = choose_pairs(nodes)
    counts = Counter(node for p in pairs for node in p)
    assert set(counts) == set(nodes)
    assert min(counts.values()) >= 2
    assert len(set(pairs)) == len(pairs)
    assert all(a < b for a, b in pairs)
    assert len(pairs) <= 2 * n  # the next and the one after next: linear, not n^2


def test_small_fleets():
    assert choose_pairs(["a"]) == ()
    assert choose_pairs(["b", "a", "a"]) == (("a", "b"),)
    assert set(choose_pairs(["a", "b", "c"])) == {("a", "b"), ("b", "c"), ("a", "c")}


def outcome(a: str, b: str, busbw: float | None) -> PairOutcome:
    if busbw is None:
        return PairOutcome(nodes=(a, b), status="timeout", message="no answer within 120 s")
    point = AllReducePoint(bytes=1 << 30, time_s=1.0, algbw_gbps=busbw, busbw_gbps=busbw)
    ar = AllReduce(backend="nccl", world_size=2, device="cuda", points=(point,))
    return PairOutcome(nodes=(a, b), allreduce=ar)


def matrix(n: int, slow: dict[tuple[str, str], float | None]) -> list[PairOutcome]:
    nodes = [f"n{i}" for i in range(n)]
    return [outcome(a, b, slow.get((a, b), 45.0)) for a, b in choose_pairs(nodes)]


def test_a_healthy_fleet_has_nothing_to_say():
    base, slow, bad, links = analyse(matrix(6, {}))
    assert base == 45.0 and slow == () and bad == () and links == ()


def test_a_node_slow_with_every_partner_is_a_bad_node_not_bad_links():
    pairs = [o for o in matrix(6, {}) if "n3" not in o.nodes]
    pairs += [outcome(*o.nodes, 12.0) for o in matrix(6, {}) if "n3" in o.nodes]
    _base, slow, bad, links = analyse(pairs)
    assert [b.node for b in bad] == ["n3"]
    assert set(bad[0].partners) == {"n1", "n2", "n4", "n5"}
    assert links == ()
    assert all("n3" in p for p in slow)


def test_one_slow_pair_between_healthy_nodes_is_a_bad_link():
    _base, slow, bad, links = analyse(matrix(6, {("n1", "n2"): 20.0}))
    assert bad == () and links == (("n1", "n2"),) and slow == (("n1", "n2"),)


def test_a_failed_pair_counts_as_slow():
    _, _, bad, links = analyse(matrix(5, {("n0", "n1"): None}))
    assert links == (("n0", "n1"),) and bad == ()
    every = {p: None for p in choose_pairs([f"n{i}" for i in range(5)]) if "n4" in p}
    _, _, bad, _ = analyse(matrix(5, every))
    assert [b.node for b in bad] == ["n4"] and all(v is None for v in bad[0].busbw_gbps)


def test_three_nodes_one_bad_the_median_would_miss_it():
    # two of the three pairs are slow: the upper quartile still finds the healthy figure
    pairs = [outcome("a", "b", 45.0), outcome("b", "c", 10.0), outcome("a", "c", 11.0)]
    base, _slow, bad, links = analyse(pairs)
    assert base == pytest.approx(28.0)
    assert [b.node for b in bad] == ["c"] and links == ()


def test_two_nodes_one_pair_nothing_to_compare():
    assert analyse([outcome("a", "b", 1.0)])[1:] == ((), (), ())
    _, slow, bad, links = analyse([outcome("a", "b", None)])
    assert slow == (("a", "b"),) and bad == () and links == (("a", "b"),)


def test_baseline():
    assert baseline([]) is None
    assert baseline([3.0]) == 3.0
    assert baseline([1.0, 2.0, 3.0, 4.0, 5.0]) == 4.0


# --- srun's answers ---------------------------------------------------------------------------


def result(stdout: str = "", stderr: str = "", **kw) -> CmdResult:
    return CmdResult(
        argv=("srun",), returncode=kw.pop("returncode", 0), stdout=stdout, stderr=stderr, **kw
    )


def test_read_a_good_pair():
    ar = outcome("a", "b", 30.0).allreduce
    line = json.dumps({"event": "allreduce", "rank": 0, "allreduce": to_dict(ar)})
    got = pairrun.read_outcome(("a", "b"), result("noise\n" + line + "\n"), 60)
    assert got.status == "ok" and got.busbw_gbps == 30.0


@pytest.mark.parametrize("noise", ['{"n": ' + "9" * 5000 + "}", "[" * 100_000])
def test_a_line_json_cannot_hold_is_noise(noise):
    # int() refused the number (ValueError) and the array was nested past Python's limit
    # (RecursionError): fleet pairs stopped with an internal error (exit 3)
    ar = outcome("a", "b", 30.0).allreduce
    line = json.dumps({"event": "allreduce", "rank": 0, "allreduce": to_dict(ar)})
    got = pairrun.read_outcome(("a", "b"), result(noise + "\n" + line + "\n"), 60)
    assert got.status == "ok" and got.busbw_gbps == 30.0


def test_a_wrong_sum_is_an_error():
    point = AllReducePoint(bytes=4, time_s=1.0, algbw_gbps=1.0, busbw_gbps=1.0, correct=False)
    ar = AllReduce(backend="gloo", world_size=2, points=(point,))
    line = json.dumps({"event": "allreduce", "allreduce": to_dict(ar)})
    got = pairrun.read_outcome(("a", "b"), result(line), 60)
    assert got.status == "error" and "wrong sum" in got.message and got.busbw_gbps is None


def test_a_peer_that_never_joins():
    err = {"event": "error", "rank": "0", "message": "DistStoreError: 1/2 clients joined."}
    got = pairrun.read_outcome(("a", "b"), result(json.dumps(err), returncode=1), 60)
    # the option that sets the wait is named (it was not)
    assert got.status == "error" and got.message == (
        "rank 0: DistStoreError: 1/2 clients joined. (the rendezvous waits --init-timeout)"
    )


TAKEN = (
    "DistNetworkError: The server socket has failed to listen on any local network address. "
    "port: 20005, useIpv6: false, code: -98, name: EADDRINUSE, message: address already in use"
)


def test_a_taken_rendezvous_port_judges_neither_node_nor_link():
    # Another program held the first node's rendezvous port (a second test cluster's pair on
    # the same host): rank 0 could not listen, the pair was an 'error', so slow, and a node in
    # two such pairs was a "bad node: drain it" for what its network never did.
    err = {"event": "error", "rank": "0", "message": TAKEN}
    got = pairrun.read_outcome(("a", "b"), result(json.dumps(err), returncode=1), 60)
    assert got.status == "refused", got
    assert got.message.startswith("a: the rendezvous port is taken by another program (rank 0:")
    assert "port: 20005" in got.message and "\n" not in got.message
    every = [
        pairrun.read_outcome(p, result(json.dumps(err), returncode=1), 60)
        for p in choose_pairs(["n1", "n2", "n3"])
    ]
    assert analyse(every)[1:] == ((), (), ())


def test_srun_refused_and_timed_out():
    refused = result(
        stderr="srun: error: Unable to allocate resources: Invalid partition name specified\n",
        returncode=1,
    )
    got = pairrun.read_outcome(("a", "b"), refused, 60)
    assert got.status == "refused" and "Invalid partition" in got.message
    got = pairrun.read_outcome(("a", "b"), result(returncode=None, timed_out=True), 60)
    # the limit is named, the option that raises it, or the run's --time-limit that cut it
    assert got.status == "timeout" and got.message == "no answer within 60 s (--pair-timeout)"
    cut = pairrun.read_outcome(("a", "b"), result(returncode=None, timed_out=True), 5, cut=True)
    assert cut.message == "no answer within 5 s (the run's --time-limit ran out)"
    got = pairrun.read_outcome(("a", "b"), result(returncode=None, start_error="ENOENT"), 60)
    assert got.status == "refused"


def test_keep_better():
    first = [outcome("a", "b", 10.0), outcome("b", "c", 40.0)]
    again = [outcome("a", "b", 38.0)]
    assert [o.busbw_gbps for o in pairrun.keep_better(first, again)] == [38.0, 40.0]
    assert pairrun.keep_better(first, [outcome("a", "b", 5.0)])[0].busbw_gbps == 10.0


def test_the_srun_line_and_the_child_command():
    argv = slurm.pair_argv("srun", ("n1", "n2"), ("py", "-m", "x"), 10, ("--account=lab",))
    assert argv[:6] == [
        "srun",
        "--nodes=2",
        "--ntasks=2",
        "--ntasks-per-node=1",
        "--nodelist=n1,n2",
        "--immediate=10",
    ]
    assert argv[-4:] == ["--account=lab", "py", "-m", "x"]
    # one rank ended (rank 0 gave up on a partner hung before the rendezvous): the other is
    # stopped once the rendezvous's timeout and a margin have passed, not at --pair-timeout
    waited = slurm.pair_argv("srun", ("n1", "n2"), ("py",), 10, (), 40)
    assert waited[6] == "--wait=40" and waited[-1] == "py"
    assert pairrun.ranks_wait_s(pairrun.PairJob(python="py", init_timeout_s=30.0)) == 40
    cmd = pairrun.pair_command(pairrun.PairJob(python="py"), "10.0.0.1")
    assert cmd[:3] == ("py", "-m", "gpudoctor.verify.children.allreduce")
    config = json.loads(cmd[3])
    assert config["addr"] == "10.0.0.1" and "rank" not in config and "port" not in config


def test_measure_runs_each_pair_then_a_slow_one_again_and_keeps_the_better(monkeypatch):
    figures = {("a", "b"): [40.0], ("b", "c"): [41.0], ("a", "c"): [10.0, 39.0]}
    asked = []

    def fake_srun(nodes, command, **kwargs):
        asked.append(tuple(nodes))
        ar = outcome(*nodes, figures[tuple(nodes)].pop(0)).allreduce
        line = json.dumps({"event": "allreduce", "allreduce": to_dict(ar)})
        return result(line + "\n")

    monkeypatch.setattr(slurm, "srun_pair", fake_srun)
    heard = []
    got = pairrun.measure(
        [("a", "b"), ("b", "c"), ("a", "c")],
        pairrun.PairJob(python="py"),
        time_limit_s=60,
        addresses={"a": "10.0.0.1"},
        slow_factor=0.8,
        on_done=lambda o, i, n: heard.append((o.nodes, i, n)),
    )
    assert asked == [("a", "b"), ("b", "c"), ("a", "c"), ("a", "c")]
    assert [o.busbw_gbps for o in got] == [40.0, 41.0, 39.0]
    assert heard[-1] == (("a", "c"), 0, 0)


def test_pairs_past_the_time_limit_are_not_started(monkeypatch):
    monkeypatch.setattr(slurm, "srun_pair", lambda *a, **k: pytest.fail("srun ran"))
    got = pairrun.run_pairs(
        [("a", "b")], pairrun.PairJob(python="py"), time_limit_s=0.5, addresses={}
    )
    assert got[0].status == "refused" and "--time-limit" in got[0].message


def test_a_pair_that_timed_out_names_the_limit_that_stopped_it(monkeypatch):
    # "no answer within 180 s" named no option: --pair-timeout raises it, or the run's
    # --time-limit cut it short
    monkeypatch.setattr(slurm, "srun_pair", lambda *a, **k: result(returncode=None, timed_out=True))
    job = pairrun.PairJob(python="py", pair_timeout_s=30.0)
    (own,) = pairrun.run_pairs([("a", "b")], job, time_limit_s=600, addresses={})
    assert own.message == "no answer within 30 s (--pair-timeout)"
    (cut,) = pairrun.run_pairs([("a", "b")], job, time_limit_s=10, addresses={})
    assert cut.message.endswith(" s (the run's --time-limit ran out)"), cut.message


def test_prepare_dir_refuses_an_earlier_runs_files(tmp_path):
    pair_dir = pairrun.prepare_dir(tmp_path / "run", [("a", "b")], force=False)
    (pair_dir / "a+b.json").write_text("{}")
    with pytest.raises(BadInputError, match=r"already holds pairs/a\+b\.json"):
        pairrun.prepare_dir(tmp_path / "run", [("a", "b")], force=False)
    assert pairrun.prepare_dir(tmp_path / "run", [("a", "b")], force=True) == pair_dir


def test_force_removes_an_earlier_runs_summary_before_the_first_srun(tmp_path):
    # `fleet pairs -w n[1-3] --force` interrupted: the folder kept the last run's pairs.json
    # (n1+n2 fine), and fleet report read it as this run's: "All 1 pair(s) of 2 node(s) fine"
    pair_dir = pairrun.prepare_dir(tmp_path / "run", [("a", "b")], force=False)
    for name in ("a+b.json", "pairs.json", "c+d.json"):
        (pair_dir / name).write_text("{}")
    pairrun.prepare_dir(tmp_path / "run", [("a", "b"), ("a", "c")], force=True)
    assert sorted(p.name for p in pair_dir.iterdir()) == ["c+d.json"]  # not this run's pair


def test_each_pair_runs_in_a_partition_both_nodes_are_in(monkeypatch):
    # srun -N2 without --partition asked the default partition: `fleet pairs -p a100`
    # refused every pair of a non-default partition
    seen = {}

    def fake_srun(nodes, command, **kwargs):
        seen[tuple(nodes)] = kwargs["srun_args"]
        return result("")

    monkeypatch.setattr(slurm, "srun_pair", fake_srun)
    pairrun.run_pairs(
        [("a", "b"), ("b", "c")],
        pairrun.PairJob(python="py", srun_args=("--account=lab",)),
        time_limit_s=60,
        addresses={},
        partitions={"a": ("all", "a100"), "b": ("a100", "all"), "c": ("h100",)},
    )
    assert seen[("a", "b")] == ("--partition=all", "--account=lab")
    assert seen[("b", "c")] == ("--account=lab",)  # none in common: srun says why it refuses


def refused(
    a: str, b: str, why: str = "srun: Unable to allocate resources: Invalid account"
) -> PairOutcome:
    return PairOutcome(nodes=(a, b), status="refused", message=why)


def test_pairs_srun_refused_name_no_bad_node_or_link():
    # SLURM refusing every step (a wrong --account) says nothing of the nodes' hardware:
    # before, every node of five was a "bad node: drain it".
    every = [refused(a, b) for a, b in choose_pairs([f"n{i}" for i in range(5)])]
    base, slow, bad, links = analyse(every)
    assert (base, slow, bad, links) == (None, (), (), ())


def test_a_refused_pair_is_not_one_of_a_nodes_pairs():
    # n4 is slow with the partners it ran with; its refused pairs neither make nor hide it.
    pairs = matrix(6, {p: 10.0 for p in choose_pairs([f"n{i}" for i in range(6)]) if "n4" in p})
    ran_out = [refused(*o.nodes, "the run's --time-limit ran out") for o in pairs[-2:]]
    _, _, bad, links = analyse(pairs[:-2] + ran_out)
    assert [b.node for b in bad] == ["n4"] and links == ()
    # a node whose only measured pair is slow and whose other pairs were refused cannot be
    # told from its link: a bad link, not a bad node
    _, _, bad, links = analyse(
        [
            outcome("a", "b", 45.0),
            outcome("b", "c", 10.0),
            refused("a", "c"),
            outcome("c", "d", 44.0),
            outcome("a", "d", 46.0),
        ]
    )
    assert [b.node for b in bad] == [] and links == (("b", "c"),)


def test_pairs_are_chosen_within_each_partition():
    chosen, alone = pairs_by_partition(
        {"g1": ("gpu",), "c1": ("cpu",), "g2": ("gpu",), "g3": ("gpu",), "x1": ("debug",)}
    )
    assert chosen == (("g1", "g2"), ("g2", "g3"), ("g1", "g3"))  # never g + c
    assert alone == (("c1", "cpu"), ("x1", "debug"))
    assert pairs_by_partition({"a": (), "b": ()}) == ((("a", "b"),), ())


def test_a_partition_every_node_is_in_makes_one_ring():
    # each node was put in the first partition sinfo listed: n1 (gpu), n2 (all), n3 (debug)
    # 'share none', exit 2, though all three are in 'all'
    chosen, alone = pairs_by_partition(
        {"n1": ("gpu", "all"), "n2": ("all",), "n3": ("debug", "all")}
    )
    assert set(chosen) == {("n1", "n2"), ("n2", "n3"), ("n1", "n3")} and alone == ()


def test_a_node_left_alone_in_its_group_is_paired_through_another_partition():
    # n2 was 'alone: no other node selected in partition all', though n1 is in 'all' too
    chosen, alone = pairs_by_partition({"n1": ("gpu", "all"), "n2": ("all",), "n3": ("gpu",)})
    assert alone == ()
    assert {n for pair in chosen for n in pair} == {"n1", "n2", "n3"}
    assert ("n1", "n3") in chosen and ("n1", "n2") in chosen
