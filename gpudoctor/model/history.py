"""A kept report as the history lists it: when, what kind, its verdict and a summary line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Summary:
    """What ``gpudoctor history`` lists of an entry without reading its document again."""

    driver: str | None = None
    """A check's driver version (NVML's, else the kernel module's); null for a verify result
    and where neither was read."""
    frameworks: tuple[str, ...] = ()
    """A check's frameworks, each its name and build (``torch 2.13.0+cu130 (CUDA 13.0, cuDNN
    9.19.0)``); empty for a verify result."""
    throughput: str | None = None
    """A verify result's headline throughput (``resnet50 torch cuda:0 fp32 3,549 img/s``);
    null for a check."""


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One kept report."""

    name: str
    """The file name in the history folder."""
    kind: str
    """``check`` or ``verify``."""
    created_at: str
    verdict: str
    good: bool
    """Its verdict was not an error (check: no error finding; verify: pass or warn)."""
    machine: str | None = None
    summary: Summary = Summary()
    document: dict[str, Any] | None = None
    """The report or verify result, when read (listing leaves it out)."""


@dataclass(frozen=True, kw_only=True)
class HistoryListing:
    """What ``gpudoctor history`` shows: the folder, its entries newest first, what is odd."""

    folder: str
    entries: tuple[Entry, ...] = ()
    last_good: tuple[str, ...] = ()
    """File names of the entries marked last good (one per kind at most)."""
    problems: tuple[str, ...] = ()
    """One line per file in the folder that is not a readable entry."""
    enabled: bool = True
    """False when GPUDOCTOR_NO_HISTORY turns keeping off (the listing still shows the folder)."""
