"""Planning environments: from a target machine and the knowledge base to an environment spec.

target = target_from_args(kb, driver="535.104.05", cc="7.0")   # or target_from_report
plan = make_plan(kb, target, Request(frameworks=("torch",)))   # PlanError when none fits
to_yaml(plan), to_json(plan)                                   # envplan.writers
suggest_command(report) -> "gpudoctor make-env --driver ... --cc ... --framework torch"
"""

from __future__ import annotations

from gpudoctor.envplan.plan import FrameworkPlan, Pin, Plan, Request, make_plan
from gpudoctor.envplan.suggest import command_for, suggest_command
from gpudoctor.envplan.target import Target, target_from_args, target_from_report

__all__ = [
    "FrameworkPlan",
    "Pin",
    "Plan",
    "Request",
    "Target",
    "command_for",
    "make_plan",
    "suggest_command",
    "target_from_args",
    "target_from_report",
]
