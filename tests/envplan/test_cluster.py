"""Planning for a cluster's nodes: majority driver, lowest CC, modules, CONDA_OVERRIDE_CUDA."""

from __future__ import annotations

import dataclasses

import pytest

from gpudoctor import kb
from gpudoctor.envplan.cluster import NodeTarget, fleet_target, for_nodes, modules_to_unload
from gpudoctor.envplan.forms import render
from gpudoctor.envplan.plan import Request, make_plan
from gpudoctor.envplan.target import Target, target_from_args
from gpudoctor.errors import BadInputError
from gpudoctor.model.report import LoadedModule, SiteInfo
from gpudoctor.userfiles.read import load_report

REPORT = "tests/data/reports/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"


def _node(name: str, driver: str | None, cc: str | None, parts=("gpu",)) -> NodeTarget:
    return NodeTarget(node=name, partitions=parts, target=Target(driver=driver, cc=cc))


def test_the_majority_driver_and_the_lowest_cc_of_the_partition():
    nodes = [
        _node("a1", "590.48.01", "9.0"),
        _node("a2", "590.48.01", "9.0"),
        _node("a3", "595.80", "8.9"),
        _node("b1", "535.104.05", "7.0", parts=("old",)),
        _node("a4", None, None),
    ]
    target, covered = fleet_target(nodes, partition="gpu", where="run")
    assert (target.driver, target.cc, covered) == ("590.48.01", "8.9", ("a1", "a2", "a3"))
    everything, covered = fleet_target(nodes, partition=None, where="run")
    # b1's V100 is on an older driver than the majority's: left out, so not planned for
    assert (everything.cc, covered) == ("8.9", ("a1", "a2", "a3"))
    with pytest.raises(
        BadInputError, match=r"no node of partition nope \(partitions in it: gpu, old\)"
    ):
        fleet_target(nodes, partition="nope", where="run")
    with pytest.raises(BadInputError, match="has a readable NVIDIA driver"):
        fleet_target([_node("x", None, None)], partition=None, where="run")


def test_nodes_on_an_older_driver_are_not_claimed_as_planned_for_and_are_named():
    # "Planned for ... nodes gpu-[001-008]" while gpu-008's driver 570 cannot run the cu130
    # build chosen for the other seven's 590, and no warning said so
    nodes = [_node(f"gpu-00{i}", "590.48.01", "9.0") for i in range(1, 8)]
    nodes.append(_node("gpu-008", "570.124.06", "9.0"))
    target, covered = fleet_target(nodes, partition=None, where="run")
    assert target.driver == "590.48.01" and "gpu-008" not in covered and len(covered) == 7
    assert target.left_out == (
        "node(s) gpu-008 run driver 570.124.06, older than the 590.48.01 of most nodes planned "
        "for: this environment may not run there; update their driver, or plan for them too "
        "with --driver 570.124.06 --cc 9.0",
    )
    plan = make_plan(kb.load(), target, Request(frameworks=("torch",)))
    assert target.left_out[0] in plan.warnings
    newer = [*nodes[:7], _node("gpu-008", "595.80", "9.0")]  # a newer one runs it: covered
    assert fleet_target(newer, partition=None, where="run")[0].left_out == ()


def test_a_node_left_out_for_its_older_driver_does_not_choose_the_build():
    # two H100 nodes on R590 and a GTX 1080 Ti node on R580: the plan took CC 6.1 from the
    # node it left out, so the H100s got PyTorch cu126 (a Pascal build) for a machine no node
    # is (CC 6.1 on driver 590, which R590 does not drive) with a warning saying so
    nodes = [
        NodeTarget(
            node=f"n{i}",
            partitions=("gpu",),
            target=Target(driver="590.48.01", cc="9.0", gpus=("NVIDIA H100 80GB HBM3",)),
            unload=("cuda/13.1",),
        )
        for i in (1, 2)
    ]
    nodes.append(
        NodeTarget(
            node="n3",
            partitions=("gpu",),
            target=Target(driver="580.95.05", cc="6.1", gpus=("NVIDIA GeForce GTX 1080 Ti",)),
            unload=("cuda/11.8",),
        )
    )
    target, covered = fleet_target(nodes, partition=None, where="run")
    assert (target.driver, target.cc, covered) == ("590.48.01", "9.0", ("n1", "n2"))
    assert target.gpus == ("NVIDIA H100 80GB HBM3",)
    assert target.unload_modules == ("cuda/13.1",)
    assert target.left_out == (
        "node(s) n3 run driver 580.95.05, older than the 590.48.01 of most nodes planned for: "
        "this environment may not run there; update their driver, or plan for them too with "
        "--driver 580.95.05 --cc 6.1",
    )
    plan = make_plan(kb.load(), target, Request(frameworks=("torch",)))
    assert plan.frameworks[0].variant != "cu126"
    assert not [w for w in plan.warnings if "Pascal" in w]


