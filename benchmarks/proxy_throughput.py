"""Proxy throughput and latency: direct vs. Bindery's built-in proxy vs. CHP vs. nginx.

Compared in one run: the upstream reached directly, Bindery's built-in proxy,
configurable-http-proxy (npm) and the nginx backend (Debian's nginx, kind = "nginx"),
each routing to the same upstream through its default target.

Upstream: a minimal aiohttp server (uvloop) answering a small JSON document, in its own
process on 127.0.0.1, so the figure measures the proxies rather than a Jupyter server.
Load: ``wrk`` (if installed) with a bounded duration and connection count on loopback,
else a fixed number of requests from an aiohttp client loop. Each target is measured
``--rounds`` times in rotating order and the best round is kept (noisy shared machines).

    .venv/bin/python benchmarks/proxy_throughput.py [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bindery.hub.proxy.nginx_process import NginxProcess, find_nginx
from bindery.hub.proxy.processes import CHP_CACHE, ChpProcess, ProxyProcess, free_port, install_chp

BODY = b'{"status": "ok", "kernels": 0, "connections": 0, "last_activity": "2024-01-01T00:00:00Z"}'


def serve_upstream(port: int) -> None:
    """The upstream process: one small JSON answer on every path."""
    import uvloop
    from aiohttp import web

    async def answer(request: web.BaseRequest) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        runner = web.ServerRunner(web.Server(answer, access_log=None), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        await asyncio.Event().wait()

    uvloop.run(main())


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0
    #: CPU seconds the proxy process spent per request (robust to a busy machine).
    cpu_us_per_request: float | None = None


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT[unit]


def run_wrk(name: str, url: str, duration: int, connections: int, threads: int) -> Result:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"  warning ({name}): {out.strip().splitlines()[-3:]}")
    return Result(name, rps, p50, p99, requests)


async def _client_loop(url: str, requests: int, connections: int) -> tuple[float, list[float]]:
    import aiohttp

    latencies: list[float] = []
    queue = iter(range(requests))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:

        async def worker() -> None:
            for _ in queue:
                t0 = time.perf_counter()
                async with http.get(url) as r:
                    await r.read()
                    assert r.status == 200
                latencies.append((time.perf_counter() - t0) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - start, latencies


def run_client_loop(name: str, url: str, requests: int, connections: int) -> Result:
    elapsed, latencies = asyncio.run(_client_loop(url, requests, connections))
    latencies.sort()
    return Result(
        name,
        len(latencies) / elapsed,
        statistics.median(latencies),
        latencies[int(len(latencies) * 0.99) - 1],
        len(latencies),
    )


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    process = psutil.Process(pid)
    total = 0.0
    for each in (process, *process.children(recursive=True)):  # nginx: master + workers
        times = each.cpu_times()
        total += times.user + times.system
    return total


def wait_for(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, trust_env=False, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=20000, help="per run without wrk")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return

    use_wrk = shutil.which("wrk") is not None
    upstream_port = free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(upstream_port)])
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    ours = ProxyProcess(default_target=upstream_url)
    chp = ChpProcess(executable=install_chp(CHP_CACHE), default_target=upstream_url)
    if find_nginx() is None:
        raise SystemExit("nginx is not installed (apt-get install nginx; setup.sh --dev does it)")
    # As many nginx workers as the machine has cores (nginx's "auto"), as deployed.
    nginx = NginxProcess(default_target=upstream_url)
    try:
        wait_for(f"{upstream_url}/ready")
        with ours, chp, nginx:
            pids = {"direct": None, "bindery proxy": ours.process.pid, "CHP": chp.process.pid,  # type: ignore[union-attr]
                    "nginx": nginx.process.pid}  # type: ignore[union-attr]
            targets = {
                "direct": f"{upstream_url}/user/alice/api/status",
                "bindery proxy": f"{ours.public_url}/user/alice/api/status",
                "CHP": f"{chp.public_url}/user/alice/api/status",
                "nginx": f"{nginx.public_url}/user/alice/api/status",
            }
            if use_wrk:
                load = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
            else:
                load = f"aiohttp loop, {args.requests} requests, {args.connections} connections"
            print(
                f"load: {load}; upstream: minimal aiohttp JSON server; best of {args.rounds} rounds"
            )
            best: dict[str, Result] = {}
            names = list(targets)
            for round_no in range(args.rounds):
                order = names[round_no % len(names) :] + names[: round_no % len(names)]
                for name in order:
                    url = targets[name]
                    cpu_before = cpu_seconds(pids[name])
                    if use_wrk:
                        result = run_wrk(name, url, args.duration, args.connections, args.threads)
                    else:
                        result = run_client_loop(name, url, args.requests, args.connections)
                    if pids[name] is not None and result.requests:
                        result.cpu_us_per_request = (
                            (cpu_seconds(pids[name]) - cpu_before) / result.requests * 1e6
                        )
                    print(f"  round {round_no + 1} {describe(result)}")
                    if name not in best or result.rps > best[name].rps:
                        best[name] = result
    finally:
        upstream.terminate()
        upstream.wait()

    print("\nbest rounds:")
    for result in best.values():
        print(f"  {describe(result)}")
    o, c, n, d = best["bindery proxy"], best["CHP"], best["nginx"], best["direct"]
    print(f"\nours/CHP throughput: {o.rps / c.rps:.2f}x (target >= 1.5x)")
    print(f"ours/CHP p99 latency: {o.p99_ms / c.p99_ms:.2f}x (target <= 1.0x)")
    if o.cpu_us_per_request and c.cpu_us_per_request:
        print(
            f"ours/CHP proxy CPU per request: {o.cpu_us_per_request / c.cpu_us_per_request:.2f}x "
            f"({o.cpu_us_per_request:.0f} vs {c.cpu_us_per_request:.0f} us; lower is better)"
        )
    print(f"direct/nginx throughput: {d.rps / n.rps:.2f}x (aim <= 2.0x); "
          f"nginx/CHP: {n.rps / c.rps:.2f}x; nginx p99 {n.p99_ms:.2f} ms")


def describe(result: Result) -> str:
    cpu = (
        f"  proxy CPU {result.cpu_us_per_request:5.0f} us/req" if result.cpu_us_per_request else ""
    )
    return (
        f"{result.name:14s} {result.rps:9.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
        f"p99 {result.p99_ms:7.2f} ms{cpu}"
    )


if __name__ == "__main__":
    main()
