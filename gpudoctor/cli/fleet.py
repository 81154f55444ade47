"""`gpudoctor fleet run` and `fleet report`: many nodes through SLURM, or reports from anywhere."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gpudoctor import __version__
from gpudoctor.cli.files import check_output, is_stdout, write_output
from gpudoctor.cli.options import debug_option, force_option, output_option
from gpudoctor.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from gpudoctor.fleet.run import NodeOutcome
    from gpudoctor.model.fleet import FleetReport, NodeFacts, NotReached, Throughput, Unreadable

MANIFEST = "fleet-run.json"
"""What ``fleet run`` writes beside the node reports: nodes not reached, partitions, the command."""
FLEET_FORMATS = ("text", "json", "markdown", "html", "prometheus")
FLEET_SUFFIXES = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".prom": "prometheus",
}


@click.group("fleet")
def command() -> None:
    """Check every node of a SLURM cluster, or compare node reports gathered by any means.

    `fleet run` runs `gpudoctor check` on each node through srun and saves one JSON report per
    node; `fleet report DIR...` compares saved reports: verdicts, findings across nodes, drift
    and throughput outliers. Both exit 0 when every node is fine, 1 when a node has an error
    finding, was not reached or its report is unreadable, and 2 on bad input.
    """


def _fleet_format_option(fn: Any) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FLEET_FORMATS, case_sensitive=False),
        default=None,
        help="text (default), json, markdown, html (one self-contained page) or prometheus "
        "(for node_exporter's textfile collector). Default: from --output's suffix "
        "(.json .md .html .prom), else text.",
    )(fn)


def _resolve_format(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt.lower()
    if output is not None and not is_stdout(output):
        return FLEET_SUFFIXES.get(output.suffix.lower(), "text")
    return "text"


# --- fleet report ---------------------------------------------------------------------------


@command.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_fleet_format_option
@output_option
@force_option
@debug_option
def report_command(
    paths: tuple[Path, ...], fmt: str | None, output: Path | None, force: bool
) -> int:
    """Aggregate node reports (from fleet run, Ansible, pdsh, a Kubernetes job...).

    Each PATH is a folder of `<node>.json` reports (`gpudoctor check --format json`; a
    `<node>.verify.json` beside one adds its verify throughput) or one such file. Every report
    is diagnosed again with today's rules, as `check --from-report` does.
    """
    fmt = _resolve_format(fmt, output)
    if output is not None and not is_stdout(output):
        check_output(output, force=force)
    report = build_fleet_report(paths)
    _emit(fmt, report, output, force)
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


def _emit(fmt: str, report: FleetReport, output: Path | None, force: bool) -> None:
    from gpudoctor.render.fleet import render_fleet

    text = render_fleet(fmt, report)
    if output is not None and not is_stdout(output):
        write_output(output, text, force=force)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@dataclass
class _Sources:
    """The files found under the paths given, by node."""

    checks: dict[str, Path] = field(default_factory=dict)
    verifies: dict[str, Path] = field(default_factory=dict)
    manifests: list[Path] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)


def _node_files(paths: Sequence[Path]) -> _Sources:
    from gpudoctor.model.fleet import Unreadable

    found = _Sources()
    for path in paths:
        if path.is_dir():
            try:
                entries = sorted(p for p in path.iterdir() if p.name.endswith(".json"))
            except OSError as exc:
                raise BadInputError(f"{path}: cannot list it ({exc.strerror})") from None
        elif path.exists():
            entries = [path]
        else:
            raise BadInputError(f"{path}: no such file or directory")
        for entry in entries:
            if entry.name == MANIFEST:
                found.manifests.append(entry)
                continue
            stem = entry.name.removesuffix(".json")
            kind = found.checks
            if stem.endswith(".verify"):
                stem, kind = stem.removesuffix(".verify"), found.verifies
            if not stem:
                continue
            if stem in kind:
                found.unreadable.append(
                    Unreadable(
                        node=stem,
                        path=str(entry),
                        error=f"a second report for this node (the first: {kind[stem]})",
                    )
                )
                continue
            kind[stem] = entry
    return found


def read_capped(path: Path) -> bytes:
    """A verify result's or manifest's bytes, read as check reads a report (size cap included)."""
    from gpudoctor.model.readfile import read_capped as read
    from gpudoctor.model.serialize import MAX_REPORT_BYTES

    return read(path, limit=MAX_REPORT_BYTES, what="report")


def build_fleet_report(
    paths: Sequence[Path],
    *,
    extra_not_reached: Sequence[NotReached] = (),
    partitions: dict[str, tuple[str, ...]] | None = None,
) -> FleetReport:
    """Read, re-diagnose and aggregate every node report under ``paths``."""
    from gpudoctor.fleet.aggregate import aggregate

    sources = _node_files(paths)
    not_reached: list[NotReached] = list(extra_not_reached)
    unreadable = list(sources.unreadable)
    parts = dict(partitions or {})
    for manifest in sources.manifests:
        more_nr, more_un, more_parts = _read_manifest(manifest)
        not_reached += more_nr
        unreadable += more_un
        for node, p in more_parts.items():
            parts.setdefault(node, p)
    if not sources.checks and not sources.verifies and not not_reached and not unreadable:
        where = ", ".join(str(p) for p in paths)
        raise BadInputError(f"no node reports (<node>.json) in {where}")
    facts, info, bad = _diagnose_all(sorted(sources.checks.items()), parts)
    unreadable += bad
    reached = {f.node for f in facts}
    throughput, bad_verify = _throughput_all(sorted(sources.verifies.items()))
    unreadable += bad_verify
    # A node gathered again after a failed run is reached now, whatever the manifest said.
    not_reached = [r for r in not_reached if r.node not in reached]
    return aggregate(
        facts,
        finding_info=info,
        throughput=throughput,
        unreadable=_dedupe(unreadable),
        not_reached=_dedupe(not_reached),
        gpudoctor_version=__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def _dedupe(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _diagnose_all(
    items: Sequence[tuple[str, Path]], partitions: dict[str, tuple[str, ...]]
) -> tuple[list[NodeFacts], dict[str, tuple[str, str]], list[Unreadable]]:
    """Each report diagnosed with today's rules and cut down to its facts, one at a time."""
    from gpudoctor import kb
    from gpudoctor.fleet.facts import node_facts
    from gpudoctor.model.findings import Severity
    from gpudoctor.model.fleet import Unreadable
    from gpudoctor.model.serialize import load_report
    from gpudoctor.rules import diagnose

    knowledge = kb.load()
    facts: list[NodeFacts] = []
    info: dict[str, tuple[str, str]] = {}
    bad: list[Unreadable] = []
    for node, path in items:
        try:
            report = load_report(path)
        except (OSError, ValueError, BadInputError, RecursionError) as exc:
            bad.append(Unreadable(node=node, path=str(path), error=_why(exc)))
            continue
        diagnosis = diagnose(report, knowledge)
        for finding in diagnosis.findings:
            if finding.severity > Severity.OK:
                info.setdefault(finding.id, (finding.severity.label, finding.title))
        facts.append(node_facts(node, report, diagnosis, partitions.get(node, ())))
    return facts, info, bad


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply to be a report"
    return str(exc)


