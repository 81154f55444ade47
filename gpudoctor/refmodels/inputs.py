"""Deterministic random input batches, the same values for both frameworks' layouts."""

from __future__ import annotations

from typing import Any, Literal

from gpudoctor.refmodels.catalog import ModelSpec


def make_input(
    spec: ModelSpec, batch: int = 1, seed: int = 0, *, layout: Literal["nhwc", "nchw"] = "nhwc"
) -> Any:
    """A float32 standard-normal numpy batch: (N, H, W, C) for Keras, (N, C, H, W) for torch.

    Both layouts hold the same values, so ``make_input(..., layout="nchw")`` equals
    ``make_input(...).transpose(0, 3, 1, 2)``.
    """
    import numpy as np

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    rng = np.random.default_rng(seed)
    nhwc = rng.standard_normal((batch, *spec.input_shape), dtype=np.float32)
    if layout == "nhwc":
        return nhwc
    return np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
