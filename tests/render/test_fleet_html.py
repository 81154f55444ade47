"""The fleet HTML dashboard: the first screen, hostile strings, and a real browser's view."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import NodeFinding
from gpudoctor.render.fleet import frameworks_text, inert, render_fleet
from tests.render.fleet_pages import HOSTILE_NAME, HOSTILE_TEXT, NAMES, big, healthy, troubled

CHROMIUM = shutil.which("chromium")
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "span"}
TAGS |= {"section", "table", "tr", "th", "td", "wbr", "code"}


class Page(HTMLParser):
    """The page's tags, attributes and text, and the text inside each element of a class or tag."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.open: list[tuple[str, list[str]]] = []
        self.by_class: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        if tag in ("meta", "wbr"):
            return
        classes = [tag, *(dict(attrs).get("class") or "").split()]  # a tag counts as a class
        self.open.append((tag, classes))
        for c in classes:
            self.by_class.setdefault(c, []).append("")

    def handle_endtag(self, tag):
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)
        for _, classes in self.open:
            for c in classes:
                self.by_class[c][-1] += data


def tile_counts(page: Page) -> dict[str, int]:
    """``{"error": 1, "not reached": 2, ...}`` from the tiles' label and number."""
    return dict(zip(page.by_class["l"], map(int, page.by_class["n"]), strict=True))


def test_first_screen_says_the_state_and_counts_every_verdict():
    page = Page(render_fleet("html", troubled()))
    (banner,) = page.by_class["banner"]
    assert banner.startswith("✗ Not healthy") and "2 not reached" in banner
    assert tile_counts(page) == {
        "error": 2,  # one by its finding, one by its failed verify
        "warning": 2,
        "drift": 3,
        "unreadable": 1,
        "not reached": 2,
        "slow GPU": 1,
        "ok": 3,  # as the banner's "3 fine": the three drifting nodes are not
    }
    assert "3 fine" in banner
    order = [h.lstrip("✗! ").split(" (")[0] for h in page.by_class["h2"]]
    assert order == [
        "Not reached",
        "Unreadable reports",
        "Findings across the fleet",
        "Verify results that did not pass",
        "Drift",
        "Throughput outliers",
        "Nodes",
    ]


def test_problems_are_marked_in_words_not_colour_alone():
    page = Page(render_fleet("html", troubled()))
    problems = page.by_class["problem"]
    assert [p.split("\n")[1][:2] for p in problems] == ["✗ ", "✗ ", "✗ ", "✗ ", "! ", "! "]
    assert page.by_class["v"][:3] == ["✗ error", "✗ error", "✗ error"]  # not reached, unreadable


def test_healthy_fleet_is_green_and_says_its_stack_once():
    report = healthy()
    html = render_fleet("html", report)
    page = Page(html)
    (banner,) = page.by_class["banner"]
    assert banner == "✓ HealthyAll 8 node(s) fine."
    assert "banner ok" in html and "problem" not in page.by_class
    assert tile_counts(page)["ok"] == 8 and tile_counts(page)["error"] == 0
    stack = frameworks_text(report.nodes[0].stack.frameworks)
    assert html.count(stack) == 1  # one group: one row, nothing hoisted
    html = render_fleet("html", big())  # many rows, the same torch on all: said once above
    (same,) = Page(html).by_class["same"]
    assert same.startswith("Same on every node with a report: CUDA: 12.8; Frameworks: torch")
    assert html.count(stack) == 1 and "<th>Frameworks</th>" not in html


def test_hostile_strings_stay_text():
    html = render_fleet("html", troubled())
    page = Page(html)
    assert set(page.tags) <= TAGS and page.tags.count("style") == 1
    assert not [k for k, _ in page.attrs if k.startswith("on") or k in ("href", "src")]
    assert "default-src 'none'" in html  # and were anything to slip, the page may run nothing
    text = "".join(page.text)
    for raw in (HOSTILE_NAME, HOSTILE_TEXT, NAMES["GD-FW-003"], '<td class="ok" onclick'):
        assert inert(raw) in text  # shown as written, escapes and all
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in html


