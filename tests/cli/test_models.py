"""`gpudoctor models`: the table, JSON and Markdown forms, and no heavy imports."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gpudoctor.cli.models import human
from gpudoctor.refmodels import MODEL_NAMES, get_spec

ROOT = Path(__file__).resolve().parents[2]
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["models_schema"](strict=True)
PUBLISHED = json.loads((ROOT / "docs" / "models-schema.json").read_text(encoding="utf-8"))


def test_json_follows_the_strict_and_the_published_schema(cli):
    doc = json.loads(cli("models", "--format", "json").stdout)
    jsonschema.validate(doc, STRICT)
    jsonschema.validate(doc, PUBLISHED)
    doc["models"][0]["figures"] = "estimated"  # neither published nor computed
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PUBLISHED)


def test_json_lists_every_model_with_its_figures(cli):
    result = cli("models", "--format", "json")
    assert result.exit_code == 0, result
    records = json.loads(result.stdout)["models"]
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


def _check_layout(text):
    """At most 100 columns, no trailing spaces, and every model's figures on its row."""
    lines = text.splitlines()
    assert lines[0] == "Reference models (gpudoctor verify)"
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert all(line == line.rstrip() for line in lines)
    flat = " ".join(" ".join(lines).split())
    for name in MODEL_NAMES:
        spec = get_spec(name)
        row = next(line.split() for line in lines if line.startswith(f"{name} "))
        assert str(spec.year) in row and str(spec.depth) in row, row
        assert "×".join(map(str, spec.input_shape)) in row, row
        assert human(spec.macs).split()[0] in row, row
        assert f"paper: {spec.cite}; introduced: {spec.introduced}" in flat


@pytest.mark.parametrize("columns", ["40", "80", "250"])
def test_text_fits_100_columns_whatever_the_terminal_says(cli, columns):
    result = cli("models", env={"COLUMNS": columns})
    assert result.exit_code == 0, result
    _check_layout(result.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_text_on_an_80_column_terminal_keeps_every_column():
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    code = "import sys; from gpudoctor.cli import run; sys.exit(run(['models']))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the child has closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert "\x1b[1mlenet5\x1b[0m" in text  # bold names on a terminal
    _check_layout(re.sub(r"\x1b\[[0-9;]*m", "", text))


def test_narrow_encoding_is_not_a_crash():
    # what check does too: click writes UTF-8 where the stream claims ASCII
    code = "import sys; from gpudoctor.cli import run; sys.exit(run(['models']))"
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert b"UnicodeEncodeError" not in proc.stderr
    assert b"resnet152" in proc.stdout


def test_lenet5_figures_are_computed_and_say_so(cli):
    records = {r["name"]: r for r in json.loads(cli("models", "--format", "json").stdout)["models"]}
    lenet = records["lenet5"]
    assert (lenet["macs"], lenet["figures"]) == (416_520, "computed")
    assert lenet["source"].startswith("computed from the layer shapes")
    assert {r["figures"] for n, r in records.items() if n != "lenet5"} == {"published"}
    text = cli("models").stdout
    assert "416.5 k" in text
    assert "lenet5: parameters and MACs computed from the layer shapes" in text
    markdown = cli("models", "--format", "markdown").stdout
    assert "| 0.00041652 |" in markdown and "computed from the layer shapes" in markdown


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


def test_json_keys_are_sorted_as_in_every_other_document(cli):
    # models wrote its keys in the order built (schema_version, tool, ... name, title, year),
    # unlike check's, diff's and history's documents: two versions did not diff cleanly
    text = cli("models", "--format", "json").stdout
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert all(list(m) == sorted(m) for m in doc["models"])
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
