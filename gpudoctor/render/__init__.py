"""Renderers: turn reports, findings and results into text; they only format."""

from __future__ import annotations

from collections.abc import Callable

from gpudoctor.model.findings import Diagnosis
from gpudoctor.model.report import Report

FORMATS: tuple[str, ...] = ("text", "json", "markdown")
"""Every format `gpudoctor check --format` accepts."""


def _text(report: Report, diagnosis: Diagnosis, *, verbose: bool, color: bool) -> str:
    from gpudoctor.render.text import render_text  # imports rich: only when text is asked for

    return render_text(report, diagnosis, verbose=verbose, color=color)


def _json(report: Report, diagnosis: Diagnosis, *, verbose: bool, color: bool) -> str:
    from gpudoctor.render.json_ import render_json

    return render_json(report, diagnosis, verbose=verbose)


def _markdown(report: Report, diagnosis: Diagnosis, *, verbose: bool, color: bool) -> str:
    from gpudoctor.render.markdown import render_markdown

    return render_markdown(report, diagnosis, verbose=verbose)


RENDERERS: dict[str, Callable[..., str]] = {"text": _text, "json": _json, "markdown": _markdown}


def render_report(
    fmt: str, report: Report, diagnosis: Diagnosis, *, verbose: bool, color: bool
) -> str:
    """``report`` and its findings as ``fmt`` (``text``, ``json`` or ``markdown``).

    Colour applies to text only; JSON and Markdown never carry escape codes.
    """
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        msg = f"unknown format {fmt!r} (one of {', '.join(FORMATS)})"
        raise ValueError(msg) from None
    return renderer(report, diagnosis, verbose=verbose, color=color)


def preload(fmt: str) -> None:
    """Import what rendering ``fmt`` needs, rich included for text, before the first render.

    ``check`` calls it while its probe children run, where it only waits, so that the imports
    are off the time between the last probe's answer and the output. The output is the same.
    """
    import importlib

    modules = {
        "text": ("gpudoctor.render.text", "rich.console", "rich.text", "rich.cells"),
        "json": ("gpudoctor.render.json_",),
        "markdown": ("gpudoctor.render.markdown",),
    }
    for name in modules.get(fmt, ()):
        importlib.import_module(name)


__all__ = ["FORMATS", "RENDERERS", "preload", "render_report"]
