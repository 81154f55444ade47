"""envplan's modules import each other in one direction (no circle, not even a lazy one)."""

from __future__ import annotations

import ast
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "gpudoctor" / "envplan"
PREFIX = "gpudoctor.envplan."


def graph(folder: Path = FOLDER, prefix: str = PREFIX) -> dict[str, set[str]]:
    """module -> the modules of ``folder`` (named ``prefix``...) it imports anywhere in its
    body."""
    out: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.stem == "__init__":
            continue
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith(prefix):
                    found.add(node.module.removeprefix(prefix).split(".")[0])
            elif isinstance(node, ast.Import):
                found |= {
                    a.name.removeprefix(prefix).split(".")[0]
                    for a in node.names
                    if a.name.startswith(prefix)
                }
        out[path.stem] = found - {path.stem}
    return out


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import circle, or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_import_circle_in_envplan() -> None:
    assert cycle(graph()) == []


def test_the_data_types_import_no_planner() -> None:
    edges = graph()
    assert edges["types"] <= {"target"}
    assert "plan" not in edges["pins"] and "plan" not in edges["suggest"]


def test_the_check_finds_a_circle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f():\n    from gpudoctor.envplan.b import x\n")
    (tmp_path / "b.py").write_text("from gpudoctor.envplan.a import f\n")
    assert cycle(graph(tmp_path)) == ["a", "b", "a"]
