"""All seven models built in torch and Keras: exact parameter counts, shapes, output parity."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import pytest

from gpudoctor.refmodels import MODEL_NAMES, ModelSpec, get_spec
from tests.refmodels.helpers import (
    assert_close,
    keras_logits,
    keras_trainable,
    perturb_batchnorm,
    torch_trainable,
)

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow, pytest.mark.slow]

BATCH = {"lenet5": 4, "alexnet": 2, "googlenet": 2}
"""The small models run two or more images; the large ones one (CI has 2 cores)."""


@dataclass
class Built:
    spec: ModelSpec
    torch_model: Any
    keras_model: Any
    torch_out: Any
    keras_out: Any


def _build(name: str, **opts: Any) -> Built:
    import torch

    from gpudoctor.refmodels.keras_builder import build_keras, make_keras_input
    from gpudoctor.refmodels.torch_builder import build_torch, make_torch_input
    from gpudoctor.refmodels.weights import copy_torch_to_keras

    spec = get_spec(name)
    torch_model = build_torch(spec, seed=0, **opts)
    perturb_batchnorm(torch_model, seed=1)
    keras_model = build_keras(spec, **opts)
    copy_torch_to_keras(torch_model, keras_model)
    batch = BATCH.get(name, 1)
    with torch.no_grad():
        out = torch_model(make_torch_input(spec, batch, seed=3))
    torch_out = [o.numpy() for o in out] if isinstance(out, tuple) else out.numpy()
    keras_out = keras_logits(keras_model, make_keras_input(spec, batch, seed=3))
    return Built(spec, torch_model, keras_model, torch_out, keras_out)


def _release() -> None:
    import keras

    keras.backend.clear_session()
    gc.collect()


@pytest.fixture(scope="module", params=MODEL_NAMES)
def built(request: pytest.FixtureRequest) -> Any:
    result = _build(request.param)
    yield result
    del result
    _release()


def test_torch_has_exactly_the_published_parameters(built):
    assert torch_trainable(built.torch_model) == built.spec.params


def test_keras_has_exactly_the_published_parameters(built):
    assert keras_trainable(built.keras_model) == built.spec.params


def test_output_is_a_logit_per_class_per_image(built):
    expected = (BATCH.get(built.spec.name, 1), built.spec.num_classes)
    assert built.torch_out.shape == expected
    assert built.keras_out.shape == expected


def test_torch_and_keras_agree_after_copying_weights(built):
    import numpy as np

    scale = assert_close(built.torch_out, built.keras_out)
    # the default weights (with calibrated batch norm) keep logits near unit scale, and the
    # logits vary, so agreement is not two constant outputs matching
    assert 1e-2 < scale < 1e3
    assert float(np.std(built.torch_out)) > 1e-2 * scale


@pytest.fixture(scope="module")
def inception_aux() -> Any:
    result = _build("inception_v3", aux_logits=True)
    yield result
    del result
    _release()


def test_inception_v3_with_aux_head_matches_torchvision_count(inception_aux):
    expected = inception_aux.spec.params_with_aux
    assert torch_trainable(inception_aux.torch_model) == expected
    assert keras_trainable(inception_aux.keras_model) == expected


def test_inception_v3_aux_outputs_agree(inception_aux):
    logits, aux = inception_aux.torch_out
    keras_logits_, keras_aux = inception_aux.keras_out
    assert aux.shape == (1, 1000)
    assert_close(logits, keras_logits_)
    assert_close(aux, keras_aux)
