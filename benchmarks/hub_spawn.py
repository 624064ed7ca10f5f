"""Time to start N (default 100) local-process Jupyter servers through the hub API.

All start requests are sent at once; the hub queues them (``max_concurrent_spawns``)
and answers 429 + Retry-After when full, which this client honours. Prints the time
until every server is ready and the spawn rate. Servers are stopped at the end.
Run: ``.venv/bin/python benchmarks/hub_spawn.py [--servers 100] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from hub_common import BenchHub, percentile


async def start_one(http: httpx.AsyncClient, api: str, name: str) -> float:
    t0 = time.perf_counter()
    while True:
        answer = await http.post(f"{api}/users/{name}/server")
        if answer.status_code == 429:
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")) / 10)
            continue
        if answer.status_code in (201, 400):  # 400: already running (a retried request got there)
            break
        if answer.status_code == 202:
            async with http.stream("GET", f"{api}/users/{name}/server/progress") as events:
                async for line in events.aiter_lines():
                    if '"ready": true' in line or '"failed": true' in line:
                        break
            break
        raise RuntimeError(f"{name}: {answer.status_code} {answer.text}")
    return time.perf_counter() - t0


async def run(hub: BenchHub, servers: int) -> None:
    names = [f"bench{i:03d}" for i in range(servers)]
    async with httpx.AsyncClient(headers=hub.headers, timeout=600) as http:
        await http.post(f"{hub.hub_api}/users", json={"usernames": names})
        t0 = time.perf_counter()
        each = await asyncio.gather(*(start_one(http, hub.hub_api, n) for n in names))
        total = time.perf_counter() - t0
        ready = await http.get(f"{hub.hub_api}/users", params={"state": "ready", "limit": str(servers)})
        print(f"{len(ready.json())}/{servers} servers ready in {total:.1f} s "
              f"({servers / total:.2f} servers/s); per-request p50 {percentile(each, 50):.1f} s, "
              f"p99 {percentile(each, 99):.1f} s")
        t1 = time.perf_counter()
        await asyncio.gather(*(http.delete(f"{hub.hub_api}/users/{n}/server") for n in names))
        print(f"stopped {servers} servers in {time.perf_counter() - t1:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8, help="hub max_concurrent_spawns")
    args = parser.parse_args()
    with BenchHub(BINDERY_HUB__SPAWNER__MAX_CONCURRENT_SPAWNS=str(args.concurrency),
                  BINDERY_HUB__SLOW_SPAWN_TIMEOUT="0") as hub:
        asyncio.run(run(hub, args.servers))


if __name__ == "__main__":
    main()
