"""`gpudoctor models`: the table, JSON and Markdown forms, and no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gpudoctor.refmodels import MODEL_NAMES, get_spec


def test_json_lists_every_model_with_its_figures(cli):
    result = cli("models", "--format", "json")
    assert result.exit_code == 0, result
    records = json.loads(result.stdout)
    assert [r["name"] for r in records] == list(MODEL_NAMES)
    by_name = {r["name"]: r for r in records}
    assert by_name["resnet50"]["params"] == 25_557_032
    assert by_name["vgg16"]["input_shape"] == [224, 224, 3]
    assert by_name["inception_v3"]["params_with_aux"] == 27_161_264
    for record in records:
        spec = get_spec(record["name"])
        assert record["macs"] == spec.macs
        assert record["depth"] == spec.depth
        assert record["year"] == spec.year
        assert record["paper"] and record["introduced"]


def test_text_table_without_a_terminal_has_no_colour(cli):
    result = cli("models")
    assert result.exit_code == 0, result
    assert "\x1b[" not in result.stdout
    for name in MODEL_NAMES:
        assert name in result.stdout
    assert "residual connections" in result.stdout
    assert "138.4 M" in result.stdout  # VGG-16's parameters
    assert "15.47 G" in result.stdout  # VGG-16's MACs
    assert "299×299×3" in result.stdout


def test_markdown_has_a_row_per_model(cli):
    result = cli("models", "--format", "markdown")
    assert result.exit_code == 0, result
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(MODEL_NAMES)
    assert "| `resnet152` | 2015 |" in result.stdout
    assert "60,192,808" in result.stdout
    assert "27,161,264" in result.stdout


def test_bad_format_is_a_usage_error(cli):
    result = cli("models", "--format", "yaml")
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_models_imports_no_framework(fmt):
    code = (
        "import sys; from gpudoctor.cli import run;"
        f"code = run(['models', '--format', '{fmt}']);"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras', 'numpy') if m in sys.modules];"
        "print(heavy, file=sys.stderr); sys.exit(1 if heavy or code else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
