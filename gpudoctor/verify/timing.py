"""Timing a training or inference step: warm up until stable, then time synced blocks."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

Step = Callable[[], object]


@dataclass(frozen=True, kw_only=True)
class TimingPlan:
    """How long to warm up and how to cut the timed part into blocks (benchmarks.md §9.1)."""

    budget_s: float
    min_blocks: int = 5
    max_blocks: int = 20
    warmup_tolerance: float = 0.05
    """Two consecutive warm-up windows within this fraction of each other end the warm-up."""
    warmup_fraction: float = 0.3
    """The warm-up (first call included) stops after this share of the budget."""
    warmup_max_windows: int = 20
    window_s: float = 0.1
    """Target length of one warm-up window."""
    min_block_s: float = 0.1
    """Blocks shorter than this would let the sync and the clock weigh on the figure."""
    max_first_call_s: float | None = None
    """Give up (TooSlow) when the first call and the one after it both take longer: the
    projection was wrong. The second call is the judge: the first one also traces (a Keras
    training step on GoogLeNet: 11 s for the first call, where each later one took well under
    a second), and skipping on it alone advised a --time-budget of 117 s."""


class TooSlow(Exception):
    """The first calls showed that the minimum number of blocks cannot fit the budget."""

    def __init__(self, first_call_s: float, iteration_s: float | None = None) -> None:
        if iteration_s is None:
            super().__init__(f"the first iteration took {first_call_s:,.1f} s")
        else:
            super().__init__(
                f"the first iteration took {first_call_s:,.1f} s and the next {iteration_s:,.1f} s"
            )
        self.first_call_s = first_call_s
        self.iteration_s = first_call_s if iteration_s is None else iteration_s


@dataclass(frozen=True, kw_only=True)
class Timing:
    """What one timed run measured."""

    first_call_s: float
    warmup_iterations: int
    warmup_converged: bool
    iterations_per_block: int
    block_seconds: tuple[float, ...]


def measure(
    step: Step,
    sync: Step,
    plan: TimingPlan,
    *,
    clock: Callable[[], float] = time.perf_counter,
    on_timed: Callable[[bool], object] | None = None,
) -> Timing:
    """Warm ``step`` up, then time blocks of it, each bracketed by ``sync``.

    At least ``plan.min_blocks`` blocks run even past the budget (the CPU projection keeps
    that short); ``on_timed(True)`` and ``on_timed(False)`` bracket the timed blocks so that
    telemetry covers them and not the warm-up.
    """
    start = clock()
    step()
    sync()
    first = clock() - start
    iter_s = first
    warm_iters, windows, converged = 0, 0, False
    if plan.max_first_call_s is not None and first > plan.max_first_call_s:
        # The first call may be mostly one-off work (tracing, lazy initialisation): the next
        # one says whether the steps themselves are too slow.
        t = clock()
        step()
        sync()
        iter_s = clock() - t
        warm_iters += 1
        if iter_s > plan.max_first_call_s:
            raise TooSlow(first, iter_s)
    previous: float | None = None
    # At least one window runs even when the first call (cuDNN autotune, tracing) used up the
    # warm-up share: sized from the first call, the blocks came out one iteration long (9 ms
    # for ResNet-50 on an H200) where they should last 0.1 s.
    while windows == 0 or clock() - start < plan.budget_s * plan.warmup_fraction:
        if windows >= plan.warmup_max_windows:
            break
        n = _iterations_for(plan.window_s, iter_s)
        t = clock()
        for _ in range(n):
            step()
        sync()
        iter_s = (clock() - t) / n
        warm_iters += n
        windows += 1
        if previous is not None and abs(iter_s - previous) <= plan.warmup_tolerance * previous:
            converged = True
            break
        previous = iter_s
    remaining = max(plan.budget_s - (clock() - start), 0.0)
    k = _block_iterations(max(remaining / plan.max_blocks, plan.min_block_s), iter_s)
    blocks: list[float] = []
    resized = 0
    if on_timed is not None:
        on_timed(True)
    try:
        sync()
        while len(blocks) < plan.max_blocks:
            if len(blocks) >= plan.min_blocks and clock() - start >= plan.budget_s:
                break
            t = clock()
            for _ in range(k):
                step()
            sync()
            seconds = clock() - t
            if seconds < plan.min_block_s / 2 and resized < _MAX_RESIZES:
                # k was sized during a slow spell (another job on a shared CPU, 60 ms for a
                # 2 ms LeNet-5 step): a block this short times the scheduler more than the
                # step. Size it anew and start the blocks over: those kept so far were timed
                # in that spell, and every block must have the same k (images_per_second).
                k = _block_iterations(plan.min_block_s, seconds / k)
                resized += 1
                blocks.clear()
                continue
            blocks.append(seconds)
    finally:
        if on_timed is not None:
            on_timed(False)
    return Timing(
        first_call_s=first,
        warmup_iterations=warm_iters,
        warmup_converged=converged,
        iterations_per_block=k,
        block_seconds=tuple(blocks),
    )


_MAX_RESIZES = 3
"""Blocks dropped and sized anew at most, so that a step whose speed swings cannot loop long."""


def _block_iterations(target_s: float, iter_s: float) -> int:
    """Iterations that last at least ``target_s`` at ``iter_s`` each (rounded up)."""
    if iter_s <= 0:
        return 1
    return max(1, min(math.ceil(target_s / iter_s), 100_000))


def _iterations_for(target_s: float, iter_s: float) -> int:
    if iter_s <= 0:
        return 1
    return max(1, min(int(target_s / iter_s), 100_000))


def images_per_second(timing: Timing, batch: int) -> tuple[float, float]:
    """Median images/s over the blocks, and the spread (inter-quartile range over median)."""
    rates = sorted(batch * timing.iterations_per_block / s for s in timing.block_seconds if s > 0)
    if not rates:
        return 0.0, 0.0
    median = statistics.median(rates)
    if len(rates) < 2:
        return median, 0.0
    q1, _, q3 = statistics.quantiles(rates, n=4, method="inclusive")
    return median, (q3 - q1) / median if median > 0 else 0.0


@dataclass(frozen=True, kw_only=True)
class PeakPlan:
    """How the matmul peak probe warms up and times its bursts."""

    bursts: int = 3
    cpu_burst_s: float = 0.1
    """The CPU is at full speed at once; short bursts keep `verify --quick` cheap."""
    gpu_warmup_burst_s: float = 0.2
    gpu_warmup_cap_s: float = 1.5
    """A GPU coming out of idle needs a while to reach full clocks; stop waiting after this."""
    gpu_burst_s: float = 0.5
    tolerance: float = 0.05
    """Two consecutive warm-up bursts within this fraction of each other end the GPU warm-up."""


PEAK_PLAN = PeakPlan()


PEAK_SIZES = {"cpu": (1024, 2048), "gpu": (8192,)}
"""Matrix sizes of the matmul probe; a device's peak is the best rate over them, over repeats
and over every framework's probe (figures.peak_for)."""


