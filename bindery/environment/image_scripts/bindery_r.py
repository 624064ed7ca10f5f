"""Bindery's R steps, run inside the image being built (Debian's python3, stdlib only).

Shipped into the build context by the ``r`` environment module. Why a script instead of
Dockerfile lines: where R packages come from (a CRAN snapshot or Debian's ``r-cran-*``)
is decided by whether the repository answers *from inside the build*, and what Debian
really had is only known there too; the script writes that down as a JSON report,
which the builder copies into the image label ``org.bindery.r.report``.

    bindery_r.py system    as root: choose the source, install Debian packages or compilers
    bindery_r.py packages  as the user, after the repository copy: run install.R / renv /
                           DESCRIPTION against the snapshot, or report what Debian stood in for
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

STATE_DIR = Path("/srv/bindery-r")
PLAN = STATE_DIR / "plan.json"
STATE = STATE_DIR / "state.json"
REPORT = STATE_DIR / "report.json"
RPROFILE = Path("/etc/R/Rprofile.site")
RSCRIPT = ["Rscript", "--no-save", "--no-restore", "--no-init-file", "--no-environ"]


def say(line: str) -> None:
    print(f"[bindery r] {line}", flush=True)


def probe(url: str, timeout: float) -> str | None:
    """None when ``url`` answers (any HTTP status below 400), else why not, for a person."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "bindery-probe"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code} ({exc.reason})"
    except urllib.error.URLError as exc:
        return f"{url} could not be reached ({exc.reason})"
    except (OSError, ValueError) as exc:
        return f"{url} could not be reached ({exc})"


def codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def apt(*args: str) -> None:
    subprocess.run(["apt-get", *args], check=True, stdout=subprocess.DEVNULL)


