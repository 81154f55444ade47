"""The ``fleet run`` folder: its layout, and the ``fleet-run.json`` manifest written and read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.fleet import NotReached, Unreadable

MANIFEST = "fleet-run.json"
"""What ``fleet run`` writes at the top of its folder: nodes not reached, partitions, command."""
TOOL = "gpudoctor fleet run"
SCHEMA_VERSION = 2
"""2 added ``runs``: which run (its time and command) gave the manifest's word on each node.
A version 1 manifest is read as one run that covered every node it names."""
CHECK_DIR = "check"
"""``fleet run`` saves each node's check report as ``check/<node>.json``..."""
VERIFY_DIR = "verify"
"""...and its verify result as ``verify/<node>.json``: no node name can clash with the
manifest or with another node's verify result (``n2.verify`` is a node name too)."""
UNUSABLE_SUFFIX = ".unusable.txt"
"""What a node sent that is no report is kept as ``check/<node>.unusable.txt`` (or under
``verify/``): not ``*.json``, so that ``fleet report`` never takes it for a report."""


@dataclass(frozen=True, kw_only=True)
class Run:
    """One ``fleet run`` whose word the manifest holds, and the nodes it holds it for."""

    gpudoctor_version: str
    created_at: str
    command: tuple[str, ...] = ()
    """The check command run on each node."""
    verify_command: tuple[str, ...] | None = None
    """The verify command run on each node after its check (``fleet run --verify``); None when
    the run did not verify, or its manifest predates the field (an additive one: still
    schema version 2)."""
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What ``fleet run`` knew beyond the reports it saved: the latest run's command and time,
    and in ``runs`` each run whose word on some node it still holds (``--force`` on a subset
    keeps the earlier run's for the others), oldest first."""

    gpudoctor_version: str
    created_at: str
    command: tuple[str, ...] = ()
    partitions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    not_reached: tuple[NotReached, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    runs: tuple[Run, ...] = ()
    gres: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each selected node's GRES as sinfo listed it (``gpu:h100:8(S:0-1)``; empty for none),
    which ``fleet report`` compares with the GPUs its check found. Added 2026-12-07 (still
    schema version 2: a manifest without it is read as knowing no node's GRES)."""


def node_file(out_dir: Path, kind: str, node: str) -> Path:
    """``out_dir/check/<node>.json`` (``kind`` is CHECK_DIR or VERIFY_DIR).

    SLURM's node names hold no ``/``; an empty name, ``.`` or ``..`` would still escape the
    folder or name no file, so they are refused here whatever made them.
    """
    if not node or node in (".", "..") or "/" in node or "\0" in node:
        raise ValueError(f"node name {node!r} is not a file name")
    return out_dir / kind / f"{node}.json"


def unusable_name(kind: str, node: str) -> str:
    """``check/<node>.unusable.txt`` (``kind`` is CHECK_DIR or VERIFY_DIR), relative to the
    run's folder: the manifest names it so, and so it is found wherever the folder is moved."""
    return f"{kind}/{node_file(Path(), kind, node).stem}{UNUSABLE_SUFFIX}"


def kept_output(path: str) -> bool:
    """Whether a manifest's unreadable ``path`` names a node's kept output in the folder (not
    the manifest itself, as one written before 2026-12-07 does)."""
    kind, sep, name = path.partition("/")
    return (
        bool(sep)
        and kind in (CHECK_DIR, VERIFY_DIR)
        and name.endswith(UNUSABLE_SUFFIX)
        and "/" not in name
        and name not in (".", "..")
    )


def to_document(manifest: Manifest) -> dict[str, Any]:
    """The JSON document ``fleet run`` writes as ``fleet-run.json``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": TOOL,
        "gpudoctor_version": manifest.gpudoctor_version,
        "created_at": manifest.created_at,
        "command": list(manifest.command),
        "partitions": {node: list(p) for node, p in manifest.partitions.items()},
        "gres": {node: list(g) for node, g in manifest.gres.items()},
        "not_reached": [
            {"node": r.node, "state": r.state, "reason": r.reason} for r in manifest.not_reached
        ],
        "unreadable": [
            {"node": u.node, "path": u.path, "error": u.error} for u in manifest.unreadable
        ],
        "runs": [
            {
                "gpudoctor_version": r.gpudoctor_version,
                "created_at": r.created_at,
                "command": list(r.command),
                "verify_command": None if r.verify_command is None else list(r.verify_command),
                "nodes": list(r.nodes),
            }
            for r in manifest.runs
        ],
    }


def is_manifest(data: Any) -> bool:
    """Whether parsed JSON is a ``fleet-run.json`` manifest (by its content, not its name)."""
    return isinstance(data, Mapping) and data.get("tool") == TOOL


def from_document(data: Any, where: str) -> Manifest:
    """The manifest in parsed JSON; a malformed one is a :class:`ReportFormatError`."""
    if not is_manifest(data):
        raise ReportFormatError(f"{where}: not a `gpudoctor fleet run` manifest")
    try:
        manifest = Manifest(
            gpudoctor_version=str(data.get("gpudoctor_version", "")),
            created_at=str(data.get("created_at", "")),
            command=tuple(str(c) for c in _list(data.get("command", []))),
            partitions={
                str(node): tuple(str(p) for p in _list(ps))
                for node, ps in dict(data.get("partitions", {})).items()
            },
            gres={
                str(node): tuple(str(g) for g in _list(gs))
                for node, gs in dict(data.get("gres", {})).items()
            },
            not_reached=tuple(
                NotReached(node=str(r["node"]), state=str(r["state"]), reason=str(r["reason"]))
                for r in _list(data.get("not_reached", []))
            ),
            unreadable=tuple(
                Unreadable(node=str(r["node"]), path=str(r["path"]), error=str(r["error"]))
                for r in _list(data.get("unreadable", []))
            ),
        )
        if "runs" not in data:  # version 1: one run, whose word is on every node it names
            return replace(manifest, runs=(_only_run(manifest),))
        return replace(
            manifest,
            runs=tuple(
                Run(
                    gpudoctor_version=str(r.get("gpudoctor_version", "")),
                    created_at=str(r["created_at"]),
                    command=tuple(str(c) for c in _list(r.get("command", []))),
                    verify_command=_command_or_none(r.get("verify_command")),
                    nodes=tuple(str(n) for n in _list(r["nodes"])),
                )
                for r in _list(data["runs"])
            ),
        )
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ReportFormatError(f"{where}: malformed manifest ({exc!s:.100})") from None


def _only_run(manifest: Manifest) -> Run:
    """A version 1 manifest's one run: every node it names was covered by it."""
    named = [*manifest.partitions, *(r.node for r in manifest.not_reached)]
    return Run(
        gpudoctor_version=manifest.gpudoctor_version,
        created_at=manifest.created_at,
        command=manifest.command,
        nodes=tuple(dict.fromkeys([*named, *(u.node for u in manifest.unreadable)])),
    )


def _command_or_none(value: Any) -> tuple[str, ...] | None:
    """A run's ``verify_command``: null, or absent in a manifest written before it, is None."""
    return None if value is None else tuple(str(c) for c in _list(value))


def _list(value: Any) -> Sequence[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, not {type(value).__name__}")
    return value
