"""Shared fixtures: a CLI harness that keeps stdout and stderr apart, and test data paths."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from gpudoctor.cli import run

if TYPE_CHECKING:
    from tests.fleet.conftest import SlurmCluster

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@dataclass(frozen=True)
class CliResult:
    """What one CLI invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Cli:
    """Runs ``gpudoctor ARGS`` in-process, as the console script does, exit status included."""

    def __call__(
        self, *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
    ) -> CliResult:
        runner = CliRunner()
        with runner.isolation(input=input, env=env) as streams:
            code = run(list(args))
            out, err = streams[0].getvalue(), streams[1].getvalue()
        return CliResult(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def resize_terminal(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Make the terminal ``width`` columns wide, as rich reads it at each redraw of a live line
    (COLUMNS unset: set, rich takes it once and never looks at the terminal again)."""
    import os

    def resize(width: int) -> None:
        monkeypatch.delenv("COLUMNS", raising=False)
        monkeypatch.setattr(os, "get_terminal_size", lambda fd=0: os.terminal_size((width, 24)))

    return resize


def have(module: str) -> bool:
    """True when ``module`` can be imported (checked without importing it)."""
    return importlib.util.find_spec(module) is not None


def have_gpu() -> bool:
    """True on a machine with an NVIDIA driver loaded (the real-GPU tests run only there)."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_gpu = pytest.mark.skip(reason="no NVIDIA GPU on this machine")
    skip_torch = pytest.mark.skip(reason="PyTorch is not installed")
    skip_tf = pytest.mark.skip(reason="TensorFlow is not installed")
    gpu, torch, tf = have_gpu(), have("torch"), have("tensorflow")
    for item in items:
        if "gpu" in item.keywords and not gpu:
            item.add_marker(skip_gpu)
        if "torch" in item.keywords and not torch:
            item.add_marker(skip_torch)
        if "tensorflow" in item.keywords and not tf:
            item.add_marker(skip_tf)


_REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def _state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-state")


_STATE_COUNT = [0]


@pytest.fixture(autouse=True)
def _private_history(monkeypatch: pytest.MonkeyPatch, _state_root: Path) -> Path:
    """Every test keeps check's and verify's history in a folder of its own, never in the real
    user's ~/.local/state (made only when a test keeps something)."""
    _STATE_COUNT[0] += 1
    state = _state_root / str(_STATE_COUNT[0])
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.delenv("GPUDOCTOR_HISTORY_DIR", raising=False)
    monkeypatch.delenv("GPUDOCTOR_NO_HISTORY", raising=False)
    return state / "gpudoctor" / "history"


@pytest.fixture(autouse=True, scope="session")
def _the_checkout_stays_clean() -> object:
    """No test leaves a file at the top of the checkout (a make-env without -o or --stdout
    writes environment.yml into the working folder; one such file once got committed)."""
    before = {p.name for p in _REPO.iterdir()}
    yield
    # the tools' own caches (.pytest_cache, .hypothesis) are dot-folders git ignores
    left = sorted(n for n in {p.name for p in _REPO.iterdir()} - before if not n.startswith("."))
    assert left == [], f"tests left {left} at the top of the checkout"


@pytest.fixture(autouse=True)
def _children_allowed_again() -> object:
    """A test that interrupts a command (Ctrl-C, SIGTERM) leaves runcmd refusing new children,
    as a real exiting gpudoctor should; the next test in the same process must start clean
    (tests/cli/test_verify.py's Ctrl-C test made later SLURM and verify tests fail)."""
    yield
    from gpudoctor.probe import runcmd

    runcmd.allow_children()


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A three-node cluster (n1..n3, partition ``gpu``) for the whole session, always torn
    down: one for every folder (a module's own cluster is one more start and stop)."""
    from tests.fleet.conftest import running_cluster, why_no_slurm

    reason = why_no_slurm()
    if reason is not None:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _restore_slurm_cluster(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the cluster: nodes idle, slurmd running, no jobs left."""
    if "slurm_cluster" not in request.fixturenames:
        yield
        return
    cluster: SlurmCluster = request.getfixturevalue("slurm_cluster")
    yield
    cluster.restore()
