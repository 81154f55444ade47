"""The health gate's decision: drain on an error, resume only what gpudoctor itself drained."""

from __future__ import annotations

import pytest

from gpudoctor.cli.explain import _as_written
from gpudoctor.fleet.gate import decide, gate_findings
from gpudoctor.model.findings import Finding, Severity
from gpudoctor.model.slurm import (
    DRAIN_PREFIX,
    MAX_REASON,
    SINFO_REASON_WIDTH,
    SlurmNode,
    drain_reason,
    reason_id,
)
from gpudoctor.rules import REGISTRY

ECC = Finding(
    id="GD-GPU-004", severity=Severity.ERROR, area="gpu", title="GPU 3 has uncorrectable ECC errors"
)


def state(s: str, reason: str = "") -> SlurmNode:
    return SlurmNode(name="n1", state=s, reason=reason, partitions=("gpu",))


def test_an_error_drains_a_node_in_service():
    d = decide([ECC], state("idle"))
    assert d.action == "drain"
    assert d.reason == "gpudoctor:GPU-004 GPU 3 has uncorrectable ECC errors"


@pytest.mark.parametrize("rule", sorted(REGISTRY, key=lambda r: r.id), ids=lambda r: r.id)
def test_the_twenty_characters_sinfo_shows_hold_the_whole_finding_id(rule):
    # `sinfo -R` shows the first 20 characters of a reason: 'gpudoctor: GD-GPU-068 ...' read
    # 'gpudoctor: GD-GPU-06', and no 'gpudoctor:GD-NVML-00x' tells 002 from 003 or 005
    shown = drain_reason(rule.id, rule.title, more=3)[:SINFO_REASON_WIDTH]
    said = shown.removeprefix(DRAIN_PREFIX).split(" ")[0]
    assert shown.startswith(DRAIN_PREFIX)
    assert said == reason_id(rule.id)
    assert _as_written(said) == rule.id  # `gpudoctor explain NVML-003` reads it as it is


@pytest.mark.parametrize(
    "reason",
    [
        "gpudoctor:GPU-004 x",
        "gpudoctor:NVML-003 Driver/library version mismatch (+1 more)",
        # the form of every gpudoctor before 2026-12-08: a node it drained is still resumed
        "gpudoctor: GD-GPU-004 x",
        "gpudoctor: GD-NVML-003 Driver/library version mismatch (+1 more)",
        # GD-DRV-001's fix drained with this before 2026-12-08
        "gpudoctor: GRES GPUs absent",
    ],
)
def test_a_clean_node_gpudoctor_drained_is_resumed(reason):
    assert decide([], state("drained", reason)).action == "resume"


def test_a_node_someone_else_drained_is_never_resumed_nor_relabelled():
    assert decide([], state("drained", "maintenance: PSU")).action == "none"
    assert decide([ECC], state("drained", "maintenance: PSU")).action == "none"
    assert decide([ECC], state("draining", "gpudoctor: GD-X")).action == "none"


@pytest.mark.parametrize(
    "reason",
    [
        "gpudoctor: held back, ask bob",
        "gpudoctor:",
        "gpudoctor: GD-X",
        "gpudoctor:GPU-068x",
        "gpudoctor: GD-GPU-068: checked by hand, RMA open",
        " gpudoctor:GPU-068 x",
        "GPU-068 gpudoctor:GPU-068 x",
        "gpudoctor: GRES GPUs absent, and the PSU",
    ],
)
def test_a_reason_gpudoctor_did_not_write_is_never_resumed_though_it_names_gpudoctor(reason):
    # every reason starting 'gpudoctor:' was resumed, an admin's own words after it included
    assert decide([], state("drained", reason)).action == "none"
    assert "someone else" in decide([ECC], state("drained", reason)).message


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
    assert reason.startswith("gpudoctor:GPU-001 lost")
    assert reason.endswith("(+2 more)")
    assert all(ch.isprintable() for ch in reason)


def test_a_reason_has_no_double_quote_scontrol_would_drop():
    # scontrol update ... reason='...GPU "x"' stored the reason without its last '"' (SLURM
    # 22.05.8, the test cluster), and an admin pasting it into reason="..." ended it early
    quoted = Finding(id="GD-GPU-068", severity=Severity.ERROR, area="gpu", title='GPU "x"')
    assert drain_reason(quoted.id, quoted.title) == "gpudoctor:GPU-068 GPU 'x'"


def storm_errors() -> tuple[Finding, ...]:
    """The gate's errors of a node with an Xid storm (GD-GPU-058), whose fix drains for repair."""
    from tests.rules.builders import diagnose
    from tests.rules.test_hardware_log import events, healthy, stamp, with_log, xid

    storm = events(48, [stamp(5 * i) for i in range(18)])
    report = with_log(healthy(), xid(48, 18), events=storm)
    return gate_findings(diagnose(report).findings)


def test_the_gate_drains_an_xid_storm_for_repair_and_never_resumes_it():
    # the gate drained it 'gpudoctor:GPU-058 ...' and, once a reboot or the look-back window
    # cleared the kernel log, resumed it: the GPU back in service unrepaired, which the fix's
    # own 'repair:GPU-058' drain is there to prevent
    errors = storm_errors()
    assert "GD-GPU-058" in [f.id for f in errors]
    d = decide(errors, state("idle"))
    assert d.action == "drain"
    assert d.reason.startswith("repair:GPU-058 A storm of hardware Xids")
    clean = decide([], state("drained", d.reason))
    assert clean.action == "none"
    assert "drained for repair" in clean.message


def test_a_node_gpudoctor_drained_is_drained_again_for_repair_when_a_storm_comes():
    # left 'already drained by gpudoctor', it was resumed once the Xids left the log
    d = decide(storm_errors(), state("drained", "gpudoctor:GPU-004 x"))
    assert d.action == "drain" and d.reason.startswith("repair:GPU-058 ")
    # a drain of someone else's, or one for repair already, is left as it is
    assert decide(storm_errors(), state("drained", "maintenance: PSU")).action == "none"
    assert decide(storm_errors(), state("drained", d.reason)).action == "none"


def test_a_node_drained_for_repair_is_not_said_to_be_someone_elses():
    # the gate's own repair:GPU-058 drain, met again by the next storm, was "already drained by
    # someone else (repair:GPU-058 ...)": gpudoctor wrote that reason itself
    d = decide(storm_errors(), state("idle"))
    again = decide(storm_errors(), state("drained", d.reason))
    assert again.action == "none"
    assert again.message == f"n1 is already drained for repair ({d.reason}): left as it is"
    assert "someone else" not in again.message
    plain = [Finding(id="GD-GPU-004", severity=Severity.ERROR, area="gpu", title="x")]
    own = decide(plain, state("drained", "gpudoctor:GPU-004 x"))
    assert own.message == "n1 is already drained by gpudoctor: left as it is"
