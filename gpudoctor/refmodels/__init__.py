"""The reference CNNs, LeNet-5 to ResNet-152: one description each, built in torch and Keras."""

from __future__ import annotations

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels.catalog import BY_KEY, SPECS, ModelSpec, lookup_key

MODEL_NAMES: tuple[str, ...] = tuple(spec.name for spec in SPECS)


def choices() -> str:
    """The accepted names, for a one-line error."""
    return (
        f"choose from {', '.join(MODEL_NAMES)} or all (as `gpudoctor models` lists them; "
        "case, '-' and '_' do not matter: resnet-50, ResNet50 and inception-v1 work too)"
    )


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name`` in any accepted spelling (catalog.BY_KEY); BadInputError else."""
    spec = BY_KEY.get(lookup_key(name))
    if spec is None:
        raise BadInputError(f"unknown model {name.strip()!r}; {choices()}")
    return spec


def parse_model_list(text: str) -> tuple[ModelSpec, ...]:
    """``"lenet5,resnet50"`` -> their specs, in the order given, repeats dropped; ``all`` -> all."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise BadInputError(f"no model named in {text!r}; {choices()}")
    specs: list[ModelSpec] = []
    for name in names:
        if lookup_key(name) == "all":
            continue
        spec = get_spec(name)  # every name checked, ``all`` or not: a typo is never ignored
        if spec not in specs:
            specs.append(spec)
    if any(lookup_key(n) == "all" for n in names):
        return SPECS
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
    "choices",
    "compute_macs",
    "compute_params",
    "get_spec",
    "parse_model_list",
    "resolve",
]
