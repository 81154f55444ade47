"""The health gate's decision: drain on an error, resume only what gpudoctor itself drained."""

from __future__ import annotations

from gpudoctor.fleet.gate import decide, gate_findings
from gpudoctor.model.findings import Finding, Severity
from gpudoctor.model.slurm import MAX_REASON, SlurmNode, drain_reason

ECC = Finding(
    id="GD-GPU-004", severity=Severity.ERROR, area="gpu", title="GPU 3 has uncorrectable ECC errors"
)


def state(s: str, reason: str = "") -> SlurmNode:
    return SlurmNode(name="n1", state=s, reason=reason, partitions=("gpu",))


def test_an_error_drains_a_node_in_service():
    d = decide([ECC], state("idle"))
    assert d.action == "drain"
    assert d.reason == "gpudoctor: GD-GPU-004 GPU 3 has uncorrectable ECC errors"


def test_a_clean_node_gpudoctor_drained_is_resumed():
    assert decide([], state("drained", "gpudoctor: GD-GPU-004 x")).action == "resume"


def test_a_node_someone_else_drained_is_never_resumed_nor_relabelled():
    assert decide([], state("drained", "maintenance: PSU")).action == "none"
    assert decide([ECC], state("drained", "maintenance: PSU")).action == "none"
    assert decide([ECC], state("draining", "gpudoctor: GD-X")).action == "none"


def test_nothing_to_do_on_a_clean_node_or_one_slurm_does_not_know():
    assert decide([], state("idle")).action == "none"
    assert decide([ECC], None).action == "none"


def test_only_errors_of_the_driver_nvml_and_gpus_count():
    torch = Finding(id="GD-TORCH-004", severity=Severity.ERROR, area="torch", title="t")
    warn = Finding(id="GD-GPU-011", severity=Severity.WARNING, area="gpu", title="w")
    assert gate_findings([torch, warn, ECC]) == (ECC,)


def test_a_reason_is_one_short_printable_line():
    long = Finding(
        id="GD-GPU-001",
        severity=Severity.ERROR,
        area="gpu",
        title="lost\n\x1b]0;pwned\x07 " + "x" * 500,
    )
    reason = drain_reason(long.id, long.title, more=2)
    assert len(reason) <= MAX_REASON + len(" (+2 more)")
    assert reason.startswith("gpudoctor: GD-GPU-001 lost")
    assert reason.endswith("(+2 more)")
    assert all(ch.isprintable() for ch in reason)


def test_a_reason_has_no_double_quote_scontrol_would_drop():
    # scontrol update ... reason='...GPU "x"' stored the reason without its last '"' (SLURM
    # 22.05.8, the test cluster), and an admin pasting it into reason="..." ended it early
    quoted = Finding(id="GD-GPU-068", severity=Severity.ERROR, area="gpu", title='GPU "x"')
    assert drain_reason(quoted.id, quoted.title) == "gpudoctor: GD-GPU-068 GPU 'x'"
