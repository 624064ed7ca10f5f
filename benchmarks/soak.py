"""Soak: N user servers, continuous HTTP and WebSocket traffic through the proxy, memory over time.

A real ``bindery hub`` (local spawner) with its proxy (built-in, or nginx with
``--proxy nginx``) starts ``--servers`` user servers; then, for ``--minutes``, clients
send HTTP requests (bounded by ``--rps``) to random users' servers through the proxy,
each with that user's token (edge auth on every request), and keep one WebSocket per
server open, exchanging a message every ``--ws-interval`` seconds. Hub and proxy RSS
are sampled every ``--sample`` seconds; every error is counted by kind. The end prints
a table and the RSS slope (MB/hour, least squares over the samples after the first
fifth, which is warm-up). Loopback only; bounded in time and traffic.

    .venv/bin/python benchmarks/soak.py [--servers 50] [--minutes 30] [--rps 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack import Stack, rss_mb, start_server, user_token  # noqa: E402


@dataclass
class Counts:
    http_ok: int = 0
    ws_ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class Sample:
    t: float
    hub_mb: float | None
    proxy_mb: float | None
    http_ok: int
    ws_ok: int
    errors: int


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB), in MB per hour; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (m - mean_m) for t, m in points)
    return cov / var * 3600


async def http_load(url: str, users: dict[str, str], rps: float, stop: float,
                    counts: Counts, workers: int) -> None:
    """``workers`` clients sharing a request budget of ``rps`` per second."""
    interval = workers / rps
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def worker() -> None:
            next_at = time.monotonic() + random.random() * interval
            while time.monotonic() < stop:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                user = random.choice(list(users))
                try:
                    async with http.get(f"{url}/user/{user}/api/status",
                                        headers={"Authorization": f"token {users[user]}"}) as r:
                        await r.read()
                        if r.status == 200:
                            counts.http_ok += 1
                        else:
                            counts.errors[f"http {r.status}"] += 1
                except (aiohttp.ClientError, TimeoutError) as err:
                    counts.errors[f"http {type(err).__name__}"] += 1

        await asyncio.gather(*(worker() for _ in range(workers)))


async def websocket_load(url: str, user: str, token: str, interval: float, stop: float,
                         counts: Counts, echo_path: str) -> None:
    """One WebSocket to ``user``'s server, a message every ``interval`` s; reconnects on error."""
    ws_url = url.replace("http://", "ws://") + f"/user/{user}/{echo_path}"
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < stop:
            try:
                async with http.ws_connect(ws_url, headers={"Authorization": f"token {token}"},
                                           heartbeat=30) as ws:
                    while time.monotonic() < stop:
                        if echo_path == "ws":
                            text = f"ping {time.monotonic()}"
                            await ws.send_str(text)
                            reply = await ws.receive(timeout=10)
                            if reply.type is not aiohttp.WSMsgType.TEXT or reply.data != text:
                                counts.errors[f"ws unexpected {reply.type.name}"] += 1
                                break
                        elif ws.closed:
                            counts.errors["ws closed by server"] += 1
                            break
                        counts.ws_ok += 1
                        await asyncio.sleep(interval * (0.5 + random.random()))
            except (aiohttp.ClientError, TimeoutError) as err:
                counts.errors[f"ws {type(err).__name__}"] += 1
                await asyncio.sleep(1)


async def sampler(stack: Stack, stop: float, every: float, counts: Counts,
                  samples: list[Sample], t0: float) -> None:
    with_children = stack.proxy_kind == "nginx"
    while True:
        samples.append(Sample(
            time.monotonic() - t0, rss_mb(stack.hub.pid if stack.hub else None),
            rss_mb(stack.proxy_pid, with_children), counts.http_ok, counts.ws_ok,
            sum(counts.errors.values())))
        if time.monotonic() >= stop:
            return
        await asyncio.sleep(min(every, max(0.0, stop - time.monotonic())))


