"""The rounding a GPU precision does, emulated on the CPU: how much of a difference is expected."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

TF32_MANTISSA_DROP = 13
"""float32 keeps 23 mantissa bits, TF32 (like float16) 10: the low 13 are rounded away."""


def rounder(torch: Any, precision: str) -> Callable[[Any], Any] | None:
    """A function that rounds a float32 tensor to ``precision``'s values; None for fp32."""
    if precision == "amp-fp16":
        return lambda t: t.to(torch.float16).to(torch.float32)
    if precision == "amp-bf16":
        return lambda t: t.to(torch.bfloat16).to(torch.float32)
    if precision == "tf32":
        half = 1 << (TF32_MANTISSA_DROP - 1)
        mask = ~((1 << TF32_MANTISSA_DROP) - 1)

        def tf32(t: Any) -> Any:
            # round to nearest on the bit pattern (a carry into the exponent is the right result)
            bits = t.contiguous().view(torch.int32)
            return ((bits + half) & mask).view(torch.float32)

        return tf32
    return None


@contextlib.contextmanager
def emulating(torch: Any, model: Any, precision: str) -> Iterator[None]:
    """Within the block, ``model`` (float32, on the CPU) computes with ``precision``'s rounding.

    TF32 rounds what convolutions and dense layers multiply (inputs and weights); the AMP
    precisions also store every layer's output, as autocast does, in float16 or bfloat16.
    Products still accumulate in float32, as tensor cores do. The weights are restored after.
    """
    round_ = rounder(torch, precision)
    if round_ is None:
        yield
        return
    from torch import nn

    hooks: list[Any] = []
    saved: list[tuple[Any, Any]] = []
    try:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.Conv2d | nn.Linear):
                    saved.append((module, module.weight.data))
                    module.weight.data = round_(module.weight.data)
                    hooks.append(module.register_forward_pre_hook(lambda _m, a: (round_(a[0]),)))
                if precision.startswith("amp") and not any(True for _ in module.children()):
                    hooks.append(module.register_forward_hook(lambda _m, _a, out: round_(out)))
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for module, weight in saved:
            module.weight.data = weight
