"""sinfo's partition listing, parsed; and check's bounded cluster query against a fake sinfo."""

from __future__ import annotations

import pytest

from gpudoctor.fleet.partitions import parse_partitions
from gpudoctor.fleet.slurm import query_cluster
from tests.render.site_scenarios import TREES


def test_partitions_with_gres_features_and_the_default_mark():
    parts = parse_partitions((TREES / "login_node" / "sinfo.txt").read_text())
    assert [(p.name, p.default) for p in parts] == [
        ("cpu", True),
        ("gpu", False),
        ("gpu", False),
        ("debug", False),
    ]
    assert parts[0].gres == () and parts[0].features == ("intel", "skylake")
    assert parts[1].gres == ("gpu:h100:8(S:0-1)",) and parts[1].nodes == "gpu[01-04]"
    assert parts[2].gres == ("gpu:a100:4(S:0,1)",)  # the comma inside the binding stays
    assert parts[3].gres == ("gpu:2",) and parts[3].node_count == 1


def test_several_gres_and_garbage_lines():
    parts = parse_partitions("p|up|2|gpu:a100:4,shard:8|(null)|n[1-2]\nnot a line\n\n")
    assert parts[0].gres == ("gpu:a100:4", "shard:8") and parts[0].features == ()


@pytest.mark.parametrize("count", ["\u00b2", "9" * 5000])
def test_a_node_count_int_refuses_is_no_count(count):
    # int() raised on both: '²' passes str.isdigit(), and 5,000 digits are past its limit
    line = f"p|up|{count}|gpu:4|(null)|{count}/0/0/{count}|n[1-2]"
    (part,) = parse_partitions(line)
    assert part.node_count is None and part.nodes_usable is None


def _script(folder, body):
    path = folder / "sinfo"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_no_sinfo_on_path_costs_nothing(tmp_path):
    assert query_cluster({"PATH": str(tmp_path)}) is None


def test_a_fake_sinfo_answers(tmp_path):
    _script(tmp_path, "echo 'gpu*|up|4|gpu:h100:8|(null)|g[1-4]'")
    cluster = query_cluster({"PATH": str(tmp_path)})
    assert cluster is not None and cluster.reachable
    assert cluster.partitions[0].name == "gpu" and cluster.partitions[0].default


def test_a_controller_that_is_down_is_recorded(tmp_path):
    _script(
        tmp_path, "echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1"
    )
    cluster = query_cluster({"PATH": str(tmp_path)})
    assert cluster is not None and not cluster.reachable
    assert "Unable to contact slurm controller" in cluster.message


def test_a_hanging_sinfo_is_cut_at_its_bound(tmp_path):
    _script(tmp_path, "exec /bin/sleep 30")
    cluster = query_cluster({"PATH": str(tmp_path)}, timeout_s=0.5)
    assert cluster is not None and not cluster.reachable
    assert cluster.message == "sinfo gave no answer in 0.5 s"
    assert cluster.duration_s is not None and cluster.duration_s < 5


def test_a_slurm_conf_that_names_nothing_is_said_without_running_sinfo(tmp_path):
    # sinfo itself retries a missing configuration for 60 s; this one would hang the test
    _script(tmp_path, "exec /bin/sleep 30")
    conf = tmp_path / "missing" / "slurm.conf"
    cluster = query_cluster({"PATH": str(tmp_path), "SLURM_CONF": str(conf)}, timeout_s=20)
    assert cluster is not None and not cluster.reachable
    assert cluster.message == f"SLURM_CONF={conf} names no file"
    assert cluster.duration_s == 0.0


def test_node_counts_by_state_say_how_many_can_start_a_job():
    # sinfo 22.05's answer with n1-n3 drained, n4 idle (the %F field: allocated/idle/other/total)
    parts = parse_partitions(
        "gpu*|up|3|gpu:h100:8|(null)|0/0/3/3|n[1-3]\ncpu|up|1|(null)|(null)|0/1/0/1|n4\n"
    )
    assert [(p.name, p.nodes, p.nodes_usable) for p in parts] == [
        ("gpu", "n[1-3]", 0),
        ("cpu", "n4", 1),
    ]
    # the format without %F (a report written before 2026-12-07 kept its command): unknown
    (old,) = parse_partitions("gpu*|up|3|gpu:h100:8|(null)|n[1-3]")
    assert old.nodes == "n[1-3]" and old.nodes_usable is None
