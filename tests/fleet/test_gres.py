"""Each node's SLURM GRES against the GPUs on its PCI bus and in its driver (fleet/gres.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpudoctor.fleet.aggregate import aggregate
from gpudoctor.fleet.facts import gpus_found
from gpudoctor.fleet.gres import compare_gres
from gpudoctor.model import serialize
from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import GpusFound, NodeFinding
from tests.conftest import DATA
from tests.fleet.builders import node, with_findings

EIGHT = GpusFound(on_bus=8, bound=8, driver=8, module_loaded=True)


def found(**changes) -> GpusFound:
    return GpusFound(**{**EIGHT.__dict__, **changes})


def test_a_node_with_the_gpus_it_promises_gets_nothing():
    facts = node("n1", gpus_found=EIGHT)
    assert compare_gres(facts, ("gpu:h100:8(S:0-1)", "nic:2")) == facts


@pytest.mark.parametrize(
    ("seen", "title"),
    [
        (
            found(on_bus=0, bound=0, driver=0, module_loaded=False),
            "SLURM gives out gpu:h100:8 here; the node has no GPU",
        ),
        # the driver lost one; the PCI bus still has it (it read "the node has only 7 GPUs")
        (
            found(driver=7, bound=7),
            "SLURM gives out gpu:h100:8 here; the nvidia driver owns only 7 of the 8 GPUs on "
            "its PCI bus",
        ),
        # on the bus, but no driver bound (the module did not load); it read "the node has no
        # GPU" of a node with 8 on its bus
        (
            found(bound=0, driver=0, module_loaded=False),
            "SLURM gives out gpu:h100:8 here; the nvidia driver owns none of the 8 GPUs on its "
            "PCI bus",
        ),
    ],
)
def test_fewer_gpus_than_promised_is_an_error(seen, title):
    facts = compare_gres(node("n1", gpus_found=seen), ("gpu:h100:8(S:0-1)",))
    (f,) = facts.findings
    assert (f.id, f.severity, f.title) == ("GD-GPU-068", Severity.ERROR, title)
    assert facts.verdict is Severity.ERROR and facts.finding_ids == ("GD-GPU-068",)
    assert f.evidence[0] == "SLURM's GRES (sinfo, as fleet run selected the node): gpu:h100:8"
    assert f.evidence[-1].startswith("fix: drain the node")


def test_nvml_listing_fewer_than_the_driver_owns_and_the_gres_gives_out_is_an_error():
    # 8 on the bus and in the driver, NVML lists 7: jobs given the eighth fail. The fleet
    # compared the bus alone and said nothing (fleet run exited 0, the node "with a warning")
    facts = compare_gres(node("n1", gpus_found=found(nvml=7)), ("gpu:h100:8",))
    (f,) = facts.findings
    assert (f.id, f.severity, f.title) == (
        "GD-GPU-068",
        Severity.ERROR,
        "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8",
    )
    # it said "the check's job was given no GPU" of a report made outside any job too
    assert f.evidence[2].startswith("NVML lists 7 GPUs; the check ran in no job or one given no")
    # a GRES of 7 or 6 on that node gives out no more than NVML lists, but gres.conf names
    # the lost GPU's /dev/nvidiaN as well as the others: a job may be given it. Both read only
    # "The node has 7 GPUs; SLURM gives out only gpu:6", a warning, or nothing at all.
    for fewer in ("gpu:7", "gpu:6", "gpu:1"):
        (lost,) = compare_gres(node("n1", gpus_found=found(nvml=7)), (fewer,)).findings
        assert (lost.severity, lost.title) == (
            Severity.ERROR,
            f"SLURM gives out {fewer} here; NVML lists only 7 GPUs of the node's 8",
        )
    # a GRES giving out none hands out no lost GPU: more GPUs than it gives out, a warning
    (none,) = compare_gres(node("n1", gpus_found=found(nvml=7)), ("gpu:0",)).findings
    assert (none.severity, none.title) == (
        Severity.WARNING,
        "The node has 7 GPUs; SLURM gives out only gpu:0",
    )


@pytest.mark.parametrize(
    "nvml",
    [
        None,  # NVML failed, its count was a job's or a container's share, or it listed none
        # in a job (a device cgroup, ConstrainDevices, hides every GPU from a job given none)
        8,
    ],
)
def test_nvml_listing_nothing_or_all_is_judged_by_the_bus(nvml):
    facts = node("n1", gpus_found=found(nvml=nvml))
    assert compare_gres(facts, ("gpu:h100:8",)) == facts


def test_nvml_listing_none_of_the_drivers_gpus_outside_a_job_is_an_error():
    # a report made outside any job (Ansible, pdsh): NVML answered and lists none of the 8
    # GPUs the driver owns. check --health-check --drain drains such a node; the fleet read
    # NVML's 0 as a job's device cgroup hiding them, and said nothing
    (f,) = compare_gres(node("n1", gpus_found=found(nvml=0)), ("gpu:h100:8",)).findings
    assert (f.severity, f.title) == (
        Severity.ERROR,
        "SLURM gives out gpu:h100:8 here; NVML lists only 0 GPUs of the node's 8",
    )


def test_the_evidence_says_what_the_bus_and_the_driver_hold():
    facts = compare_gres(node("n1", gpus_found=found(bound=0, driver=0)), ("gpu:8",))
    assert facts.findings[0].evidence[1] == (
        "PCI bus: 8 NVIDIA GPUs, 0 bound to the nvidia driver; /proc/driver/nvidia/gpus lists none"
    )
    one = compare_gres(node("n1", gpus_found=found(on_bus=1, bound=1, driver=None)), ("gpu:2",))
    assert one.findings[0].evidence[1] == "PCI bus: 1 NVIDIA GPU, 1 bound to the nvidia driver"


def test_more_gpus_than_promised_is_a_warning():
    facts = compare_gres(node("n1", gpus_found=EIGHT), ("gpu:a100:2", "gpu:v100:2"))
    (f,) = facts.findings
    assert f.severity is Severity.WARNING and facts.verdict is Severity.WARNING
    assert f.title == "The node has 8 GPUs; SLURM gives out only gpu:a100:2,gpu:v100:2"


@pytest.mark.parametrize("gres", [(), ("nic:2",), ("gpu",), ("gpu:h100",), ("gpumem:80G",)])
def test_no_gpu_count_in_the_gres_is_not_compared(gres):
    facts = node("n1", gpus_found=found(on_bus=0, bound=0, driver=0))
    assert compare_gres(facts, gres) == facts


def test_a_node_whose_pci_bus_was_not_read_is_not_compared():
    facts = node("n1")  # gpus_found None
    assert compare_gres(facts, ("gpu:8",)) == facts


def test_with_mig_either_count_is_accepted():
    mig = found(on_bus=2, bound=2, driver=2, mig=True, mig_devices=7)
    assert compare_gres(node("n1", gpus_found=mig), ("gpu:7",)).findings == ()
    assert compare_gres(node("n1", gpus_found=mig), ("gpu:2",)).findings == ()
    assert compare_gres(node("n1", gpus_found=mig), ("gpu:5",)).findings == ()  # cannot tell
    (f,) = compare_gres(node("n1", gpus_found=mig), ("gpu:8",)).findings
    assert f.severity is Severity.ERROR
    assert f.title == (
        "SLURM gives out gpu:8 here; the node has only 2 GPUs (7 with its MIG devices)"
    )
    # MIG on, its devices not read: the whole GPUs are compared, as check compares them (the
    # fleet said nothing where check, and so the gate, drained the node)
    unknown = found(on_bus=2, bound=2, driver=2, mig=True)
    assert compare_gres(node("n1", gpus_found=unknown), ("gpu:2",)).findings == ()
    (f,) = compare_gres(node("n1", gpus_found=unknown), ("gpu:8",)).findings
    assert (f.severity, f.title) == (
        Severity.ERROR,
        "SLURM gives out gpu:8 here; the node has only 2 GPUs",
    )


def test_a_node_that_compared_its_gres_itself_keeps_its_own_word():
    own = NodeFinding(id="GD-GPU-068", severity=Severity.ERROR, title="SLURM gives out 8 ...")
    facts = with_findings(node("n1", gpus_found=found(driver=7, bound=7)), own)
    assert compare_gres(facts, ("gpu:8",)) == facts


def test_check_s_not_compared_inside_a_job_gives_way_to_the_fleet_s_comparison():
    info = NodeFinding(id="GD-GPU-068", severity=Severity.INFO, title="not compared: inside a job")
    other = NodeFinding(id="GD-HOST-009", severity=Severity.INFO, title="sees some")
    facts = with_findings(node("n1", gpus_found=found(driver=7, bound=7)), info, other)
    after = compare_gres(facts, ("gpu:8",))
    assert [(f.id, f.severity) for f in after.findings] == [
        ("GD-GPU-068", Severity.ERROR),
        ("GD-HOST-009", Severity.INFO),
    ]
    assert after.finding_ids == ("GD-GPU-068", "GD-HOST-009")


def test_check_s_gpu_missing_from_nvml_gives_way_to_the_fleet_s_drain():
    # fleet run's check (no GRES compared) says GD-GPU-070 of the GPU NVML lost; the fleet's
    # GD-GPU-068 says the same GPU again, with the drain: one finding, not two
    own = NodeFinding(id="GD-GPU-070", severity=Severity.ERROR, title="NVML lists 7 of the 8")
    facts = with_findings(node("n1", gpus_found=found(nvml=7)), own)
    after = compare_gres(facts, ("gpu:8",))
    assert [(f.id, f.severity) for f in after.findings] == [("GD-GPU-068", Severity.ERROR)]
    assert after.finding_ids == ("GD-GPU-068",)
    # a GRES giving out no GPU (a warning: more GPUs than it gives out) leaves check's error
    warned = compare_gres(facts, ("gpu:0",))
    assert warned.finding_ids == ("GD-GPU-068", "GD-GPU-070")


def test_the_aggregate_compares_the_nodes_whose_gres_it_is_given():
    nodes = [
        node("n1", gpus_found=EIGHT),
        node("n2", gpus_found=found(on_bus=0, bound=0, driver=0)),
        node("n3", gpus_found=found(on_bus=0, bound=0, driver=0)),  # no GRES known: not compared
    ]
    report = aggregate(
        nodes,
        gres={"n1": ("gpu:h100:8",), "n2": ("gpu:h100:8",)},
        gpudoctor_version="0",
        created_at="now",
    )
    assert {n.node: n.verdict for n in report.nodes} == {
        "n1": Severity.OK,
        "n2": Severity.ERROR,
        "n3": Severity.OK,
    }
    assert not report.healthy
    (finding,) = report.findings
    assert finding.nodes == ("n2",)


def _report(name: str, change=None):
    doc = json.loads((DATA / "reports" / name).read_text())
    if change:
        change(doc)
    return serialize.report_from_data(doc, name)


def test_the_gpus_found_come_from_the_bus_and_the_driver_not_nvml(tmp_path: Path):
    from tests.fleet.gpu_reports import h100_node

    doc = json.loads(h100_node(tmp_path, 6, on_bus=8).read_text())
    doc["nvml"]["gpus"] = []  # inside a job that asked for no GPU: NVML lists none
    report = serialize.report_from_data(doc, "x")
    seen = gpus_found(report)
    assert seen is not None and (seen.on_bus, seen.owned, seen.mig) == (8, 8, False)
    no_driver = gpus_found(_report("failure__no_driver.json"))
    assert no_driver == GpusFound(on_bus=1, bound=0, driver=None, module_loaded=False)
    mig = gpus_found(_report("linux-x86_64__nvidia-h100-mig__590.48.01__idle.json"))
    assert mig is not None and (mig.owned, mig.mig, mig.mig_devices) == (1, True, 4)


def test_nvmls_count_is_kept_only_where_nothing_picked_its_gpus(tmp_path: Path):
    from dataclasses import replace

    from gpudoctor.model.report import SiteInfo, SlurmJob
    from tests.fleet.gpu_reports import h100_node

    doc = json.loads(h100_node(tmp_path, 7, on_bus=8).read_text())
    report = serialize.report_from_data(doc, "x")
    seen = gpus_found(report)
    assert seen is not None and (seen.owned, seen.nvml, seen.nvml_short) == (8, 7, True)

    def job(**gpu_variables: str) -> SiteInfo:
        return SiteInfo(slurm_job=SlurmJob(job_id="7", step_id="0", gpu_variables=gpu_variables))

    in_a_job = gpus_found(replace(report, site=job()))  # fleet run's: given no GPU
    assert in_a_job is not None and in_a_job.nvml == 7
    hidden = replace(report, nvml=replace(report.nvml, gpus=()), site=job())
    seen = gpus_found(hidden)  # a device cgroup hid every GPU from the job: no count
    assert seen is not None and seen.nvml is None
    seen = gpus_found(replace(hidden, site=None))  # outside a job NVML lost them all
    assert seen is not None and (seen.nvml, seen.nvml_short) == (0, True)
    given = gpus_found(replace(report, site=job(SLURM_STEP_GPUS="0,1,2,3,4,5,6")))
    assert given is not None and given.nvml is None  # the job's share, not the node's
    docker = gpus_found(replace(report, host=replace(report.host, container="docker")))
    assert docker is not None and docker.nvml is None  # NVIDIA_VISIBLE_DEVICES may pick


def test_a_pci_bus_that_could_not_be_read_is_unknown_not_no_gpu():
    def unreadable(doc):
        doc["driver"]["pci_functions"] = []
        doc["driver"]["errors"] = [
            {"field": "driver.pci_functions", "code": "not_visible", "message": "no /sys"}
        ]

    assert gpus_found(_report("failure__no_driver.json", unreadable)) is None
    windows = "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__idle.json"
    assert gpus_found(_report(windows)) is None


def test_the_drain_command_names_the_nodes_it_is_about():
    # it read `sudo scontrol update nodename=NODE state=drain ...` under "n[2-3]": pasted,
    # scontrol said "Invalid node name specified"
    none = found(on_bus=0, bound=0, driver=0)
    nodes = [node("n1", gpus_found=EIGHT), node("n2", gpus_found=none), node("n3", gpus_found=none)]
    report = aggregate(
        nodes,
        gres=dict.fromkeys(("n1", "n2", "n3"), ("gpu:h100:8",)),
        gpudoctor_version="0",
        created_at="now",
    )
    (finding,) = report.findings
    (place,) = finding.places
    assert place.hostlist == "n[2-3]"
    (fix,) = [e for e in place.evidence if e.startswith("fix: ")]
    assert (
        "`sudo scontrol update nodename='n[2-3]' state=drain "
        "reason='gpudoctor:GPU-068 SLURM gives out gpu:h100:8 here; the node has no GPU'`"
    ) in fix
    assert "NODE" not in fix


def test_the_drain_command_names_no_node_that_is_no_nodes_name():
    # a node report named `a$(reboot)b` (a file name, a report's host name) went into the
    # drain as nodename='`a$(reboot)b`,n2': one word in the shell, but the backquote ended
    # the code span Markdown and HTML show the command in; now NODE, the word to replace
    none = found(on_bus=0, bound=0, driver=0)
    nodes = [node("`a$(reboot)b`", gpus_found=none), node("n2", gpus_found=none)]
    report = aggregate(
        nodes,
        gres=dict.fromkeys(("`a$(reboot)b`", "n2"), ("gpu:h100:8",)),
        gpudoctor_version="0",
        created_at="now",
    )
    (fix,) = [e for p in report.findings[0].places for e in p.evidence if e.startswith("fix: ")]
    assert "`sudo scontrol update nodename=NODE state=drain " in fix
    assert "$(reboot)" not in fix


@pytest.mark.parametrize(
    ("gpus", "on_bus", "title"),
    [
        # the recorded H100 node with a GPU lost to NVML: check said 'SLURM gives out 8 GPUs on
        # n1, NVML lists only 7 of the driver's 8: GPU 0000:17:00.0 lost' and reason="GRES
        # gpu:h100:8, NVML 7: ...", the fleet '... NVML lists only 7 GPUs of the node's 8:
        # drain it' and reason="GPUs missing", the gate drained with a third reason
        (
            7,
            8,
            "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: "
            "GPU 0000:17:00.0 lost",
        ),
        # one fell off the bus: check said 'NVML lists only 7', the fleet 'the node has only 7'
        (7, 7, "SLURM gives out gpu:h100:8 here; the node has only 7 GPUs"),
    ],
)
def test_check_the_fleet_and_the_gate_say_the_same_of_one_recorded_node(
    tmp_path: Path, gpus: int, on_bus: int, title: str
):
    from dataclasses import replace

    from gpudoctor.fleet.facts import node_facts
    from gpudoctor.fleet.gate import decide
    from gpudoctor.kb import load
    from gpudoctor.model.report import SiteInfo, SlurmJob, SlurmNodeGres
    from gpudoctor.model.slurm import SlurmNode
    from gpudoctor.rules import diagnose
    from tests.fleet.gpu_reports import h100_node

    path = h100_node(tmp_path, gpus, on_bus)
    report = serialize.report_from_data(json.loads(path.read_text()), path.name)
    site = SiteInfo(slurm_node=SlurmNodeGres(name="n1", gres=("gpu:h100:8(S:0-1)",)))
    # check on the node (the health gate's, or a saved report replayed)
    checked = replace(report, site=site)
    (own,) = [f for f in diagnose(checked, load()).findings if f.id == "GD-GPU-068"]
    # fleet run's check runs in a job given no GPU: there check does not compare, the fleet does
    in_job = replace(report, site=replace(site, slurm_job=SlurmJob(job_id="7")))
    facts = node_facts("n1", in_job, diagnose(in_job, load()))
    (fleet,) = [f for f in compare_gres(facts, site.slurm_node.gres).findings if f.id == own.id]
    assert own.title == fleet.title == title
    assert own.severity == fleet.severity == Severity.ERROR
    reason = decide([own], SlurmNode(name="n1", state="idle")).reason
    assert reason == f"gpudoctor:GPU-068 {title}"
    quoted = reason.replace("'", "'\\''")  # in single quotes: node's reads node'\''s
    drain = f"state=drain reason='{quoted}'"
    assert own.fix[0] == f"$ sudo scontrol update nodename=n1 {drain}"
    (fix,) = [e for e in fleet.evidence if e.startswith("fix: ")]
    assert f"`sudo scontrol update nodename=NODE {drain}`" in fix


def test_a_recorded_node_whose_gpu_the_driver_refuses_reads_alike_in_check_and_the_fleet():
    # The recorded RTX 5090 on the proprietary module 580 (GD-DRV-007), given out as gpu:1:
    # check said '...: GPU 0000:02:00.0 refused by the driver', the fleet on the same report
    # '...: GPU 0000:02:00.0 lost', as if it had fallen off the bus
    from dataclasses import replace

    from gpudoctor.fleet.facts import node_facts
    from gpudoctor.kb import load
    from gpudoctor.model.report import SiteInfo, SlurmNodeGres
    from gpudoctor.rules import diagnose

    path = DATA / "reports" / "failure__blackwell_on_proprietary_module.json"
    report = serialize.report_from_data(json.loads(path.read_text()), path.name)
    site = SiteInfo(slurm_node=SlurmNodeGres(name="n1", gres=("gpu:1",)))
    title = (
        "SLURM gives out gpu:1 here; NVML lists only 0 GPUs of the node's 1: GPU 0000:02:00.0 "
        "refused by the driver"
    )
    (own,) = [
        f for f in diagnose(replace(report, site=site), load()).findings if f.id == "GD-GPU-068"
    ]
    assert (own.severity, own.title) == (Severity.ERROR, title)
    # another engine's check outside any job, compared by the fleet with the manifest's GRES
    facts = node_facts("n1", report, diagnose(report, load()))
    (fleet,) = [f for f in compare_gres(facts, ("gpu:1",)).findings if f.id == own.id]
    assert (fleet.severity, fleet.title) == (Severity.ERROR, title)
    assert "PCI 0000:02:00.0: the installed driver cannot drive it" in "\n".join(fleet.evidence)


def test_a_node_giving_out_no_gpu_with_one_lost_reads_alike_in_check_the_fleet_and_the_gate(
    tmp_path: Path,
):
    # Gres=gpu:0 on the recorded H100 node whose GPU 0000:17:00.0 NVML lost: the fleet said
    # GD-GPU-070's error (its check runs in a job) beside GD-GPU-068's warning, while check
    # on the node, the health gate's, said only the warning ('The node has 7 GPUs; SLURM
    # gives out only gpu:0'): GD-GPU-070 left every node with a GRES count to GD-GPU-068,
    # which names lost GPUs only where the GRES gives some out (judge_gres), and the gate
    # left the node in service with a GPU gone
    from dataclasses import replace

    from gpudoctor.fleet.facts import node_facts
    from gpudoctor.fleet.gate import decide
    from gpudoctor.kb import load
    from gpudoctor.model.report import SiteInfo, SlurmJob, SlurmNodeGres
    from gpudoctor.model.slurm import SlurmNode
    from gpudoctor.rules import diagnose
    from tests.fleet.gpu_reports import h100_node

    path = h100_node(tmp_path, 7, 8)
    report = serialize.report_from_data(json.loads(path.read_text()), path.name)
    site = SiteInfo(slurm_node=SlurmNodeGres(name="n1", gres=("gpu:0",)))
    checked = diagnose(replace(report, site=site), load())
    said = sorted((f.id, f.severity) for f in checked.findings if f.id.startswith("GD-GPU-07"))
    said += [(f.id, f.severity) for f in checked.findings if f.id == "GD-GPU-068"]
    assert said == [("GD-GPU-070", Severity.ERROR), ("GD-GPU-068", Severity.WARNING)]
    in_job = replace(report, site=replace(site, slurm_job=SlurmJob(job_id="7")))
    facts = compare_gres(node_facts("n1", in_job, diagnose(in_job, load())), ("gpu:0",))
    fleet = sorted(
        (f.id, f.severity) for f in facts.findings if f.id in ("GD-GPU-068", "GD-GPU-070")
    )
    assert fleet == [("GD-GPU-068", Severity.WARNING), ("GD-GPU-070", Severity.ERROR)]
    (lost,) = [f for f in checked.findings if f.id == "GD-GPU-070"]
    assert lost.title.endswith("GPU 0000:17:00.0 missing")
    assert any("nodename=n1 state=drain reason='gpudoctor:GPU-070 " in s for s in lost.fix)
    errors = [f for f in checked.findings if f.severity == Severity.ERROR and f.area == "gpu"]
    decision = decide(errors, SlurmNode(name="n1", state="idle"))
    assert decision.action == "drain" and decision.reason.startswith("gpudoctor:GPU-070 ")
