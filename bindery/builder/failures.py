"""A failed build step, told in a person's words: which step, and its own last lines.

The engine reports the step as BuildKit names it (``[ 9/12] RUN chmod +x … &&
./postBuild``); the plan knows what each step is for (``postBuild``,
``requirements.txt``, ``installing Jupyter``). So the message reads
"postBuild failed (exit code 127): postBuild, line 5: npm: command not found",
followed by that step's last output lines, not BuildKit's executor lines.
"""

from __future__ import annotations

import re

from bindery.environment import BuildPlan
from bindery.errors import BuildError

#: Output lines that say what went wrong (the most telling one leads the message).
_TELLING = re.compile(
    r"error|not found|no such|failed|cannot|can't|unable|denied|No matching|"
    r"incompatible|unsatisfiable|Traceback|Killed", re.IGNORECASE)
#: bash's "./binder/postBuild: line 5: …" → "binder/postBuild, line 5: …".
_SCRIPT_LINE = re.compile(r"^(?:/bin/bash: )?(?:\./)?([\w./-]+): line (\d+): ")
SHOWN_LINES = 8


def step_label(plan: BuildPlan, step: str) -> str:
    """What a person calls the failing step, from the plan's step table."""
    for needle, label in plan.steps:
        if needle in step:
            return label
    return f"the build step {step[:160]}"


def _telling_line(output: tuple[str, ...]) -> str:
    for line in reversed(output):
        if _TELLING.search(line):
            return _SCRIPT_LINE.sub(r"\1, line \2: ", line.strip())
    return output[-1].strip() if output else ""


def explain_failure(exc: BuildError, plan: BuildPlan) -> str:
    """The message for a build that failed in ``exc.step``."""
    label = step_label(plan, exc.step)
    code = f" (exit code {exc.exit_code})" if exc.exit_code is not None else ""
    telling = _telling_line(exc.step_output)
    message = f"{label} failed{code}" + (f": {telling}" if telling else "")
    shown = exc.step_output[-SHOWN_LINES:]
    if shown:
        message += f"\nLast output of {label}:\n" + "\n".join(f"  {line}" for line in shown)
    for warning in plan.warnings:
        message += f"\nNote: {warning}"
    return message
