"""Hub API latency and memory with 1,000 users.

Prints p50/p99 of ``GET /hub/api/users`` (default page and the whole list) and the hub's
RSS (target ≤ 150 MB). Run: ``.venv/bin/python benchmarks/hub_api.py [--users 1000]``.
"""

from __future__ import annotations

import argparse
import time

import httpx
import psutil
from hub_common import BenchHub, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with BenchHub() as hub, httpx.Client(headers=hub.headers, timeout=30) as http:
        for start in range(0, args.users, 250):
            names = [f"user{i:05d}" for i in range(start, min(start + 250, args.users))]
            http.post(f"{hub.hub_api}/users", json={"usernames": names}).raise_for_status()
        for label, params in (("default page (200)", {}), (f"all {args.users}", {"limit": str(args.users)})):
            times = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                answer = http.get(f"{hub.hub_api}/users", params=params)
                times.append((time.perf_counter() - t0) * 1000)
                answer.raise_for_status()
            print(f"GET /hub/api/users {label}: p50 {percentile(times, 50):.1f} ms, "
                  f"p99 {percentile(times, 99):.1f} ms ({args.requests} requests, {len(answer.json())} users each)")
        rss = psutil.Process(hub.process.pid).memory_info().rss / 2**20
        print(f"hub RSS with {args.users} users: {rss:.0f} MB (target <= 150 MB) -> "
              f"{'OK' if rss <= 150 else 'OVER'}")


if __name__ == "__main__":
    main()
