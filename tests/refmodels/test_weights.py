"""Moving weights from torch to Keras: the numpy state, the .npz hop, and mismatches."""

from __future__ import annotations

from typing import Any

import pytest

from gpudoctor.refmodels.weights import WeightTransferError
from tests.refmodels.helpers import assert_close, keras_logits

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]


@pytest.fixture(scope="module")
def lenet() -> Any:
    from gpudoctor.refmodels.torch_builder import build_torch

    return build_torch("lenet5", seed=11)


def _keras() -> Any:
    from gpudoctor.refmodels.keras_builder import build_keras

    return build_keras("lenet5")


def test_state_is_float32_numpy_keyed_by_node(lenet):
    from gpudoctor.refmodels.torch_builder import build_torch
    from gpudoctor.refmodels.weights import torch_state_to_numpy

    state = torch_state_to_numpy(lenet)
    assert set(state) == {
        f"{n}.{p}" for n in ("c1", "c3", "c5", "f6", "output") for p in ("weight", "bias")
    }
    assert state["c1.weight"].shape == (6, 1, 5, 5)
    assert str(state["c1.weight"].dtype) == "float32"
    bn_state = torch_state_to_numpy(build_torch("resnet50", calibrate=False))
    assert "bn1.running_var" in bn_state
    assert not any(k.endswith("num_batches_tracked") for k in bn_state)


def test_weights_cross_a_process_boundary_as_npz(lenet, tmp_path):
    import torch

    from gpudoctor.refmodels.keras_builder import make_keras_input
    from gpudoctor.refmodels.torch_builder import make_torch_input
    from gpudoctor.refmodels.weights import (
        load_numpy_into_keras,
        load_state,
        save_state,
        torch_state_to_numpy,
    )

    path = tmp_path / "lenet5.npz"
    save_state(torch_state_to_numpy(lenet), path)
    keras_model = _keras()
    load_numpy_into_keras(load_state(path), keras_model)
    with torch.no_grad():
        want = lenet(make_torch_input("lenet5", 3, seed=4)).numpy()
    assert_close(want, keras_logits(keras_model, make_keras_input("lenet5", 3, seed=4)))


def test_missing_weight_is_reported(lenet):
    from gpudoctor.refmodels.weights import load_numpy_into_keras, torch_state_to_numpy

    state = torch_state_to_numpy(lenet)
    del state["f6.bias"]
    with pytest.raises(WeightTransferError, match=r"f6\.bias"):
        load_numpy_into_keras(state, _keras())


def test_leftover_weight_is_reported(lenet):
    from gpudoctor.refmodels.weights import load_numpy_into_keras, torch_state_to_numpy

    state = torch_state_to_numpy(lenet)
    state["extra.weight"] = state["c1.weight"]
    with pytest.raises(WeightTransferError, match="extra"):
        load_numpy_into_keras(state, _keras())


def test_wrong_shape_is_reported(lenet):
    from gpudoctor.refmodels.weights import load_numpy_into_keras, torch_state_to_numpy

    state = torch_state_to_numpy(lenet)
    state["c3.weight"] = state["c3.weight"][:8]
    with pytest.raises(WeightTransferError, match="c3"):
        load_numpy_into_keras(state, _keras())
