"""Measure spawn times: start() → /api/status 200, for both spawners.

Run: ``.venv/bin/python -m tests.spawners.bench_spawn [rounds] [concurrent]``
(needs the ``bindery-test-spawner:1`` image the engine tests build). Loopback only.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from bindery.engine.docker import DockerEngine
from bindery.hub.spawners.base import SpawnRequest
from bindery.hub.spawners.factory import spawner_factory
from bindery.hub.spawners.settings import SpawnerSettings
from bindery.readiness import status_url, wait_until_ready

HUB_ID = f"bindery-bench-spawners-{secrets.token_hex(3)}"
ENGINE = DockerEngine()


async def one(settings: SpawnerSettings, user: str) -> tuple[float, float, float]:
    """(seconds to running, seconds to answering, seconds to stop)."""
    token = secrets.token_hex(16)
    base = f"/user/{user}/"
    spawner = spawner_factory(settings, HUB_ID, engine=ENGINE)(SpawnRequest(user, "", base, token))

    async def alive() -> bool:
        return await spawner.poll() is None

    began = time.perf_counter()
    url = await spawner.start()
    running = time.perf_counter() - began
    try:
        await wait_until_ready(status_url(url, base), token, 60, alive)
        ready = time.perf_counter() - began
    finally:
        t = time.perf_counter()
        await spawner.stop()
        stopped = time.perf_counter() - t
    return running, ready, stopped


def report(label: str, rows: list[tuple[float, float, float]]) -> None:
    run, ready, stop = zip(*rows, strict=True)
    print(f"{label:<28} n={len(rows)}  running median {statistics.median(run):.2f}s  "
          f"answering median {statistics.median(ready):.2f}s (max {max(ready):.2f}s)  "
          f"stop median {statistics.median(stop):.2f}s")


async def main(rounds: int, concurrent: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = SpawnerSettings(kind="local", local_root_dir=Path(tmp))
        report("local (jupyter-server)", [await one(local, f"b{i}") for i in range(rounds)])
    docker_settings = SpawnerSettings(image="bindery-test-spawner:1")
    report("docker (jupyter lab)", [await one(docker_settings, f"b{i}") for i in range(rounds)])
    rows: list[tuple[float, float, float]] = []

    async def record(i: int) -> None:
        rows.append(await one(docker_settings, f"c{i}"))

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(concurrent):
            tg.start_soon(record, i)
    report(f"docker, {concurrent} at once", rows)
    print(f"  all {concurrent} answering + stopped within {time.perf_counter() - began:.2f}s wall")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    anyio.run(main, *(args + [5, 4][len(args):]))
