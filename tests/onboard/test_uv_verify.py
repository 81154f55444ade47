"""The real verify inside an environment real uv made offline: what onboard's verify step runs.

onboard's own end-to-end tests install stand-in torch wheels (a real torch wheel is hundreds
of megabytes), so their verify is a stand-in too. Here real uv makes the environment offline,
the test run's own CPU torch, numpy and this checkout are put on its path with a ``.pth`` file
(what an install would have put there, without a network), and the real `gpudoctor verify
--quick --device cpu` runs inside it with the command line onboard's verify step uses
(``python -I -m gpudoctor``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.onboard.standins import uv_offline_env

pytestmark = [pytest.mark.slow, pytest.mark.torch]

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))


def test_verify_quick_on_the_cpu_runs_inside_a_uv_environment(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("numpy")
    if not Path(UV).exists():
        pytest.skip("uv is in the test extra")
    env = {**os.environ}
    for key, value in uv_offline_env(tmp_path, "file:///nonexistent", sys.executable).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    prefix = tmp_path / "gpudoctor-env" / ".venv"
    made = subprocess.run(
        [UV, "venv", "--python", sys.executable, str(prefix)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    python = prefix / "bin" / "python"
    assert python.exists()
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]  # the test run's torch and numpy
    (Path(purelib) / "standin-install.pth").write_text(f"{ours}\n{ROOT}\n")
    out = tmp_path / "verify.json"
    done = subprocess.run(
        [str(python), "-I", "-m", "gpudoctor", "verify", "--quick", "--device", "cpu",
         "--framework", "torch", "--models", "lenet5", "--format", "json", "-o", str(out)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    # a wrong answer fails; a busy CI machine may only make the timing noisy (a warning)
    assert result["verdict"] in ("pass", "warn"), result["reasons"]
    assert [r for r in result["reasons"] if r["level"] == "fail"] == []
    runs = [r for r in result["runs"] if r.get("status", "ok") == "ok"]
    assert runs and all(r["device"] == "cpu" and r["framework"] == "torch" for r in runs)
    assert all(r["images_per_second"] > 0 for r in runs if r.get("images_per_second"))
    # it ran in the new environment: that environment's interpreter, not the test's
    probe = subprocess.run(
        [str(python), "-I", "-c", "import sys; print(sys.prefix)"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert Path(probe.stdout.strip()) == prefix
