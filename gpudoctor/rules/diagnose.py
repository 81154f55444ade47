"""Run every registered rule over a report and give each healthy area its explicit OK finding."""

from __future__ import annotations

from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.report import Report

# Importing the rule modules registers their rules, in this order.
from gpudoctor.rules import (  # noqa: F401
    cuda,
    device_access,
    driver,
    framework_build,
    framework_runtime,
    gpu_count,
    gpu_health,
    gpu_state,
    hardware_links,
    hardware_log,
    host,
    import_errors,
    kernel_module,
    libraries,
    nvml,
    packaging,
    pcie_acs,
    site,
    toolchain,
)
from gpudoctor.rules.kernel_module import refused_gpus
from gpudoctor.rules.registry import AREA_TITLES, REGISTRY, KnowledgeBase, Rule, ok_rule_id

for _area in AREAS:
    REGISTRY.add(
        Rule(
            id=ok_rule_id(_area),
            area=_area,
            severity=Severity.OK,
            title=f"No problem found: {AREA_TITLES[_area]}",
            why="Every rule of this area ran and none found a warning or an error. The area "
            "may still list information findings. JSON consumers read an area's status as "
            "the worst severity among its findings; this entry makes a healthy area explicit.",
            fix="Nothing to do.",
            sources=("docs/check.md (the areas and how each one's status is reported)",),
        )
    )


def diagnose(report: Report, kb: KnowledgeBase) -> Diagnosis:
    """All findings for ``report``, ordered by area, severity (worst first), then ID.

    Each area that was checked and has no warning or error gets one OK finding
    (``GD-<AREA>-000``); an area that could not be checked keeps only the information
    finding that says why.
    """
    found: list[Finding] = []
    for rule in REGISTRY:  # what rule.run does, without a generator of its own per rule
        if rule.check is not None:
            found += [rule.finding(hit) for hit in rule.check(report, kb)]
    unchecked = {f.area for f in found if REGISTRY[f.id].marks_unchecked}
    for area in AREAS:
        problems = any(f.area == area and f.severity >= Severity.WARNING for f in found)
        if area in unchecked or problems:
            continue
        ok = REGISTRY[ok_rule_id(area)]
        found.append(Finding(id=ok.id, severity=Severity.OK, area=area, title=ok.title))
    order = {area: i for i, area in enumerate(AREAS)}
    ranked = sorted(
        enumerate(found), key=lambda p: (order[p[1].area], -p[1].severity, p[1].id, p[0])
    )
    return Diagnosis(
        findings=tuple(f for _, f in ranked),
        refused_pci=tuple(sorted(refused_gpus(report, kb))),
    )