def _throughput_all(
    items: Sequence[tuple[str, Path]],
) -> tuple[list[Throughput], list[Unreadable]]:
    from gpudoctor.fleet.facts import is_verify_result, throughput
    from gpudoctor.model.fleet import Unreadable

    samples: list[Throughput] = []
    bad: list[Unreadable] = []
    for node, path in items:
        try:
            data = json.loads(read_capped(path))
            if not is_verify_result(data):
                raise ValueError("not a `gpudoctor verify --format json` result")
            samples += throughput(node, data, str(path))
        except (OSError, ValueError, BadInputError, RecursionError) as exc:
            bad.append(Unreadable(node=node, path=str(path), error=_why(exc)))
    return samples, bad


def _read_manifest(
    path: Path,
) -> tuple[list[NotReached], list[Unreadable], dict[str, tuple[str, ...]]]:
    from gpudoctor.model.fleet import NotReached, Unreadable

    try:
        data = json.loads(read_capped(path))
        if not isinstance(data, dict) or data.get("tool") != "gpudoctor fleet run":
            raise ValueError("not a `gpudoctor fleet run` manifest")
        nr = [
            NotReached(node=str(r["node"]), state=str(r["state"]), reason=str(r["reason"]))
            for r in data.get("not_reached", [])
        ]
        un = [
            Unreadable(node=str(r["node"]), path=str(r["path"]), error=str(r["error"]))
            for r in data.get("unreadable", [])
        ]
        parts = {
            str(node): tuple(str(p) for p in ps)
            for node, ps in dict(data.get("partitions", {})).items()
        }
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        return [], [Unreadable(node="(fleet run)", path=str(path), error=_why(exc))], {}
    return nr, un, parts


