"""Throughput outliers: GPUs far below the median of the same GPU model, model and settings."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

from gpudoctor.fleet.hostlist import sort_key
from gpudoctor.model.fleet import Outlier, Throughput

MIN_PEERS = 4
"""Below this many runs of one kind a median says too little to call anyone slow."""
MIN_GAP = 0.10
"""A run is an outlier only when at least this far below the median: tight fleets stay quiet."""
MAX_Z = -3.5
"""And when its robust z-score is at most this (Iglewicz and Hoaglin's cut-off)."""
MAD_TO_SIGMA = 1.4826
"""Scales the median absolute deviation to a standard deviation for normal data."""


def find_outliers(samples: Iterable[Throughput]) -> tuple[Outlier, ...]:
    """GPU runs far below their peers' median, slowest first."""
    groups: dict[tuple[object, ...], list[Throughput]] = defaultdict(list)
    for s in samples:
        if s.device == "cpu":
            continue  # CPUs differ by model and load; the fleet compares GPUs
        key = (s.device_name, s.model, s.framework, s.mode, s.precision, s.batch_size, s.layout)
        groups[key].append(s)
    found = []
    for runs in groups.values():
        if len(runs) < MIN_PEERS:
            continue
        values = [r.images_per_second for r in runs]
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        for run in runs:
            ratio = run.images_per_second / median
            if ratio > 1 - MIN_GAP:
                continue
            if mad > 0:
                z = (run.images_per_second - median) / (MAD_TO_SIGMA * mad)
            else:  # all peers identical but this one: as far out as it gets
                z = float("-inf")
            if z > MAX_Z:
                continue
            found.append(
                Outlier(
                    node=run.node,
                    device=run.device,
                    device_name=run.device_name,
                    model=run.model,
                    framework=run.framework,
                    precision=run.precision,
                    mode=run.mode,
                    batch_size=run.batch_size,
                    images_per_second=run.images_per_second,
                    median=median,
                    ratio=ratio,
                    peers=len(runs),
                    robust_z=max(z, -1e9),  # finite: JSON has no -Infinity
                )
            )
    return tuple(sorted(found, key=lambda o: (o.ratio, sort_key(o.node), o.device, o.model)))
