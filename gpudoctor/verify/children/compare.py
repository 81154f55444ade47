"""Comparing two sets of logits: the error figures verify's verdict judges, nothing judged here."""

from __future__ import annotations

from typing import Any

from gpudoctor.verify.model import Comparison


def compare_logits(
    reference: Any,
    candidate: Any,
    *,
    model: str,
    framework: str,
    kind: str,
    reference_label: str,
    candidate_label: str,
    precision: str,
    rounding_error: float | None = None,
) -> Comparison:
    """Error of ``candidate`` against ``reference`` (two [N, classes] arrays).

    ``rounding_error`` is the error the candidate's precision alone gives (rounding.py),
    recorded beside the measured one for the verdict to judge against.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    cand = np.asarray(candidate, dtype=np.float64).reshape(len(candidate), -1)
    finite = bool(np.isfinite(ref).all() and np.isfinite(cand).all())
    if ref.shape != cand.shape or not finite:
        return Comparison(
            model=model,
            framework=framework,
            kind=kind,
            reference=reference_label,
            candidate=candidate_label,
            precision=precision,
            finite=finite,
            max_abs_error=float("inf"),
            rel_error=float("inf"),
            rounding_error=rounding_error,
        )
    scale = max(float(np.abs(ref).max()), 1e-12)
    max_abs = float(np.abs(cand - ref).max())
    top = np.sort(ref, axis=1)
    margins = (top[:, -1] - top[:, -2]) / scale if ref.shape[1] > 1 else np.ones(len(ref))
    agree = ref.argmax(axis=1) == cand.argmax(axis=1)
    return Comparison(
        model=model,
        framework=framework,
        kind=kind,
        reference=reference_label,
        candidate=candidate_label,
        precision=precision,
        finite=True,
        max_abs_error=max_abs,
        rel_error=max_abs / scale,
        top1_agree=tuple(bool(a) for a in agree),
        rel_margins=tuple(float(m) for m in margins),
        rounding_error=rounding_error,
    )
