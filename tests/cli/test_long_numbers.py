"""A version with a part longer than int() converts (4,300 digits) is bad input, never exit 3.

packaging's Version() and the major.minor parser call int() on each part: a 5,000-digit part
raised ValueError (not InvalidVersion), which reached the top as "internal error", exit 3.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, Cli

LONG = "9" * 5000
TARGET = ("--driver", "535.104.05", "--cc", "8.0")
H100 = DATA / "reports" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.json"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--torch", LONG), "is not like 2.9 or 2.9.1"),
        (("--python", f"3.{LONG}"), "is not like 3.12"),
        (("--python", f"{LONG}.12"), "is not like 3.12"),
    ],
)
def test_make_env_refuses_a_huge_version_part(cli: Cli, args, message) -> None:
    result = cli("make-env", *TARGET, *args, "--stdout")
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1 and message in result.stderr, result


@pytest.mark.parametrize("field", ["python_version", "version"])
def test_a_report_with_a_huge_framework_version_is_diagnosed(cli: Cli, field: str) -> None:
    doc = json.loads(H100.read_text())
    doc["frameworks"][0][field] = LONG
    result = cli("check", "--from-report", "-", "--format", "json", input=json.dumps(doc))
    assert result.exit_code in (0, 1), result
    json.loads(result.stdout)