async def run_load(stack: Stack, users: dict[str, str], args: argparse.Namespace,
                   counts: Counts, samples: list[Sample]) -> float:
    t0 = time.monotonic()
    stop = t0 + args.minutes * 60
    echo_path = "ws" if stack.server_kind == "lite" else "api/events/subscribe"
    await asyncio.gather(
        sampler(stack, stop, args.sample, counts, samples, t0),
        http_load(stack.url, users, args.rps, stop, counts, args.http_clients),
        *(websocket_load(stack.url, user, token, args.ws_interval, stop, counts, echo_path)
          for user, token in users.items()),
    )
    return time.monotonic() - t0


def fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rps", type=float, default=200.0, help="HTTP requests/s, all users")
    parser.add_argument("--http-clients", type=int, default=16)
    parser.add_argument("--ws-interval", type=float, default=1.0, help="s between WS messages")
    parser.add_argument("--sample", type=float, default=30.0, help="s between RSS samples")
    parser.add_argument("--server", choices=["lite", "jupyter"], default="lite")
    parser.add_argument("--proxy", choices=["builtin", "nginx"], default="builtin")
    parser.add_argument("--keep", action="store_true", help="keep the state directory (logs)")
    args = parser.parse_args()

    stack = Stack(server=args.server, proxy=args.proxy)
    print(f"soak: {args.servers} servers = {stack.describe_servers()}; proxy: {args.proxy}; "
          f"{args.minutes:g} min; HTTP <= {args.rps:g} req/s over {args.http_clients} clients; "
          f"1 WebSocket per server, a message every ~{args.ws_interval:g} s; RSS every "
          f"{args.sample:g} s; state in {stack.dir}")
    counts = Counts()
    samples: list[Sample] = []
    try:
        stack.start_hub()
        users: dict[str, str] = {}
        t_start = time.monotonic()
        with httpx.Client(timeout=30, trust_env=False) as http:
            names = [f"soak-{i:03d}" for i in range(args.servers)]
            for name in names:
                users[name] = user_token(stack, http, name)
        with ThreadPoolExecutor(8) as pool, httpx.Client(timeout=120, trust_env=False) as http:
            outcomes = list(pool.map(lambda n: (n, start_server(stack, http, n)), users))
        failed = {n: o for n, o in outcomes if o != "ok"}
        for name, outcome in failed.items():
            counts.errors[outcome] += 1
            users.pop(name)
        print(f"started {len(users)}/{args.servers} servers in "
              f"{time.monotonic() - t_start:.1f} s" + (f"; failed: {failed}" if failed else ""))
        elapsed = asyncio.run(run_load(stack, users, args, counts, samples))
    finally:
        stack.stop()
        if not args.keep:
            stack.remove_files()

    print(f"\n{'t (s)':>7} {'hub MB':>7} {'proxy MB':>8} {'HTTP ok':>9} {'WS msgs':>9} {'errors':>7}")
    for s in samples:
        print(f"{s.t:7.0f} {fmt(s.hub_mb):>7} {fmt(s.proxy_mb):>8} {s.http_ok:9d} {s.ws_ok:9d} "
              f"{s.errors:7d}")
    warm = samples[len(samples) // 5:]
    for label, pick in (("hub", lambda s: s.hub_mb), ("proxy", lambda s: s.proxy_mb)):
        points = [(s.t, pick(s)) for s in warm if pick(s) is not None]
        slope = slope_mb_per_hour(points)  # type: ignore[arg-type]
        first, last = (points[0][1], points[-1][1]) if points else (None, None)
        print(f"{label} RSS: {fmt(first)} -> {fmt(last)} MB after warm-up; slope "
              + ("n/a (too few samples)" if slope is None else f"{slope:+.1f} MB/hour"))
    total = counts.http_ok + counts.ws_ok
    print(f"traffic: {counts.http_ok} HTTP requests ({counts.http_ok / elapsed:.0f}/s), "
          f"{counts.ws_ok} WebSocket round trips in {elapsed:.0f} s")
    errors = sum(counts.errors.values())
    print(f"errors: {errors} ({errors / max(total + errors, 1) * 100:.3f} %)"
          + "".join(f"\n  {n:6d}  {kind}" for kind, n in counts.errors.most_common()))


if __name__ == "__main__":
    main()
