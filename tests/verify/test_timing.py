"""The timing loop on a fake clock: warm-up until stable, five or more synced blocks, the median."""

from __future__ import annotations

import pytest

from gpudoctor.verify.timing import Timing, TimingPlan, best_rate, images_per_second, measure


class FakeDevice:
    """A step whose cost follows a schedule (slow first calls, then steady); a clock it advances."""

    def __init__(self, costs: list[float], steady: float) -> None:
        self.now, self.costs, self.steady = 0.0, list(costs), steady
        self.steps = self.syncs = 0
        self.events: list[str] = []

    def clock(self) -> float:
        return self.now

    def step(self) -> None:
        self.steps += 1
        self.now += self.costs.pop(0) if self.costs else self.steady
        self.events.append("step")

    def sync(self) -> None:
        self.syncs += 1
        self.events.append("sync")


def test_warm_up_absorbs_slow_first_calls_and_blocks_measure_the_steady_rate():
    dev = FakeDevice([2.0, 0.5, 0.2] + [0.011] * 10, steady=0.01)
    timing = measure(dev.step, dev.sync, TimingPlan(budget_s=20.0), clock=dev.clock)
    assert timing.first_call_s == pytest.approx(2.0)
    assert timing.warmup_converged
    assert 5 <= len(timing.block_seconds) <= 20
    ips, spread = images_per_second(timing, batch=64)
    assert ips == pytest.approx(64 / 0.01, rel=1e-6)
    assert spread == pytest.approx(0.0, abs=1e-9)


def test_every_block_is_bracketed_by_a_sync():
    dev = FakeDevice([], steady=0.05)
    marks: list[tuple[bool, int]] = []
    timing = measure(
        dev.step,
        dev.sync,
        TimingPlan(budget_s=2.0),
        clock=dev.clock,
        on_timed=lambda active: marks.append((active, dev.steps)),
    )
    timed = dev.events[-(len(timing.block_seconds) * (timing.iterations_per_block + 1) + 1) :]
    assert timed[0] == "sync" and timed[-1] == "sync"
    assert timed.count("sync") == len(timing.block_seconds) + 1
    assert [m[0] for m in marks] == [True, False]
    assert marks[1][1] - marks[0][1] == len(timing.block_seconds) * timing.iterations_per_block


def test_a_step_slower_than_the_budget_still_gets_the_minimum_blocks():
    dev = FakeDevice([], steady=3.0)
    timing = measure(dev.step, dev.sync, TimingPlan(budget_s=1.0), clock=dev.clock)
    assert len(timing.block_seconds) == 5
    assert timing.iterations_per_block == 1
    # the first call alone exhausted the warm-up share, so no warm-up window ran
    assert timing.warmup_iterations == 0


def test_warm_up_is_capped_when_it_never_settles():
    costs = [0.001 * 1.02**i for i in range(400)]  # keeps slowing down: windows never agree
    dev = FakeDevice(costs, steady=0.01)
    timing = measure(dev.step, dev.sync, TimingPlan(budget_s=4.0), clock=dev.clock)
    assert not timing.warmup_converged
    assert timing.warmup_iterations < 400
    assert dev.now < 4.0 * 1.5


def test_median_and_spread_over_blocks():
    timing = Timing(
        first_call_s=0.0,
        warmup_iterations=0,
        warmup_converged=True,
        iterations_per_block=2,
        block_seconds=(1.0, 0.8, 2.0, 1.0, 0.5),
    )
    ips, spread = images_per_second(timing, batch=10)
    # rates 20, 25, 10, 20, 40 images/s: median 20, quartiles 20 and 25
    assert ips == pytest.approx(20.0)
    assert spread == pytest.approx(5.0 / 20.0)


def test_best_rate_reports_the_fastest_burst():
    dev = FakeDevice([], steady=0.001)
    import gpudoctor.verify.timing as timing_module

    original = timing_module.time.perf_counter
    timing_module.time.perf_counter = dev.clock  # type: ignore[assignment]
    try:
        rate = best_rate(dev.step, dev.sync, work=2.0)
    finally:
        timing_module.time.perf_counter = original  # type: ignore[assignment]
    assert rate == pytest.approx(2.0 / 0.001)


def test_a_first_call_over_the_cap_gives_up_before_the_blocks():
    from gpudoctor.verify.timing import TooSlow

    dev = FakeDevice([5.0], steady=1.0)
    with pytest.raises(TooSlow, match=r"5\.0 s"):
        measure(dev.step, dev.sync, TimingPlan(budget_s=4.0, max_first_call_s=2.0), clock=dev.clock)
    assert dev.steps == 1
