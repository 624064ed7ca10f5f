"""The reproducibility grade: how exactly a repository pins what its image gets.

Computed at detect time from the :class:`~bindery.environment.model.Environment` alone
(no engine, no network), so the build log, the ``org.bindery.grade`` label and the
launch page all say the same thing before anything is built:

- **A**: everything pinned — the Python packages exactly (a lockfile, or every
  requirement ``==``), the interpreter (an exact ``X.Y`` that this Bindery provides) and
  the system packages (no ``apt.txt``, or every line ``name=version``);
- **B**: the Python packages pinned exactly, the interpreter or the system not;
- **C**: some pins (some requirements ``==``, or only the interpreter);
- **D**: nothing pinned.

A rebuild next month gives the same image only at A; at D it gives whatever is newest.
Environment modules say how exactly they pin their own packages through
:attr:`~bindery.environment.modules.Contribution.pinning`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bindery.environment.model import Environment

#: ``Contribution.pinning`` values: every package exact, some, none.
EXACT, PARTIAL, UNPINNED = "exact", "partial", "none"
LABEL = "org.bindery.grade"
#: How the summary line starts; the launch page finds the grade by this prefix.
SUMMARY_PREFIX = "Reproducibility grade: "

_EXACT_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^\s,;*<>=!~]+\s*(;.*)?$")


def is_exact_pin(line: str) -> bool:
    """``name==1.2.3`` (extras, markers and ``--hash`` options allowed); ``==1.*`` is not."""
    requirement = line.split(" --hash", 1)[0].strip()
    return bool(_EXACT_PIN.match(requirement))


@dataclass(frozen=True)
class Grade:
    """A letter and the reasons a person reads next to it."""

    letter: str
    #: One short clause per aspect: "Python packages: uv.lock (exact)", ...
    reasons: tuple[str, ...]

    def line(self) -> str:
        """The build-log summary line (also shown on the launch page)."""
        return f"{SUMMARY_PREFIX}{self.letter} ({'; '.join(self.reasons)})"


def _packages(env: Environment) -> tuple[str, str]:
    """(exact/partial/none, why) for the Python packages and those of modules."""
    levels: list[str] = []
    reasons: list[str] = []
    if env.lockfile is not None:
        levels.append(EXACT)
        reasons.append(f"{env.lockfile.source} installed exactly")
    elif env.requirements is not None:
        req = env.requirements
        if req.count and req.pinned >= req.count:
            levels.append(EXACT)
            reasons.append(f"every requirement in {req.source} is ==")
        elif req.pinned:
            levels.append(PARTIAL)
            reasons.append(f"{req.pinned} of {req.count} requirements in {req.source} are ==")
        else:
            levels.append(UNPINNED)
            reasons.append(f"no requirement in {req.source} is pinned with ==")
    for c in env.contributions:
        if c.pinning is None:
            continue
        levels.append(c.pinning)
        said = {EXACT: "pinned exactly", PARTIAL: "some pins"}.get(c.pinning, "not pinned")
        reasons.append(f"{', '.join(c.sources) or c.module}: {said}")
    if env.install_repo is not None:
        # The repository is pinned by its commit, its own dependencies are not.
        levels.append(PARTIAL)
        reasons.append(f"{env.install_repo}: the package's own dependencies are not pinned")
    if not levels:
        return UNPINNED, "no package list or lockfile"
    if all(level == EXACT for level in levels):
        overall = EXACT
    elif all(level == UNPINNED for level in levels):
        overall = UNPINNED
    else:
        overall = PARTIAL
    return overall, "; ".join(reasons)


def _interpreter(env: Environment) -> tuple[bool, str]:
    requested = env.python_requested
    if not requested:
        return False, "Python version not stated"
    if env.python_warning:
        return False, f"Python {requested} asked for, {env.python_version} provided"
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", requested):
        return True, f"Python {requested} ({env.python_source})"
    return False, f"Python {requested} is a range ({env.python_source})"


def _system(env: Environment) -> tuple[bool, str]:
    if not env.apt_packages:
        return True, "no apt.txt"
    loose = [p for p in env.apt_packages if "=" not in p]
    if not loose:
        return True, "every apt.txt package =version"
    return False, f"apt.txt packages without =version: {', '.join(loose[:5])}" + (
        ", ..." if len(loose) > 5 else "")


def grade(env: Environment) -> Grade:
    """The grade of ``env`` (a repository's own Dockerfile is graded by its caller)."""
    packages, packages_why = _packages(env)
    interpreter, interpreter_why = _interpreter(env)
    system, system_why = _system(env)
    reasons = (packages_why, interpreter_why, system_why)
    if packages == EXACT:
        letter = "A" if interpreter and system else "B"
    elif packages == PARTIAL or interpreter:
        letter = "C"
    else:
        letter = "D"
    return Grade(letter, reasons)


def dockerfile_grade(path: str) -> Grade:
    """A repository's own Dockerfile: Bindery cannot tell what it pins."""
    return Grade("D", (f"{path} is built as given; Bindery cannot tell what it pins",))
