"""Every command gpudoctor prints pastes as the command it means, whatever the report says.

A report can come from another machine (``fleet`` collects them, ``check --from-report``
replays one someone sent). Its values (node names, PCI addresses, GPU names and UUIDs, paths,
package names and versions, partitions, GRES strings, module names) reach the commands the fixes,
the fleet report, onboard's job script and make-env's header print. Here each such value is
made hostile in turn (a space, quotes, ``$(...)``, a backquote, ``;``, ``!``, a newline, ``>``,
a leading ``-``) and every printed command that carries it is checked twice:

- read with shlex as bash reads its words, the hostile value is still one word (or part of
  one), whole, or gone where a word to replace stands instead;
- pasted into a real bash with history expansion on (an interactive shell's ``!``), no other
  command runs, no file is written and the value reaches the command word for word.
"""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.errors import ReportFormatError
from gpudoctor.fleet.aggregate import aggregate
from gpudoctor.fleet.gres import compare_gres
from gpudoctor.model.fleet import GpusFound
from gpudoctor.model.report import LoadedModule, Report, SlurmJob
from gpudoctor.model.serialize import report_from_data, to_dict
from gpudoctor.model.slurm import drain_command
from gpudoctor.render.fleet import render_fleet
from tests.fleet.builders import node
from tests.render import scenarios
from tests.render import site_scenarios as s
from tests.rules import builders as b
from tests.rules.test_fix_commands import built_reports

CORE = "$(pwn) `pwn` !pwnh"
"""What must reach a command as it is: a substitution, a backquote, a history expansion."""
KEPT = "`pwn` !pwnh"
"""What the checks look for in each word of the value (GRES strings stop at a ``(``)."""
HOSTILE = f"HX a;pwn {CORE} 'q\" \npwn >pwnf XH"
"""From HX to XH one value: ``;``, ``\\n`` and ``>`` would each start a command or a
redirection if the value were not one word."""
ONE_LINE = HOSTILE.replace("\n", " ")
"""The same on one line: a value with a newline is a word to replace wherever it would be one
word of a command, so this is the one that shows the quoting."""


def values(original: str) -> tuple[str, ...]:
    """The hostile forms of a report's value: after it (a path, a node name), as another entry
    of a list (``:`` of LD_LIBRARY_PATH, ``,`` of CUDA_VISIBLE_DEVICES), and as an option."""
    forms = [
        form
        for hostile in (HOSTILE, ONE_LINE)
        for form in (original + hostile, f"{original}:/{hostile}", f"{original},{hostile}")
    ]
    return (*forms, "-" + HOSTILE)


def same_words(value: str) -> str:
    """What gpudoctor may do to a value and still print it whole: a control character as a
    space (a fix is one line), ``"`` and a backquote as ``'`` (a drain reason: scontrol drops a
    ``"``, and a backquote would end the code span the fleet report shows the drain in)."""
    return "".join(" " if not ch.isprintable() else "'" if ch in '"`' else ch for ch in value)


# --- reading a command ------------------------------------------------------------------------


def commands_in(line: str) -> Iterator[str]:
    """The commands of a fix line (after each ``$ ``) and of a sentence (in backquotes)."""
    for match in re.finditer(r"(?:^|\s)\$ ", line):
        yield line[match.end() :]
    yield from (span for span in re.findall(r"`([^`]+)`", line) if " " in span)


def words_problems(command: str) -> list[str]:
    """What shlex says is wrong with a command that carries the hostile value."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError as error:
        return [f"does not parse: {error}"]
    found = []
    core = same_words(KEPT)
    for i, word in enumerate(words):
        if "HX" in word and core not in same_words(word):
            found.append(f"the value is cut into words at {word!r}")
        if word.startswith("-HX") and "--" not in words[:i]:
            found.append(f"the value is an option: {word!r}")
        if "pwn" in word and "HX" not in word and "#" not in words[:i]:
            found.append(f"a word of the value stands alone: {word!r}")
    return found


# --- pasting it -----------------------------------------------------------------------------

BASH = shutil.which("bash")
PASTE = """set -o history -o histexpand
PATH=/nonexistent
command_not_found_handle() {{ printf '%s\\037' "$@" >> {log}; printf '\\036' >> {log}; }}
pwnhist
: > {log}
{command}
"""
"""An interactive bash's reading of a pasted line (history expansion on; ``!pwnh`` finds the
``pwnhist`` before it), with every command it would run written to the log, not run."""


QUIET = re.compile(r"No such file or directory$|^(?:real|user|sys)\t|^$")
"""What bash says of a command that ran as meant: a path that is not here, ``time``'s lines."""


