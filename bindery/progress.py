"""Showing build progress: a live display for people, JSON lines for programs.

Both consume the same event dicts the builder emits (``phase`` + ``message``),
so what a person sees and what a program parses never drift apart.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from bindery.builder.events import BuildEvent

PHASE_TITLES = {
    "resolving": "Resolving the ref",
    "fetching": "Fetching the repository",
    "building": "Building the image",
    "built": "Image ready",
    "launching": "Starting the server",
    "ready": "Server ready",
    "failed": "Failed",
}


class JsonProgress:
    """One JSON object per line on ``stream`` (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()

    def __call__(self, event: BuildEvent) -> None:
        self.stream.write(json.dumps(event) + "\n")
        self.stream.flush()


class LiveProgress:
    """A spinner with the current phase above the last lines of the live log (stderr)."""

    def __init__(self, console: Console | None = None, tail: int = 12) -> None:
        self.console = console or Console(stderr=True)
        self.lines: deque[str] = deque(maxlen=tail)
        self.phase = "resolving"
        self.all_lines: list[str] = []
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8,
                              transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def _render(self) -> Group:
        title = PHASE_TITLES.get(self.phase, self.phase)
        spinner = Spinner("dots", text=Text(title, style="bold"))
        return Group(spinner, *(Text(line, style="dim", overflow="ellipsis", no_wrap=True)
                                for line in self.lines))

    def __call__(self, event: BuildEvent) -> None:
        phase = event.get("phase", self.phase)
        message = str(event.get("message", "")).rstrip("\n")
        if phase != self.phase:
            self.phase = phase
            if phase in ("fetching", "building", "launching") or self._live is None:
                self.console.print(Text(f"▸ {PHASE_TITLES.get(phase, phase)}", style="bold cyan"))
        for line in message.splitlines():
            self.all_lines.append(line)
            self.lines.append(line)
            if self._live is None:
                # Not a terminal (CI, pipes): plain streaming log.
                self.console.print(line, markup=False, highlight=False)
        if self._live is not None:
            self._live.update(self._render())
        if phase == "failed" and self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
            for line in self.all_lines[-40:]:
                self.console.print(line, markup=False, highlight=False, style="dim")
