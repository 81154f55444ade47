"""Is a path a Python 3 interpreter? Asked once, before any probe trusts it (``--python``)."""

from __future__ import annotations

import re

from gpudoctor.probe.runcmd import run_cmd

# Valid in Python 2 and 3 alike, so that a Python 2 answers too and can be named as such.
_PROGRAM = 'import sys; sys.stdout.write("gpudoctor-python %d.%d\\n" % sys.version_info[:2])'
_ANSWER = re.compile(r"^gpudoctor-python (\d+)\.(\d+)$", re.MULTILINE)
_ERRNO = re.compile(r"^\[Errno \d+\] (?P<text>.*?)(?:: '.*')?$")


def check_interpreter(path: str, timeout_s: float) -> str | None:
    """None when ``path`` answers like a Python 3 interpreter, else a one-line reason."""
    result = run_cmd([path, "-c", _PROGRAM], timeout_s=timeout_s)
    if result.start_error is not None:
        m = _ERRNO.match(result.start_error)
        text = (m.group("text") if m else result.start_error).strip().lower()
        return f"not a Python interpreter: {text}"
    if result.timed_out:
        return f"timed out: {path} did not answer within {timeout_s:g} s"
    answer = _ANSWER.search(result.stdout)
    if result.returncode != 0:
        said = _last_line(result.stderr) or _last_line(result.stdout)
        return f"not a Python interpreter: it exited with status {result.returncode}" + (
            f": {said}" if said else ""
        )
    if answer is None:
        said = _last_line(result.stdout)
        return "not a Python interpreter: asked for its version, it printed " + (
            repr(said) if said else "nothing"
        )
    major, minor = answer.groups()
    if major != "3":
        return f"not a Python 3 interpreter: it is Python {major}.{minor}"
    return None


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].strip()[:120] if lines else ""
