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
    "kb": {"kb", "errors"},
    "rules": {"rules", "model", "errors", "envplan"},
    "render": {"render", "model", "errors"},
    "envplan": {"envplan", "kb", "model", "errors"},
    "refmodels": {"refmodels", "errors"},
    # verify starts its children through the one child-process primitive, probe.runcmd, and
    # checks its data files' rows with the knowledge base's own row checks (kb.rows)
    "verify": {"verify", "refmodels", "model", "errors", "probe.runcmd", "kb.rows"},
    # fleet runs SLURM's commands through probe.runcmd too (fleet/slurm.py alone does)
    "fleet": {"fleet", "model", "errors", "probe.runcmd"},
}
HEAVY = {"torch", "tensorflow", "keras", "pynvml", "numpy", "matplotlib", "rattler", "rich"}


def imports(path: Path) -> list[tuple[str, bool]]:
    """Every imported module of ``path``, and whether the import is at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


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
