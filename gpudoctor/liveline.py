"""The live line of check, verify and onboard: its text fitted to the terminal, and which
terminals can redraw a line at all."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import TextColumn

MIN_TEXT = 10
"""The least room a live line's text keeps, however narrow the terminal."""


def fitted_text(width: int, reserve: int) -> TextColumn:
    """``{task.description}`` as it is (no markup), on one line of at most ``width - reserve``
    characters, cut with an ellipsis.

    Left to rich, a description longer than the room left by the other columns squeezed them
    instead: at 80 columns the spinner and the elapsed time were dropped (a queued onboard job
    looked hung) and verify's ``0/2`` and elapsed time read ``1…`` and ``0…``.
    """
    from rich.progress import TextColumn
    from rich.table import Column

    room = Column(no_wrap=True, overflow="ellipsis", max_width=max(width - reserve, MIN_TEXT))
    return TextColumn("{task.description}", markup=False, table_column=room)


def live_terminal(out: TextIO) -> bool:
    """True when ``out`` is a terminal that can redraw a live line: not a pipe or a file, and
    not a ``TERM=dumb`` (or ``unknown``) one, such as Emacs' shell, where rich draws nothing.

    There, verify's live line showed nothing at all for the whole run (only the finished
    runs), onboard's spinner nothing but the finished steps, and check's left a blank line
    before the report; plain lines (verify, onboard) or none (check) are what such a terminal
    can show.
    """
    if not out.isatty():
        return False
    return os.environ.get("TERM", "").lower() not in ("dumb", "unknown")