def best_rate(
    op: Step,
    sync: Step,
    work: float,
    *,
    gpu: bool = False,
    plan: PeakPlan = PEAK_PLAN,
    clock: Callable[[], float] | None = None,
) -> float:
    """Best rate (``work`` per second) of ``op`` over a few synced bursts.

    On a GPU, bursts run first until two in a row agree (clocks ramp up from idle), so that
    the peak is not read low and fraction of peak inflated; the timed bursts are longer too.
    """
    now = clock or time.perf_counter

    def burst(n: int) -> float:
        """Seconds per call over ``n`` calls."""
        t = now()
        for _ in range(n):
            op()
        sync()
        return max(now() - t, 1e-9) / n

    op()
    sync()
    per_call = burst(1)
    if gpu:
        start, previous = now(), None
        while now() - start < plan.gpu_warmup_cap_s:
            per_call = burst(_iterations_for(plan.gpu_warmup_burst_s, per_call))
            if previous is not None and abs(per_call - previous) <= plan.tolerance * previous:
                break
            previous = per_call
    best = math.inf
    for _ in range(plan.bursts):
        # Sized from the burst before, so a late speed-up still gives bursts of the full length.
        per_call = burst(_iterations_for(plan.gpu_burst_s if gpu else plan.cpu_burst_s, per_call))
        best = min(best, per_call)
    return work / best
