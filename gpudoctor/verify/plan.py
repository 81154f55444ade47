"""What verify runs: batch sizes per model and device, time budgets, and the CPU time projection."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from gpudoctor.errors import BadInputError

DEFAULT_BUDGET_S = 15.0
QUICK_BUDGET_S = 4.0
"""Per model and device; quick is meant for onboarding, where seconds count more than precision."""
QUICK_CPU_BUDGET_S = 1.5
"""Per model on the CPU under --quick (without --time-budget): the CPU is the reference and the
proof that the framework computes. At 4 s, `--quick --device cpu` took 61 s on the 2-core VM (40
of them building models it then skipped); with those no longer built, 2 s still took 30-32 s."""
MAX_BUDGET_S = 3600
"""The longest --time-budget accepted: an hour per model and device."""
MAX_RANKS = 64
"""The most local processes ``--ranks`` starts, however many CPUs there are: each rank is a
Python process of its own with torch loaded (220 MiB resident on the 2-core VM), so 64 ranks
already ask some 14 GiB of a shared login node."""
ADVICE_HEADROOM = 1.5
"""A --time-budget advised to fit a skipped run allows this much more than the projection: the
CPU matmul rate it rests on is re-measured every run, and swung by 28 % between two runs on the
busy 2-core development VM, so the bare projection, rounded up, was skipped again."""

COMMON_BATCH = 32
"""The batch both devices run so that the GPU/CPU speedup compares like with like (§9.3)."""
CPU_BATCH_FLOOR = 8
"""The CPU batch is halved down to this before a model is skipped for time."""
CPU_EFFICIENCY = 0.5
"""Share of the matmul probe a CNN reaches on a CPU; only used to project run times."""
CPU_FIRST_CALL_SHARE = 0.5
"""A CPU run whose first call takes more than this share of its budget is skipped, saying so."""
CORRECTNESS_SAMPLES = 4

# benchmarks.md §9.3: inference batches where throughput saturates, smaller ones for training.
_GPU_INFERENCE_BATCH = {
    "lenet5": 1024,
    "alexnet": 256,
    "vgg16": 64,
    "googlenet": 128,
    "inception_v3": 64,
    "resnet50": 128,
    "resnet152": 64,
}
_GPU_TRAINING_BATCH = {
    "lenet5": 1024,
    "alexnet": 256,
    "vgg16": 32,
    "googlenet": 64,
    "inception_v3": 32,
    "resnet50": 64,
    "resnet152": 32,
}
_DEVICE = re.compile(r"^(cpu|cuda|all|cuda:(\d+))$")


def parse_device(text: str) -> str:
    """Check a ``--device`` value: ``cpu``, ``cuda``, ``cuda:N`` or ``all``."""
    value = text.strip().lower()
    if not _DEVICE.match(value):
        raise BadInputError(f"unknown device {text!r}: use cpu, cuda, cuda:N or all")
    return value


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity): a SLURM job's or a container's cpuset,
    not the host's; a CPU quota (``docker --cpus``) does not show in it."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity call (macOS): every CPU of the machine
        return os.cpu_count() or 1


def check_ranks(ranks: int) -> int:
    """``--ranks``, bounded by the usable CPUs and :data:`MAX_RANKS` (two are always allowed).

    Ranks beyond the CPUs share them: the all-reduce would time the scheduler rather than gloo,
    and every rank costs a process with torch in memory.
    """
    cpus = usable_cpus()
    limit = max(2, min(MAX_RANKS, cpus))
    if ranks > limit:
        why = (
            f"gpudoctor starts at most {MAX_RANKS} local processes"
            if cpus >= MAX_RANKS
            else f"this process may use {cpus} CPU{'s' if cpus != 1 else ''}"
        )
        raise BadInputError(f"--ranks {ranks}: at most {limit} ({why}; each rank is a process)")
    return ranks


def gpu_batch(model: str, mode: str, override: int | None) -> int:
    """The batch a GPU starts at (halved on out-of-memory)."""
    if override is not None:
        return override
    table = _GPU_TRAINING_BATCH if mode == "training" else _GPU_INFERENCE_BATCH
    return table.get(model, 64)


def budget_for(quick: bool, given: float | None) -> float:
    """Seconds per model and device."""
    if given is not None:
        return given
    return QUICK_BUDGET_S if quick else DEFAULT_BUDGET_S


def max_blocks_for(quick: bool) -> int:
    """More blocks make a steadier median; quick runs settle for fewer."""
    return 8 if quick else 20


@dataclass(frozen=True, kw_only=True)
class CpuPlan:
    """The batch a CPU run uses, or why it is skipped."""

    batch: int | None
    """None: skipped."""
    projected_s: float
    message: str = ""
    advised_budget_s: int | None = None
    """Skipped: the --time-budget that would run it at this batch (None: no budget would)."""


def run_seconds(iter_s: float, min_blocks: int = 5) -> float:
    """Time of the shortest valid run: the first call, one warm-up window and the blocks."""
    return iter_s * (min_blocks + 2)


def projected_seconds(flops_per_batch: float, cpu_flops: float, min_blocks: int = 5) -> float:
    """``run_seconds`` of one batch at the share of the matmul rate a CNN reaches."""
    return run_seconds(flops_per_batch / max(cpu_flops * CPU_EFFICIENCY, 1.0), min_blocks)


def seconds_over(seconds: float, limit: float) -> str:
    """``seconds`` with just enough decimals to read as more than ``limit``, thousands grouped.

    Whole seconds made "projected 3 s ... exceeds the 3 s budget" out of 3.4 s over 3 s.
    """
    for decimals in range(4):
        text = f"{seconds:,.{decimals}f}"
        if float(text.replace(",", "")) > limit:
            return text
    return f"{seconds:,.4f}"


def advised_budget(projected_s: float, *, keep_s: float = 0.0) -> int | None:
    """The --time-budget that fits a skipped CPU run at its batch, with room to spare, never
    below the GPUs' ``keep_s``; None past the longest budget (only a smaller batch helps)."""
    if projected_s > MAX_BUDGET_S:
        return None
    return min(math.ceil(max(projected_s * ADVICE_HEADROOM, keep_s)), MAX_BUDGET_S)


