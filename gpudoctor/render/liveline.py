"""The text column of a live progress line (rich), fitted to the terminal's width."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TextColumn

MIN_TEXT = 10


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
