"""Every command's JSON as a script reads it: a real process, stdout and stderr apart (no
terminal), stdout one document and nothing else, its schema where one is published, what wrote
it, its times in one form, and an exit status that says what the document says.

The conventions tested here are docs/report-format.md's "Every JSON document".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "tests" / "data" / "reports"
INFO = REPORTS / "linux-x86_64__nvidia-h200__590.48.01__idle.json"
WARNING = REPORTS / "failure__torch_compile_no_c_compiler.json"
ERROR = REPORTS / "failure__driver_library_mismatch.json"
LOST = REPORTS / "failure__one_gpu_lost.json"
UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
"""The one form of a time in every document (jq's fromdateiso8601 reads exactly this)."""


def _schema(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "docs" / name).read_text(encoding="utf-8"))


def _times(doc: Any) -> Iterator[tuple[str, str]]:
    """Every (key, value) that is a time: keys ending in _at, and `when`."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, str) and (key.endswith("_at") or key == "when"):
                yield key, value
            yield from _times(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _times(value)


def unsorted_objects(text: str) -> list[list[str]]:
    """The key lists of every object in the JSON ``text`` whose keys are not in sorted order
    (docs/report-format.md: keys are sorted in every document, at every level)."""
    found: list[list[str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if keys != sorted(keys):
            found.append(keys)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUDOCTOR_")}
    env.update(PYTHONPATH=str(ROOT), GPUDOCTOR_NO_HISTORY="1", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "gpudoctor", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def _fleet(folder: Path) -> Path:
    for node, report in (("n1", INFO), ("n2", LOST)):
        shutil.copy(report, folder / f"{node}.json")
    return folder


# (id, argv given the scratch folder, the tool it names, its published schema, the exit
# status the document calls for)
Case = tuple[
    str,
    Callable[[Path], list[str]],
    str,
    str | None,
    Callable[[Any], int],
]


def _check_exit(doc: Any) -> int:
    return 1 if doc["verdict"] == "error" else 0


CASES: list[Case] = [
    (
        "check-info",
        lambda _: ["check", "--from-report", str(INFO), "--format", "json"],
        "gpudoctor check",
        "report-schema.json",
        _check_exit,
    ),
    (
        "check-error",
        lambda _: ["check", "--from-report", str(ERROR), "-o", "-", "--format", "json"],
        "gpudoctor check",
        "report-schema.json",
        _check_exit,
    ),
    (
        "check-warning-strict",
        lambda _: ["check", "--from-report", str(WARNING), "--format", "json", "--strict"],
        "gpudoctor check",
        "report-schema.json",
        lambda d: 1 if d["verdict"] in ("warning", "error") else 0,
    ),
    (
        "health-ok",
        lambda _: ["check", "--health-check", "--from-report", str(INFO), "--format", "json"],
        "gpudoctor health",
        "health-schema.json",
        lambda d: 0 if d["healthy"] else 1,
    ),
    (
        "health-lost",
        lambda _: ["check", "--health-check", "--from-report", str(LOST), "--format", "json"],
        "gpudoctor health",
        "health-schema.json",
        lambda d: 0 if d["healthy"] else 1,
    ),
    (
        "diff-changed",
        lambda _: ["diff", str(INFO), str(ERROR), "--format", "json"],
        "gpudoctor diff",
        "diff-schema.json",
        lambda d: 1 if d["changed"] else 0,
    ),
    (
        "diff-same",
        lambda _: ["diff", str(INFO), str(INFO), "-o", "-", "--format", "json"],
        "gpudoctor diff",
        "diff-schema.json",
        lambda d: 1 if d["changed"] else 0,
    ),
    (
        "fleet-report",
        lambda tmp: ["fleet", "report", str(_fleet(tmp)), "--format", "json"],
        "gpudoctor fleet report",
        "fleet-schema.json",
        lambda d: 0 if d["healthy"] else 1,
    ),
    (
        "history",
        lambda tmp: ["history", "--history-dir", str(tmp), "--format", "json"],
        "gpudoctor history",
        "history-schema.json",
        lambda _: 0,
    ),
    (
        "explain",
        lambda _: ["explain", "[GD-TORCH-004]", "--format", "json"],
        "gpudoctor explain",
        "explain-schema.json",
        lambda _: 0,
    ),
    (
        "make-env",
        lambda _: ["make-env", "--driver", "580.95.05", "--cc", "9.0", "--format", "json"],
        "gpudoctor make-env",
        "make-env-schema.json",
        lambda _: 0,
    ),
]


@pytest.mark.parametrize(
    ("argv", "tool", "schema", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_stdout_is_one_document_that_says_what_it_is_and_the_exit_status_agrees(
    tmp_path: Path,
    argv: Callable[[Path], list[str]],
    tool: str,
    schema: str | None,
    status: Callable[[Any], int],
) -> None:
    done = _run(*argv(tmp_path), cwd=tmp_path)
    assert done.stdout.endswith("}\n"), (done.stdout[-200:], done.stderr)
    doc = json.loads(done.stdout)  # the whole of stdout: one document, nothing before or after
    assert isinstance(doc, dict)
    assert isinstance(doc["schema_version"], int) and doc["schema_version"] >= 1
    assert doc.get("tool") == tool
    assert isinstance(doc["gpudoctor_version"], str)
    if schema is not None:
        jsonschema.validate(doc, _schema(schema))
    for key, value in _times(doc):
        assert UTC.fullmatch(value), (key, value)
    assert done.returncode == status(doc), (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    # explain, make-env and the fleet report wrote their keys in the order the code built
    # them, check's report and diff sorted: now every document sorts them, but the health
    # gate, whose order docs/fleet.md gives (what wrote it and when first)
    if tool != "gpudoctor health":
        assert unsorted_objects(done.stdout) == []


def test_models_says_what_it_is_and_lists_the_catalogue(tmp_path: Path) -> None:
    # an object as every other document (it was a bare list, with no schema_version or tool,
    # until 2026-12-08); `jq -r '.models[].name'` gives the names `verify --models` takes
    done = _run("models", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    doc = json.loads(done.stdout)
    assert isinstance(doc, dict)
    assert (doc["schema_version"], doc["tool"]) == (1, "gpudoctor models")
    assert isinstance(doc["gpudoctor_version"], str)
    assert [m["name"] for m in doc["models"]][:2] == ["lenet5", "alexnet"]
    jsonschema.validate(doc, _schema("models-schema.json"))


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--from-report", "{missing}", "--format", "json"),
        ("check", "--health-check", "--from-report", "{truncated}", "--format", "json"),
        ("diff", "{truncated}", str(INFO), "--format", "json"),
        ("fleet", "report", "{empty}", "--format", "json"),
        ("history", "--history-dir", "{missing}", "--format", "json"),
        ("make-env", "--driver", "580.95.05", "--format", "json"),
        ("models", "--format", "yaml"),
        ("verify", "--models", "nope", "--format", "json"),
    ],
    ids=["check", "health", "diff", "fleet", "history", "make-env", "models", "verify"],
)
def test_bad_input_leaves_stdout_empty_and_says_one_line(tmp_path: Path, args: tuple[str, ...]):
    (tmp_path / "truncated.json").write_text('{"schema_version": 1, "host": ', encoding="utf-8")
    (tmp_path / "empty").mkdir()
    names = {
        k: str(tmp_path / n)
        for k, n in (("missing", "missing"), ("truncated", "truncated.json"), ("empty", "empty"))
    }
    done = _run(*(a.format(**names) for a in args), cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
