"""The --plot chart is a real PNG that matplotlib drew, GPU beside CPU."""

from __future__ import annotations

import struct
import zlib

import pytest

from tests.verify import factories as f

pytest.importorskip("matplotlib")


def _chunks(png: bytes) -> dict[bytes, bytes]:
    out, pos = {}, 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        out[kind] = out.get(kind, b"") + png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return out


def test_the_chart_is_a_non_trivial_png():
    from gpudoctor.verify.plot import render_png

    png = render_png(f.healthy())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = _chunks(png)
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert width >= 600 and height >= 400
    assert b"Software" in chunks.get(b"tEXt", b"") and b"matplotlib" in chunks[b"tEXt"]
    pixels = zlib.decompress(chunks[b"IDAT"])
    # a blank canvas compresses to almost nothing; bars, labels and a legend do not
    assert len(set(pixels)) > 20
    assert len(png) > 15_000


def test_the_chart_copes_with_nothing_timed():
    from dataclasses import replace

    from gpudoctor.verify.plot import render_png

    empty = replace(f.healthy(("lenet5",)), runs=())
    assert render_png(empty)[:8] == b"\x89PNG\r\n\x1a\n"


def _margin_is_blank(png: bytes, px: int = 3) -> bool:
    import io

    import matplotlib.image

    rgb = matplotlib.image.imread(io.BytesIO(png), format="png")[:, :, :3]
    edges = (rgb[:px], rgb[-px:], rgb[:, :px], rgb[:, -px:])
    return all(float(edge.min()) == 1.0 for edge in edges)  # white: nothing drawn there


@pytest.mark.parametrize(
    ("models", "title"),
    [
        (("lenet5",), ""),  # the narrowest chart, where the default title was clipped
        (tuple(f.MACS), ""),
        (("lenet5",), "a long title of many words, " * 6),
    ],
)
def test_nothing_is_clipped_at_the_edges(models, title):
    from gpudoctor.verify.plot import render_png

    assert _margin_is_blank(render_png(f.healthy(models), title=title))


@pytest.mark.parametrize(
    ("values", "bottom"), [([60.0, 1500.0, 200_000.0], 1.0), ([0.4, 12.0], 0.01), ([1000.0], 100.0)]
)
def test_the_log_axis_starts_a_decade_below_the_slowest_run(values, bottom):
    from gpudoctor.verify.plot import log_limits

    low, high = log_limits(values)
    assert low == pytest.approx(bottom)
    assert high > max(values)


def _texts(fig) -> list[str]:
    import matplotlib.text

    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _cpu_quick():
    """--quick --device cpu on a small CPU: LeNet-5 timed, ResNet-50 skipped, AlexNet failed."""
    from dataclasses import replace

    from gpudoctor.verify.model import HarnessError

    lenet = f.run("lenet5", "cpu", images_per_second=1322.1)
    skipped = replace(
        f.run("resnet50", "cpu"), status="skipped", images_per_second=0.0, message="skipped"
    )
    result = f.healthy(("lenet5", "alexnet", "resnet50"), device="cpu", quick=True)
    error = HarnessError(framework="torch", model="alexnet", phase="build", message="boom")
    return replace(result, runs=(lenet, skipped), errors=(error,))


def test_the_chart_shows_values_the_verdict_and_what_was_not_run():
    import matplotlib.pyplot as plt

    from gpudoctor.verify.plot import draw_chart
    from gpudoctor.verify.verdict import Verdict

    verdict = Verdict(overall="warn", models=(), reasons=())
    fig = draw_chart(_cpu_quick(), verdict)
    try:
        texts = _texts(fig)
        title = fig._suptitle.get_text()
        assert "WARN" in title and "quick" in title
        assert "1,322\nbatch 32" in texts  # the bar's value and its batch
        assert "skipped" in texts and "failed" in texts  # the slots with no bar
        assert any("timed 1 of 3 model runs" in t and "1 skipped" in t for t in texts)
        assert all(m in texts for m in ("lenet5", "alexnet", "resnet50"))  # every model shown
    finally:
        plt.close(fig)


def test_gpu_bars_carry_their_value_and_speedup():
    import matplotlib.pyplot as plt

    from gpudoctor.verify.plot import draw_chart

    fig = draw_chart(f.healthy(("resnet50",)))
    try:
        assert "1,500\nbatch 128\n20.0x at batch 32" in _texts(fig), _texts(fig)
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("ips", "text"), [(1322.1, "1,322"), (14.73, "14.7"), (0.0421, "0.0421"), (100.0, "100")]
)
def test_bar_values_are_short(ips, text):
    from gpudoctor.verify.plot import value_text

    assert value_text(ips) == text


def test_the_chart_says_when_no_gpu_was_found():
    import matplotlib.pyplot as plt

    from gpudoctor.verify.plot import draw_chart
    from gpudoctor.verify.verdict import Level, Reason, Verdict

    note = Reason(level=Level.NOTE, code="no_gpu_found", message="no GPU found")
    fig = draw_chart(_cpu_quick(), Verdict(overall="pass", models=(), reasons=(note,)))
    try:
        assert any("no GPU found: the CPU only" in t for t in _texts(fig))
    finally:
        plt.close(fig)


def test_cpu_bars_under_a_gpu_precision_say_they_are_fp32():
    # `--device cpu --precision amp-fp16`: the title read "(inference, amp-fp16)" above fp32 bars
    from dataclasses import replace

    import matplotlib.pyplot as plt

    from gpudoctor.verify.plot import draw_chart
    from gpudoctor.verify.verdict import Verdict

    result = _cpu_quick()
    amp = replace(result, settings=replace(result.settings, precision="amp-fp16"))
    verdict = Verdict(overall="pass", models=(), reasons=())
    for chart, said in ((amp, True), (result, False)):
        fig = draw_chart(chart, verdict)
        try:
            title = fig._suptitle.get_text()
            assert ("images/s on the CPU (fp32: amp-fp16 is for GPUs)" in title) is said, title
        finally:
            plt.close(fig)


def test_every_bar_says_its_batch_and_the_cpu_bars_their_threads():
    # On a busy 2-core VM torch's ResNet-50 ran at batch 8 (halved to fit the budget) and
    # Keras's at 32: the chart showed Keras 2.2x faster with nothing saying the batches
    # differed, nor how many CPU threads ran.
    from dataclasses import replace

    import matplotlib.pyplot as plt

    from gpudoctor.verify.plot import draw_chart
    from gpudoctor.verify.verdict import Verdict

    torch_run = f.run("resnet50", "cpu", batch_size=8, images_per_second=4.1, threads=2)
    keras_run = replace(torch_run, framework="tensorflow", batch_size=32, images_per_second=9.1)
    base = f.healthy(("resnet50",), device="cpu", framework="all")
    result = replace(base, runs=(torch_run, keras_run), comparisons=())
    fig = draw_chart(result, Verdict(overall="pass", models=(), reasons=()))
    try:
        texts = _texts(fig)
        assert "4.1\nbatch 8" in texts and "9.1\nbatch 32" in texts, texts
        assert fig._suptitle.get_text().endswith("bars: images/s on the CPU, 2 threads")
    finally:
        plt.close(fig)
    # a GPU bar: its own batch, and its speedup at the batch the CPU ran
    fig = draw_chart(f.healthy(("resnet50",)))
    try:
        assert "1,500\nbatch 128\n20.0x at batch 32" in _texts(fig), _texts(fig)
    finally:
        plt.close(fig)
