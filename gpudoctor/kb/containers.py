"""How each container runtime is started with the host's GPU (containers.toml), checked on
load."""

from __future__ import annotations

from gpudoctor.datarows import ROWS, TEXT, Table, shape, sourced, tables
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb.records import GpuStart

FALLBACK_RUNTIME = "docker"
"""The row a runtime without its own is told (a container the probe could not name)."""


def gpu_starts(data: Table, name: str) -> tuple[GpuStart, ...]:
    """The ``[[gpu_start]]`` rows of ``name``: a runtime once each, a non-empty ``start``, and
    the fallback runtime among them."""
    tables(data, name, {"gpu_start": ROWS})
    rows: list[GpuStart] = []
    for i, row in enumerate(data.get("gpu_start", [])):
        where = f"{name} gpu_start[{i}]"
        shape(row, where, {"runtime": TEXT, "start": TEXT}, {"detail": TEXT})
        texts = {key: row.get(key, "") for key in ("runtime", "start", "detail")}
        for key, value in texts.items():
            if not isinstance(value, str) or (key != "detail" and not value.strip()):
                raise KnowledgeBaseError(f"{where}: {key} must be a non-empty string")
        if any(r.runtime == texts["runtime"] for r in rows):
            raise KnowledgeBaseError(f"{where}: runtime {texts['runtime']!r} is listed twice")
        rows.append(GpuStart(**texts, **sourced(row, where)))
    if rows and not any(r.runtime == FALLBACK_RUNTIME for r in rows):
        raise KnowledgeBaseError(f"{name}: no {FALLBACK_RUNTIME!r} row, which other runtimes get")
    return tuple(rows)
