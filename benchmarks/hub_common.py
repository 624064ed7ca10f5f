"""Start a real ``bindery hub`` (built-in proxy, local-process spawner) in a temp dir for benchmarks."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchHub:
    def __init__(self, **env: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bindery-bench-hub-"))
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.token = secrets.token_hex(32)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BINDERY_")}
        self.env.update({
            "BINDERY_HUB_ADMIN_TOKEN": self.token,
            "BINDERY_HUB__DB_URL": f"sqlite:///{self.dir / 'hub.sqlite'}",
            "BINDERY_HUB__COOKIE_SECRET_FILE": str(self.dir / "cookie-secret"),
            "BINDERY_HUB__SPAWNER__KIND": "local",
            "BINDERY_HUB__SPAWNER__LOCAL_ROOT_DIR": str(self.dir / "users"),
            **env,
        })
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def hub_api(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}/hub/api"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def __enter__(self) -> BenchHub:
        log = open(self.dir / "hub.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bindery.cli", "hub", "--port", str(self.port), "--hub-port",
             str(self.hub_port), "--proxy-api-port", str(self.api_port), "--log-level", "warning"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.hub_api}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"hub did not start; see {self.dir / 'hub.log'}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]