# --- fleet run ------------------------------------------------------------------------------


def _default_output_dir() -> Path:
    return Path(f"gpudoctor-fleet-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")


@command.command("run")
@click.option("--partition", "-p", default=None, help="Check the nodes of this partition.")
@click.option("--nodelist", "-w", default=None, help="Check these nodes (hostlist: gpu-[01-08]).")
@click.option("--exclude", "-x", default=None, help="Leave these nodes out (hostlist).")
@click.option(
    "--output-dir",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the node reports go (<node>.json). Default: ./gpudoctor-fleet-<UTC time>.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=1, max=7 * 24 * 3600),
    default=900.0,
    show_default=True,
    help="Seconds for the whole run; nodes not done by then are listed as not reached.",
)
@click.option(
    "--node-timeout",
    type=click.FloatRange(min=1, max=24 * 3600),
    default=180.0,
    show_default=True,
    help="Seconds one node's check may take, srun's start included.",
)
@click.option(
    "--immediate",
    type=click.IntRange(min=1, max=3600),
    default=10,
    show_default=True,
    help="Seconds srun may wait for a node's resources before the node counts as busy.",
)
@click.option(
    "--concurrency",
    "-j",
    type=click.IntRange(min=1, max=1024),
    default=32,
    show_default=True,
    help="Nodes checked at the same time.",
)
@click.option("--verify", "with_verify", is_flag=True, help="Also run `verify --quick` there.")
@click.option(
    "--command",
    "node_command",
    default=None,
    help="How to start gpudoctor on the nodes. Default: this interpreter with -m gpudoctor "
    "(a venv on the shared file system).",
)
@click.option(
    "--check-args",
    default="",
    help="Extra arguments for check on the nodes, e.g. '--no-frameworks'.",
)
@click.option("--verify-args", default="", help="Extra arguments for verify on the nodes.")
@click.option(
    "--srun-arg",
    "srun_args",
    multiple=True,
    help="Passed to srun as it is; repeat it (--srun-arg=--account=lab --srun-arg=--qos=high).",
)
@_fleet_format_option
@output_option
@force_option
@debug_option
def run_command(
    partition: str | None,
    nodelist: str | None,
    exclude: str | None,
    output_dir: Path | None,
    time_limit: float,
    node_timeout: float,
    immediate: int,
    concurrency: int,
    with_verify: bool,
    node_command: str | None,
    check_args: str,
    verify_args: str,
    srun_args: tuple[str, ...],
    fmt: str | None,
    output: Path | None,
    force: bool,
) -> int:
    """Run `gpudoctor check` once on each selected node through srun, then report.

    One `srun --nodes=1 --nodelist=NODE --immediate` per node, at most --concurrency at once.
    Drained, down and unresponsive nodes are not waited on: they are listed as not reached with
    their SLURM state and reason, and so are nodes that could not start the job in --immediate
    seconds or did not answer in time. Ctrl-C keeps every report already gathered. It changes
    nothing on any node.
    """
    from gpudoctor.fleet import slurm
    from gpudoctor.fleet.hostlist import expand
    from gpudoctor.fleet.run import NodeJob, gather
    from gpudoctor.fleet.selection import UNKNOWN_REASON, select_nodes

    fmt = _resolve_format(fmt, output)
    if output is not None and not is_stdout(output):
        check_output(output, force=force)
    base = (
        _split(node_command, "--command") if node_command else [sys.executable, "-m", "gpudoctor"]
    )
    job = NodeJob(
        check=(*base, "check", "--format", "json", *_split(check_args, "--check-args")),
        verify=(
            (*base, "verify", "--quick", "--format", "json", *_split(verify_args, "--verify-args"))
            if with_verify
            else None
        ),
        node_timeout_s=node_timeout,
        verify_timeout_s=max(node_timeout, 600.0),
        immediate_s=immediate,
        srun_args=srun_args,
    )
    # Both lists are expanded (and capped) before sinfo runs: a bad one starts nothing.
    wanted = expand(nodelist, "--nodelist") if nodelist else ()
    excluded = expand(exclude, "--exclude") if exclude else ()
    nodes, unknown_names = select_nodes(
        slurm.list_nodes(partition=partition, nodelist=nodelist), wanted, excluded
    )
    from gpudoctor.model.fleet import NotReached, Unreadable

    unknown = [
        NotReached(node=name, state="unknown", reason=UNKNOWN_REASON) for name in unknown_names
    ]
    if not nodes and not unknown:
        where = f"partition {partition}" if partition else "this cluster"
        raise BadInputError(
            f"no node to check in {where}" + (" after --exclude" if excluded else "")
        )
    out_dir = output_dir or _default_output_dir()
    _prepare_dir(out_dir, [n.name for n in nodes], force=force)

    outcomes: list[NodeOutcome] = []
    total = len(nodes)
    unreadable: list[Unreadable] = []

    def on_done(outcome: NodeOutcome) -> None:
        outcomes.append(outcome)
        if outcome.check_json is not None:
            write_output(out_dir / f"{outcome.node}.json", outcome.check_json, force=True)
        if outcome.verify_json is not None:
            write_output(out_dir / f"{outcome.node}.verify.json", outcome.verify_json, force=True)
        unreadable.extend(
            Unreadable(node=outcome.node, path=str(out_dir / name), error=error)
            for name, error in outcome.errors
        )
        _progress(outcome, len(outcomes), total)

    click.echo(
        f"fleet: checking {total} node(s), {min(concurrency, total) or 1} at a time, "
        f"within {time_limit:.0f} s; reports go to {out_dir}/",
        err=True,
    )
    cancel = threading.Event()
    interrupted = 0
    try:
        gather(
            nodes,
            job,
            time_limit_s=time_limit,
            concurrency=concurrency,
            on_done=on_done,
            cancel=cancel,
        )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into one
        interrupted = 128 + int(getattr(exc, "signum", signal.SIGINT))
    not_reached = [*unknown]
    not_reached += [
        NotReached(node=o.node, state=o.not_reached[0], reason=o.not_reached[1])
        for o in outcomes
        if o.not_reached is not None
    ]
    _write_manifest(out_dir, nodes, not_reached, unreadable, job, force=True)
    report = build_fleet_report([out_dir])
    _emit(fmt, report, output, force)
    if interrupted:
        click.echo(f"gpudoctor: interrupted; the reports gathered are in {out_dir}/", err=True)
        return interrupted
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


