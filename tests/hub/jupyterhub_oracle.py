"""The real JupyterHub (from PyPI) as a subprocess: the oracle of the differential tests.

DummyAuthenticator, ``SimpleLocalProcessSpawner`` running the real
``jupyterhub-singleuser`` from this venv, the real configurable-http-proxy from npm,
SQLite in a temp dir, and two services: ``admin-svc`` (admin role, its token is the
tests' admin token) and ``ext`` (a URL, so JupyterHub routes ``/services/ext/``).
Tests talk to the hub's own port (the REST API is the same behind the proxy).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bindery.hub.proxy.processes import install_chp
from hub.conftest import end_process, free_port, wait_until_answers

ADMIN_SERVICE = "admin-svc"
EXTERNAL_SERVICE = "ext"


@dataclass
class JupyterHubProcess:
    root: Path
    admin_token: str
    service_token: str
    service_url: str
    port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}/hub/api"

    def config(self) -> str:
        venv_bin = Path(sys.executable).parent
        settings = {
            "JupyterHub": {
                "ip": "127.0.0.1", "port": self.port, "hub_ip": "127.0.0.1",
                "hub_port": self.hub_port, "authenticator_class": "dummy",
                "spawner_class": "simple", "allow_named_servers": True,
                "db_url": f"sqlite:///{self.root / 'jupyterhub.sqlite'}",
                "cookie_secret_file": str(self.root / "cookie_secret"),
                "tornado_settings": {"slow_spawn_timeout": 60, "slow_stop_timeout": 60},
                "services": [
                    {"name": ADMIN_SERVICE, "api_token": self.admin_token},
                    {"name": EXTERNAL_SERVICE, "url": self.service_url,
                     "api_token": self.service_token},
                ],
                "load_roles": [{"name": "admin", "services": [ADMIN_SERVICE]},
                               {"name": "user", "scopes": [
                                   # JupyterHub's recipe to turn sharing on (Bindery's default)
                                   "self", "shares!user", "read:users:name",
                                   "read:groups:name"]}],
            },
            "ConfigurableHTTPProxy": {
                "api_url": f"http://127.0.0.1:{self.api_port}",
                "command": [install_chp()],
            },
            "DummyAuthenticator": {"allow_all": True},
            "Spawner": {
                "cmd": [str(venv_bin / "jupyterhub-singleuser")],
                "args": ["--allow-root"],
                "default_url": "/tree",
            },
            "SimpleLocalProcessSpawner": {
                "home_dir_template": str(self.root / "home" / "{username}"),
            },
        }
        lines = ["c = get_config()  # noqa: F821"]
        for section, values in settings.items():
            for key, value in values.items():
                lines.append(f"c.{section}.{key} = {json.dumps(value)}")
        return "\n".join(lines).replace("true", "True").replace("false", "False") + "\n"

    def start(self) -> None:
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        config = self.root / "jupyterhub_config.py"
        config.write_text(self.config())
        executable = shutil.which("jupyterhub", path=str(Path(sys.executable).parent))
        assert executable, "jupyterhub is in the test extra (pyproject.toml)"
        log = open(self.root / "jupyterhub.log", "ab")  # noqa: SIM115 - closed with the process
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(self.root)}
        self.process = subprocess.Popen([executable, "-f", str(config)], cwd=self.root,
                                        stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until_answers(self.process, self.api, self.log_tail, "JupyterHub")

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
        self._stop_its_proxy()

    def _stop_its_proxy(self) -> None:
        """JupyterHub leaves the proxy it started running when it exits (so a restarted hub
        finds its routes); the tests stop it, by the PID JupyterHub wrote down."""
        pid_file = self.root / "jupyterhub-proxy.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"configurable-http-proxy" in cmdline:
            os.kill(pid, signal.SIGTERM)

    def log_tail(self, lines: int = 40) -> str:
        path = self.root / "jupyterhub.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
