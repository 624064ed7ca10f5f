"""Binder launch benchmarks against a real ``bindery serve`` (subprocess, loopback only).

Figures printed:
1. time to first JupyterLab for a small *uncached* repository (click → JupyterLab answering);
2. launch latency of a *cached* image, p50/p95 over ``--launches`` sequential launches,
   against mybinder.org's published median of about 15 s (target p50 <= 2 s);
3. memory (RSS) of hub + binder service (the ``bindery serve`` process) and of the proxy
   with ``--servers`` running servers (Docker containers of the cached image by default).

"Click → JupyterLab answering" = from the GET of ``/build/...`` until
``GET <url>lab?token=<token>`` through the proxy answers 200.

    .venv/bin/python benchmarks/binder_launch.py --launches 20 --servers 100
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

MYBINDER_MEDIAN_S = 15.0
ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
       "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}
NOTEBOOK = json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": "c",
                                  "metadata": {}, "outputs": [], "source": ["1 + 1"]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_repo(base: Path, port: int) -> str:
    name = f"bench-{secrets.token_hex(4)}"
    work = base / "work" / name
    work.mkdir(parents=True)
    (work / "hello.ipynb").write_text(NOTEBOOK)
    env = {**os.environ, **ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=work, check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(base / "srv" / f"{name}.git")],
                   check=True, env=env)
    return f"git://127.0.0.1:{port}/{name}.git"


def launch(base_url: str, repo: str) -> tuple[float, dict]:
    """One launch as a browser does it; seconds until JupyterLab answers, and the ready event."""
    started = time.monotonic()
    spec = f"git/{quote(repo, safe='')}/HEAD"
    ready = None
    with httpx.stream("GET", f"{base_url}build/{spec}", timeout=900, trust_env=False) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event["phase"] == "failed":
                    raise RuntimeError(event["message"])
                if event["phase"] == "ready":
                    ready = event
                    break
    assert ready is not None, "stream ended without ready"
    lab = httpx.get(ready["url"] + "lab", params={"token": ready["token"]}, timeout=60,
                    trust_env=False, follow_redirects=True)
    lab.raise_for_status()
    return time.monotonic() - started, ready


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_mb(pid: int) -> tuple[float, float]:
    """RSS (MB) of the serve process itself, and of its child processes (the proxy)."""
    proc = psutil.Process(pid)
    own = proc.memory_info().rss
    children = sum(c.memory_info().rss for c in proc.children(recursive=True))
    return own / 1e6, children / 1e6


class Serve:
    """``bindery serve`` in a subprocess with the benchmark's environment."""

    def __init__(self, tmp: Path, token: str, spawner: str, mem_limit: str, pool: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "BINDERY_ALLOW_LOCAL_REPOS": "1",
               "BINDERY_BINDER__DATA_DIR": str(tmp / f"data-{self.port}"),
               "BINDERY_BINDER__HUB_API_TOKEN": token,
               "BINDERY_BINDER__RATE_LIMIT": "0",
               "BINDERY_BINDER__TOTAL_QUOTA": "0", "BINDERY_BINDER__PER_REPO_QUOTA": "0",
               "BINDERY_BINDER__WARM_POOL_SIZE": str(pool),
               "BINDERY_BINDER__WARM_POOL_DELAY": "2",
               "BINDERY_BUILDER__IMAGE_PREFIX": "bindery-bench-binder",
               "BINDERY_HUB__SPAWNER__KIND": spawner,
               "BINDERY_HUB__SPAWNER__MEM_LIMIT": mem_limit,
               "BINDERY_HUB__SPAWNER__MAX_CONCURRENT_SPAWNS": "8"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bindery.cli", "serve", "--port", str(self.port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "versions", trust_env=False, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bindery serve did not start")
            time.sleep(0.2)
        self.hub = httpx.Client(headers={"Authorization": f"token {token}"}, trust_env=False,
                                timeout=120)

    def remove(self, ready: dict) -> None:
        name = ready["url"].rstrip("/").rsplit("/", 1)[-1]
        self.hub.delete(self.url + f"hub/api/users/{name}")

    def stop(self) -> None:
        for user in self.hub.get(self.url + "hub/api/users").json():
            if user["name"].startswith("tmp-"):
                self.hub.delete(self.url + f"hub/api/users/{user['name']}")
        self.proc.send_signal(2)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def latencies(serve: Serve, repo: str, count: int, pause: float) -> list[float]:
    timings = []
    for _ in range(count):
        time.sleep(pause)
        seconds, ready = launch(serve.url, repo)
        timings.append(seconds)
        serve.remove(ready)
    return timings


def report(label: str, timings: list[float]) -> float:
    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    print(f"{label}: p50 {p50:.2f} s, p95 {p95:.2f} s over {len(timings)} launches "
          f"(mybinder.org median ~{MYBINDER_MEDIAN_S:.0f} s: {MYBINDER_MEDIAN_S / p50:.1f}x faster;"
          f" target p50 <= 2 s: {'met' if p50 <= 2 else 'NOT met'})")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=20)
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--spawner", default="docker", help="hub spawner kind (docker|local)")
    parser.add_argument("--mem-limit", default="256m")
    parser.add_argument("--pause", type=float, default=6.0,
                        help="seconds between warm-pool launches (time for the pool to refill)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bindery-bench-binder-"))
    (tmp / "srv").mkdir()
    git_port = free_port()
    token = secrets.token_hex(32)
    gitd = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all",
                             f"--base-path={tmp / 'srv'}", "--listen=127.0.0.1",
                             f"--port={git_port}", str(tmp / "srv")])
    try:
        repo = make_repo(tmp, git_port)
        # Without the warm pool: every launch starts a container (the honest cold path).
        serve = Serve(tmp, token, args.spawner, args.mem_limit, pool=0)
        try:
            seconds, ready = launch(serve.url, repo)
            print(f"time to first JupyterLab, small uncached repository: {seconds:.1f} s")
            serve.remove(ready)
            report("cached image, server started on click (no warm pool)",
                   latencies(serve, repo, args.launches, 0))
            if args.servers:
                memory(serve, repo, args)
        finally:
            serve.stop()
        # With the warm pool (the default of bindery serve): a launch is a hand-over.
        serve = Serve(tmp, token, args.spawner, args.mem_limit, pool=1)
        try:
            launch(serve.url, repo)
            report(f"cached image with the warm pool (launches {args.pause:.0f} s apart)",
                   latencies(serve, repo, args.launches, args.pause))
        finally:
            serve.stop()
    finally:
        gitd.terminate()


def memory(serve: Serve, repo: str, args: argparse.Namespace) -> None:
    idle_own, idle_children = rss_mb(serve.proc.pid)
    readies: list[dict] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            _, r = launch(serve.url, repo)
            with lock:
                readies.append(r)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(str(exc))

    started = time.monotonic()
    for start in range(0, args.servers, 10):
        batch = [threading.Thread(target=one) for _ in range(min(10, args.servers - start))]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    own, children = rss_mb(serve.proc.pid)
    print(f"memory with {len(readies)} running servers ({args.spawner} spawner, started in "
          f"{time.monotonic() - started:.0f} s): hub + binder process {own:.0f} MB "
          f"(idle {idle_own:.0f} MB), proxy {children:.0f} MB (idle {idle_children:.0f} MB); "
          f"{len(errors)} launches failed" + (f": {errors[0]}" if errors else ""))
    for r in readies:
        serve.remove(r)


if __name__ == "__main__":
    main()
