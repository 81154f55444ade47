"""Throughput outliers: a robust statistic and a minimum gap, so noise is never flagged."""

from __future__ import annotations

import pytest

from gpudoctor.fleet.outliers import MIN_PEERS, find_outliers
from tests.fleet.builders import run


def test_a_slow_gpu_among_tight_peers_is_flagged():
    samples = [run(f"n{i}", 3000 + 10 * i) for i in range(8)]
    samples.append(run("n9", 2100, device="cuda:3"))
    (o,) = find_outliers(samples)
    assert (o.node, o.device) == ("n9", "cuda:3")
    assert o.ratio == pytest.approx(2100 / o.median)
    assert o.peers == 9 and o.robust_z < -3.5


def test_a_tight_fleet_flags_nothing_not_even_its_slowest():
    samples = [run(f"n{i}", 3000 * (1 - 0.01 * (i % 4))) for i in range(16)]
    assert find_outliers(samples) == ()


def test_a_wide_fleet_needs_a_robust_outlier_not_only_a_gap():
    # Half the fleet at 2000, half at 3000: the 2000s are 20 % below the median but are a
    # population, not outliers.
    samples = [run(f"a{i}", 2000 + i) for i in range(6)] + [
        run(f"b{i}", 3000 + i) for i in range(6)
    ]
    assert find_outliers(samples) == ()


def test_too_few_peers_say_nothing():
    samples = [run(f"n{i}", 3000) for i in range(MIN_PEERS - 2)] + [run("slow", 1000)]
    assert find_outliers(samples) == ()


def test_identical_peers_and_one_far_below():
    samples = [run(f"n{i}", 3000) for i in range(5)] + [run("slow", 1500)]
    (o,) = find_outliers(samples)
    assert o.node == "slow" and o.ratio == pytest.approx(0.5)


def test_only_like_is_compared_with_like_and_cpus_never():
    fp16 = [run(f"n{i}", 3000) for i in range(5)]
    fp32 = [run(f"n{i}", 1000, precision="fp32") for i in range(5)]  # slower, but its own group
    cpu = [run(f"n{i}", 40, device="cpu") for i in range(5)] + [run("n9", 5, device="cpu")]
    assert find_outliers([*fp16, *fp32, *cpu]) == ()
