"""Every command a fix tells the user to run works as written.

A fix line shows a command after ``$ ``; the catalogue (``explain``, docs/findings.md) names
commands in backticks. Each is read as a shell line: its quotes and brackets close, a comment
starts only where the shell starts one (``   # why``, never glued to an argument), a live
command leaves no ``<placeholder>`` (a redirection when pasted), the options each known tool
is given are options it has, and what only root may do is run with ``sudo``.

The option lists are the tools' own: nvidia-smi's from ``nvidia-smi -h`` of driver 590.48.01
(the shared captures; 595.80 and 610.57.04 list the same display types); srun, sbatch and
sinfo from the man pages of Debian 12's slurm-client 22.05; journalctl, dmesg and
``docker run`` from their ``--help`` (systemd 252, util-linux 2.38.1, Docker 28.2.2);
gpudoctor's from its own Click commands.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator
from dataclasses import replace

import click
import pytest

from gpudoctor.cli import cli
from gpudoctor.model.report import LibraryInfo, SlurmJob
from gpudoctor.rules import REGISTRY
from tests.render import scenarios
from tests.render import site_scenarios as s
from tests.rules import builders as b


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NVIDIA_SMI = words(
    "-h --help -L --list-gpus -B --list-excluded-gpus -col --columns -i --id -f --filename "
    "-l --loop -q --query -u --unit -x --xml-format --dtd -d --display -lms --loop-ms "
    "--query-gpu --query-supported-clocks --query-compute-apps --query-accounted-apps "
    "--query-retired-pages --query-remapped-rows --format -pm --persistence-mode -e "
    "--ecc-config -p --reset-ecc-errors -c --compute-mode --gom -r --gpu-reset -vm --virt-mode "
    "-lgc --lock-gpu-clocks -m --mode -rgc --reset-gpu-clocks -lmc --lock-memory-clocks -rmc "
    "--reset-memory-clocks -ac --applications-clocks -rac --reset-applications-clocks -pl "
    "--power-limit -sc --scope -am --accounting-mode -caa --clear-accounted-apps -mig "
    "--multi-instance-gpu -eow --error-on-warning --version"
)
NVIDIA_SMI_DISPLAY = words(
    "MEMORY UTILIZATION ECC TEMPERATURE POWER CLOCK COMPUTE PIDS PERFORMANCE SUPPORTED_CLOCKS "
    "PAGE_RETIREMENT ACCOUNTING ENCODER_STATS SUPPORTED_GPU_TARGET_TEMP VOLTAGE FBC_STATS "
    "ROW_REMAPPER GSP_FIRMWARE_VERSION POWER_SMOOTHING POWER_PROFILES"
)
"""``nvidia-smi -q -d TYPE``: there is no PCIE among them."""
NVIDIA_SMI_SUBCOMMANDS = {
    # nvidia-smi nvlink -h and mig -h (NVIDIA's MIG user guide shows -lgip, -cgi, -C, -lgi)
    "nvlink": frozenset({"-i", "--id", "-s", "--status", "-e", "--error-counters"}),
    "mig": frozenset({"-i", "--id", "-lgip", "-lgi", "-cgi", "-C", "-lci", "-dgi", "-dci"}),
}
SLURM_COMMON = (
    "--account --chdir --constraint --cpus-per-task --exclude --exclusive --gpus "
    "--gpus-per-node --gres --help --job-name --mem --nodelist --nodes --ntasks --partition "
    "--time --verbose -A -C -D -G -J -N -c -n -p -t -v -w -x"
)
TOOL_OPTIONS: dict[str, frozenset[str]] = {
    "srun": words(f"{SLURM_COMMON} --pty --overlap --immediate -I"),
    "sbatch": words(f"{SLURM_COMMON} --wrap --array -a"),
    "sinfo": words(
        "-s --summarize -N --Node -p --partition -o --format -O --Format -R --list-reasons "
        "-h --noheader -l --long -a --all -n --nodes -t --states"
    ),
    "journalctl": words(
        "-k --dmesg -b --boot -u --unit -n --lines -f --follow -S --since -U --until "
        "--no-pager -g --grep -p --priority -e --pager-end -x --catalog"
    ),
    "dmesg": words(
        "-T --ctime -H --human -l --level -k --kernel -w --follow -x --decode --since --until"
    ),
    "docker run": words(
        "--rm --gpus --shm-size --ipc --device --security-opt -e --env -v --volume -i -t "
        "--runtime --name --entrypoint"
    ),
}
"""Options the fixes may use, each checked in the tool's own help (module docstring)."""

ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>")


