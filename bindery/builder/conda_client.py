"""The conda client on the builder host: probe the channels, solve, download, link.

Runs py-rattler (a complete conda client in one Python package: no conda, mamba or
micromamba binary) on the builder host for :class:`~bindery.environment.conda.CondaModule`:

1. **probe** every channel with one ``HEAD <channel>/noarch/repodata.json`` (a short
   timeout, on a daemon thread with a hard deadline, so a hanging DNS lookup cannot stall
   a build); any failure means "unreachable" and the module may fall back to PyPI;
2. **solve** the specs (plus ``ipykernel``) against the channels for ``linux-64`` with the
   host's virtual packages — or take the exact records of ``conda-lock.yml`` / ``pixi.lock``;
3. **link** the records into ``.bindery/conda-env`` of the build context with the image's
   prefix (``/srv/conda``) written into every file (rattler's ``alternative_target_prefix``).
   Downloads go through one package cache under the builder's work dir; link scripts of
   packages are never run on the host.

Only channel URLs the deployment configured reach this module (the pure module refuses
others), and every package URL of a lock file must lie under one of them: a repository
cannot make the builder host fetch arbitrary URLs.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bindery.builder.events import EventSink
from bindery.environment.modules import HostResult, HostWork
from bindery.errors import BuildError

T = TypeVar("T")


def probe_channel(url: str, timeout: float) -> str:
    """"" when ``url`` answers as a conda channel within ``timeout`` seconds, else why not.

    The request runs on a daemon thread and the caller waits at most ``timeout`` + 1 s in
    all, because ``urlopen``'s timeout does not bound the DNS lookup.
    """
    target = f"{url.rstrip('/')}/noarch/repodata.json"
    if target.startswith("file://"):
        return "" if Path(target.removeprefix("file://")).is_file() else f"{target} does not exist"
    answers: queue.Queue[str] = queue.Queue(maxsize=1)

    def attempt() -> None:
        answers.put(_head(target, timeout))

    threading.Thread(target=attempt, name="conda-probe", daemon=True).start()
    try:
        return answers.get(timeout=timeout + 1.0)
    except queue.Empty:
        return f"{target} did not answer within {timeout:g} s"


def _head(target: str, timeout: float) -> str:
    request = urllib.request.Request(target, method="HEAD", headers={"User-Agent": "bindery"})
    context = ssl.create_default_context()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310 - configured channels only
            status = response.status
    except urllib.error.HTTPError as exc:
        if exc.code in (405, 501):  # HEAD not supported: the server is there
            return ""
        return f"{target} answered HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return f"{target} did not answer ({exc.reason})"
    except (OSError, ValueError) as exc:
        return f"{target} did not answer ({exc})"
    return "" if 200 <= status < 400 else f"{target} answered HTTP {status}"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop in its own thread (the caller may be inside one)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=target, name="conda-client")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def run_conda_work(work: HostWork, out_dir: Path, work_dir: Path, emit: EventSink) -> HostResult:
    """The ``conda`` host work: see the module docstring."""
    req = work.request
    source = str(req["source"])
    channels = [str(c) for c in req["channels"]]
    say = _say(emit)
    for url in channels:
        why = probe_channel(url, float(req["probe_timeout"]))
        if why:
            say(f"conda: channel {url} is unreachable: {why}")
            return HostResult(False, f"channel {url} is unreachable ({why})")
    say(f"conda: channel(s) answered: {', '.join(channels)}")
    import rattler

    cache = Path(str(req["cache_dir"])) if req.get("cache_dir") else work_dir / "conda-cache"
    cache.mkdir(parents=True, exist_ok=True)
    mirrors = {k: [v] for k, v in dict(req.get("mirrors") or {}).items()}
    client = rattler.Client(middlewares=[rattler.networking.MirrorMiddleware(mirrors)] if mirrors else None)
    platform = str(req["platform"])
    started = time.monotonic()
    pip_pins: list[str] = []
    if req.get("lock_text"):
        records, pip_pins = _locked_records(req, platform)
        say(f"conda: {len(records)} packages pinned by {req['lock_name']}"
            + (f", {len(pip_pins)} PyPI packages" if pip_pins else ""))
    else:
        specs = [*req["specs"]]
        records = _solve(rattler, specs, channels, platform, cache, client, source)
        if any(str(r.name.normalized) == "python" for r in records) and req["kernel_packages"]:
            records = _solve(rattler, [*specs, *req["kernel_packages"]], channels, platform,
                             cache, client, source)
        say(f"conda: solved {len(records)} packages in {time.monotonic() - started:.1f} s")
    allowed = [str(p) for p in req["allowed_prefixes"]] + [c.rstrip("/") + "/" for c in channels]
    for record in records:
        if not any(record.url.startswith(prefix) for prefix in allowed):
            raise BuildError(
                f"{source}: package {record.file_name} would be downloaded from {record.url}, "
                "which is not under a channel this deployment allows "
                "(builder.modules.conda channel_alias / channel_urls)."
            )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run(rattler.install(
            records, out_dir, cache_dir=cache / "pkgs", platform=rattler.Subdir(platform),
            alternative_target_prefix=str(req["prefix"]), execute_link_scripts=False,
            show_progress=False, client=client,
        ))
    except Exception as exc:  # noqa: BLE001 - rattler raises many kinds; all are the download/link
        raise BuildError(f"{source}: the conda client could not install the environment: {exc}") from exc
    (out_dir / "CACHEDIR.TAG").unlink(missing_ok=True)
    say(f"conda: linked {len(records)} packages for {req['prefix']} in {time.monotonic() - started:.1f} s")
    python = next((str(r.version) for r in records if str(r.name.normalized) == "python"), "")
    packages = [
        {"name": str(r.name.normalized), "version": str(r.version), "build": str(r.build),
         "url": r.url, "sha256": r.sha256.hex() if r.sha256 else ""}
        for r in sorted(records, key=lambda r: str(r.name.normalized))
    ]
    return HostResult(
        True, f"{len(records)} packages from {', '.join(channels)}",
        {"channels": channels, "packages": packages, "python": python, "pip_pins": pip_pins},
    )


def _say(emit: EventSink) -> Any:
    def say(line: str) -> None:
        emit({"phase": "building", "message": f"Bindery: {line}\n"})

    return say


def _solve(rattler: Any, specs: list[str], channels: list[str], platform: str, cache: Path,
           client: Any, source: str) -> list[Any]:
    gateway = rattler.Gateway(cache_dir=cache / "repodata", client=client)
    match_specs = []
    for spec in specs:
        try:  # conda's own lenient reading: "numpy 1.26" means ==1.26, as conda says
            match_specs.append(rattler.MatchSpec(spec))
        except Exception as exc:  # noqa: BLE001 - the parser's message names the fault
            raise BuildError(f"{source}: {spec!r} is not a conda package spec: {exc}") from exc
    try:
        return list(_run(rattler.solve(
            [rattler.Channel(url) for url in channels], match_specs, gateway=gateway,
            platforms=[platform, "noarch"], virtual_packages=rattler.VirtualPackage.detect(),
        )))
    except Exception as exc:  # noqa: BLE001 - solver errors are the user's to read
        raise BuildError(f"{source}: the conda solve failed: {exc}") from exc


def _locked_records(req: Any, platform: str) -> tuple[list[Any], list[str]]:
    """The lock's conda records for ``platform`` and its PyPI packages as ``name==version``."""
    import tempfile

    import rattler

    name = str(req["lock_name"])
    with tempfile.TemporaryDirectory(prefix="bindery-lock-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_text(str(req["lock_text"]))
        try:
            lock = rattler.LockFile.from_path(path)
        except Exception as exc:  # noqa: BLE001 - parse errors name the problem
            raise BuildError(f"{name} cannot be read as a conda lock file: {exc}") from exc
    env = lock.default_environment()
    if env is None:
        raise BuildError(f"{name} has no default environment to install.")
    for lock_platform in env.platforms():
        if str(lock_platform) == platform:
            records = env.conda_repodata_records_for_platform(lock_platform) or []
            if not records:
                raise BuildError(f"{name} pins no conda packages for {platform}.")
            pypi = env.pypi_packages_for_platform(lock_platform) or []
            return list(records), [f"{p.name}=={p.version}" for p in pypi]
    found = ", ".join(str(p) for p in env.platforms()) or "none"
    raise BuildError(f"{name} has no packages for {platform} (it has: {found}).")
