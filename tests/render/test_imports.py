"""render's modules import each other in one direction: no circle, not even a lazy one."""

from __future__ import annotations

from pathlib import Path

from tests.envplan.test_imports import cycle, graph

FOLDER = Path(__file__).resolve().parents[2] / "gpudoctor" / "render"


def test_no_import_circle_in_render() -> None:
    assert cycle(graph(FOLDER, "gpudoctor.render.")) == []


def test_each_fleet_format_imports_only_the_shared_helpers() -> None:
    """The fleet renderers share fleet_common; a format never imports another format
    (fleet.py's render_fleet alone picks one, lazily)."""
    edges = graph(FOLDER, "gpudoctor.render.")
    assert edges["fleet_common"] == set()
    assert edges["fleet_prometheus"] == {"fleet_common"}
    assert edges["fleet_tiles"] == set()
    assert edges["fleet_html"] == {"fleet_common", "fleet_tiles"}


def test_the_check_finds_a_circle_in_render(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f():\n    from gpudoctor.render.b import x\n")
    (tmp_path / "b.py").write_text("from gpudoctor.render.a import f\n")
    assert cycle(graph(tmp_path, "gpudoctor.render.")) == ["a", "b", "a"]