def unquoted(command: str) -> Iterator[tuple[int, str, bool]]:
    """Each character with its index and whether it stands outside quotes and escapes."""
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(command):
        if escaped:
            escaped = False
            yield i, ch, False
        elif ch == "\\" and quote != "'":
            escaped = True
            yield i, ch, False
        elif quote:
            if ch == quote:
                quote = None
            yield i, ch, False
        elif ch in "'\"":
            quote = ch
            yield i, ch, False
        else:
            yield i, ch, True


def split_comment(command: str) -> tuple[str, str]:
    """The command and its comment: a '#' starts one at a word's start, outside quotes."""
    for i, ch, free in unquoted(command):
        if free and ch == "#" and (i == 0 or command[i - 1] in " \t;|&("):
            return command[:i].rstrip(), command[i:]
    return command, ""


def problems_of(command: str, *, live: bool) -> list[str]:
    """What would break when ``command`` is pasted into a shell; empty when nothing."""
    body, comment = split_comment(command)
    found: list[str] = []
    free = "".join(ch if ok else " " for _, ch, ok in unquoted(body))
    if "#" in free:
        found.append("a '#' glued to an argument: bash keeps it, and the words after it")
    if free.count("(") != free.count(")"):
        found.append("unbalanced parentheses")
    if live and PLACEHOLDER.search(free):
        found.append("an unfilled <placeholder>: pasted, it is a redirection")
    try:
        words = shell_words(body)
    except ValueError as error:
        return [*found, f"does not parse: {error}"]
    for segment in segments(words):
        found += segment_problems(segment, comment, live=live)
    return found


