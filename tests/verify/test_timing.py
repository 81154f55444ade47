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
    # the first call alone exhausted the warm-up share: one window of one iteration still ran
    assert timing.warmup_iterations == 1
    assert dev.steps == 1 + 1 + 5


def test_blocks_are_sized_from_a_warm_iteration_when_the_first_call_ate_the_warm_up():
    # cuDNN autotune makes the first call 2.4 s of a 3 s budget; then 36 ms per iteration
    # (ResNet-50 fp32 on an H200). Sized from the first call, every block was one 36 ms
    # iteration, with no warm-up at all.
    dev = FakeDevice([2.4], steady=0.036)
    timing = measure(dev.step, dev.sync, TimingPlan(budget_s=3.0, max_blocks=8), clock=dev.clock)
    assert timing.warmup_iterations >= 1
    assert timing.iterations_per_block == 3
    assert len(timing.block_seconds) >= 5
    assert all(s >= 0.1 for s in timing.block_seconds), timing.block_seconds
    ips, _ = images_per_second(timing, batch=128)
    assert ips == pytest.approx(128 / 0.036)


def test_blocks_sized_in_a_slow_spell_are_sized_anew():
    # Another job held the shared CPU through the warm-up (60 ms per 2 ms LeNet-5 step): the
    # blocks were sized to one iteration and each timed the scheduler as much as the step.
    dev = FakeDevice([0.06] * 3, steady=0.002)
    timing = measure(dev.step, dev.sync, TimingPlan(budget_s=1.5, max_blocks=8), clock=dev.clock)
    assert timing.iterations_per_block == 50
    assert len(timing.block_seconds) >= 5
    assert all(s >= 0.1 for s in timing.block_seconds), timing.block_seconds
    ips, spread = images_per_second(timing, batch=32)
    assert ips == pytest.approx(32 / 0.002)
    assert spread == pytest.approx(0.0, abs=1e-9)


def test_blocks_kept_before_a_resize_are_timed_again_with_the_new_size():
    # The slow spell lasts into the first blocks: had they been kept, the images/s of every
    # block would have been computed with the new k.
    dev = FakeDevice([0.06] * 9, steady=0.002)
    timing = measure(dev.step, dev.sync, TimingPlan(budget_s=1.5, max_blocks=8), clock=dev.clock)
    assert all(s == pytest.approx(0.1) for s in timing.block_seconds), timing.block_seconds
    assert images_per_second(timing, batch=32)[0] == pytest.approx(32 / 0.002)


def test_a_step_whose_speed_keeps_swinging_is_sized_anew_a_few_times_only():
    dev = FakeDevice([], steady=0.2)
    plan = TimingPlan(budget_s=1.0, min_blocks=5, max_blocks=5)

    def swing() -> None:  # 0.2 s during the warm-up, then 100 times faster at every block
        dev.steady = dev.steady / 100 if timing_started else dev.steady

    timing_started = False

    def on_timed(active: bool) -> None:
        nonlocal timing_started
        timing_started = active

    measure(dev.step, swing, plan, clock=dev.clock, on_timed=on_timed)
    assert dev.syncs <= 1 + 1 + 1 + 5 + 3


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


class RampingGpu(FakeDevice):
    """A GPU out of idle: a call costs ``slow`` at first, ``fast`` from ``ramp_s`` on (linear)."""

    def __init__(self, slow: float, fast: float, ramp_s: float) -> None:
        super().__init__([], steady=fast)
        self.slow, self.ramp_s = slow, ramp_s
        self.bursts: list[float] = []  # seconds between syncs
        self._last_sync = 0.0

    def step(self) -> None:
        self.steps += 1
        ramp = min(self.now / self.ramp_s, 1.0) if self.ramp_s else 1.0
        self.now += self.slow + (self.steady - self.slow) * ramp

    def sync(self) -> None:
        self.bursts.append(self.now - self._last_sync)
        self._last_sync = self.now


def test_best_rate_reports_the_fastest_burst():
    dev = FakeDevice([], steady=0.001)
    rate = best_rate(dev.step, dev.sync, work=2.0, clock=dev.clock)
    assert rate == pytest.approx(2.0 / 0.001)


def test_the_cpu_peak_probe_stays_cheap():
    dev = FakeDevice([], steady=0.001)
    best_rate(dev.step, dev.sync, work=2.0, clock=dev.clock)
    assert dev.now < 0.5


def test_the_gpu_peak_probe_waits_for_full_clocks_before_timing():
    # Clocks ramp from half speed to full over 0.8 s: short bursts right after one call would
    # read about half the peak (and inflate every fraction of peak).
    dev = RampingGpu(slow=0.002, fast=0.001, ramp_s=0.8)
    rate = best_rate(dev.step, dev.sync, work=1.0, gpu=True, clock=dev.clock)
    assert rate == pytest.approx(1000.0, rel=0.01)
    # the three timed bursts last 0.5 s each (to one call)
    assert all(seconds >= 0.5 - 0.001 for seconds in dev.bursts[-3:]), dev.bursts
    assert dev.now < 1.5 + 0.2 + 3 * 0.5 + 0.1


def test_the_gpu_peak_warm_up_is_capped_when_clocks_never_settle():
    dev = FakeDevice([], steady=0.001)
    syncs = 0

    def flicker() -> None:  # every burst 50 % off the one before: never two that agree
        nonlocal syncs
        syncs += 1
        dev.steady = 0.0015 if dev.steady == 0.001 else 0.001

    rate = best_rate(dev.step, flicker, work=1.0, gpu=True, clock=dev.clock)
    assert rate == pytest.approx(1000.0, rel=0.01)  # the best of the timed bursts
    # the warm-up stopped at its 1.5 s cap; then three bursts sized for 0.5 s (0.33 to 0.75 s)
    assert 1.5 + 3 * 0.33 <= dev.now < 1.5 + 0.3 + 3 * 0.75 + 0.1
    assert syncs <= 2 + 1.5 / 0.2 + 1 + 3


def test_a_first_call_over_the_cap_gives_up_before_the_blocks():
    from gpudoctor.verify.timing import TooSlow

    dev = FakeDevice([5.0], steady=3.0)
    with pytest.raises(TooSlow, match=r"5\.0 s and the next 3\.0 s") as caught:
        measure(dev.step, dev.sync, TimingPlan(budget_s=4.0, max_first_call_s=2.0), clock=dev.clock)
    assert dev.steps == 2  # the first call and the one that confirmed it
    assert caught.value.iteration_s == pytest.approx(3.0)


def test_a_slow_first_call_alone_does_not_skip_a_run_whose_steps_fit():
    # a Keras training step traces on its first call: 11 s for GoogLeNet on the 2-core VM,
    # then well under a second; the run was skipped and 117 s advised as --time-budget
    from gpudoctor.verify.timing import TooSlow

    dev = FakeDevice([5.0], steady=0.05)
    plan = TimingPlan(budget_s=4.0, max_first_call_s=2.0)
    timing = measure(dev.step, dev.sync, plan, clock=dev.clock)
    assert timing.first_call_s == pytest.approx(5.0)
    assert len(timing.block_seconds) >= plan.min_blocks
    assert timing.warmup_iterations >= 1
    assert str(TooSlow(1.0)) == "the first iteration took 1.0 s"  # the one-call form stays


def test_a_slow_first_iteration_reads_with_its_thousands_grouped():
    from gpudoctor.verify.timing import TooSlow

    assert str(TooSlow(1234.5)) == "the first iteration took 1,234.5 s"
    assert str(TooSlow(1234.5, 2000.0)).endswith("and the next 2,000.0 s")