def chromium(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",  # a container's /dev/shm is often too small for it
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium (Debian: apt-get install -y chromium)"
)


@browser
@pytest.mark.slow
def test_a_browser_shows_the_banner_and_runs_nothing(tmp_path):
    page = tmp_path / "fleet.html"
    page.write_text(render_fleet("html", troubled()), encoding="utf-8")
    dom = chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path).stdout
    assert "✗ Not healthy" in dom and "2 not reached" in dom
    assert "<script" not in dom and "<img" not in dom and "&lt;script&gt;" in dom


@browser
@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "fill"),
    [(troubled, (0xFD, 0xE8, 0xEB)), (healthy, (0xE6, 0xF4, 0xE6))],
    ids=["troubled", "healthy"],
)
def test_a_screenshot_shows_the_banner_in_colour(tmp_path, make, fill):
    image = pytest.importorskip("PIL.Image")
    page, png = tmp_path / "fleet.html", tmp_path / "fleet.png"
    page.write_text(render_fleet("html", make()), encoding="utf-8")
    chromium(f"--screenshot={png}", "--window-size=1280,900", page.as_uri(), tmp_path=tmp_path)
    with image.open(png) as shot:
        assert shot.size == (1280, 900)
        top = shot.convert("RGB").crop((0, 0, 1280, 200))
        banner = {colour: n for n, colour in top.getcolors(1280 * 200)}.get(fill, 0)
    assert banner > 20_000  # the banner's fill, most of a 1,200 × 40 pixel band


def test_each_node_keeps_its_own_title_and_its_marks():
    """Per-node titles survive aggregation (an admin resets the GPU the node names)."""
    page = Page(render_fleet("html", troubled()))
    text = "".join(page.text)
    assert "GPU 3 has uncorrectable ECC errors" in text  # gpu-002's own words
    assert "GPU 2 runs at PCIe x8 of x16" in text  # gpu-003's
    assert "A GPU has uncorrectable ECC errors" in text  # and what the ID means anywhere
    assert "verify fail" in "".join(page.by_class["td"])
    assert any(cell == "drift" for cell in page.by_class["td"])


def test_the_drain_fix_of_gd_gpu_068_is_shown_as_markdown_shows_it():
    """The dashboard showed GD-GPU-068's title alone: an admin reading it had no command to
    drain the nodes, where the Markdown report's Evidence column gave the exact one."""
    from gpudoctor.fleet.aggregate import aggregate
    from gpudoctor.fleet.gres import drain_fix
    from tests.fleet.builders import node, with_findings

    title = "SLURM gives out gpu:h100:8 here; the node has no GPU"
    missing = NodeFinding(
        id="GD-GPU-068",
        severity=Severity.ERROR,
        title=title,
        evidence=("PCI bus: 0 NVIDIA GPUs", drain_fix(title)),
    )
    nodes = [node(f"gpu-{i:03d}") for i in range(1, 5)]
    nodes[1:3] = [with_findings(n, missing) for n in nodes[1:3]]
    report = aggregate(
        nodes, names={}, gpudoctor_version="0.1.0", created_at="2026-12-07T23:00:00Z"
    )
    drain = (
        "sudo scontrol update nodename='gpu-[002-003]' state=drain "
        "reason='gpudoctor:GPU-068 SLURM gives out gpu:h100:8 here; the node has no GPU'"
    )
    page = Page(render_fleet("html", report))
    assert drain in page.by_class["code"]  # one command, to read and copy
    (cell,) = page.by_class["evidence"]
    assert cell.startswith("PCI bus: 0 NVIDIA GPUs") and "fix: drain the node (" + drain in cell
    assert f"`{drain}`" in render_fleet("markdown", report)  # as Markdown has it
