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
    products = Products(bad={5})
    # rounds of about 20 ms (thousands of these small products), one of them in all
    result = burn_rounds(torch, products, seconds=0.001, round_s=0.02, flop=1.0, sync=lambda: None)
    # call 5 is the 4th product of the only round: the old loop compared only the round's
    # last product with the first, and passed it
    assert result["rounds"] == 1 and products.calls > 100
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
