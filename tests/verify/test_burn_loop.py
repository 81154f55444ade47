"""The burn's loop: every product is compared with the first, not only each round's last."""

from __future__ import annotations

import math

import pytest

from gpudoctor.verify.children.hardware import burn_rounds

torch = pytest.importorskip("torch")


class Products:
    """The same product each call, but call number ``bad`` (0 = the first) gives ``value``."""

    def __init__(self, bad: set[int], value: float = 1.0) -> None:
        self.bad, self.value, self.calls = bad, value, 0
        self.right = torch.arange(16.0).reshape(4, 4)

    def __call__(self):
        n, self.calls = self.calls, self.calls + 1
        if n in self.bad:
            wrong = self.right.clone()
            wrong[1, 2] += self.value
            return wrong
        return self.right.clone()


def run(products: Products, seconds: float = 0.05) -> dict:
    return burn_rounds(torch, products, seconds=seconds, round_s=1e-9, flop=1.0, sync=lambda: None)


def test_a_wrong_product_in_the_middle_of_a_round_is_found():
    products, clock = Products(bad={150}), Clock()

    def product():
        clock.now += 1e-4  # on the fake clock: the real one made the round's size hang on load
        return products()

    # rounds of about 20 ms (a couple of hundred of these products), one of them in all
    result = burn_rounds(
        torch, product, seconds=0.001, round_s=0.02, flop=1.0, sync=lambda: None, clock=clock
    )
    # calls 1-85 size the round (1 + 4 + 16 + 64 of them, until 2 ms), 86-285 are the only
    # round: call 150 is in its middle. The old loop compared only the round's last product
    # with the first, and passed it
    assert result["rounds"] == 1 and products.calls == 286
    assert result["mismatched_rounds"] == 1
    assert result["max_rel_diff"] == pytest.approx(1.0 / 15.0)
    assert result["finite"] is True


def test_a_healthy_device_has_no_mismatch():
    result = run(Products(bad=set()))
    assert result["rounds"] > 1
    assert (result["mismatched_rounds"], result["max_rel_diff"], result["finite"]) == (0, 0.0, True)
    assert all(rate > 0 for rate in result["flops"])


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_product_is_not_finite_and_keeps_the_json_finite(value):
    result = run(Products(bad={3}, value=value))
    assert result["mismatched_rounds"] == 1
    assert result["finite"] is False
    assert math.isfinite(result["max_rel_diff"])


class Clock:
    """A fake clock that only a product moves: each call lasts what ``durations`` says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedProducts(Products):
    """Healthy products; call ``n`` lasts ``duration(n)`` seconds on ``clock``."""

    def __init__(self, clock: Clock, duration) -> None:
        super().__init__(bad=set())
        self.clock, self.duration = clock, duration

    def __call__(self):
        self.clock.now += self.duration(self.calls)
        return super().__call__()


def round_lengths(monkeypatch, duration, seconds: float = 6.0) -> list[float]:
    """Seconds each round of the burn lasted on the fake clock."""
    from gpudoctor.verify.children import hardware

    clock, spans = Clock(), []
    real = hardware._compare_calls

    def timed(*args):
        t0 = clock()
        worst = real(*args)
        spans.append(clock() - t0)
        return worst

    monkeypatch.setattr(hardware, "_compare_calls", timed)
    products = TimedProducts(clock, duration)
    result = burn_rounds(
        torch, products, seconds=seconds, round_s=1.0, flop=1.0, sync=lambda: None, clock=clock
    )
    assert result["mismatched_rounds"] == 0
    return spans[len(spans) - result["rounds"] :]  # the calibration's calls come first


def test_rounds_last_about_a_second_when_the_timed_call_was_quick(monkeypatch):
    # The CPU's rounds lasted 0.25 s: they were sized from one bare product timed alone, and a
    # round's calls also compare. Here the product first timed lasts 1 ms, every later one 4 ms:
    # sized from it, rounds were 1000 calls, 4 s each.
    lengths = round_lengths(monkeypatch, lambda n: 0.001 if n < 2 else 0.004)
    assert len(lengths) >= 5
    assert all(0.8 <= s <= 1.25 for s in lengths), lengths


def test_rounds_follow_a_device_that_slows_down(monkeypatch):
    # A device that throttles to a fifth of its speed after 2,000 products: the rounds sized
    # at the start would last 5 s; each round is sized from the one before instead.
    lengths = round_lengths(monkeypatch, lambda n: 0.001 if n < 2000 else 0.005, seconds=12.0)
    assert 0.8 <= lengths[0] <= 1.25, lengths  # before the slow-down
    # the round the slow-down falls in runs long, the next is sized from it, then about 1 s
    assert max(lengths) < 3.0 and len(lengths) >= 6, lengths
    assert all(0.8 <= s <= 1.25 for s in lengths[-3:]), lengths


def test_a_wrong_product_while_sizing_the_rounds_counts_in_the_first_round():
    products = Products(bad={1})  # call 0 is the reference, call 1 the first sizing call
    result = burn_rounds(torch, products, seconds=0.0, round_s=1e-9, flop=1.0, sync=lambda: None)
    assert (result["rounds"], result["mismatched_rounds"]) == (1, 1)
    assert result["max_rel_diff"] == pytest.approx(1.0 / 15.0)
