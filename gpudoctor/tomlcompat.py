"""``tomllib``, or on Python 3.10 the ``tomli`` backport it came from (pyproject declares it)."""

from __future__ import annotations

import sys

# The one place the version test stands: every module that reads TOML imports tomllib from here.
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["tomllib"]