def _split(text: str, option: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInputError(f"{option} {text!r}: {exc}") from None


def _prepare_dir(out_dir: Path, nodes: Sequence[str], *, force: bool) -> None:
    """Create the folder; refuse (before any srun) to replace reports already in it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--output-dir {out_dir}: exists and is not a directory")
    if out_dir.is_dir() and not force:
        names = {f"{n}.json" for n in nodes} | {f"{n}.verify.json" for n in nodes} | {MANIFEST}
        clash = sorted(p.name for p in out_dir.iterdir() if p.name in names)
        if clash:
            shown = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
            raise BadInputError(
                f"--output-dir {out_dir} already holds {shown}; use --force to replace them "
                "or choose another folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--output-dir {out_dir}: cannot create it ({exc.strerror})") from None


def _progress(outcome: NodeOutcome, done: int, total: int) -> None:
    from gpudoctor.render.fleet import inert

    if outcome.not_reached is not None:
        state, reason = outcome.not_reached
        what = f"not reached ({state}: {reason})"
    elif outcome.errors and outcome.check_json is None:
        what = f"unreadable: {outcome.errors[0][1]}"
    else:
        what = "report saved" + (" with verify" if outcome.verify_json else "")
        if outcome.errors:
            what += f"; {outcome.errors[0][1]}"
    took = f" in {outcome.duration_s:.1f} s" if outcome.duration_s else ""
    click.echo(f"fleet: [{done}/{total}] {inert(outcome.node)}: {inert(what)}{took}", err=True)


def _write_manifest(
    out_dir: Path,
    nodes: Sequence[Any],
    not_reached: Sequence[NotReached],
    unreadable: Sequence[Unreadable],
    job: Any,
    *,
    force: bool,
) -> None:
    doc = {
        "schema_version": 1,
        "tool": "gpudoctor fleet run",
        "gpudoctor_version": __version__,
        "created_at": datetime.now(timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "command": list(job.check),
        "partitions": {n.name: list(n.partitions) for n in nodes},
        "not_reached": [
            {"node": r.node, "state": r.state, "reason": r.reason} for r in not_reached
        ],
        "unreadable": [{"node": u.node, "path": u.path, "error": u.error} for u in unreadable],
    }
    write_output(out_dir / MANIFEST, json.dumps(doc, indent=2) + "\n", force=force)
