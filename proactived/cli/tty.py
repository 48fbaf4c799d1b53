"""Terminal niceties for the CLI: colour and progress only when writing to a terminal (and ``NO_COLOR`` unset)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def is_terminal(stream: TextIO) -> bool:
    """True for an interactive terminal that accepts colour (https://no-color.org is honoured)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    """``text`` in ``colour`` when ``stream`` (default stdout) is a terminal, else unchanged."""
    if not is_terminal(stream or sys.stdout):
        return text
    return f"\033[{_CODES[colour]}m{text}\033[0m"


class Progress:
    """A one-line ``label: done/total (pct%)`` counter on a terminal's stderr; silent when redirected."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = is_terminal(self.stream)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled:
            pct = f" ({100 * self.done // self.total}%)" if self.total else ""
            self.stream.write(f"\r{self.label}: {self.done}/{self.total}{pct}")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
