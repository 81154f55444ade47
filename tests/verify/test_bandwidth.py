"""nccl-tests' bandwidth definitions (doc/PERFORMANCE.md), the copy's and the sum's arithmetic."""

from __future__ import annotations

import pytest

from gpudoctor.verify import bandwidth as bw


def test_algbw_is_size_over_time_in_1e9_bytes():
    assert bw.algbw(2e9, 1.0) == pytest.approx(2.0)
    assert bw.algbw(1 << 30, 0.5) == pytest.approx((1 << 30) / 0.5 / 1e9)


def test_allreduce_busbw_is_algbw_times_2_n_minus_1_over_n():
    # PERFORMANCE.md: busbw = algbw * 2(n-1)/n; n = 2 gives the algbw back, n = 8 1.75x
    assert bw.allreduce_busbw(100.0, 2) == pytest.approx(100.0)
    assert bw.allreduce_busbw(100.0, 8) == pytest.approx(175.0)
    assert bw.allreduce_busbw(100.0, 1) == 0.0
    assert bw.allreduce_factor(16) == pytest.approx(30 / 16)


def test_a_copy_counts_bytes_read_and_written():
    assert bw.copy_bandwidth(1e9, 1.0) == pytest.approx(2.0)


def test_the_expected_sum_is_one_to_n():
    assert [bw.rank_value(r) for r in range(4)] == [1.0, 2.0, 3.0, 4.0]
    assert bw.expected_sum(4) == 10.0
    assert bw.expected_sum(2) == sum(bw.rank_value(r) for r in range(2))


def test_sweep_multiplies_and_ends_at_the_largest():
    assert bw.sweep(4096, 16 << 20, 16) == (4096, 65536, 1 << 20, 16 << 20)
    assert bw.sweep(8, 100, 4) == (8, 32, 100)
    assert bw.GPU_SWEEP[-1] == 1 << 30


@pytest.mark.parametrize(("s", "t"), [(1, 0.0), (1, -1.0)])
def test_a_time_must_be_positive(s, t):
    with pytest.raises(ValueError, match="positive"):
        bw.algbw(s, t)


def test_a_sweep_needs_sane_bounds():
    with pytest.raises(ValueError, match="sweep"):
        bw.sweep(1024, 16, 4)
