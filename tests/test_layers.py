"""The layers import only what docs/architecture.md allows (and heavy modules only lazily)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gpudoctor"

# layer -> the gpudoctor layers it may import (itself included); cli may import everything.
ALLOWED: dict[str, set[str]] = {
    "model": {"model", "errors"},
    "probe": {"probe", "model", "errors"},
    "kb": {"kb", "errors", "datarows", "tomlcompat", "model.versions"},
    # rules suggest a make-env command line (envplan.suggest and what it needs), without the
    # planner or the knowledge base: they get the knowledge base as a protocol, handed in
    "rules": {"rules", "model", "errors", "envplan.suggest", "envplan.target", "envplan.types"},
    "render": {"render", "model", "errors"},
    "envplan": {"envplan", "kb", "model", "errors", "datarows", "tomlcompat"},
    "refmodels": {"refmodels", "errors"},
    # verify starts its children through the one child-process primitive, probe.runcmd, and
    # checks its data files' rows as the knowledge base does (datarows); its live line is the
    # one check and onboard draw too (liveline)
    "verify": {
        "verify",
        "refmodels",
        "model",
        "errors",
        "probe.runcmd",
        "datarows",
        "tomlcompat",
        "liveline",
    },
    # fleet runs SLURM's commands through probe.runcmd too (fleet/slurm.py alone does), and
    # reads a fleet's files through userfiles (fleet/sources.py alone does)
    "fleet": {"fleet", "model", "errors", "probe.runcmd", "userfiles"},
    # reading the user's files: the model parses what it reads, nothing else is needed
    "userfiles": {"userfiles", "model", "errors"},
    # the history folder: kept reports written and read (the model parses them); the diff
    # itself is the model's, and the CLI hands in today's rules
    "history": {"history", "model", "errors", "userfiles"},
    # onboard's plan is pure; its executor starts gpudoctor's own commands (and uv, conda,
    # pixi, srun) through probe.runcmd; the CLI hands it the facts and writes the files
    "onboard": {"onboard", "errors", "probe.runcmd", "tomlcompat"},
}
HEAVY = {"torch", "tensorflow", "keras", "pynvml", "numpy", "matplotlib", "rattler", "rich"}


def imports(path: Path) -> list[tuple[str, bool]]:
    """Every imported module of ``path``, and whether the import is at module level.

    ``from gpudoctor import kb`` imports the module ``gpudoctor.kb``; imports under ``if
    TYPE_CHECKING:`` run only for the type checker and are left out.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and ast.unparse(node.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "gpudoctor":  # a submodule, or a name such as __version__
                found += [
                    (f"gpudoctor.{a.name}" if _is_module(a.name) else "gpudoctor", id(node) in top)
                    for a in node.names
                ]
            else:
                found.append((node.module, id(node) in top))
    return found


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """gpudoctor module -> the gpudoctor modules it imports (anywhere in its body), plus the
    packages Python runs on the way (``gpudoctor.datarows`` runs ``gpudoctor/kb/__init__.py``)."""
    known = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = set()
        for module, _ in imports(path):
            if module.startswith("gpudoctor."):
                parts = module.split(".")
                edges |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
        parents = name.split(".")
        edges |= {".".join(parents[:i]) for i in range(2, len(parents))}
        graph[name] = {e for e in edges if e in known and e != name}
    return graph


def reach(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module ``start`` can end up importing -> the module that imports it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        here = todo.pop()
        for nxt in graph.get(here, ()):
            if nxt not in seen and nxt != start:
                seen[nxt] = here
                todo.append(nxt)
    return seen


def layer_of(module: str) -> str:
    return module.removeprefix("gpudoctor.")


def allowed(layer: str, target: str) -> bool:
    """``target`` is in the layer's list, or a package Python runs on the way to one (the
    package's own imports are followed like any other module's)."""
    return any(
        target == a or target.startswith(f"{a}.") or a.startswith(f"{target}.")
        for a in ALLOWED[layer]
    )


def layer_files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    bad = []
    for path in layer_files(layer):
        for module, _ in imports(path):
            if not module.startswith("gpudoctor."):
                continue
            target = module.removeprefix("gpudoctor.")
            if not any(target == a or target.startswith(f"{a}.") for a in ALLOWED[layer]):
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert bad == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_reaches_only_what_it_may_even_through_another_layer(layer):
    """rules may use envplan's command suggestion, but must not load the knowledge base
    through it: what a layer reaches by any chain of imports stays within what it may import."""
    graph = module_graph()
    bad = []
    for module in sorted(m for m in graph if m.startswith(f"gpudoctor.{layer}")):
        for target, via in sorted(reach(graph, module).items()):
            if target == "gpudoctor" or allowed(layer, layer_of(target)):
                continue
            bad.append(f"{module} reaches {target} (imported by {via})")
    assert bad == []


def test_the_reach_check_follows_chains_and_from_gpudoctor_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nfrom gpudoctor import kb\n"
        "if TYPE_CHECKING:\n    from gpudoctor.fleet import slurm\n"
    )
    assert imports(sample) == [("typing", True), ("gpudoctor.kb", True)]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert reach(graph, "a") == {"b": "a", "c": "b"}


def test_heavy_modules_are_never_imported_at_module_level():
    bad = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for module, at_top in imports(path)
        if at_top and module.split(".")[0] in HEAVY
    ]
    assert bad == []


def test_the_check_is_able_to_fail(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import torch\nfrom gpudoctor.cli import run\n")
    assert imports(sample) == [("torch", True), ("gpudoctor.cli", True)]


def named_imports() -> dict[str, set[str]]:
    """gpudoctor module -> the gpudoctor modules its import statements name, lazy ones too
    (without the parent packages Python runs on the way, which every submodule has)."""
    known = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    return {
        name: {m for m, _ in imports(path) if m in known and m != name}
        for name, path in known.items()
    }


def in_a_circle(graph: dict[str, set[str]], module: str) -> bool:
    return any(nxt == module or module in reach(graph, nxt) for nxt in graph.get(module, ()))


def test_the_cli_has_no_import_circle():
    """cli/__init__.py imports the options; no command module imports names back from the
    package (`from gpudoctor.cli import debug_option` once made a circle with options)."""
    graph = named_imports()
    circles = sorted(m for m in graph if m.startswith("gpudoctor.cli") and in_a_circle(graph, m))
    assert circles == []
    assert "gpudoctor.cli.options" in graph["gpudoctor.cli"]


def test_the_circle_check_is_able_to_fail():
    graph = {"cli": {"cli.options"}, "cli.options": {"cli"}, "cli.check": {"cli.options"}}
    assert in_a_circle(graph, "cli.options") and not in_a_circle(graph, "cli.check")
