"""The knowledge base: compatibility facts kept as dated, sourced TOML files, with typed queries.

``load()`` (cached) reads ``gpudoctor/kb/data/*.toml`` into a :class:`KnowledgeBase`; its queries
are listed in :mod:`gpudoctor.kb.knowledge` and in docs/knowledge-base.md:

    kb = load()
    kb.cuda_support("535.104.05", "12.6", "linux").level        # "minor_compat"
    kb.max_cuda_for_driver("535.104.05", "linux")               # "12.2"
    kb.arch_coverage("6.1", ["sm_50", "sm_60", "sm_70"]).kind   # "sass"
    kb.torch_release("2.9.1").variant("cu126").cudnn            # "9.10.2.21"
    kb.python_supported("tensorflow", "2.21", "3.14")           # False
    kb.min_driver_for_cc("12.0", "linux")                       # "570"
    kb.driver_drops_cc("590.48.01", "6.1").branch                # 580
    kb.pci_range("2b85").kernel_module                          # "open"
"""

from __future__ import annotations

import functools

from gpudoctor.kb.arch import ArchCoverage
from gpudoctor.kb.knowledge import KnowledgeBase
from gpudoctor.kb.records import (
    ArchDriver,
    Architecture,
    CudaSupport,
    CudaTargets,
    FrameworkRelease,
    LastBranch,
    NumpyLimit,
    PciRange,
    TensorflowRelease,
    TorchRelease,
    Variant,
)


@functools.cache
def load() -> KnowledgeBase:
    """The knowledge base shipped with gpudoctor, read once per process."""
    from gpudoctor.kb import loader

    return loader.load_dir(loader.DATA_DIR)


__all__ = [
    "ArchCoverage",
    "ArchDriver",
    "Architecture",
    "CudaSupport",
    "CudaTargets",
    "FrameworkRelease",
    "KnowledgeBase",
    "LastBranch",
    "NumpyLimit",
    "PciRange",
    "TensorflowRelease",
    "TorchRelease",
    "Variant",
    "load",
]
