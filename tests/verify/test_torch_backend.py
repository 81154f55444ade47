"""The torch child's out-of-memory handling: what counts as OOM, what is dropped before a retry."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gpudoctor.verify.children.torch_backend import TorchBackend


class OutOfMemoryError(RuntimeError):
    pass


def _backend(with_oom_class: bool) -> TorchBackend:
    cuda = SimpleNamespace(is_available=lambda: False)
    if with_oom_class:
        cuda.OutOfMemoryError = OutOfMemoryError
    return TorchBackend(SimpleNamespace(cuda=cuda))


@pytest.mark.parametrize("with_oom_class", [True, False])
@pytest.mark.parametrize(
    ("exc", "oom"),
    [
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"), True),
        (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"), True),
        (RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED"), False),
        (ValueError("out of memory"), False),
        (KeyError("x"), False),
    ],
)
def test_out_of_memory_is_recognised_with_or_without_torch_cuda_outofmemoryerror(
    with_oom_class, exc, oom
):
    # torch < 1.13 has no torch.cuda.OutOfMemoryError: the message must still be recognised
    assert _backend(with_oom_class).is_oom(exc) is oom


def test_torch_s_own_out_of_memory_error_counts():
    assert _backend(True).is_oom(OutOfMemoryError("whatever it says"))


@pytest.mark.torch
def test_recovering_from_oom_drops_the_gradients_a_failed_backward_left():
    import torch

    model = torch.nn.Linear(4, 2)
    model(torch.ones(3, 4)).sum().backward()
    assert model.weight.grad is not None
    TorchBackend().recover_oom(model)
    assert all(p.grad is None for p in model.parameters())
