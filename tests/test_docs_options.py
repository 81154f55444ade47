"""Every gpudoctor command line the README and docs/*.md spell out uses options that command has.

A lab copies these lines word for word: an option that was renamed or never existed
(fleet.md's `check --gate`) is exit 2 on their machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from gpudoctor.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS += [ROOT / "conda-envs" / "README.md", *sorted((ROOT / "deploy").rglob("*.md"))]
FENCED = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.S | re.M)
SPAN = re.compile(r"(``?)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
# `check --strict` in prose names the command without the program's name
BARE = re.compile(
    r"(check|make-env|verify|onboard|history|diff|models|explain|fleet (run|report|pairs)) -"
)
COMMAND = re.compile(r"(?:^|[\s$|;&(])gpudoctor ([a-z-]+)((?: (?!gpudoctor )\S+)*)")
OPTION = re.compile(r"--?[a-zA-Z][\w-]*")
SHELLS = ("", "bash", "console", "sh", "text", "yaml", "toml")
ENDS = ("|", "&&", ";", "||", ">", "2>")


def _command(path: tuple[str, ...]) -> click.Command | None:
    ctx = click.Context(cli)
    command: click.Command | None = cli
    for name in path:
        if not isinstance(command, click.Group):
            return None
        command = command.get_command(ctx, name)
    return command


def _lines(text: str) -> list[str]:
    """Inline code spans of the prose and the command lines of shell blocks, one line each."""
    blocks = [body for lang, body in FENCED.findall(text) if lang in SHELLS]
    spans = [m.group(2) for m in SPAN.finditer(FENCED.sub("", text))]
    commands = [
        line.removeprefix("$ ")
        for body in blocks
        for line in body.splitlines()
        if "gpudoctor " in line
    ]
    lines = [" ".join(s.split()) for s in [*spans, *commands]]
    return [f"gpudoctor {line}" if BARE.match(line) else line for line in lines]


def _uses(doc: Path) -> list[tuple[tuple[str, ...], list[str], str]]:
    uses: list[tuple[tuple[str, ...], list[str], str]] = []
    for line in _lines(doc.read_text(encoding="utf-8")):
        for m in COMMAND.finditer(line):
            args = m.group(2).split()
            path: tuple[str, ...] = (m.group(1),)
            if m.group(1) == "fleet" and args and args[0] in ("run", "report", "pairs"):
                path = ("fleet", args.pop(0))
            if _command(path) is None:
                continue
            cut = next((i for i, a in enumerate(args) if a in ENDS or a.startswith("#")), None)
            uses.append((path, args[:cut], line))
    return uses


def _problems(path: tuple[str, ...], args: list[str]) -> list[str]:
    command = _command(path)
    assert command is not None
    params = {o: p for p in command.params for o in (*p.opts, *p.secondary_opts)}
    problems = []
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        name = name.rstrip(")`,.;:")
        if not OPTION.fullmatch(name) or name in ("-h", "--help"):
            continue
        param = params.get(name)
        if param is None:
            problems.append(f"{' '.join(path)} has no option {name}")
            continue
        if not value and i + 1 < len(args):
            value = args[i + 1]
        choices = param.type.choices if isinstance(param.type, click.Choice) else None
        choice = choices is not None and re.fullmatch(r"[a-z0-9-]+", value)
        if choice and choices is not None and value not in choices:
            problems.append(f"{' '.join(path)} {name} takes no {value!r}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_option_a_doc_gives_a_command_exists(doc: Path) -> None:
    uses = _uses(doc)
    found = [f"{p}  in  {line[:100]}" for path, args, line in uses for p in _problems(path, args)]
    assert not found, "\n".join(found)


def test_the_scan_reads_the_docs_command_lines() -> None:
    uses = [use for doc in DOCS for use in _uses(doc)]
    assert len(uses) > 200
    assert _problems(("check",), ["--gate"]) == ["check has no option --gate"]
    assert _problems(("history",), ["--format", "markdown"]) == [
        "history --format takes no 'markdown'"
    ]
    assert _problems(("fleet", "run"), ["--partition", "gpu"]) == []


PAGES = [
    ("check.md", ("check",)),
    ("make-env.md", ("make-env",)),
    ("verify.md", ("verify",)),
    ("onboard.md", ("onboard",)),
    ("history.md", ("history",)),
    ("history.md", ("diff",)),
    ("fleet.md", ("fleet", "run")),
    ("fleet.md", ("fleet", "report")),
    ("fleet.md", ("fleet", "pairs")),
    ("models.md", ("models",)),
]


def _undocumented(text: str, path: tuple[str, ...]) -> list[str]:
    command = _command(path)
    assert command is not None
    names = [o for p in command.params for o in p.opts if o.startswith("--")]
    return [
        o
        for o in names
        if o not in ("--help", "--debug") and not re.search(re.escape(o) + r"(?![\w-])", text)
    ]


@pytest.mark.parametrize(("page", "path"), PAGES, ids=[" ".join(path) for _, path in PAGES])
def test_every_option_of_a_command_is_on_its_page(page: str, path: tuple[str, ...]) -> None:
    # --help lists it; the command's page must say what it does (--debug: README, for all)
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    assert _undocumented(text, path) == [], f"{' '.join(path)}: not in docs/{page}"


def test_an_option_missing_from_a_page_is_found() -> None:
    assert _undocumented("`--strict` and `--timeout-x`", ("check",))[:2] == ["--format", "--output"]
    assert "--timeout" in _undocumented("`--timeout-x`", ("check",))


def test_every_finding_id_a_doc_names_exists() -> None:
    # `gpudoctor explain GD-XXX-NNN` is how a reader follows one up: an ID a rule no longer
    # declares is "no finding", exit 2
    from gpudoctor.rules import REGISTRY

    known = {rule.id for rule in REGISTRY}
    named = {
        (str(doc.relative_to(ROOT)), found)
        for doc in DOCS
        for found in re.findall(r"\bGD-[A-Z]+-\d{3}\b", doc.read_text(encoding="utf-8"))
    }
    assert len(named) > 100
    assert sorted((doc, found) for doc, found in named if found not in known) == []


def _anchors(doc: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings (code blocks left out)."""
    from tests.rules.test_catalogue import github_anchor

    text = FENCED.sub("", doc.read_text(encoding="utf-8"))
    return {github_anchor(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


def _broken_links(doc: Path) -> list[str]:
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no such heading")
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_between_the_docs_reaches_its_file_and_heading(doc: Path) -> None:
    assert _broken_links(doc) == []


def test_a_link_to_a_missing_heading_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Limits, hostile input\n\n[a](#limits-hostile-input) [b](#limits) [c](x)\n")
    assert _broken_links(page) == ["#limits: no such heading", "x: no such file"]
