"""The planner's data: what was asked (Request) and what make-env writes (Plan, its pins)."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.envplan.target import Target

SOURCES = ("pip", "conda-forge")
FRAMEWORK_CHOICES = ("torch", "tensorflow", "both")


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the user asked make-env for."""

    frameworks: tuple[str, ...] = ("torch",)
    python: str | None = None
    torch: str | None = None
    tensorflow: str | None = None
    source: str = "pip"
    cpu: bool = False
    name: str | None = None
    torch_index_url: str | None = None
    """A mirror of the PyTorch wheel index (``--torch-index-url``); ``{variant}`` in it becomes
    the build's tag (``cu126``)."""

    def version(self, framework: str) -> str | None:
        """The version pinned for ``framework``, if any."""
        return self.torch if framework == "torch" else self.tensorflow


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One line of the environment file and why it is there."""

    spec: str
    reason: str
    index: str | None = None
    """The wheel index this pip package must come from (PyTorch's), None for PyPI or conda."""


@dataclass(frozen=True, kw_only=True)
class FrameworkPlan:
    """The build chosen for one framework."""

    name: str
    version: str
    """The exact version asked for (``--torch 2.9.0``), else the newest known patch release
    (``2.9.1``), else the series (``2.14``)."""
    cuda: str | None
    cudnn: str | None
    source: str
    variant: str
    index_url: str | None
    driver_support: str | None
    """``full``, ``minor_compat``, or None for a CPU build."""
    gpu_coverage: str | None
    """``sass``, ``ptx_jit``, ``unknown``, or None for a CPU build."""
    coverage_entry: str | None
    verified: bool
    data_source: str
    as_of: str


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything make-env writes: the environment and the reasons behind it."""

    name: str
    python: str
    target: Target
    target_text: str
    frameworks: tuple[FrameworkPlan, ...]
    channels: tuple[str, ...]
    conda: tuple[Pin, ...]
    pip: tuple[Pin, ...]
    pip_options: tuple[str, ...]
    warnings: tuple[str, ...]
    reasons: tuple[str, ...]
    as_of: str
    command: str
    """The make-env command line that regenerates this plan on any machine."""
    driver_cuda: str | None = None
    """The newest CUDA the target's driver runs fully (conda's ``__cuda``), None without one."""
