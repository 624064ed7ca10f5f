"""Which R packages a repository asks for: ``install.R`` calls, ``DESCRIPTION`` fields and
``renv.lock`` entries, and the Debian package that provides each one.

Why read R code at all: where no CRAN mirror answers (this machine), the only source of
R packages is Debian's archive (``r-cran-<name>``, ``r-bioc-<name>``), so Bindery must know
the package names without running ``install.R``. Only the plain, literal forms are
understood (``install.packages("x")``, ``install.packages(c("x", "y"))``,
``BiocManager::install("z")``); every other install call is listed as "not understood",
never guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bindery.environment.errors import RepoConfigError

#: Shipped inside R itself (r-base-core): never a separate Debian package.
BASE_PACKAGES = frozenset({
    "R", "base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods",
    "parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils",
})
#: Valid R package names (Writing R Extensions 1.1.1).
_PACKAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$")
#: Calls that install packages, by how their package names map to Debian.
_INSTALL_CALL = re.compile(
    r"(?P<fn>(?:\b[A-Za-z][\w.]*::)?\b(?:install\.packages|install_github|install_gitlab|"
    r"install_bitbucket|install_url|install_local|install_version|install_cran|install_bioc|"
    r"install_git|install)\b)\s*\("
)
_STRING = re.compile(r"""(?P<q>["'])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)""")


@dataclass(frozen=True)
class InstallCall:
    """One package-installing call of ``install.R``."""

    line: int
    #: The call as written, shortened for reports ("install.packages(c(\"a\", \"b\"))").
    text: str
    #: R package names it asks for (empty when the call is not understood).
    packages: tuple[str, ...]
    #: "cran" or "bioc" when Debian can stand in for it; "" when only running it can.
    kind: str


@dataclass(frozen=True)
class RequestedPackage:
    """An R package wanted by the repository, and where that want comes from."""

    name: str
    #: "install.R line 3", "DESCRIPTION Imports", "renv.lock".
    origin: str
    kind: str = "cran"
    #: The version renv.lock pins (Debian may provide another one).
    version: str = ""

    @property
    def debian(self) -> str:
        """Debian's package of this R package (lower-case name, dots kept)."""
        prefix = "r-bioc-" if self.kind == "bioc" else "r-cran-"
        return prefix + self.name.lower()


def _strip_comments(text: str) -> str:
    """R source with ``#`` comments blanked (not inside strings); line breaks kept."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch == "#":
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            out.append(" " * (end - i))
            i = end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _call_arguments(text: str, open_paren: int) -> str:
    """The text between ``(`` at ``open_paren`` and its matching ``)`` (strings respected)."""
    depth = 0
    quote = ""
    i = open_paren
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_paren + 1 : i]
        i += 1
    return text[open_paren + 1 :]


def _first_argument(args: str, named: str) -> str:
    """The first positional argument, or the one called ``named`` (``pkgs = ...``)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current = ""
    for ch in args:
        if quote:
            current += ch
            if ch == quote and not current.endswith("\\" + ch):
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        parts.append(current.strip())
    for part in parts:
        match = re.match(rf"^{re.escape(named)}\s*=(?!=)\s*(.*)$", part, re.S)
        if match:
            return match.group(1)
    positional = [p for p in parts if not re.match(r"^[A-Za-z_.][\w.]*\s*=(?!=)", p)]
    return positional[0] if positional else ""


def _literal_names(expression: str) -> tuple[str, ...] | None:
    """Package names of ``"x"`` or ``c("x", "y")``; None when it is anything else."""
    expression = expression.strip()
    inner = expression
    match = re.match(r"^c\s*\((.*)\)$", expression, re.S)
    if match:
        inner = match.group(1)
    strings = [m.group("s") for m in _STRING.finditer(inner)]
    leftover = _STRING.sub("", inner).replace(",", "").strip()
    if not strings or leftover:
        return None
    if not all(_PACKAGE_NAME.match(s) for s in strings):
        return None
    return tuple(strings)


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def install_calls(text: str) -> tuple[InstallCall, ...]:
    """Every package-installing call of an ``install.R`` text, in order."""
    code = _strip_comments(text)
    calls: list[InstallCall] = []
    for match in _INSTALL_CALL.finditer(code):
        fn = match.group("fn")
        bare = fn.rsplit("::", 1)[-1]
        namespace = fn.rsplit("::", 1)[0] if "::" in fn else ""
        if bare == "install" and namespace != "BiocManager":
            continue  # some other package's install(): not a package installer we know
        open_paren = match.end() - 1
        args = _call_arguments(code, open_paren)
        line = code.count("\n", 0, match.start()) + 1
        shown = _one_line(f"{fn}({args})")
        kind = ""
        names: tuple[str, ...] | None = None
        if bare == "install.packages":
            names = _literal_names(_first_argument(args, "pkgs"))
            # A repos= pointing elsewhere (a drat or r-universe) is still a CRAN-like name.
            kind = "cran"
        elif namespace == "BiocManager" and bare == "install":
            names = _literal_names(_first_argument(args, "pkgs"))
            kind = "bioc"
        elif bare in ("install_cran", "install_version"):
            names = _literal_names(_first_argument(args, "pkgs" if bare == "install_cran" else "package"))
            kind = "cran"
        elif bare == "install_bioc":
            names = _literal_names(_first_argument(args, "repo"))
            kind = "bioc"
        if names is None:
            calls.append(InstallCall(line, shown, (), ""))
        else:
            calls.append(InstallCall(line, shown, names, kind))
    return tuple(calls)


def from_install_r(text: str, origin: str) -> tuple[tuple[InstallCall, ...], tuple[RequestedPackage, ...]]:
    """``install.R``'s calls and the packages Debian could provide for them."""
    calls = install_calls(text)
    wanted: list[RequestedPackage] = []
    for call in calls:
        for name in call.packages:
            if name not in BASE_PACKAGES:
                wanted.append(RequestedPackage(name, f"{origin} line {call.line}", call.kind))
    return calls, unique(wanted)


def _dcf_fields(text: str) -> dict[str, str]:
    """A Debian-control-style file (``DESCRIPTION``) as field → value (continuations joined)."""
    fields: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if raw[0] in " \t" and key:
            fields[key] += " " + raw.strip()
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            continue
        key = name.strip()
        fields[key] = value.strip()
    return fields


def from_description(text: str, origin: str) -> tuple[RequestedPackage, ...]:
    """The packages a ``DESCRIPTION`` depends on (Depends, Imports, LinkingTo)."""
    fields = _dcf_fields(text)
    if "Package" not in fields:
        raise RepoConfigError(
            f"{origin} has no 'Package:' field; an R package's DESCRIPTION starts with "
            "'Package: <name>'."
        )
    wanted: list[RequestedPackage] = []
    for field_name in ("Depends", "Imports", "LinkingTo"):
        for entry in fields.get(field_name, "").split(","):
            name = entry.split("(")[0].strip()
            if name and name not in BASE_PACKAGES and _PACKAGE_NAME.match(name):
                wanted.append(RequestedPackage(name, f"{origin} {field_name}"))
    return unique(wanted)


@dataclass(frozen=True)
class RenvLock:
    """What ``renv.lock`` pins."""

    r_version: str
    packages: tuple[RequestedPackage, ...]
    #: Packages from GitHub and other non-repository sources: only renv itself installs them.
    elsewhere: tuple[str, ...]


def from_renv_lock(text: str, origin: str) -> RenvLock:
    """Parse ``renv.lock`` (JSON): R version and every package with its source."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RepoConfigError(f"{origin} is not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Packages", {}), dict):
        raise RepoConfigError(f"{origin} has no 'Packages' object; it is not an renv lockfile.")
    r_section = data.get("R") if isinstance(data.get("R"), dict) else {}
    version = str(r_section.get("Version", "")) if isinstance(r_section, dict) else ""
    wanted: list[RequestedPackage] = []
    elsewhere: list[str] = []
    for key, entry in sorted(data.get("Packages", {}).items()):
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("Package", key))
        if name in BASE_PACKAGES or name == "renv" or not _PACKAGE_NAME.match(name):
            continue
        source = str(entry.get("Source", "Repository"))
        pinned = str(entry.get("Version", ""))
        if source in ("Repository", "CRAN"):
            wanted.append(RequestedPackage(name, origin, "cran", pinned))
        elif source == "Bioconductor":
            wanted.append(RequestedPackage(name, origin, "bioc", pinned))
        else:
            elsewhere.append(f"{name} ({source})")
    return RenvLock(version, unique(wanted), tuple(elsewhere))


def unique(packages: list[RequestedPackage]) -> tuple[RequestedPackage, ...]:
    """First request of each Debian package wins (its origin is the one reported)."""
    seen: set[str] = set()
    out: list[RequestedPackage] = []
    for p in packages:
        if p.debian not in seen:
            seen.add(p.debian)
            out.append(p)
    return tuple(out)
