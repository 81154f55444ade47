"""The reference CNNs, LeNet-5 to ResNet-152: one description each, built in torch and Keras."""

from __future__ import annotations

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels.catalog import SPECS, ModelSpec

MODEL_NAMES: tuple[str, ...] = tuple(spec.name for spec in SPECS)
_BY_NAME = {spec.name: spec for spec in SPECS}


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name`` (case and ``-``/``_`` ignored); BadInputError for an unknown one."""
    spec = _BY_NAME.get(name.strip().lower().replace("-", "_"))
    if spec is None:
        raise BadInputError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return spec


def parse_model_list(text: str) -> tuple[ModelSpec, ...]:
    """``"lenet5,resnet50"`` -> their specs, in the order given, repeats dropped; ``all`` -> all."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise BadInputError(f"no model named in {text!r}; choose from {', '.join(MODEL_NAMES)}")
    if any(n.lower() == "all" for n in names):
        return SPECS
    specs: list[ModelSpec] = []
    for name in names:
        spec = get_spec(name)
        if spec not in specs:
            specs.append(spec)
    return tuple(specs)


def resolve(spec_or_name: ModelSpec | str) -> ModelSpec:
    """A spec given either as itself or by name."""
    return spec_or_name if isinstance(spec_or_name, ModelSpec) else get_spec(spec_or_name)


def compute_params(spec: ModelSpec | str, *, aux_logits: bool = False) -> int:
    """Trainable parameters from the description alone."""
    return resolve(spec).compute_params(aux_logits=aux_logits)


def compute_macs(spec: ModelSpec | str, *, aux_logits: bool = False) -> int:
    """Forward MACs per image from the description alone."""
    return resolve(spec).compute_macs(aux_logits=aux_logits)


__all__ = [
    "MODEL_NAMES",
    "SPECS",
    "ModelSpec",
    "compute_macs",
    "compute_params",
    "get_spec",
    "parse_model_list",
    "resolve",
]
