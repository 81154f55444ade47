"""--hardware in verify's text, Markdown, JSON and chart; older results still load."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gpudoctor.model.serialize import from_dict
from gpudoctor.verify.hwrender import burn_line, rows, size_text
from gpudoctor.verify.model import VerifyResult
from gpudoctor.verify.references import References
from gpudoctor.verify.render import render, to_document
from gpudoctor.verify.verdict import judge
from tests.conftest import have
from tests.verify import hwfactories as f
from tests.verify.factories import healthy as healthy_result


def both(hw=None):
    result = f.result(hw or f.healthy())
    return result, judge(result, References())


def test_size_text():
    assert [size_text(n) for n in (4096, 16 << 20, 1 << 30, 1000)] == [
        "4 KiB",
        "16 MiB",
        "1 GiB",
        "1000 B",
    ]


def test_rows_give_each_figure_its_floor_and_check():
    table = rows(f.healthy())
    assert table[0] == ("memory", f"cuda:0 {f.H100}", "1 GiB", "2,900", "–", "1905?", "ok")
    p2p = next(r for r in table if r[0] == "p2p")
    assert p2p[1] == "cuda:0 -> cuda:1 (nvlink)" and p2p[5] == "335?"
    ar = [r for r in table if r[0].startswith("allreduce")]
    assert ar[0][0] == "allreduce nccl x8" and ar[-1][4] == "480" and ar[-1][5] == "460?"
    assert ar[0][5] == "–"  # the floor is for the largest message
    slow = list(f.healthy().bandwidths)
    slow[0] = replace(slow[0], gbps=100.0)
    assert rows(f.healthy(bandwidths=tuple(slow)))[0][-1] == "below floor"


def test_burn_line_names_rate_mismatches_and_telemetry():
    line = burn_line(f.burn("cuda:2", mismatched_rounds=1))
    assert line.startswith(f"burn cuda:2 {f.H100}: 9 rounds in 60 s, 50.0 TFLOP/s median")
    assert "1 mismatched" in line and "max 70 °C" in line and "max 690 W" in line


def test_text_and_markdown_show_the_hardware_without_an_empty_models_table():
    result, verdict = both()
    text = render("text", result, verdict)
    assert "measurement" in text and "images/s" not in text
    assert "busbw = algbw x 2(n-1)/n" in text
    assert "hardware: memory, h2d, d2h, p2p, allreduce, burn 60 s on cuda; took 95 s" in text
    md = render("markdown", result, verdict)
    assert "### Hardware" in md and "| measurement |" in md and "| model |" not in md
    # no framework ran: the Markdown ended on an empty '### Environment' heading, and two
    # blank lines stood before '### Hardware'
    assert "### Environment" not in md and "\n\n\n" not in md
    assert md.startswith("## gpudoctor verify: ")


def test_json_holds_the_hardware_and_loads_back():
    result, verdict = both()
    doc = json.loads(render("json", result, verdict))
    hw = doc["hardware"]
    assert hw["version"] == 1 and hw["allreduce"]["points"][-1]["busbw_gbps"] == 480.0
    assert hw["floors"][0]["source"] == "DCGM"
    back = from_dict(
        VerifyResult,
        {k: doc[k] for k in ("settings", "hardware")}
        | {"settings": {k: v for k, v in doc["settings"].items() if k != "frameworks"}},
    )
    assert back.hardware == result.hardware


def test_a_result_written_before_hardware_existed_loads_with_none():
    result = healthy_result()
    doc = to_document(result, judge(result, References()))
    assert doc["hardware"] is None
    old = {k: v for k, v in json.loads(json.dumps(doc)).items() if k in ("settings", "cpu_count")}
    old["settings"].pop("frameworks")
    assert from_dict(VerifyResult, old).hardware is None


@pytest.mark.skipif(not have("matplotlib"), reason="matplotlib not installed")
def test_the_chart_is_a_png():
    from gpudoctor.verify.plot import render_png

    result, verdict = both()
    png = render_png(result, verdict)
    assert png.startswith(b"\x89PNG")


def test_the_settings_line_of_a_burn_alone_names_no_measurement_none():
    from gpudoctor.verify.hwrender import summary
    from gpudoctor.verify.model import HardwareResult, HardwareSettings

    hw = HardwareResult(settings=HardwareSettings(items=(), burn_s=5.0, device="cpu"))
    assert summary(hw) == "hardware: burn 5 s on cpu; took 0 s"


def test_the_settings_line_names_only_what_the_host_could_measure():
    from gpudoctor.model.hardware import AllReduce
    from gpudoctor.verify.hwrender import summary
    from gpudoctor.verify.model import Bandwidth, HardwareResult, HardwareSettings

    settings = HardwareSettings(items=("memory", "h2d", "allreduce"), device="all")
    host = HardwareResult(
        settings=settings,
        bandwidths=(Bandwidth(kind="memory", device="cpu", gbps=18.0),),
        allreduce=AllReduce(backend="gloo", world_size=2, device="cpu"),
        duration_s=8.0,
    )
    # --device all on a machine without a GPU: the host was measured, h2d left out
    assert summary(host) == "hardware: memory, allreduce on cpu (h2d needs a GPU); took 8 s"
    gpu = replace(host, bandwidths=(Bandwidth(kind="memory", device="cuda:0", gbps=2900.0),))
    assert summary(gpu).startswith("hardware: memory, h2d, allreduce on all;")


def test_the_settings_line_says_when_nothing_was_measured():
    # `verify --burn 5 --device cuda` without a GPU read "hardware: burn 5 s on cuda; took 2 s"
    # above its failure, as if the burn had run
    from gpudoctor.verify.hwrender import summary
    from gpudoctor.verify.model import HardwareResult, HardwareSettings

    hw = HardwareResult(
        settings=HardwareSettings(items=("p2p",), burn_s=5.0, device="cuda"),
        errors=("no GPU found (torch sees none): nothing was measured on cuda",),
        duration_s=2.0,
    )
    assert summary(hw) == "hardware: nothing measured (p2p, burn 5 s asked on cuda); took 2 s"


def test_a_day_long_burn_reads_with_its_thousands_grouped():
    # --burn 86400: "123456 rounds in 86400 s" and "burn 86400 s ...; took 86410 s"
    from gpudoctor.verify.hwrender import summary
    from gpudoctor.verify.model import HardwareResult, HardwareSettings

    line = burn_line(f.burn("cuda:0", rounds=123_456, seconds=86_400.0))
    assert ": 123,456 rounds in 86,400 s," in line, line
    hw = HardwareResult(settings=HardwareSettings(burn_s=86_400.0, device="cpu"), duration_s=86_410)
    assert summary(hw) == "hardware: burn 86,400 s on cpu; took 86,410 s"


@pytest.mark.skipif(not have("matplotlib"), reason="matplotlib not installed")
def test_the_burn_panel_puts_every_gpu_on_one_scale_from_zero_in_whole_rounds():
    # A GPU throttled to 0.8 TFLOP/s beside healthy ones at 50 was drawn as 800 on the
    # TFLOP/s axis (each line chose its own scale); a steady CPU at 240 to 247 GFLOP/s filled
    # the axis as a peak; rounds were ticked 1.25, 1.5.
    import matplotlib.pyplot as plt

    from gpudoctor.verify.hwplot import draw_hardware

    sick = f.burn("cuda:1", flops=(8.0e11,) * 9)
    hw = f.healthy(bandwidths=(), allreduce=None, burn=(f.burn("cuda:0"), sick))
    fig = draw_hardware(hw, "fail")
    try:
        (ax,) = fig.axes
        lines = {ln.get_label(): max(ln.get_ydata()) for ln in ax.get_lines()}
        assert lines == {"cuda:0": 50.0, "cuda:1": pytest.approx(0.8)}
        assert ax.get_ylabel() == "TFLOP/s"
        assert ax.get_ylim()[0] == 0
        assert all(float(t).is_integer() for t in ax.get_xticks())
    finally:
        plt.close(fig)
    cpu = f.healthy(
        bandwidths=(), allreduce=None, burn=(f.burn("cpu", flops=(2.41e11, 2.47e11, 2.40e11)),)
    )
    fig = draw_hardware(cpu, "pass")
    try:
        (ax,) = fig.axes
        assert ax.get_ylabel() == "GFLOP/s" and ax.get_ylim()[0] == 0
        assert all(float(t).is_integer() for t in ax.get_xticks())
    finally:
        plt.close(fig)
