"""Every report kind's formats: one registry each, and the one table of what a suffix says."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Generic, ParamSpec

from gpudoctor.errors import BadInputError

if TYPE_CHECKING:
    from gpudoctor.envplan.types import Plan
    from gpudoctor.model.fleet import FleetReport
    from gpudoctor.model.hardware import PairsReport
    from gpudoctor.model.health import HealthResult

P = ParamSpec("P")

SUFFIXES: Mapping[str, str] = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".prom": "prometheus",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".txt": "text",
}
"""What an --output file's suffix says it holds, for every command; each registry maps these
to its own formats (make-env's ``.txt`` is a requirements file); a suffix a kind has no
format for is refused (the file would hold something else than its name says), and a name
whose suffix is not here (``.log``) means the kind's default, as a name without one does."""


@dataclass(frozen=True, kw_only=True)
class Registry(Generic[P]):
    """One report kind's formats, how --format and --output pick one, and its renderers.

    The renderers are loaded on first use, so that a command imports only its own;
    tests/cli/test_formats.py checks that ``formats`` and the loaded renderers agree.
    """

    kind: str
    """The report kind, for messages: ``check``, ``verify``, ``fleet``..."""
    formats: tuple[str, ...]
    """What --format offers, in the order --help lists them."""
    default: str
    """The format when neither --format nor --output's name says."""
    load: Callable[[], Mapping[str, Callable[P, str]]] = field(repr=False)
    """The renderers by format, imported when first needed."""
    suffixes: Mapping[str, str] = field(default_factory=dict)
    """What :data:`SUFFIXES` says -> this kind's format (``json`` -> ``json``)."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Whole file names that pick a format (make-env: ``pyproject.toml`` is a uv project)."""
    ambiguous: Mapping[str, str] = field(default_factory=dict)
    """What a suffix says -> why that says too little (make-env: ``.toml``): refused."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Other names --format accepts (make-env: ``yaml``, the old name of ``conda``)."""
    needs: str = ""
    """What the format goes with, for the refusal of one it has not (``--health-check``)."""

    def resolve(self, fmt: str | None, output: Path | None) -> str:
        """The --format given (any case); else the one --output's name asks for; else the default.

        A report saved as ``x.json`` in text would be unreadable to ``--from-report`` and to
        every JSON tool, which is never what the name asked for. A --format this kind has not
        is refused, never quietly swapped for another.
        """
        if fmt is not None:
            canonical = self.aliases.get(fmt.lower(), fmt.lower())
            if canonical not in self.formats:
                also = f" with {self.needs}" if self.needs else ""
                raise BadInputError(f"--format {fmt}: use {' or '.join(self.formats)}{also}")
            return canonical
        if output is None or str(output) == "-":
            return self.default
        return self.for_name(str(output)) or self.default

    def for_name(self, path: str) -> str | None:
        """The format an output file's name asks for; None when it does not say."""
        name = PurePath(path).name.lower()
        said = SUFFIXES.get(PurePath(name).suffix, "")
        if said != "json" and name in self.names:  # .json first: a JSON tool will read it
            return self.names[name]
        if said in self.ambiguous:
            raise BadInputError(f"--output {path}: {self.ambiguous[said]}")
        if said and said not in self.suffixes:
            # check -o report.html wrote text into a page no browser lays out: the name lied
            raise BadInputError(
                f"--output {path}: the name says {said}, which {self.kind} does not write; "
                f"use --format {'|'.join(self.formats)}, or a name that says one of them"
            )
        return self.suffixes.get(said)

    def render(self, fmt: str, *args: P.args, **kwargs: P.kwargs) -> str:
        """The report in ``fmt``; a format this kind has not is a bug, said as one."""
        renderer = self.load().get(fmt) if fmt in self.formats else None
        if renderer is None:
            msg = f"{self.kind}: unknown format {fmt!r} (one of {', '.join(self.formats)})"
            raise ValueError(msg)
        return renderer(*args, **kwargs)


def _same(*formats: str) -> dict[str, str]:
    return {fmt: fmt for fmt in formats}


def _check() -> Mapping[str, Callable[..., str]]:
    from gpudoctor.render import RENDERERS

    return RENDERERS


def _health() -> Mapping[str, Callable[[HealthResult], str]]:
    from gpudoctor.render.health import RENDERERS

    return RENDERERS


def _verify() -> Mapping[str, Callable[..., str]]:
    from gpudoctor.verify.render import RENDERERS

    return RENDERERS


def _fleet() -> Mapping[str, Callable[[FleetReport], str]]:
    from gpudoctor.render.fleet import RENDERERS

    return RENDERERS


def _pairs() -> Mapping[str, Callable[[PairsReport], str]]:
    from gpudoctor.render.pairs import RENDERERS

    return RENDERERS


def _diff() -> Mapping[str, Callable[..., str]]:
    from gpudoctor.render.diff import RENDERERS

    return RENDERERS


def _history() -> Mapping[str, Callable[..., str]]:
    from gpudoctor.render.history import RENDERERS

    return RENDERERS


def _make_env() -> Mapping[str, Callable[[Plan, str], str]]:
    from gpudoctor.envplan.forms import RENDERERS

    return RENDERERS


REPORT_FORMATS = ("text", "json", "markdown")

CHECK: Registry[...] = Registry(
    kind="check",
    formats=REPORT_FORMATS,
    default="text",
    load=_check,
    suffixes=_same("json", "markdown", "text"),
)
"""``check``: (report, diagnosis, *, verbose, color) -> text."""

HEALTH: Registry[[HealthResult]] = Registry(
    kind="check --health-check",
    formats=("text", "json"),
    default="text",
    load=_health,
    suffixes=_same("json", "text"),
    needs="--health-check",
)
"""The health gate: one line, or the JSON docs/health-schema.json describes."""

VERIFY: Registry[...] = Registry(
    kind="verify",
    formats=REPORT_FORMATS,
    default="text",
    load=_verify,
    suffixes=_same("json", "markdown", "text"),
)
"""``verify``: (result, verdict, *, color) -> text."""

FLEET: Registry[[FleetReport]] = Registry(
    kind="fleet",
    formats=("text", "json", "markdown", "html", "prometheus"),
    default="text",
    load=_fleet,
    suffixes=_same("json", "markdown", "html", "prometheus", "text"),
)
"""``fleet report`` and ``fleet run``."""

PAIRS: Registry[[PairsReport]] = Registry(
    kind="fleet pairs",
    formats=REPORT_FORMATS,
    default="text",
    load=_pairs,
    suffixes=_same("json", "markdown", "text"),
)
"""``fleet pairs``: the two-node all-reduces, bad nodes and bad links."""

DIFF: Registry[...] = Registry(
    kind="diff",
    formats=REPORT_FORMATS,
    default="text",
    load=_diff,
    suffixes=_same("json", "markdown", "text"),
)
"""``diff`` and ``check --since-last-good``: (diff, *, color) -> text."""

HISTORY: Registry[...] = Registry(
    kind="history",
    formats=("text", "json"),
    default="text",
    load=_history,
    suffixes=_same("json", "text"),
)
"""``history``: (entries, problems, folder) -> text."""


MAKE_ENV: Registry[[Plan, str]] = Registry(
    kind="make-env",
    formats=("conda", "uv", "pixi", "requirements", "json"),
    default="conda",
    load=_make_env,
    suffixes={"json": "json", "yaml": "conda", "text": "requirements"},
    # Each form's usual file (envplan.forms.DEFAULT_FILES): pyproject.toml is a uv project.
    names={
        "environment.yml": "conda",
        "pyproject.toml": "uv",
        "pixi.toml": "pixi",
        "requirements.txt": "requirements",
    },
    ambiguous={
        "toml": "a .toml file may be a uv or a pixi project; say which with --format uv or "
        "--format pixi"
    },
    aliases={"yaml": "conda"},
)
"""``make-env``: (plan, the file's name for its create line) -> the file."""

REGISTRIES: tuple[Registry[Any], ...] = (
    CHECK,
    HEALTH,
    VERIFY,
    FLEET,
    PAIRS,
    DIFF,
    HISTORY,
    MAKE_ENV,
)

__all__ = [
    "CHECK",
    "DIFF",
    "FLEET",
    "HEALTH",
    "HISTORY",
    "MAKE_ENV",
    "PAIRS",
    "REGISTRIES",
    "REPORT_FORMATS",
    "SUFFIXES",
    "VERIFY",
    "Registry",
]
