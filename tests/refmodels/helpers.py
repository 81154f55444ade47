"""Shared helpers for the framework tests: parameter counts and batch-norm perturbation."""

from __future__ import annotations

from typing import Any


def torch_trainable(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def keras_trainable(model: Any) -> int:
    import math

    return sum(math.prod(w.shape) for w in model.trainable_weights)


def perturb_batchnorm(model: Any, seed: int, *, stats: bool = False) -> None:
    """Give every batch norm a distinct gamma and beta (and, with ``stats``, running statistics).

    With torch's defaults (gamma 1, beta 0) a loader that swapped gamma and beta, or mean and
    variance, would still produce matching outputs.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.8 + 0.4 * torch.rand(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
                if stats:
                    m.running_mean.copy_(0.3 * torch.randn(c, generator=gen))
                    m.running_var.copy_(0.5 + torch.rand(c, generator=gen))


def keras_logits(model: Any, x: Any) -> Any:
    import numpy as np

    out = model(x, training=False)
    if isinstance(out, list | tuple):
        return [np.asarray(o) for o in out]
    return np.asarray(out)


def assert_close(torch_out: Any, keras_out: Any, rel: float = 5e-4) -> float:
    """Max abs difference within ``rel`` of the logit scale; returns the scale."""
    import numpy as np

    assert torch_out.shape == keras_out.shape
    scale = float(np.abs(torch_out).max())
    diff = float(np.abs(torch_out - keras_out).max())
    assert diff <= rel * max(scale, 1e-3), f"max diff {diff:.3g} at logit scale {scale:.3g}"
    return scale