def paste_problems(command: str, tmp_path: Path) -> list[str]:
    """What happens when ``command`` is pasted into bash: each other command it runs, each
    file it writes, each word of the value that did not arrive as it is."""
    room = tmp_path / "paste"
    room.mkdir()
    log = tmp_path / "argv.log"
    script = PASTE.format(log=shlex.quote(str(log)), command=command)
    done = subprocess.run(
        [BASH or "bash", "--norc", "--noprofile"],
        input=script,
        cwd=room,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    # bash says nothing of a line it runs as it is: an error, or the line history expansion
    # made of it, is said on stderr
    found = [f"bash: {line}" for line in done.stderr.splitlines() if not QUIET.search(line)]
    found += [f"wrote {p.name}" for p in room.iterdir()]
    text = log.read_text() if log.exists() else ""
    for record in filter(None, text.split("\x1e")):
        argv = record.split("\x1f")[:-1]
        if argv and argv[0].startswith("pwn"):
            found.append(f"ran {argv}")
        found += [
            f"the value changed on its way: {word!r}"
            for word in argv
            if "HX" in word and same_words(KEPT) not in same_words(word)
        ]
    return found


# --- where the commands come from -----------------------------------------------------------


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, (*path, i))
    elif isinstance(data, str):
        yield path, data


def changed(data: Any, path: tuple[Any, ...], value: str) -> Any:
    data = copy.deepcopy(data)
    where = data
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return data


def in_commands(value: str, text: str) -> bool:
    """Whether a report value (or a part of it a fix takes: before the first dot, one entry of
    a list) shows in the fixes' commands."""
    parts = {value, value.split(".", maxsplit=1)[0], *value.split(":"), *value.split(",")}
    return any(
        len(p) >= 2 and re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w-])", text) for p in parts
    )


def fix_commands(report: Report) -> list[tuple[str, str]]:
    return [
        (f.id, command)
        for f in b.diagnose(report).findings
        for line in f.fix
        for command in commands_in(line)
    ]


def reports() -> dict[str, Report]:
    found = {name: scenarios.load(name) for name in scenarios.scenario_names()}
    found.update(built_reports())  # type: ignore[arg-type]
    return found


PLACEHOLDERS = re.compile(r"\b(?:NODE|BUS_ID|MIG-UUID|VERSION|NAME|DEVICE|PATH|FOLDER|NN)\b")
"""The words to replace that stand where a value cannot be one word of its kind."""
REPLACED: set[str] = set()
"""Where a hostile value became a word to replace (filled by rule_commands)."""


def replayed(data: Any, name: str) -> Report | None:
    """The report as check --from-report reads it; None where the model refuses the value (a
    value it refuses reaches no rule)."""
    try:
        return report_from_data(data, name)
    except ReportFormatError:
        return None


def rule_commands() -> dict[str, tuple[str, str]]:
    """Each distinct command a fix prints with a hostile value in it: every string of every
    scenario's report whose value shows in a command, made hostile in turn, replayed through
    the report model (as check --from-report reads a file) and diagnosed."""
    found: dict[str, tuple[str, str]] = {}
    for name, report in reports().items():
        data = to_dict(report)
        text = "\n".join(command for _, command in fix_commands(report))
        before = set(PLACEHOLDERS.findall(text))
        for path, original in leaves(data):
            if not in_commands(original, text):
                continue
            for value in values(original):
                hostile = replayed(changed(data, path, value), name)
                if hostile is None:
                    continue
                where = f"{name}:{'.'.join(map(str, path))}"
                for finding, command in fix_commands(hostile):
                    if "HX" in command or "pwn" in command:
                        found.setdefault(command, (f"{finding} {where}", command))
                    elif set(PLACEHOLDERS.findall(command)) - before:
                        REPLACED.add(where)
    return found


RULES = sorted(rule_commands().values())


DRAIN = re.compile(r"(sudo scontrol update nodename=.*?)(?:`|</code>)\)?;")
"""The drain in a fleet finding's fix: ``fix: drain the node (`sudo scontrol ...`); on it``."""


def other_commands() -> list[tuple[str, str]]:
    """The commands printed outside the fixes: the fleet report's drain, onboard's job script,
    make-env's header; and the drain whose title has a ``!``."""
    found = [("drain title with !", f"$ {drain_command('n1', 'GD-GPU-068', HOSTILE)}")]
    # the fleet: GRES strings from sinfo, node names from the nodes' reports
    none = GpusFound(on_bus=0, bound=0, driver=0, module_loaded=True)
    for name in ("n1", HOSTILE):
        gres = "gpu:h100:8" + ONE_LINE.replace("$(pwn)", "$pwn")  # '(' starts a socket list
        fleet = aggregate(
            [node(name, gpus_found=none), node("n2", gpus_found=none)],
            gres={name: (gres,), "n2": (gres,)},
            gpudoctor_version="0",
            created_at="now",
        )
        for fmt in ("text", "markdown", "html"):
            rendered = render_fleet(fmt, fleet)
            found += [(f"fleet {fmt}", c) for c in DRAIN.findall(unescape(rendered))]
        facts = compare_gres(node(name, gpus_found=none), (gres,))
        evidence = " ".join(e for f in facts.findings for e in f.evidence)
        found += [("fleet gres", c) for c in DRAIN.findall(evidence)]
    return [(where, c) for where, c in found if "HX" in c or "pwn" in c]


