"""JSON with comments (``devcontainer.json``'s format), read safely.

``//`` and ``/* */`` comments and trailing commas are removed by a small scanner that
knows string literals (a ``//`` inside ``"http://..."`` stays), then the standard JSON
parser reads the rest. Size is bounded by the caller (configuration files are at
most 1 MB); nesting depth is bounded here, so a file of ten thousand ``[`` cannot
exhaust the parser's recursion.
"""

from __future__ import annotations

import json
from typing import Any

from bindery.environment.errors import RepoConfigError

MAX_DEPTH = 64


def strip_jsonc(text: str, origin: str) -> str:
    """``text`` as plain JSON: comments blanked (line numbers kept), trailing commas dropped."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    depth = 0
    while i < n:
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if char == '"':
                in_string = False
            i += 1
            continue
        if char == '"':
            in_string = True
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise RepoConfigError(f"{origin}: a /* comment is never closed.")
            out.append("".join("\n" if c == "\n" else " " for c in text[i:end + 2]))
            i = end + 2
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise RepoConfigError(f"{origin} is nested more than {MAX_DEPTH} levels deep.")
        elif char in "]}":
            depth -= 1
            # A trailing comma: drop the last "," if only whitespace follows it.
            j = len(out) - 1
            while j >= 0 and out[j] in " \t\r\n":
                j -= 1
            if j >= 0 and out[j] == ",":
                out[j] = " "
        out.append(char)
        i += 1
    return "".join(out)


def load_jsonc(text: str, origin: str) -> Any:
    """The value of a JSON-with-comments document; errors name the file and line."""
    plain = strip_jsonc(text, origin)
    try:
        return json.loads(plain)
    except json.JSONDecodeError as exc:
        raise RepoConfigError(f"{origin} is not valid JSON (with comments): {exc.msg} "
                              f"(line {exc.lineno}, column {exc.colno}).") from exc
    except RecursionError as exc:  # pragma: no cover - MAX_DEPTH stops this first
        raise RepoConfigError(f"{origin} is nested too deeply.") from exc
