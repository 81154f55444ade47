"""The live line of check, verify and onboard: its text fitted to the terminal at every redraw,
and which terminals can redraw a line at all."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import BarColumn, ProgressColumn, Task
    from rich.progress_bar import ProgressBar

MIN_TEXT = 10
"""The least room a live line's text keeps, however narrow the terminal."""

Reserve = Callable[[int], int]
"""The columns a live line's other parts take at a terminal width."""
Words = Callable[["Task", int], str]
"""A live line's text for a task, fitted by its owner into the room given (in columns)."""


def fitted_text(
    console: Console, reserve: int | Reserve, words: Words | None = None
) -> ProgressColumn:
    """``{task.description}`` as it is (no markup), on one line of at most the terminal's width
    less ``reserve``, cut with an ellipsis; ``words`` may shorten it to the room itself.

    Left to rich, a description longer than the room left by the other columns squeezed them
    instead: at 80 columns the spinner and the elapsed time were dropped (a queued onboard job
    looked hung) and verify's ``0/2`` and elapsed time read ``1…`` and ``0…``. The width is read
    at every redraw (rich reads the terminal's size each time, which is cheap): read once, a
    terminal narrowed during a long run squeezed the other columns out again.
    """
    from rich.progress import ProgressColumn
    from rich.table import Column
    from rich.text import Text

    def room() -> int:
        width = console.width
        taken = reserve(width) if callable(reserve) else reserve
        return max(width - taken, MIN_TEXT)

    class Fitted(ProgressColumn):
        def get_table_column(self) -> Column:
            return Column(no_wrap=True, overflow="ellipsis", max_width=room())

        def render(self, task: Task) -> Text:
            return Text(task.description if words is None else words(task, room()))

    return Fitted()


def fitted_bar(console: Console, width: Reserve) -> BarColumn:
    """A progress bar ``width(terminal width)`` columns wide, measured at every redraw."""
    from rich.progress import BarColumn

    class Fitted(BarColumn):
        def render(self, task: Task) -> ProgressBar:
            self.bar_width = width(console.width)
            return super().render(task)

    return Fitted(bar_width=width(console.width))


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