def shell_words(body: str) -> list[str]:
    """The words of a line, with |, ||, && and ; as words of their own; a command substitution
    is one word, and a ``2>&1`` is dropped."""
    body = re.sub(r"\$\(([^()]*)\)", "SUBST", body)
    body = re.sub(r"(?<![\w&])\d*>&\d+", " ", body)
    lexer = shlex.shlex(body, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def segments(words: list[str]) -> Iterator[list[str]]:
    """The simple commands of a line: split at |, ||, &&, ; (env assignments dropped)."""
    current: list[str] = []
    for word in words:
        if word in ("|", "||", "&&", ";"):
            yield [w for w in current if not ASSIGNMENT.match(w)] or current
            current = []
        else:
            current.append(word)
    if current:
        yield [w for w in current if not ASSIGNMENT.match(w)] or current


def segment_problems(words: list[str], comment: str, *, live: bool) -> list[str]:
    sudo = bool(words) and words[0] == "sudo"
    argv = words[1:] if sudo else words
    if not argv:
        return []
    if argv[0][0].isdigit():
        return [f"'{argv[0]}' is not a command: a '|' before it pipes into it"]
    found = option_problems(argv)
    if live and not sudo and needs_root(argv) and "runs as root" not in comment:
        found.append(f"'{' '.join(argv[:3])}' needs root: give it sudo")
    return found


def options(argv: list[str]) -> Iterator[str]:
    for word in argv:
        if word == "--":
            return
        if word.startswith("-") and len(word) > 1 and not word[1].isdigit():
            yield word.split("=", 1)[0]


def option_problems(argv: list[str]) -> list[str]:
    tool = argv[0]
    if tool == "gpudoctor":
        return gpudoctor_problems(argv[1:])
    if tool == "nvidia-smi":
        return nvidia_smi_problems(argv[1:])
    key = f"{tool} {argv[1]}" if tool == "docker" and len(argv) > 1 else tool
    allowed = TOOL_OPTIONS.get(key)
    if allowed is None:
        return []
    rest = argv[2:] if tool == "docker" else argv[1:]
    return [f"{key} has no option {opt}" for opt in options(rest) if opt not in allowed]


def nvidia_smi_problems(args: list[str]) -> list[str]:
    allowed: frozenset[str] = NVIDIA_SMI
    if args and args[0] in NVIDIA_SMI_SUBCOMMANDS:
        allowed, args = NVIDIA_SMI_SUBCOMMANDS[args[0]], args[1:]
    found = [f"nvidia-smi has no option {opt}" for opt in options(args) if opt not in allowed]
    for flag, value in itertools.pairwise(args):
        if flag in ("-d", "--display"):
            found += [
                f"nvidia-smi -d has no display type {kind}"
                for kind in value.split(",")
                if kind not in NVIDIA_SMI_DISPLAY
            ]
    return found


def gpudoctor_problems(args: list[str]) -> list[str]:
    command: click.Command = cli
    ctx = click.Context(cli)
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(ctx, args[0])
        if sub is None:
            return [f"gpudoctor has no command {args[0]}"]
        command, args = sub, args[1:]
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    known |= {"-h", "--help"}
    return [f"{command.name} has no option {opt}" for opt in options(args) if opt not in known]


ROOT_ALWAYS = words(
    "modprobe rmmod usermod update-initramfs dracut dkms akmods grubby update-grub reboot "
    "setpci setsebool ausearch perfquery nvidia-modprobe nvidia-ctk apt-mark "
    "ubuntu-drivers"
)
ROOT_VERBS = {
    "apt-get": frozenset({"install", "remove", "purge", "update", "upgrade", "autoremove"}),
    "apt": frozenset({"install", "remove", "purge", "update", "upgrade"}),
    "dnf": frozenset({"install", "remove", "reinstall", "module", "versionlock", "upgrade"}),
    "systemctl": frozenset(
        {"enable", "disable", "start", "stop", "restart", "edit", "daemon-reload"}
    ),
    "scontrol": frozenset({"update", "reconfigure", "reboot"}),
}
NVIDIA_SMI_ROOT = words(
    "-pm --persistence-mode -e --ecc-config -p --reset-ecc-errors -c --compute-mode -r "
    "--gpu-reset -ac --applications-clocks -rac --reset-applications-clocks -pl --power-limit "
    "-lgc --lock-gpu-clocks -rgc --reset-gpu-clocks -mig --multi-instance-gpu -cgi -dgi -cci "
    "-dci"
)


def needs_root(argv: list[str]) -> bool:
    """Whether only root (or the SLURM admin) may run this simple command."""
    tool, args = argv[0], argv[1:]
    if tool in ROOT_ALWAYS:
        return True
    if tool in ROOT_VERBS:
        dry = {"--dry-run", "-s", "--simulate"} & set(args)
        return bool(args) and args[0] in ROOT_VERBS[tool] and not dry
    if tool == "nvidia-smi":
        if args and args[0] == "nvlink":
            return False
        return any(a.split("=")[0] in NVIDIA_SMI_ROOT for a in args)
    if tool == "ldconfig":
        return "-p" not in args
    if tool == "dmesg":  # kernel.dmesg_restrict is 1 on Debian and Ubuntu
        return True
    if tool == "journalctl":  # the system journal: root, systemd-journal, adm or wheel
        return "--user" not in args
    if tool in ("tee", "cp", "rm", "sed"):
        return any(a.startswith(("/etc/", "/sys/", "/lib/", "/usr/")) for a in args)
    return False


# --- what the fixes say ---------------------------------------------------------------------


def built_reports() -> dict[str, object]:
    """Reports made to hit the rules whose commands the scenarios do not reach."""
    no_cudnn = (LibraryInfo(name="cudnn", soname="libcudnn.so.8", error="not found"),)
    job = SlurmJob(job_id="7", node="n1", gpu_variables={"SLURM_STEP_GPUS": "0"})
    login = s.login_node()
    return {
        "mig without instances": b.with_gpu(b.healthy(), mig_enabled=True, mig_pending=True),
        "mig pending": b.with_gpu(b.healthy(), mig_enabled=False, mig_pending=True),
        "ecc pending": b.with_gpu(b.healthy(), ecc_enabled=True, ecc_pending=False),
        "vgpu unlicensed": b.with_gpu(b.healthy(), virtualization_mode="vgpu", vgpu_licensed=False),
        "tensorflow 2.12 without cuDNN": b.with_framework(
            b.healthy(),
            "tensorflow",
            version="2.12.0",
            cuda_available=False,
            failed_libraries=no_cudnn,
        ),
        "job given GPUs the node lacks": replace(login, site=replace(login.site, slurm_job=job)),
        "pcie gen3 while busy": b.with_gpu(
            b.healthy(), pcie_gen=3, clock_event_reasons=0, utilization_gpu_pct=95
        ),
    }


def live_commands() -> list[tuple[str, str]]:
    """(where, command) for every ``$ command`` in the fixes of the scenarios' findings."""
    reports = {name: scenarios.load(name) for name in scenarios.scenario_names()}
    reports.update(built_reports())  # type: ignore[arg-type]
    seen: dict[str, str] = {}
    for name, report in reports.items():
        for finding in b.diagnose(report).findings:  # type: ignore[arg-type]
            for line in finding.fix:
                for match in re.finditer(r"(?:^|\s)\$ ", line):
                    seen.setdefault(line[match.end() :], f"{finding.id} ({name})")
    return sorted((where, command) for command, where in seen.items())


KNOWN_TOOLS = frozenset(
    {"gpudoctor", "nvidia-smi", *TOOL_OPTIONS, *ROOT_ALWAYS, *ROOT_VERBS}
    | {"docker", "pip", "conda", "ldconfig", "dmesg", "journalctl", "lspci", "srun", "sbatch"}
)


def catalogue_commands() -> list[tuple[str, str]]:
    """(rule, command) for each command the catalogue's fix texts name in backticks."""
    found = []
    for rule in sorted(REGISTRY, key=lambda r: r.id):
        rule_id = rule.id
        for span in re.findall(r"`([^`]+)`", rule.fix):
            words = span.split()
            first = words[1] if words[0] == "sudo" and len(words) > 1 else words[0]
            if len(words) > 1 and first in KNOWN_TOOLS:
                found.append((rule_id, span))
    return found


LIVE = live_commands()
CATALOGUE = catalogue_commands()


def test_the_corpus_is_the_one_counted():
    # what the report of this check counts; a fall means a scenario lost its commands
    assert len(LIVE) >= 130
    assert len(CATALOGUE) >= 60


@pytest.mark.parametrize(("where", "command"), LIVE, ids=[w for w, _ in LIVE])
def test_every_live_command_pastes_and_runs(where, command):
    assert problems_of(command, live=True) == [], command


@pytest.mark.parametrize(("where", "command"), CATALOGUE, ids=[w for w, _ in CATALOGUE])
def test_every_catalogue_command_pastes_and_runs(where, command):
    # explain prints these: a placeholder is a word to replace (BRANCH, N), never <branch>
    assert problems_of(command, live=True) == [], command


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("nvidia-smi -q -d PCIE -i 0", "nvidia-smi -d has no display type PCIE"),
        ("nvidia-smi --pcie -i 0", "nvidia-smi has no option --pcie"),
        ("sudo nvidia-smi mig -cgi <profile,...> -C -i 0", "an unfilled <placeholder>"),
        ("journalctl -u nvidia-gridd | tail", "'journalctl -u nvidia-gridd' needs root"),
        ("scontrol update nodename=n1 state=drain reason=x", "'scontrol update"),
        ("sudo nvidia-smi -i 0 -e 0|1", "'1' is not a command"),
        ("pip install numpy# for torch", "a '#' glued to an argument"),
        ("echo 'unbalanced", "does not parse"),
        ("gpudoctor check --no-such-option", "check has no option --no-such-option"),
        ("gpudoctor chek", "gpudoctor has no command chek"),
        ("srun -p gpu --gpu=1 --pty bash", "srun has no option --gpu"),
        ("nvidia-smi -pm 1", "'nvidia-smi -pm 1' needs root"),
    ],
)
def test_the_checks_catch_what_they_are_for(command, problem):
    assert any(p.startswith(problem) for p in problems_of(command, live=True)), problems_of(
        command, live=True
    )


@pytest.mark.parametrize(
    "command",
    [
        "sudo nvidia-smi -r -i 0   # once the GPU is idle; or reboot",
        "sudo scontrol update nodename=n1 state=drain reason='gpudoctor:GPU-068 node'\\''s 8'",
        "curl -s -L https://x/y.list | sed 's#deb https://#deb [signed-by=/k.gpg] https://#g'",
        "sudo apt-get install linux-headers-$(uname -r) && sudo dkms autoinstall",
        "dnf install -y gcc gcc-c++   # as a RUN line of the image's Dockerfile (it runs as root)",
        "ls -l /etc/slurm/slurm.conf; echo ${SLURM_CONF:-SLURM_CONF is not set}",
        "apt-get install --dry-run 'hostname=3.*'",
    ],
)
def test_sound_commands_pass(command):
    assert problems_of(command, live=True) == []