def available(package: str) -> bool:
    found = subprocess.run(["apt-cache", "show", "--no-all-versions", package],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return found.returncode == 0


def installed_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def r_version() -> str:
    out = subprocess.run([*RSCRIPT, "-e", "cat(as.character(getRversion()))"],
                         capture_output=True, text=True)
    return out.stdout.strip()


def write_rprofile(repository: str) -> None:
    """Every R session (and install.R) uses the snapshot; Posit's binary packages need
    the R version in the user agent to be served."""
    lines = [
        "## Bindery: the package repository of this image",
        f"local(options(repos = c(CRAN = {json.dumps(repository)})))",
        'local(options(HTTPUserAgent = sprintf("R/%s R (%s)", getRversion(), '
        'paste(getRversion(), R.version["platform"], R.version["arch"], R.version["os"]))))',
    ]
    with RPROFILE.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


def system_step() -> int:
    plan = json.loads(PLAN.read_text())
    repository = plan["repository"].replace("{codename}", codename())
    mode, reason = plan["mode"], ""
    if mode in ("auto", "cran"):
        say(f"checking the R package repository {repository} ({plan['timeout']} s at most)")
        problem = probe(repository.rstrip("/") + "/src/contrib/PACKAGES", plan["timeout"])
        if problem is None:
            mode = "cran"
        elif mode == "cran":
            say(f"ERROR: {problem}; mode = \"cran\" needs it. Change {plan['repository_setting']}"
                f" to a mirror this build can reach, or set {plan['mode_setting']} = \"debian\""
                " (or \"auto\") to use Debian's r-cran-* packages")
            return 1
        else:
            mode, reason = "debian", problem
            say(f"{problem}: using Debian's r-cran-* packages instead "
                f"(mode = \"auto\"; {plan['repository_setting']} sets the repository)")
    write_rprofile(repository)
    state: dict[str, object] = {"mode": mode, "repository": repository, "reason": reason}
    build_tools = mode == "cran" and plan.get("build_tools", True)
    if build_tools or (mode != "cran" and plan["packages"]):
        apt("update", "-q")
    if mode == "cran":
        if build_tools:
            # Source packages need compilers; Posit's binaries do not, but a snapshot of
            # CRAN proper serves sources only.
            apt("install", "-y", "-q", "--no-install-recommends", "r-base-dev")
    else:
        wanted = plan["packages"]
        found = {p["debian"]: available(p["debian"]) for p in wanted}
        have = [p for p in wanted if found[p["debian"]]]
        missing = [p for p in wanted if not found[p["debian"]]]
        if have:
            names = [p["debian"] for p in have]
            say("installing from Debian: " + " ".join(names))
            apt("install", "-y", "-q", "--no-install-recommends", *names)
        state["installed"] = [
            {**p, "provided": installed_version(p["debian"])} for p in have]
        state["missing"] = missing
        for p in missing:
            say(f"NOT AVAILABLE: R package {p['name']} ({p['origin']}): Debian has no {p['debian']}")
    STATE.write_text(json.dumps(state, indent=1))
    return 0


def run_r(args: list[str], cwd: Path) -> bool:
    say("running " + " ".join(args))
    return subprocess.run(args, cwd=cwd).returncode == 0


def cran_packages(plan: dict[str, Any], stage: str, home: Path) -> list[str]:
    """Install through R itself; returns the names of the steps that failed."""
    failed: list[str] = []
    deps = Path(plan["deps_dir"])
    renv = plan.get("renv_lock") or ""
    install_r = plan.get("install_r") or ""
    done = STATE_DIR / "install-r-done"
    if stage == "deps":
        if renv and (deps / "renv.lock").exists():
            restore = (f"renv::restore(lockfile = '{deps / 'renv.lock'}', "
                       "library = .libPaths()[1], prompt = FALSE)")
            if not run_r([*RSCRIPT, "-e", "install.packages('renv')", "-e", restore], deps):
                failed.append(renv)
        # As repo2docker: try install.R before the repository copy (a cached layer);
        # what fails there runs again after the copy, where it can see the repository.
        if install_r and (deps / "install.R").exists() and run_r([*RSCRIPT, str(deps / "install.R")], home):
            done.touch()
        return failed
    if install_r and not done.exists() and not run_r([*RSCRIPT, install_r], home):
        failed.append(install_r)
    if plan.get("description"):
        ok = run_r([*RSCRIPT, "-e",
                    "if (!requireNamespace('remotes', quietly = TRUE)) install.packages('remotes')",
                    "-e", "remotes::install_local('.', upgrade = 'never')"], home)
        if not ok:
            failed.append("DESCRIPTION")
    return failed


def debian_report(plan: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """Each install.R call, and whether Debian stood in for it."""
    missing = {p["name"] for p in state.get("missing", [])}
    calls = []
    for call in plan.get("calls", []):
        names = call["packages"]
        if not names:
            status = "not run: only running install.R could do this, and its repository is unreachable"
        else:
            lacking = [n for n in names if n in missing]
            if not lacking:
                status = "satisfied from Debian"
            elif len(lacking) == len(names):
                status = "not satisfied: Debian has none of " + ", ".join(lacking)
            else:
                status = "partly satisfied from Debian; missing " + ", ".join(lacking)
        calls.append({"line": call["line"], "call": call["text"], "status": status})
    return calls


def packages_step(stage: str) -> int:
    plan = json.loads(PLAN.read_text())
    state = json.loads(STATE.read_text())
    home = Path(os.environ.get("HOME", "/home/jovyan"))
    report: dict[str, Any] = {
        "mode": state["mode"], "repository": state["repository"],
        "r_version": r_version(), "requested_r_version": plan.get("requested_r_version", ""),
    }
    if state["mode"] == "cran":
        failed = cran_packages(plan, stage, home)
        if failed:
            say("FAILED: " + ", ".join(failed) + " (see the R output above)")
            return 1
        report["installed_from"] = state["repository"]
    if stage == "deps":
        return 0
    if state["mode"] != "cran":
        missing = [p["name"] for p in state.get("missing", [])]
        calls = debian_report(plan, state)
        report.update(
            reason=state.get("reason", ""),
            installed=[f"{p['name']} ({p['debian']} {p['provided']})" for p in state.get("installed", [])],
            missing=missing,
            calls=calls,
        )
        why = report["reason"] or 'mode = "debian"'
        say(f"R packages from Debian's r-cran-* packages: {why}")
        for call in calls:
            say(f"{plan.get('install_r')} line {call['line']}: {call['call']} -> {call['status']}")
        if missing:
            say("R packages that could not be had: " + ", ".join(missing))
        for note in plan.get("notes", []):
            say(note)
    REPORT.write_text(json.dumps(report, sort_keys=True))
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["system"]:
        return system_step()
    if argv[1:2] == ["packages"] and len(argv) == 3:
        return packages_step(argv[2])
    print("usage: bindery_r.py system | packages deps|repo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
