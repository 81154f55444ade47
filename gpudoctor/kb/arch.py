"""Whether a build's arch list runs on a GPU: SASS of the same major, PTX JIT, Jetson exceptions.

The rule is PyTorch's ``DEVICE_REQUIREMENT`` (torch/cuda/__init__.py) and the comment above
``HERMETIC_CUDA_COMPUTE_CAPABILITIES`` in TensorFlow's .bazelrc: ``sm_XY`` runs on GPUs of
major X with minor >= Y; ``compute_XY`` (PTX) is JIT-compiled by the driver onto any GPU with
CC >= X.Y; arch-specific ``sm_90a`` runs only on 9.0; integrated (Jetson) GPUs run only code
built for their own CC, and their code runs nowhere else.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gpudoctor.errors import BadInputError
from gpudoctor.model.versions import cc_text, parse_cc

CoverageKind = Literal["sass", "ptx_jit", "none", "unknown"]

_ENTRY = re.compile(r"^(sm|compute|lto)_(\d{2,3})([af]?)$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d)([af]?)(\+ptx)?$")
_BARE = re.compile(r"^(\d{2,3})([af]?)(\+ptx)?$")


@dataclass(frozen=True, kw_only=True)
class ArchCoverage:
    """How a GPU is covered by an arch list."""

    kind: CoverageKind
    """``sass`` (native code), ``ptx_jit`` (only PTX, compiled at first use), ``none`` or
    ``unknown`` (the list was empty or unreadable)."""
    matched: str | None = None
    """The arch-list entry that covers the GPU, as written in the list."""


@dataclass(frozen=True)
class ArchEntry:
    """One arch-list entry, normalised."""

    cc: tuple[int, int]
    ptx: bool
    suffix: str
    """``a`` (arch-specific, exact CC only), ``f`` (family: same major) or empty."""
    text: str


@functools.lru_cache(maxsize=1024)  # a fleet's builds share their arch lists
def parse_entry(text: str) -> tuple[ArchEntry, ...]:
    """``sm_86``, ``compute_90``, ``8.6``, ``86``, ``8.6+PTX`` or ``sm_90a`` as entries.

    ``8.6+PTX`` yields two entries (SASS and PTX); text that is no arch yields none.
    """
    value = text.strip().lower()
    match = _ENTRY.match(value)
    if match:
        digits = match.group(2)
        cc = (int(digits[:-1]), int(digits[-1]))
        return (ArchEntry(cc, match.group(1) == "compute", match.group(3), text.strip()),)
    dotted = _DOTTED.match(value)
    if dotted:
        cc = (int(dotted.group(1)), int(dotted.group(2)))
        suffix, ptx = dotted.group(3), bool(dotted.group(4))
    else:
        bare = _BARE.match(value)
        if not bare:
            return ()
        cc = (int(bare.group(1)[:-1]), int(bare.group(1)[-1]))
        suffix, ptx = bare.group(2), bool(bare.group(3))
    sass = ArchEntry(cc, False, suffix, text.strip())
    return (sass, ArchEntry(cc, True, suffix, text.strip())) if ptx else (sass,)


def _rename(cc: tuple[int, int], renamed: Mapping[str, str]) -> tuple[int, int]:
    new = renamed.get(cc_text(cc))
    return parse_cc(new) if new else cc


def coverage(
    cc: str,
    arch_list: Sequence[str],
    *,
    igpu_ccs: Collection[str],
    renamed: Mapping[str, str],
) -> ArchCoverage:
    """The best coverage of GPU ``cc`` by ``arch_list`` (SASS beats PTX, higher beats lower)."""
    try:
        device = _rename(parse_cc(cc), renamed)
    except BadInputError:
        raise BadInputError(f"compute capability {cc!r} is not like 8.6") from None
    entries = [e for text in arch_list for e in parse_entry(text)]
    if not entries:
        return ArchCoverage(kind="unknown")
    igpus = {parse_cc(x) for x in igpu_ccs}
    device_igpu = device in igpus
    best_sass: ArchEntry | None = None
    best_ptx: ArchEntry | None = None
    for raw in entries:
        entry = ArchEntry(_rename(raw.cc, renamed), raw.ptx, raw.suffix, raw.text)
        if device_igpu or entry.cc in igpus or entry.suffix == "a":
            fits = entry.cc == device
        elif entry.ptx:
            fits = entry.cc <= device
        else:
            fits = entry.cc[0] == device[0] and entry.cc[1] <= device[1]
        if not fits:
            continue
        if entry.ptx:
            if best_ptx is None or entry.cc > best_ptx.cc:
                best_ptx = entry
        elif best_sass is None or entry.cc > best_sass.cc:
            best_sass = entry
    if best_sass is not None:
        return ArchCoverage(kind="sass", matched=best_sass.text)
    if best_ptx is not None:
        return ArchCoverage(kind="ptx_jit", matched=best_ptx.text)
    return ArchCoverage(kind="none")
