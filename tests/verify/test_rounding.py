"""Emulated GPU rounding on the CPU: the values it rounds to, and the error it predicts."""

from __future__ import annotations

import pytest

from gpudoctor.verify.children.rounding import emulating, rounder

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def test_tf32_keeps_ten_mantissa_bits_rounding_to_nearest():
    tf32 = rounder(torch, "tf32")
    assert tf32 is not None
    x = torch.tensor([1.0 + 2**-10, 1.0 + 2**-11 + 2**-20, 1.0 + 2**-12, 3.0, -1.0 - 2**-10])
    assert tf32(x).tolist() == [1.0 + 2**-10, 1.0 + 2**-10, 1.0, 3.0, -1.0 - 2**-10]
    # same mantissa as float16, float32's range
    y = torch.tensor([1e30, 0.1])
    assert tf32(y)[0].item() == pytest.approx(1e30, rel=2**-10)
    assert tf32(y)[1].item() == torch.tensor(0.1).half().float().item()


def test_fp32_has_no_rounding():
    assert rounder(torch, "fp32") is None


@pytest.mark.parametrize("precision", ["amp-fp16", "amp-bf16", "tf32"])
def test_emulation_changes_the_logits_a_little_and_leaves_the_model_as_it_was(precision):
    from gpudoctor.refmodels.torch_builder import build_torch, make_torch_input

    model = build_torch("lenet5", seed=0)
    x = make_torch_input("lenet5", 4, seed=0)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.inference_mode():
        ref = model(x)
        with emulating(torch, model, precision):
            rounded = model(x)
        again = model(x)
    rel = float((rounded - ref).abs().max() / ref.abs().max())
    assert 0 < rel < 0.05
    assert torch.equal(again, ref)  # hooks removed
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    coarser = {"amp-bf16": 2**-8, "amp-fp16": 2**-11, "tf32": 2**-11}[precision]
    w = model.c1.weight.detach()
    assert not torch.equal(rounder(torch, precision)(w), w)  # the weights do get rounded
    assert float(((rounder(torch, precision)(w) - w).abs() / w.abs()).max()) <= coarser


@pytest.mark.slow
def test_resnet152_amplifies_fp16_rounding_as_the_h200_showed():
    # On an H200 (torch 2.11.0+cu130) ResNet-152 under fp16 autocast differed from the CPU by
    # 0.18 of the logit scale; ResNet-50 by 0.028. Emulated rounding must predict that order.
    from gpudoctor.refmodels.inputs import make_input
    from gpudoctor.verify.children.torch_backend import TorchBackend

    backend = TorchBackend(torch)
    for name, gpu_rel in (("resnet152", 0.1805), ("resnet50", 0.0281)):
        model = backend.build_cpu(name)
        x = make_input(model_spec(name), 4, seed=0, layout="nhwc")
        ref = backend.logits(model, x, "cpu")
        emulated = backend.rounding_logits(model, x, "amp-fp16")
        rel = float(abs(emulated - ref).max() / abs(ref).max())
        assert gpu_rel / 3 < rel < gpu_rel * 3, (name, rel)


def model_spec(name: str):  # type: ignore[no-untyped-def]
    from gpudoctor.refmodels import get_spec

    return get_spec(name)
