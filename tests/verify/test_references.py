"""The shipped reference figures load, and every row carries a source and a date."""

from __future__ import annotations

import datetime as dt
import sys
from importlib import resources

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.refmodels import MODEL_NAMES
from gpudoctor.verify.references import load_references, parse_references

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_shipped_references_cover_every_model_but_lenet5():
    refs = load_references()
    for model in MODEL_NAMES:
        if model == "lenet5":
            assert refs.band(model, "fp32") is None
            continue
        for precision in ("fp32", "tf32", "amp-bf16"):
            band = refs.band(model, precision)
            assert band is not None and 0 < band.low < band.high
        if model != "resnet50":
            assert refs.fingerprint(model) is not None
    assert all(not b.verified for b in refs.bands), "no band has been checked on a GPU yet"


def test_every_data_row_has_a_source_and_an_as_of_date():
    folder = resources.files("gpudoctor.verify") / "data"
    files = [e for e in folder.iterdir() if e.name.endswith(".toml")]
    assert {"references.toml", "expected_throughput.toml"} <= {e.name for e in files}
    for entry in files:
        doc = tomllib.loads(entry.read_text(encoding="utf-8"))
        for table in ("band", "fingerprint", "row", "peak"):
            for row in doc.get(table, []):
                assert row.get("source") and row.get("as_of"), (entry.name, row)


def test_expected_figures_come_from_the_recorded_h200_run_and_name_their_layout():
    rows = load_references().expected
    assert rows and {r.gpu for r in rows} == {"NVIDIA H200"}
    assert {r.layout for r in rows} == {"nchw", "channels_last"}
    assert {r.precision for r in rows if r.layout == "channels_last"} == {"amp-fp16", "amp-bf16"}
    assert not any(r.verified for r in rows), "one machine: unverified until a second agrees"
    assert all("H200" in r.source and "580.159.04" in r.source for r in rows)


def test_datasheet_peaks_are_dense_figures_with_sources():
    refs = load_references()
    h200 = refs.datasheet("NVIDIA H200", "amp-bf16")
    assert h200 is not None and h200.tflops == 989.0 and h200.verified
    assert refs.datasheet("nvidia h200", "fp32").tflops == 67.0  # type: ignore[union-attr]
    assert refs.datasheet("NVIDIA H200", "tf32").tflops == 495.0  # type: ignore[union-attr]
    assert refs.datasheet("NVIDIA A100-SXM4-80GB", "amp-fp16").tflops == 312.0  # type: ignore[union-attr]
    assert refs.datasheet("Some Future GPU", "fp32") is None
    v100 = refs.datasheet("Tesla V100-SXM2-16GB", "fp32")
    assert v100 is not None and not v100.verified  # third-party figure, marked so
    for d in refs.datasheets:
        assert d.precision in ("fp32", "tf32", "amp-fp16", "amp-bf16")
        assert d.verified == ("benchmarks.md" in d.source and "[3rd]" not in d.source)


def test_a_row_without_a_source_is_a_packaging_error():
    doc = {
        "band": [
            {
                "model": "resnet50",
                "precision_class": "fp32",
                "low": 0.1,
                "high": 1.0,
                "verified": False,
                "as_of": dt.date(2026, 1, 1),
            }
        ]
    }
    with pytest.raises(KnowledgeBaseError, match="source"):
        parse_references({"x.toml": doc})


def test_a_mistyped_figure_is_a_packaging_error():
    doc = {
        "fingerprint": [
            {
                "model": "vgg16",
                "ratio_to_resnet50": "fast",
                "verified": False,
                "source": "s",
                "as_of": dt.date(2026, 1, 1),
            }
        ]
    }
    with pytest.raises(KnowledgeBaseError, match="ratio_to_resnet50"):
        parse_references({"x.toml": doc})


def _fingerprint(**change):
    row = {
        "model": "vgg16",
        "ratio_to_resnet50": 0.5,
        "verified": False,
        "source": "benchmarks.md §5",
        "as_of": dt.date(2026, 1, 1),
    }
    row.update(change)
    return {"fingerprint": [{k: v for k, v in row.items() if v is not None}]}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"as_of": "2026-01-01"}, "as_of must be a date"),  # a string, not a TOML date
        ({"as_of": dt.datetime(2026, 1, 1, 12, 0)}, "as_of must be a date"),
        ({"source": "  "}, "non-empty source"),
        ({"verified": "yes"}, "verified must be true or false"),
        ({"verified": None}, "missing verified"),
        ({"ratio": 0.5}, "unknown key ratio"),
    ],
)
def test_verify_data_rows_are_checked_as_strictly_as_the_knowledge_base(change, said):
    with pytest.raises(KnowledgeBaseError, match=said):
        parse_references({"x.toml": _fingerprint(**change)})


def test_a_well_formed_row_still_loads():
    assert parse_references({"x.toml": _fingerprint()}).fingerprints[0].ratio == 0.5
