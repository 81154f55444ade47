"""Planning environments: from a target machine and the knowledge base to an environment spec.

target = target.target_from_args(kb, driver="535.104.05", cc="7.0")  # or target_from_report
plan = plan.make_plan(kb, target, Request(frameworks=("torch",)))    # PlanError when none fits
writers.to_yaml(plan), writers.to_json(plan)
suggest.suggest_command(report) -> "gpudoctor make-env --driver ... --cc ... --framework torch"

The package imports none of its modules: rules reach ``suggest`` alone, and must not load the
planner or the knowledge base on the way (tests/test_layers.py).
"""
