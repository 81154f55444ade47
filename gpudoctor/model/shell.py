"""Report values in the commands gpudoctor prints: each one word, never a command of its own.

A report can come from another machine (``fleet`` collects them, ``check --from-report`` replays
one someone sent), so a node name, a path or a version in it may hold a space, a quote,
``$(...)``, a backquote, ``;``, ``!`` (history expansion in an interactive bash, even inside
double quotes), a newline or a leading ``-``. A value either goes into a printed command as one
word in single quotes (:func:`word`, shlex's quoting: nothing expands there, ``!`` included) or,
where it must have a form (a PCI address, a GPU UUID) and has not, as a word to replace.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

PCI_ADDRESS = re.compile(r"(?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")
"""``0000:3b:00.0`` as sysfs and lspci write it (the domain of NVML's ``00000000:3B:00.0``
has 8 digits; ``3b:00.0`` without one)."""
DEVICE_UUID = re.compile(r"(?:GPU|MIG)-[0-9A-Fa-f-]+(?:/[0-9]+/[0-9]+)?")
"""A GPU's or MIG instance's UUID as NVML and ``nvidia-smi -L`` give it (``GPU-5d3c...``,
``MIG-1a2b...``, or the older ``MIG-GPU-<uuid>/GI/CI``)."""

VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*")
"""A version as pip, conda and the driver's packages write it (``9.1.0.70``, ``2.5.1+cu124``,
``570.124.06``), without an epoch's ``!``."""
PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A pip or distribution package's name (``nvidia-cudnn-cu12``)."""


WINDOWS_PATH = re.compile(r"[A-Za-z0-9:\\/._~-]+")
"""A Windows path that PowerShell and cmd.exe both run as it is, unquoted (use ``fullmatch``):
``C:\\Users\\ana\\venv\\Scripts\\python.exe``. Quoted, neither runs it: PowerShell reads
``'C:\\...\\python.exe' -m`` as a string and stops at ``-m`` (*Unexpected token*; ``&`` must
come first), and cmd.exe takes single quotes as part of the name."""


def gpudoctor(command: Sequence[str] | None, *, windows: bool = False) -> str:
    """How a printed command starts gpudoctor, from a report's ``host.gpudoctor_command``:
    ``/path/to/python -m gpudoctor`` where it was run so with no ``gpudoctor`` on PATH (the
    interpreter one word, ``PYTHON`` to replace where it cannot be), else ``gpudoctor``.
    ``windows``: the report is of Windows, where a POSIX shell's quotes are no quotes; the
    interpreter as it is where :data:`WINDOWS_PATH` allows, else ``PYTHON``."""
    if command is not None and len(command) == 3 and tuple(command[1:]) == ("-m", "gpudoctor"):
        if windows:
            python = command[0] if WINDOWS_PATH.fullmatch(command[0]) else "PYTHON"
            return f"{python} -m gpudoctor"
        return f"{word(command[0], 'PYTHON')} -m gpudoctor"
    return "gpudoctor"


def printable(value: str) -> bool:
    """Whether ``value`` is something to print within one command line: not empty, and no
    newline, tab or other control character (a newline ends the pasted command there)."""
    return bool(value) and value.isprintable()


def word(value: str, placeholder: str) -> str:
    """``value`` as one word of a shell command: as it is where it has nothing a shell reads
    (``gpu01``, ``/usr/lib/x86_64-linux-gnu``), in single quotes otherwise; ``placeholder``,
    the word to replace, where it has a control character or starts with ``-`` (a program
    would read it as an option)."""
    if not printable(value) or value.startswith("-"):
        return placeholder
    return shlex.quote(value)


def sbatch_word(value: str, placeholder: str) -> str:
    """``value`` as one word of an ``#SBATCH`` line, read back by sbatch as it is.

    sbatch splits the rest of such a line itself (Slurm's src/sbatch/opt.c ``_get_argument``;
    tried with ``sbatch --test-only`` on Debian 12's Slurm 22.05): words end at whitespace,
    so ``#SBATCH -p gpu --job-name=x`` names the job too (``--output=F`` would write F);
    single or double quotes group a word and go (``'g'\\''pu'``, shlex's quoting, reads
    ``g'pu``); an unquoted ``#`` ends the line (``-p gpu#x`` is ``-p gpu``); a word that
    starts with ``:`` is fatal (*Unexpected `:`*); and a backslash escapes the next character
    even inside single quotes, so ``'g\\pu'`` reads ``gpu``. Hence :func:`word`'s quoting, a
    leading ``:`` quoted too, and ``placeholder`` where :func:`word` gives it or the value has
    a backslash."""
    if "\\" in value:
        return placeholder
    quoted = word(value, placeholder)
    return f"'{quoted}'" if quoted.startswith(":") else quoted


def assignment(name: str, value: str, placeholder: str) -> str:
    """``NAME=value`` for ``export``: ``value`` in single quotes where a shell would read it
    otherwise (a ``-`` at its start is no option there), ``placeholder`` where it has a
    control character."""
    return f"{name}={shlex.quote(value) if printable(value) else placeholder}"


def matching(value: str | None, pattern: re.Pattern[str], placeholder: str) -> str:
    """``value`` where the whole of it has ``pattern``'s form (then it needs no quotes),
    else ``placeholder``."""
    return value if value is not None and pattern.fullmatch(value) else placeholder


def one_line(text: str) -> str:
    """A fix line with each newline, tab or other control character a space: what a report
    value brings into it can end no command and start none."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)
