"""Parsing the version strings the knowledge base compares: drivers, CUDA, Python, CCs."""

from __future__ import annotations

import functools
import re

from packaging.version import Version

from gpudoctor.errors import BadInputError

# ASCII digits only: \d also matches full-width and other scripts' digits, which packaging's
# Version refuses (an internal error instead of bad input) and a version never holds
_DRIVER = re.compile(r"^\d{3,4}(\.\d{1,3}){0,2}$", re.ASCII)
# bounded: int() refuses 4,300 digits
_MAJOR_MINOR = re.compile(r"^(\d{1,9})\.(\d{1,9})(\.\d+)*$", re.ASCII)
_CC = re.compile(r"^(\d{1,2})\.(\d)$", re.ASCII)

_cached = functools.lru_cache(maxsize=1024)
"""For the parsers the rules call for every report: a fleet repeats the same few strings
(versions are immutable, and a refusal is not cached: it raises again)."""


@_cached
def parse_driver(text: str) -> Version:
    """An NVIDIA driver version such as ``535.104.05`` or ``572.61``."""
    value = text.strip()
    if not _DRIVER.match(value):
        raise BadInputError(f"driver version {text!r} is not like 535.104.05")
    return Version(value)


def major_minor(text: str, what: str = "version", example: str = "12.6") -> tuple[int, int]:
    """``(major, minor)`` of ``12.6``, ``12.6.3`` or ``3.12``; a bare major is refused.

    ``what`` and ``example`` word the error: ``Python version 'abc' is not like 3.12``.
    """
    match = _MAJOR_MINOR.match(text.strip())
    if not match:
        raise BadInputError(f"{what} {text!r} is not like {example}")
    return int(match.group(1)), int(match.group(2))


@_cached
def cuda_key(text: str) -> str:
    """The ``major.minor`` of a CUDA version, e.g. ``12.6.3`` -> ``12.6``."""
    major, minor = major_minor(text, "CUDA version", "12.6")
    return f"{major}.{minor}"


def python_key(text: str) -> tuple[int, int]:
    """``(3, 12)`` from ``3.12`` or ``3.12.4``."""
    return major_minor(text, "Python version", "3.12")


def glibc_older(glibc: str | None, floor: str) -> bool:
    """True when ``glibc`` (``2.17``) is older than ``floor``; False when it is unknown or
    cannot be parsed (a report's odd string): such a glibc is not judged."""
    if glibc is None:
        return False
    try:
        return python_key(glibc) < python_key(floor)
    except BadInputError:
        return False


@_cached
def parse_cc(text: str) -> tuple[int, int]:
    """A compute capability ``X.Y`` (also ``sm_86``, ``86`` or ``120``) as ``(major, minor)``."""
    value = text.strip().lower().removeprefix("sm_")
    match = _CC.match(value)
    if match:
        return int(match.group(1)), int(match.group(2))
    if value.isascii() and value.isdigit() and 2 <= len(value) <= 3:  # not "8²": int() fails
        return int(value[:-1]), int(value[-1])
    raise BadInputError(f"compute capability {text!r} is not like 8.6")


def cc_text(cc: tuple[int, int]) -> str:
    """``(8, 6)`` -> ``8.6``."""
    return f"{cc[0]}.{cc[1]}"


@_cached
def framework_version(text: str) -> Version:
    """A framework version such as ``2.9``, ``2.9.1``, ``2.15.0.post1`` or ``2.9.1+cu126``."""
    try:
        version = Version(text.strip())
    except ValueError:  # InvalidVersion, or a part longer than int() converts (4,300 digits)
        raise BadInputError(f"version {text!r} is not like 2.9 or 2.9.1") from None
    if len(version.release) < 2:
        raise BadInputError(f"version {text!r} needs a major and a minor, like 2.9 or 2.9.1")
    return version


@_cached
def release_key(text: str) -> tuple[int, int]:
    """The release series of a framework version: ``2.9.1`` and ``2.9`` -> ``(2, 9)``.

    Local labels (``+cu126``) and pre-release tails are dropped.
    """
    release = framework_version(text).release
    return release[0], release[1]


def is_exact(text: str) -> bool:
    """True for one release (``2.9.1``, ``2.15.0.post1``), False for a series (``2.9``)."""
    version = framework_version(text)
    return len(version.release) > 2 or version.public != version.base_version or bool(version.local)


def split_arch_list(text: str) -> tuple[str, ...]:
    """Split an arch list written as ``5.0;6.0;9.0+PTX`` or ``sm_60,sm_70,compute_90``."""
    return tuple(part for part in re.split(r"[;,\s]+", text.strip()) if part)
