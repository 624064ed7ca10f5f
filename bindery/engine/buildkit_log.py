"""Which step of a BuildKit build failed, and what that step itself printed.

BuildKit's plain progress interleaves steps ("vertices") by number::

    #12 [ 9/12] RUN chmod +x postBuild && ./postBuild
    #12 0.231 ./postBuild: line 5: npm: command not found
    #12 ERROR: process "/bin/sh -c …" did not complete successfully: exit code: 127

A person needs the step and its own last lines, not the executor's summary, so
this follows every vertex's header and output and reports the one that failed.
Pure text processing: fed line by line while the build runs.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

#: How many of a step's own last output lines are kept.
KEEP_LINES = 12
_VERTEX = re.compile(r"^#(\d+) (.*)$")
_OUTPUT = re.compile(r"^\d+(?:\.\d+)? (.*)$")
_EXIT = re.compile(r"exit code: (\d+)")


@dataclass(frozen=True)
class FailedStep:
    """The step BuildKit reported as failed."""

    #: The step as BuildKit names it ("[ 9/12] RUN chmod +x postBuild && ./postBuild").
    header: str
    #: Its own last output lines, without BuildKit's "#12 0.231 " prefixes.
    output: tuple[str, ...]
    exit_code: int | None


@dataclass
class _Vertex:
    header: str = ""
    output: deque[str] = field(default_factory=lambda: deque(maxlen=KEEP_LINES))
    error: str | None = None


class BuildKitLog:
    """Feed it every line of ``docker build --progress=plain``; ask which step failed."""

    def __init__(self) -> None:
        self._vertices: dict[str, _Vertex] = {}
        self._failed: list[str] = []

    def feed(self, line: str) -> None:
        match = _VERTEX.match(line.rstrip("\n"))
        if not match:
            return
        number, rest = match.groups()
        vertex = self._vertices.setdefault(number, _Vertex())
        if rest.startswith("ERROR:") or rest.startswith("ERROR "):
            vertex.error = rest
            self._failed.append(number)
        elif not vertex.header and rest.startswith("["):
            vertex.header = rest
        elif vertex.error is None and (out := _OUTPUT.match(rest)) is not None:
            # (after its ERROR, BuildKit repeats the step's lines in a summary)
            vertex.output.append(out.group(1))

    def failed_step(self) -> FailedStep | None:
        """The first step that failed with a header (a RUN, COPY …), or None."""
        for number in self._failed:
            vertex = self._vertices[number]
            if not vertex.header:
                continue
            exit_match = _EXIT.search(vertex.error or "")
            return FailedStep(vertex.header, tuple(vertex.output),
                              int(exit_match.group(1)) if exit_match else None)
        return None
