"""uv really resolves and installs what make-env writes (the uv project and requirements.txt),
and pip resolves the requirements.txt, from stand-in wheels with the real names and versions
behind --torch-index-url: no download."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.envplan.wheelhouse import build_wheel, simple_index

UV = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
MACHINE = ("--driver", "580.95.05", "--cc", "8.6", "--torch", "2.9.1", "--python", PY)

pytestmark = pytest.mark.skipif(not Path(UV).exists(), reason="uv is in the test extra")


def _indexes(tmp: Path, plan: dict[str, object]) -> tuple[str, str]:
    """Stand-ins: the PyTorch index (per variant, as download.pytorch.org/whl/<variant>) and
    PyPI, which also has a torch of the same version that must not be taken."""
    (fw,) = plan["frameworks"]  # type: ignore[misc]
    variant, cudnn, cuda = fw["variant"], fw["cudnn"], fw["cuda"]
    cudnn_wheel = f"nvidia-cudnn-cu{cuda.split('.')[0]}"
    wheels = tmp / "wheels"
    torch_version = f"{fw['version']}+{variant}"
    vision = next(s for s in plan["pip"] if s.startswith("torchvision"))  # type: ignore[attr-defined]
    vision_version = vision.split("==")[1].replace("*", "1") + f"+{variant}"
    cudnn_dist = build_wheel(wheels / "pypi", cudnn_wheel, cudnn, marker="pypi")
    torch_index = [
        build_wheel(
            wheels / variant,
            "torch",
            torch_version,
            requires=(f"{cudnn_wheel}=={cudnn}",),
            marker=variant,
        ),
        build_wheel(
            wheels / variant,
            "torchvision",
            vision_version,
            requires=(f"torch=={torch_version}",),
            marker=variant,
        ),
        cudnn_dist,  # download.pytorch.org mirrors the nvidia wheels torch needs
    ]
    # a wrong variant beside it: the {variant} in the URL must pick the right one
    other = "cu126" if variant != "cu126" else "cu128"
    build_wheel(wheels / other, "torch", f"{fw['version']}+{other}", marker=other)
    simple_index(tmp / "pytorch" / other, [wheels / other / os.listdir(wheels / other)[0]])
    torch_url = simple_index(tmp / "pytorch" / variant, torch_index)
    pypi = [cudnn_dist, build_wheel(wheels / "pypi", "torch", str(fw["version"]), marker="pypi")]
    pypi_url = simple_index(tmp / "pypi", pypi)
    assert torch_url.endswith(f"/pytorch/{variant}")
    return torch_url.rsplit("/", 1)[0] + "/{variant}", pypi_url


def _uv(tmp: Path, *args: str, pypi: str | None) -> subprocess.CompletedProcess[str]:
    """uv offline with its own cache; ``pypi`` stands in for PyPI (None: the file's indexes
    alone, as a command-line index would override a requirements file's)."""
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
        "UV_OFFLINE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_DEFAULT_INDEX", None)
    env.pop("UV_INDEX_URL", None)
    if pypi is not None:
        env["UV_DEFAULT_INDEX"] = pypi
    return subprocess.run(
        [UV, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _installed(venv: Path) -> dict[str, str]:
    """package -> the index its module says it came from."""
    site = next(venv.glob("lib/python*/site-packages"))
    found = {}
    for module in ("torch", "torchvision", "nvidia_cudnn_cu12", "nvidia_cudnn_cu13"):
        init = site / module / "__init__.py"
        if init.exists():
            scope: dict[str, str] = {}
            exec(init.read_text(), scope)  # noqa: S102 - our own stand-in module
            found[module] = f"{scope['__version__']} from {scope['FROM']}"
    return found


def test_uv_sync_installs_the_planned_builds(cli: Cli, tmp_path: Path) -> None:
    plan = json.loads(cli("make-env", *MACHINE, "--format", "json").stdout)
    (fw,) = plan["frameworks"]
    mirror, pypi = _indexes(tmp_path, plan)
    project = tmp_path / "env"
    project.mkdir()
    result = cli(
        "make-env", *MACHINE, "--torch-index-url", mirror, "-o", str(project / "pyproject.toml")
    )
    assert result.exit_code == 0, result
    done = _uv(tmp_path, "sync", "--project", str(project), "--python", sys.executable, pypi=pypi)
    assert done.returncode == 0, done.stderr
    found = _installed(project / ".venv")
    variant = fw["variant"]
    assert found["torch"] == f"{fw['version']}+{variant} from {variant}", found
    assert found["torchvision"].endswith(f"+{variant} from {variant}"), found
    # torch's own dependency came from PyPI (the explicit index serves only torch, torchvision)
    assert any(v == f"{fw['cudnn']} from pypi" for k, v in found.items() if "cudnn" in k)
    assert (project / "uv.lock").exists()


def test_uv_pip_installs_the_requirements_file(cli: Cli, tmp_path: Path) -> None:
    plan = json.loads(cli("make-env", *MACHINE, "--format", "json").stdout)
    (fw,) = plan["frameworks"]
    mirror, _ = _indexes(tmp_path, plan)
    req = tmp_path / "requirements.txt"
    result = cli("make-env", *MACHINE, "--torch-index-url", mirror, "-o", str(req))
    assert result.exit_code == 0, result
    venv = tmp_path / "venv"
    made = _uv(tmp_path, "venv", str(venv), "--python", sys.executable, pypi=None)
    assert made.returncode == 0, made.stderr
    done = _uv(tmp_path, "pip", "install", "--python", str(venv), "-r", str(req), pypi=None)
    assert done.returncode == 0, done.stderr
    found = _installed(venv)
    # --index-url replaces PyPI for pip: everything comes from the (mirrored) PyTorch index
    assert found["torch"] == f"{fw['version']}+{fw['variant']} from {fw['variant']}", found


def test_uv_pip_installs_the_project_file_too(cli: Cli, tmp_path: Path) -> None:
    # `uv pip install -r pyproject.toml` reads [tool.uv.sources] and the explicit index as well
    plan = json.loads(cli("make-env", *MACHINE, "--format", "json").stdout)
    (fw,) = plan["frameworks"]
    mirror, pypi = _indexes(tmp_path, plan)
    project = tmp_path / "env"
    project.mkdir()
    made = cli(
        "make-env", *MACHINE, "--torch-index-url", mirror, "-o", str(project / "pyproject.toml")
    )
    assert made.exit_code == 0, made
    venv = tmp_path / "venv"
    assert _uv(tmp_path, "venv", str(venv), "--python", sys.executable, pypi=None).returncode == 0
    done = _uv(
        tmp_path,
        "pip",
        "install",
        "--python",
        str(venv),
        "-r",
        str(project / "pyproject.toml"),
        pypi=pypi,
    )
    assert done.returncode == 0, done.stderr
    found = _installed(venv)
    assert found["torch"] == f"{fw['version']}+{fw['variant']} from {fw['variant']}", found
    assert any(v == f"{fw['cudnn']} from pypi" for k, v in found.items() if "cudnn" in k)


def test_pip_resolves_the_requirements_file(cli: Cli, tmp_path: Path) -> None:
    # pip itself (a dry run: what it would install, and from where)
    plan = json.loads(cli("make-env", *MACHINE, "--format", "json").stdout)
    (fw,) = plan["frameworks"]
    mirror, _ = _indexes(tmp_path, plan)
    req = tmp_path / "requirements.txt"
    assert cli("make-env", *MACHINE, "--torch-index-url", mirror, "-o", str(req)).exit_code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--no-cache-dir", "--report", "-", "-r", str(req)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    chosen = {
        item["metadata"]["name"]: (item["metadata"]["version"], item["download_info"]["url"])
        for item in json.loads(done.stdout)["install"]
    }
    version, url = chosen["torch"]
    assert version == f"{fw['version']}+{fw['variant']}"
    assert f"/wheels/{fw['variant']}/" in url, url
