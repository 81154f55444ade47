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


def _layout_backend(precision: str, layout: str, cc: tuple[int, int]) -> TorchBackend:
    from gpudoctor.verify.children.driver import Config

    backend = _backend(True)
    backend.cfg = Config(models=("resnet50",), device="all", precision=precision, layout=layout)
    backend._cc = {"cuda:0": cc}
    return backend


@pytest.mark.parametrize(
    ("precision", "layout", "cc", "gpu", "cpu"),
    [
        # auto: channels-last under AMP on tensor cores (H200: x1.37 fp16, x1.53 bf16)
        ("amp-fp16", "auto", (9, 0), "channels_last", "channels_last"),
        ("amp-bf16", "auto", (8, 0), "channels_last", "channels_last"),
        ("amp-fp16", "auto", (7, 0), "channels_last", "channels_last"),
        # Pascal has no tensor cores; fp32 and TF32 stay as published figures take them
        ("amp-fp16", "auto", (6, 1), "nchw", "channels_last"),
        ("fp32", "auto", (9, 0), "nchw", "channels_last"),
        ("tf32", "auto", (8, 0), "nchw", "channels_last"),
        # asked for: everywhere
        ("fp32", "channels-last", (9, 0), "channels_last", "channels_last"),
        ("amp-bf16", "nchw", (9, 0), "nchw", "nchw"),
    ],
)
def test_the_layout_follows_the_option_the_precision_and_the_gpu(precision, layout, cc, gpu, cpu):
    backend = _layout_backend(precision, layout, cc)
    assert (backend.layout("cuda:0"), backend.layout("cpu")) == (gpu, cpu)


@pytest.mark.torch
@pytest.mark.parametrize("layout", ["nchw", "channels-last"])
def test_models_and_inputs_are_built_in_the_layout_and_compute_the_same(layout):
    import numpy as np
    import torch

    from gpudoctor.refmodels import get_spec
    from gpudoctor.refmodels.inputs import make_input
    from gpudoctor.verify.children.driver import Config

    backend = TorchBackend()
    backend.setup(Config(models=("googlenet",), device="cpu", layout=layout, threads=1))
    model = backend.build_cpu("googlenet")
    conv = model.conv1_conv.weight
    fmt = torch.channels_last if layout == "channels-last" else torch.contiguous_format
    assert conv.is_contiguous(memory_format=fmt)
    x = make_input(get_spec("googlenet"), 2, seed=0, layout="nhwc")
    out = backend.logits(model, x, "cpu")
    with torch.inference_mode():
        plain = model.to(memory_format=torch.contiguous_format)(
            torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        )
    assert np.abs(out - plain.numpy()).max() <= 1e-4 * np.abs(out).max()


def test_training_under_amp_runs_channels_last_on_tensor_cores_as_gpu_validate_relies_on():
    from dataclasses import replace

    backend = _layout_backend("amp-fp16", "auto", (9, 0))
    backend.cfg = replace(backend.cfg, mode="training")
    assert backend.layout("cuda:0") == "channels_last"