OTHERS = other_commands()


def test_the_sweep_reaches_every_kind_of_value():
    # a fall means a scenario stopped printing one of them: the values that must stay one word
    reached = " ".join(where for where, _ in RULES)
    for field in (
        "site.modules",  # module unload
        "slurm.partitions",  # srun -p, check --partition, make-env --partition
        "slurm_job.partition",  # srun -p
        "ib_ports",  # ibstat, perfquery
        "host.python.executable",  # check --python, time
        "LD_LIBRARY_PATH",  # export
    ):
        assert field in reached, field
    # and the values that have a form, or that a command cannot take as they are
    replaced = " ".join(sorted(REPLACED))
    for field in (
        "slurm_job.node",  # sbatch --exclude=NODE
        "pci_functions",  # sysfs paths (BUS_ID)
        "iommu.bridges",  # setpci -s BUS_ID
        "mig_devices",  # CUDA_VISIBLE_DEVICES=MIG-UUID
        "nvidia_wheels",  # pip install NAME==VERSION
        "build_cudnn",  # nvidia-cudnn-cuNN==VERSION.*
        "ib_ports",  # ibstat DEVICE, for a name that starts with -
        "site.modules",  # module unload NAME, the same
    ):
        assert field in replaced, field
    assert len(RULES) >= 40


@pytest.mark.parametrize(("where", "command"), RULES + OTHERS, ids=[w for w, _ in RULES + OTHERS])
def test_a_hostile_value_stays_one_word(where, command):
    assert words_problems(command) == [], command


@pytest.mark.skipif(BASH is None, reason="no bash")
@pytest.mark.parametrize(("where", "command"), RULES + OTHERS, ids=[w for w, _ in RULES + OTHERS])
def test_a_pasted_command_runs_nothing_else(where, command, tmp_path):
    body = command.split("   # ")[0]  # the comment is bash's to skip, but not the harness's
    assert paste_problems(body, tmp_path) == [], command


PLAIN = "HX a;pwn $(pwn) `pwn` !pwnh XH"
"""A hostile value whose quotes do not stop the checks' own reading of the line."""


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("sbatch --exclude=" + PLAIN + " ...", "ran"),
        ('sudo scontrol update nodename=n1 reason="' + CORE + ' HX XH"', "ran"),
        ('sbatch "HX \\$(pwn) \\`pwn\\` !pwnh XH"', "the value changed"),
        ("sbatch HX >pwnf XH", "wrote"),
        ("sbatch 'HX unclosed XH", "bash:"),
    ],
)
def test_the_paste_check_sees_what_it_is_for(command, problem, tmp_path):
    problems = paste_problems(command, tmp_path)
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("sbatch --exclude=" + PLAIN + " ...", "the value is cut"),
        ("ibstat " + shlex.quote("-" + PLAIN) + " 1", "the value is an option"),
        ("module unload " + PLAIN, "the value is cut"),
    ],
)
def test_the_words_check_sees_what_it_is_for(command, problem):
    assert any(p.startswith(problem) for p in words_problems(command)), words_problems(command)


def test_a_drain_reason_with_an_exclamation_mark_is_in_single_quotes():
    # in double quotes an interactive bash expands '!' (a title's "!=" read "event not found"
    # and drained nothing); in single quotes sinfo -R shows it as written
    command = drain_command("n1", "GD-GPU-068", "GPUs != GRES, node's $(x)")
    assert shlex.split(command)[-1] == "reason=gpudoctor:GPU-068 GPUs != GRES, node's $(x)"
    assert command.startswith("sudo scontrol update nodename=n1 state=drain reason='gpudoctor:")


def test_a_job_node_that_is_no_node_name_is_a_word_to_replace():
    login = s.login_node()
    assert login.site is not None
    job = SlurmJob(job_id="7", node="n1;reboot", gpu_variables={"SLURM_STEP_GPUS": "0"})
    report = replace(login, site=replace(login.site, slurm_job=job))
    fixes = [line for f in b.diagnose(report).findings for line in f.fix]
    assert any("sbatch --exclude=NODE ..." in line for line in fixes), fixes


def test_a_module_named_as_an_option_is_a_word_to_replace():
    report = scenarios.load("site__module_shadowing")
    site = report.site
    assert site is not None
    module = LoadedModule(name="-f", file=None)
    hostile = replace(report, site=replace(site, modules=(*site.modules[:1], module)))
    fixes = [line for f in b.diagnose(hostile).findings for line in f.fix]
    assert not any("module unload -f" in line for line in fixes), fixes