def budget_advice(
    projected_s: float, batch: int, budget_s: float, *, batch_given: bool, keep_s: float = 0.0
) -> str:
    """What would let a skipped CPU run fit: the --time-budget it needs, or a smaller batch.

    The time grows with the batch, so a run past the longest --time-budget can only be made
    to fit by a smaller --batch-size (advising a budget the option refuses would be no help).
    ``keep_s`` is the budget the GPUs run under: --time-budget sets theirs too, so a budget
    advised below it (the CPU's 1.5 s under --quick needing 3, the GPU's 4) cut their timing.
    """
    advised = advised_budget(projected_s, keep_s=keep_s)
    if advised is not None:
        return f"raise --time-budget to {advised} to run it (the projection, with room to spare)"
    per_image = projected_s / batch * ADVICE_HEADROOM
    fit = int(budget_s / per_image)
    while fit > 0 and fit * per_image > budget_s:  # float rounding at the boundary
        fit -= 1
    # Figures in the prose read grouped (3,600 s); an option's value in advice stays one token.
    too_long = f"no --time-budget can fit batch {batch} (the most is {MAX_BUDGET_S:,} s)"
    if fit >= 1:
        default = ", or leave it out for the per-model default" if batch_given else ""
        return (
            f"{too_long}: give a smaller --batch-size ({fit} or less fits the {budget_s:,g} s "
            f"budget){default}"
        )
    if per_image <= MAX_BUDGET_S:
        advised = min(math.ceil(max(per_image, keep_s)), MAX_BUDGET_S)
        return f"{too_long}: --batch-size 1 with --time-budget {advised} would run it"
    if projected_s / batch <= MAX_BUDGET_S:
        return f"{too_long}: --batch-size 1 with --time-budget {MAX_BUDGET_S} might run it"
    return f"{too_long}, nor batch 1: this CPU is too slow for this model"


def plan_cpu(
    flops_per_image: float,
    cpu_flops: float,
    budget_s: float,
    *,
    override: int | None,
    keep_s: float = 0.0,
) -> CpuPlan:
    """Start at the common batch and halve it to fit the budget; skip, saying so, if it never fits.

    A batch the user gave is never changed: it runs or it is skipped. ``keep_s``: the GPUs'
    budget, which the advice never goes below (:func:`budget_advice`).
    """
    batch = override if override is not None else COMMON_BATCH
    floor = batch if override is not None else min(CPU_BATCH_FLOOR, batch)
    while True:
        projected = projected_seconds(flops_per_image * batch, cpu_flops)
        if projected <= budget_s:
            return CpuPlan(batch=batch, projected_s=projected)
        if batch // 2 < floor:
            return CpuPlan(
                batch=None,
                projected_s=projected,
                message=(
                    f"skipped: projected {seconds_over(projected, budget_s)} s at batch {batch} "
                    "exceeds the "
                    f"{budget_s:,g} s budget (CPU matmul {cpu_flops / 1e9:,.0f} GFLOP/s); "
                    + budget_advice(
                        projected, batch, budget_s, batch_given=override is not None, keep_s=keep_s
                    )
                ),
                advised_budget_s=advised_budget(projected, keep_s=keep_s),
            )
        batch //= 2
