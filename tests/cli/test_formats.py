"""The format registries: every --format has a renderer and back, one suffix table, one tail."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
import jsonschema
import pytest

from gpudoctor.cli import _COMMANDS, cli
from gpudoctor.cli.files import emit
from gpudoctor.cli.formats import (
    CHECK,
    DIFF,
    FLEET,
    HEALTH,
    HISTORY,
    MAKE_ENV,
    PAIRS,
    REGISTRIES,
    SUFFIXES,
    VERIFY,
    Registry,
)
from gpudoctor.errors import BadInputError
from gpudoctor.model.findings import Finding, Severity
from gpudoctor.model.health import HealthResult
from gpudoctor.render.health import health_to_dict, render_json, render_text
from tests.conftest import DATA, Cli

ROOT = Path(__file__).resolve().parents[2]
HEALTH_SCHEMA = json.loads((ROOT / "docs" / "health-schema.json").read_text(encoding="utf-8"))
LOST = DATA / "reports" / "failure__one_gpu_lost.json"
H100 = DATA / "reports" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"


def _command(path: str) -> click.Command:
    """``check``, ``fleet report``...: a command as the CLI loads it."""
    ctx = click.Context(cli)
    first, *rest = path.split()
    command = cli.get_command(ctx, first)
    for name in rest:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command is not None
    return command


def _format_choices(path: str) -> set[str]:
    (option,) = [p for p in _command(path).params if p.name == "fmt"]
    if isinstance(option.type, click.Choice):
        return {str(c) for c in option.type.choices}
    from gpudoctor.envplan.forms import FORMATS  # make-env checks --format itself (one line)

    return set(FORMATS)


OFFERED = [
    ("check", CHECK),
    ("verify", VERIFY),
    ("fleet report", FLEET),
    ("fleet run", FLEET),
    ("fleet pairs", PAIRS),
    ("make-env", MAKE_ENV),
    ("diff", DIFF),
    ("history", HISTORY),
]


@pytest.mark.parametrize(("path", "registry"), OFFERED, ids=[p for p, _ in OFFERED])
def test_every_format_offered_has_a_renderer_and_every_renderer_is_offered(
    path: str, registry: Registry[...]
) -> None:
    assert _format_choices(path) == set(registry.formats) == set(registry.load())


def test_the_health_gate_renders_a_part_of_checks_formats() -> None:
    assert set(HEALTH.formats) == set(HEALTH.load()) < _format_choices("check")


def test_every_report_kind_has_a_registry() -> None:
    assert {r.kind for r in REGISTRIES} == {
        "check",
        "check --health-check",
        "verify",
        "fleet",
        "fleet pairs",
        "diff",
        "history",
        "make-env",
    }
    assert {"check", "verify", "fleet", "make-env", "diff", "history"} <= set(_COMMANDS)


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_each_registry_is_consistent(registry: Registry[...]) -> None:
    assert registry.default in registry.formats
    assert set(registry.suffixes) <= set(SUFFIXES.values())
    assert set(registry.suffixes.values()) <= set(registry.formats)
    assert set(registry.names.values()) <= set(registry.formats)
    assert set(registry.ambiguous) <= set(SUFFIXES.values())
    assert set(registry.aliases.values()) <= set(registry.formats)
    for fmt in registry.formats:
        assert registry.resolve(fmt, None) == fmt
        assert registry.resolve(fmt.upper(), Path("x.json")) == fmt  # --format wins


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_every_suffix_picks_a_format_of_the_kind_or_its_default_or_is_refused(
    registry: Registry[...], suffix: str
) -> None:
    said = SUFFIXES[suffix]
    for name in (f"report{suffix}", f"dir/REPORT{suffix.upper()}"):
        if said in registry.ambiguous:
            with pytest.raises(BadInputError, match="--output"):
                registry.resolve(None, Path(name))
            continue
        if said not in registry.suffixes:
            # check -o report.html wrote text into an .html file: the name lied
            with pytest.raises(BadInputError, match=f"the name says {said}, which .* not write"):
                registry.resolve(None, Path(name))
            assert registry.resolve(registry.default, Path(name)) == registry.default
            continue
        fmt = registry.resolve(None, Path(name))
        assert fmt == registry.suffixes[said]
        assert fmt in registry.formats


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_no_output_a_dash_or_an_unknown_suffix_is_the_default(registry: Registry[...]) -> None:
    for output in (None, Path("-"), Path("report"), Path("report.xyz")):
        assert registry.resolve(None, output) == registry.default


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_an_unknown_format_is_refused_never_swapped_for_text(registry: Registry[...]) -> None:
    with pytest.raises(BadInputError, match=r"^--format sgml: use "):
        registry.resolve("sgml", None)
    with pytest.raises(ValueError, match="unknown format 'sgml'"):
        registry.render("sgml")


def test_the_renderers_refuse_an_unknown_format_themselves() -> None:
    from gpudoctor.envplan.forms import render as render_form
    from gpudoctor.render import render_report
    from gpudoctor.render.fleet import render_fleet
    from gpudoctor.verify.render import render as render_verify

    for call in (
        lambda: render_fleet("yaml", None),  # type: ignore[arg-type]
        lambda: render_verify("yaml", None, None),  # type: ignore[arg-type]
        lambda: render_form(None, "yaml"),  # type: ignore[arg-type]
        lambda: render_report("yaml", None, None, verbose=False, color=False),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match="unknown format 'yaml'"):
            call()


def test_make_env_names_are_the_forms_usual_files() -> None:
    from gpudoctor.envplan.forms import DEFAULT_FILES

    assert dict(MAKE_ENV.names) == {name: fmt for fmt, name in DEFAULT_FILES.items()}
    assert MAKE_ENV.resolve("YAML", None) == "conda"


# --- the one tail ---------------------------------------------------------------------------


def test_emit_prints_or_writes_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emit("hello\n", None, force=False)
    assert capsys.readouterr() == ("hello\n", "")
    out = tmp_path / "r.txt"
    emit("hello\n", out, force=False)
    assert out.read_text() == "hello\n"
    assert capsys.readouterr() == ("", f"wrote {out}\n")
    emit("again\n", out, force=True, note=None)
    assert out.read_text() == "again\n"
    assert capsys.readouterr() == ("", "")
    with pytest.raises(BadInputError, match="exists"):
        emit("no\n", out, force=False)


def test_emit_to_a_dash_writes_the_bytes_and_says_nothing(cli: Cli, tmp_path: Path) -> None:
    # make-env's -o -: the file itself on stdout, no summary on stderr
    result = cli("make-env", "--driver", "580.95.05", "--cc", "9.0", "-o", "-")
    assert result.exit_code == 0, result
    assert result.stdout.startswith("#") and "dependencies:" in result.stdout
    assert result.stderr == ""


# --- the health gate's JSON -----------------------------------------------------------------


def _finding(n: int) -> Finding:
    return Finding(id=f"GD-GPU-00{n}", severity=Severity.ERROR, area="gpu", title=f"GPU {n} lost")


@pytest.mark.parametrize(
    "result",
    [
        HealthResult(),
        HealthResult(errors=(_finding(1), _finding(2))),
        HealthResult(
            errors=(_finding(1),),
            action="drain",
            drain_reason="gpudoctor:GPU-001 GPU 1 lost",
            node="n1",
            slurm="ok",
            message="draining n1: gpudoctor:GPU-001 GPU 1 lost",
        ),
        HealthResult(action="none", node="n1", slurm="controller_unreachable", message="..."),
    ],
)
def test_the_health_json_follows_its_schema(result: HealthResult) -> None:
    doc = json.loads(render_json(result))
    jsonschema.validate(doc, HEALTH_SCHEMA)
    assert doc == health_to_dict(result)
    assert doc["healthy"] is result.healthy
    line = render_text(result)
    assert line.count("\n") == 1
    if result.healthy:
        assert line == "gpudoctor health: ok\n"
    else:
        assert line.startswith("gpudoctor health: error: GD-GPU-001 GPU 1 lost")


@pytest.mark.parametrize("report", [LOST, H100], ids=["lost", "fine"])
def test_the_gate_writes_json_that_follows_its_schema(cli: Cli, report: Path) -> None:
    result = cli("check", "--health-check", "--from-report", str(report), "--format", "json")
    assert result.exit_code == (1 if report == LOST else 0), result
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, HEALTH_SCHEMA)
    # what wrote it and when, as every other document: a log of gate lines had no time
    assert list(doc)[:4] == ["schema_version", "tool", "gpudoctor_version", "created_at"]
    assert (doc["schema_version"], doc["tool"]) == (1, "gpudoctor health")
    assert doc["created_at"] == json.loads(report.read_text())["created_at"]
    datetime.strptime(doc["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert list(doc)[4:] == [
        "healthy",
        "errors",
        "action",
        "drain_reason",
        "node",
        "slurm",
        "message",
    ]


def test_the_gate_refuses_markdown_by_format_and_by_name(cli: Cli, tmp_path: Path) -> None:
    refused = cli("check", "--health-check", "--from-report", str(H100), "--format", "markdown")
    assert refused.exit_code == 2, refused
    assert refused.stderr.strip().splitlines() == [
        "gpudoctor: error: --format markdown: use text or json with --health-check"
    ]
    # a gate.md name took the text form, as check -o report.html wrote text into a page
    out = tmp_path / "gate.md"
    named = cli("check", "--health-check", "--from-report", str(H100), "-o", str(out))
    assert named.exit_code == 2, named
    assert named.stderr == (
        f"gpudoctor: error: --output {out}: the name says markdown, which check --health-check "
        "does not write; use --format text|json, or a name that says one of them\n"
    )
    assert not out.exists()
    args = ("check", "--health-check", "--from-report", str(H100), "--format", "text", "-o")
    saved = cli(*args, str(out))
    assert saved.exit_code == 0, saved
    assert out.read_text(encoding="utf-8") == "gpudoctor health: ok\n"
    assert saved.stdout == saved.stderr == ""