def test_the_oldest_glibc_and_a_cpu_without_avx_of_any_planned_node_count():
    # the fleet target took the first node's glibc and CPU flags: with n1 on glibc 2.35 and n2
    # on 2.27 the plan was PyTorch 2.15, whose manylinux_2_28 wheels n2 cannot install
    def node(name: str, glibc: str, flags: tuple[str, ...]) -> NodeTarget:
        target = Target(driver="590.48.01", cc="9.0", glibc=glibc, cpu_flags=flags)
        return NodeTarget(node=name, partitions=("gpu",), target=target)

    nodes = [node("n1", "2.35", ("avx", "avx2")), node("n2", "2.27", ("sse4_2",))]
    target, covered = fleet_target(nodes, partition=None, where="run")
    assert (target.glibc, target.cpu_flags, covered) == ("2.27", ("sse4_2",), ("n1", "n2"))
    plan = make_plan(kb.load(), target, Request(frameworks=("torch",)))
    assert plan.frameworks[0].version == "2.6.0"
    assert "--glibc 2.27" in plan.command
    assert any("lacks AVX" in w for w in plan.warnings)


def test_modules_that_put_cuda_on_the_library_path_are_to_be_unloaded():
    report = load_report(REPORT)
    modules = (
        LoadedModule(name="cuda/12.4", prefixes=("/opt/cuda-12.4",)),
        LoadedModule(name="gcc/12", prefixes=("/opt/gcc",)),
        LoadedModule(name="mylibs/1", prefixes=("/opt/mine",)),
    )
    host = dataclasses.replace(
        report.host, env={**report.host.env, "LD_LIBRARY_PATH": "/opt/mine/lib64:/usr/lib"}
    )
    report = dataclasses.replace(report, host=host, site=SiteInfo(modules=modules))
    assert modules_to_unload(report) == ("cuda/12.4", "mylibs/1")


def test_conda_form_for_compute_nodes_tells_conda_their_cuda():
    knowledge = kb.load()
    target = target_from_args(knowledge, driver="570.124.06", cc="9.0")
    nodes = for_nodes(target, partition="gpu", nodes="n[1-2]", gpu="h100", unload=("cuda/12.4",))
    plan = make_plan(knowledge, nodes, Request())
    text = render(plan, "conda", "env.yml")
    assert "# Planned for the compute nodes of partition gpu: nodes n[1-2] (h100)" in text
    assert "# First: module unload cuda/12.4" in text
    assert "# Create with: CONDA_OVERRIDE_CUDA=12.8 conda env create -f env.yml" in text
    assert text.endswith('variables:\n  CONDA_OVERRIDE_CUDA: "12.8"\n')
    assert 'cuda = "12.8"' in render(plan, "pixi")
    # pixi refuses to install it on a login node without a GPU unless told the nodes' CUDA
    assert "# Create with: CONDA_OVERRIDE_CUDA=12.8 pixi install\n" in render(plan, "pixi")
    one_machine = make_plan(knowledge, target, Request())
    assert "# Create with: pixi install\n" in render(one_machine, "pixi")
    assert "CONDA_OVERRIDE_CUDA" not in render(make_plan(knowledge, target, Request()), "conda")
    cpu = make_plan(knowledge, nodes, Request(cpu=True))
    assert "variables:" not in render(cpu, "conda")


def test_the_regenerate_line_of_a_file_for_a_partition_names_the_partition():
    # without it, the line run again on the login node planned for one machine: the conda
    # form lost CONDA_OVERRIDE_CUDA and the header naming the nodes
    knowledge = kb.load()
    target = target_from_args(knowledge, driver="570.124.06", cc="9.0")
    nodes = for_nodes(target, partition="gpu", nodes="n[1-2]", gpu="h100", unload=())
    text = render(make_plan(knowledge, nodes, Request()), "uv", "pyproject.toml")
    assert "# Regenerate: gpudoctor make-env --driver 570.124.06 --cc 9.0 --os linux " in text
    assert "--partition gpu --framework torch --format uv\n" in text
    fleet = for_nodes(target, partition=None, nodes="n[1-2]", gpu=None, unload=())
    assert "--partition" not in make_plan(knowledge, fleet, Request()).command
    assert "--partition" not in make_plan(knowledge, target, Request()).command


def test_request_options_are_checked_in_the_request_type():
    assert Request.from_options(framework="all").frameworks == ("torch", "tensorflow")
    with pytest.raises(BadInputError, match="--format uv installs wheels only"):
        Request.from_options(source="conda-forge", fmt="uv")
    with pytest.raises(BadInputError, match="--name base: conda reserves"):
        Request.from_options(name="base")
    with pytest.raises(BadInputError, match="control characters"):
        Request.from_options(python="3.12\n")


def test_nodes_outside_a_partition_are_named_once():
    # --from-fleet DIR without --partition read "Planned for the compute nodes of nodes g[1-2]"
    knowledge = kb.load()
    target = target_from_args(knowledge, driver="570.124.06", cc="9.0")
    nodes = for_nodes(target, partition=None, nodes="g[1-2]", gpu=None, unload=())
    text = render(make_plan(knowledge, nodes, Request()), "conda", "env.yml")
    assert "# Planned for the compute nodes g[1-2]\n" in text, text
