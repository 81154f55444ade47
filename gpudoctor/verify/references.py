"""The reference figures verify judges against, read from verify/data/*.toml and checked on load."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gpudoctor.datarows import (
    FLAG,
    NUMBER,
    ROWS,
    TEXT,
    WHOLE,
    Fields,
    Table,
    located,
    read,
    shape,
    sourced,
    tables,
)
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.refmodels import MODEL_NAMES
from gpudoctor.verify.model import FRAMEWORKS, MODES, PRECISIONS


@dataclass(frozen=True, kw_only=True)
class Band:
    """The fraction of measured peak a healthy GPU reaches on one model and precision class."""

    model: str
    precision_class: str
    """``fp32`` (CUDA cores) or ``tensor`` (TF32 and AMP)."""
    low: float
    high: float
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class Fingerprint:
    """A model's throughput over ResNet-50's on the same GPU."""

    model: str
    ratio: float
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class Expected:
    """A recorded healthy figure for one GPU model and configuration."""

    gpu: str
    framework: str
    model: str
    mode: str
    precision: str
    batch_size: int
    images_per_second: float
    verified: bool
    source: str
    layout: str = ""
    """The run's memory layout (``nchw``, ``channels_last``, ``nhwc``); a row is compared only
    with runs in the same layout (channels-last is up to 1.5x faster under AMP)."""


@dataclass(frozen=True, kw_only=True)
class Datasheet:
    """A GPU model's dense peak in one precision, as its vendor's datasheet gives it."""

    gpu: str
    precision: str
    tflops: float
    verified: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class Floor:
    """The least a healthy GPU model measures in one hardware measurement (GB/s)."""

    gpu: str
    kind: str
    """``memory``, ``h2d``, ``d2h``, ``p2p`` or ``allreduce`` (bus bandwidth)."""
    gbps: float
    verified: bool
    source: str
    gpus: int = 0
    """``allreduce``: the number of GPUs the floor was set for (0 for the others)."""
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Published:
    """A vendor's published training throughput for one GPU model (published_training.toml).

    Shown beside a matching run for information only: the vendor measures with its own
    recipe (real data through its loader, its batch, a tuned container), not verify's.
    """

    gpu: str
    """The GPU model as NVML names it (``NVIDIA A100-SXM4-80GB``)."""
    framework: str
    model: str
    mode: str
    precision: str
    """What the vendor ran: ``amp-fp16`` (mixed precision with loss scaling), ``tf32``..."""
    gpus: int
    """How many GPUs the published figure was taken on."""
    batch_size: int
    """Per GPU."""
    total_images_per_second: float
    """The figure as published, over all ``gpus``."""
    conditions: str
    """What the vendor's run had that verify's has not (container, data loader, layout)."""
    verified: bool
    source: str

    @property
    def images_per_second(self) -> float:
        """Per GPU: the published total over the number of GPUs."""
        return self.total_images_per_second / self.gpus


AMP = ("amp-fp16", "amp-bf16")
"""Mixed precision: a published AMP figure is shown beside a run in either."""


@dataclass(frozen=True, kw_only=True)
class References:
    """Everything verify compares measurements with."""

    bands: tuple[Band, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    expected: tuple[Expected, ...] = ()
    datasheets: tuple[Datasheet, ...] = ()
    floors: tuple[Floor, ...] = ()
    published: tuple[Published, ...] = ()

    def published_for(
        self, gpu: str, framework: str, model: str, mode: str, precision: str
    ) -> Published | None:
        """The vendor's figure for this GPU model and configuration, fewest GPUs first.

        The GPU name must match exactly (case aside): an A100 40GB is not an A100 80GB. Any
        mixed precision matches a mixed-precision figure (fp16 or bf16 autocast alike).
        """
        name = gpu.strip().lower()

        def same(row: str) -> bool:
            return row == precision or (row in AMP and precision in AMP)

        rows = [
            p
            for p in self.published
            if p.gpu.lower() == name
            and (p.framework, p.model, p.mode) == (framework, model, mode)
            and same(p.precision)
        ]
        return min(rows, key=lambda p: p.gpus) if rows else None

    def floor(self, gpu: str, kind: str, gpus: int = 0) -> Floor | None:
        """The floor of ``kind`` for the GPU model ``gpu`` (and, for allreduce, ``gpus`` GPUs)."""
        name = gpu.strip().lower()
        for f in self.floors:
            if f.gpu.lower() == name and f.kind == kind and f.gpus == gpus:
                return f
        return None

    def datasheet(self, gpu: str, precision: str) -> Datasheet | None:
        """The datasheet peak of the GPU model called ``gpu`` (as NVML names it), if known."""
        name = gpu.strip().lower()
        for d in self.datasheets:
            if d.gpu.lower() == name and d.precision == precision:
                return d
        return None

    def band(self, model: str, precision: str) -> Band | None:
        """The band of ``model`` for the class of ``precision``."""
        klass = "fp32" if precision == "fp32" else "tensor"
        for b in self.bands:
            if b.model == model and b.precision_class == klass:
                return b
        return None

    def fingerprint(self, model: str) -> Fingerprint | None:
        """The reference ratio to ResNet-50 of ``model``."""
        return next((f for f in self.fingerprints if f.model == model), None)


ROW_FIELDS: dict[str, tuple[Fields, Fields]] = {
    "peak": ({"gpu": TEXT, "precision": TEXT, "tflops": NUMBER}, {}),
    "band": ({"model": TEXT, "precision_class": TEXT, "low": NUMBER, "high": NUMBER}, {}),
    "fingerprint": ({"model": TEXT, "ratio_to_resnet50": NUMBER}, {}),
    "floor": ({"gpu": TEXT, "kind": TEXT, "gbps": NUMBER}, {"gpus": WHOLE}),
    "row": (
        {
            "gpu": TEXT,
            "framework": TEXT,
            "model": TEXT,
            "mode": TEXT,
            "precision": TEXT,
            "layout": TEXT,
            "batch_size": WHOLE,
            "images_per_second": NUMBER,
        },
        {},
    ),
    "published": (
        {
            "gpu": TEXT,
            "framework": TEXT,
            "model": TEXT,
            "mode": TEXT,
            "precision": TEXT,
            "gpus": WHOLE,
            "batch_size": WHOLE,
            "total_images_per_second": NUMBER,
            "conditions": TEXT,
        },
        {},
    ),
}
"""Each table's own fields, required and optional (an all-reduce floor's ``gpus``); every row
also needs ``source``, ``as_of`` and ``verified``, and may carry a ``note``."""

FILE_TABLES: Fields = {"schema": WHOLE, **dict.fromkeys(ROW_FIELDS, ROWS)}
"""What the top level of a verify data file may hold: a table not named here (``[[rows]]``
for ``[[row]]``) is refused, not skipped."""

DATA_DIR = Path(__file__).parent / "data"


def _rows(doc: Table, table: str, name: str) -> list[tuple[Table, str]]:
    """The rows of one table, each of its declared shape, as a knowledge-base row is."""
    required, optional = ROW_FIELDS[table]
    checked = []
    for i, row in enumerate(doc.get(table, [])):
        where = f"{name} {table}[{i}]"
        shape(row, where, {**required, "verified": FLAG}, optional)
        sourced(row, where)
        checked.append((row, where))
    return checked


def parse_references(docs: dict[str, dict[str, Any]]) -> References:
    """Build References from parsed TOML documents (file name -> content)."""
    bands: list[Band] = []
    prints: list[Fingerprint] = []
    expected: list[Expected] = []
    sheets: list[Datasheet] = []
    floors: list[Floor] = []
    published: list[Published] = []
    for name, doc in sorted(docs.items()):
        tables(doc, name, FILE_TABLES)
        published += [_published(row, w) for row, w in _rows(doc, "published", name)]
        for row, _ in _rows(doc, "floor", name):
            floors.append(
                Floor(
                    gpu=row["gpu"],
                    kind=row["kind"],
                    gbps=float(row["gbps"]),
                    verified=row["verified"],
                    source=row["source"],
                    gpus=row.get("gpus", 0),
                    note=row.get("note", ""),
                )
            )
        for row, _ in _rows(doc, "peak", name):
            sheets.append(
                Datasheet(
                    gpu=row["gpu"],
                    precision=row["precision"],
                    tflops=float(row["tflops"]),
                    verified=row["verified"],
                    source=row["source"],
                )
            )
        for row, _ in _rows(doc, "band", name):
            bands.append(
                Band(
                    model=row["model"],
                    precision_class=row["precision_class"],
                    low=float(row["low"]),
                    high=float(row["high"]),
                    verified=row["verified"],
                    source=row["source"],
                )
            )
        for row, _ in _rows(doc, "fingerprint", name):
            prints.append(
                Fingerprint(
                    model=row["model"],
                    ratio=float(row["ratio_to_resnet50"]),
                    verified=row["verified"],
                    source=row["source"],
                )
            )
        for row, _ in _rows(doc, "row", name):
            expected.append(
                Expected(
                    gpu=row["gpu"],
                    framework=row["framework"],
                    model=row["model"],
                    mode=row["mode"],
                    precision=row["precision"],
                    batch_size=row["batch_size"],
                    images_per_second=float(row["images_per_second"]),
                    verified=row["verified"],
                    source=row["source"],
                    layout=row["layout"],
                )
            )
    return References(
        bands=tuple(bands),
        fingerprints=tuple(prints),
        expected=tuple(expected),
        datasheets=tuple(sheets),
        floors=tuple(floors),
        published=tuple(published),
    )


def _published(row: Table, w: str) -> Published:
    """One published figure, refused when it could not be compared with a run."""
    figure = Published(
        gpu=row["gpu"],
        framework=row["framework"],
        model=row["model"],
        mode=row["mode"],
        precision=row["precision"],
        gpus=row["gpus"],
        batch_size=row["batch_size"],
        total_images_per_second=float(row["total_images_per_second"]),
        conditions=row["conditions"],
        verified=row["verified"],
        source=row["source"],
    )
    for key, value, allowed in (
        ("framework", figure.framework, FRAMEWORKS),
        ("model", figure.model, MODEL_NAMES),
        ("mode", figure.mode, MODES),
        ("precision", figure.precision, PRECISIONS),
    ):
        if value not in allowed:
            raise KnowledgeBaseError(f"{w}: {key} {value!r} is not one of {', '.join(allowed)}")
    if figure.gpus < 1 or figure.batch_size < 1 or not figure.total_images_per_second > 0:
        raise KnowledgeBaseError(f"{w}: gpus, batch_size and the figure must be positive")
    if not figure.gpu.strip() or not figure.conditions.strip():
        raise KnowledgeBaseError(f"{w}: gpu and conditions must not be empty")
    return figure


def load_references(folder: Path = DATA_DIR) -> References:
    """Every .toml shipped in gpudoctor/verify/data: references, expected_*, datasheet_peaks.

    A malformed file raises a KnowledgeBaseError naming the file, the line of the row and the
    problem, as the knowledge base's loader does (``located``).
    """
    parts = []
    for path in sorted(folder.glob("*.toml")):
        with located(path):
            parts.append(parse_references({path.name: read(path)}))
    return References(
        **{
            f.name: tuple(x for part in parts for x in getattr(part, f.name))
            for f in fields(References)
        }
    )
