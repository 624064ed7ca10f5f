"""``LocalProcessSpawner``: each server is a ``jupyter`` process on this machine.

For development and tests: no isolation between users (all servers run as the
hub's OS user), but no container engine is needed either. Each server listens
on 127.0.0.1 on a free port and works in ``<local_root_dir>/<user>/``. The token
travels in the ``JUPYTER_TOKEN`` environment variable, never on the command line,
where ``ps`` would show it to every local user.

The process gets its own session (process group), so stopping it also stops the
kernels it started. State (pid, port, process start time) lets a restarted hub
find the process again; the start time guards against a recycled pid.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import anyio
import psutil
from pydantic import Field

from bindery.environment.hub_integration import config_files
from bindery.eventlog import EventLog
from bindery.hub.spawners.base import ProgressEvent, Spawner, SpawnerContext, SpawnRequest
from bindery.hub.spawners.errors import SpawnerError, SpawnTimeout
from bindery.hub.spawners.naming import escape, server_slug
from bindery.plugins import PluginOptions

#: Environment variables never passed on to users' servers (the hub's secrets).
#: Environment variables marking a server process as this hub's (set after the filter below).
_HUB_MARK, _USER_MARK, _SERVER_MARK = "BINDERY_HUB_ID", "BINDERY_USER", "BINDERY_SERVER_NAME"
_INSTANCE_MARK = "BINDERY_HUB_INSTANCE"
_SECRET_ENV = re.compile(r"^BINDERY_|SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE", re.IGNORECASE)
_PORT_ATTEMPTS = 3


def _default_local_root() -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / "bindery" / "users"


class LocalSpawnerOptions(PluginOptions):
    """The local spawner's own keys in ``[hub.spawner]``."""

    #: Command that starts a Jupyter server (``None`` = this venv's jupyter-lab,
    #: else jupyter-server). Bindery adds ip, port, base_url and root dir flags.
    local_command: tuple[str, ...] | None = None
    #: Each user's server runs in ``<local_root_dir>/<user>/``.
    local_root_dir: Path = Field(default_factory=_default_local_root)
    #: Command for servers that authenticate users against the hub themselves (when the
    #: proxy does not: ``kind = "chp"``); ``None`` = this venv's ``jupyterhub-singleuser``.
    singleuser_command: tuple[str, ...] | None = None
    #: Seconds between SIGTERM and SIGKILL when stopping a server.
    stop_grace: float = 5.0


def default_singleuser_command() -> list[str]:
    """This venv's ``jupyterhub-singleuser`` (the ``jupyterhub`` package), else from PATH."""
    found = Path(sys.executable).parent / "jupyterhub-singleuser"
    return [str(found)] if found.exists() else ["jupyterhub-singleuser"]


def default_local_command() -> list[str]:
    """This venv's ``jupyter-lab`` if installed, else its ``jupyter-server``."""
    bin_dir = Path(sys.executable).parent
    for name in ("jupyter-lab", "jupyter-server"):
        if (bin_dir / name).exists():
            return [str(bin_dir / name)]
    return ["jupyter-server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class LocalProcessSpawner(Spawner):
    """Runs ``jupyter lab``/``jupyter server`` as a subprocess on loopback."""

    name: ClassVar[str] = "local"
    options_model: ClassVar[type[PluginOptions]] = LocalSpawnerOptions

    options: LocalSpawnerOptions

    def __init__(self, request: SpawnRequest, options: PluginOptions, context: SpawnerContext) -> None:
        super().__init__(request, options, context)
        if not request.user:
            raise SpawnerError("A server needs a user name.")
        self.pid: int | None = None
        self.port: int | None = None
        self.create_time: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._progress: EventLog[ProgressEvent] = EventLog()

    # -- paths ---------------------------------------------------------------

    @property
    def root_dir(self) -> Path:
        """The user's working directory (shared by their named servers)."""
        return self.options.local_root_dir / escape(self.request.user)

    @property
    def log_path(self) -> Path:
        """Server output, kept outside the user's directory so it does not clutter it."""
        return self.options.local_root_dir / ".logs" / f"{server_slug(self.request.user, self.request.server_name)}.log"

    async def log_tail(self, lines: int = 20) -> str:
        return self._read_log_tail(lines)

    def _read_log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- contract --------------------------------------------------------------

    @property
    def config_dir(self) -> Path:
        """Jupyter config every server of this spawner reads (the hub menu in JupyterLab)."""
        return self.options.local_root_dir / ".jupyter-config"

    def _write_config(self) -> None:
        for name, text in config_files().items():
            path = self.config_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != text:
                path.write_text(text)

    def _command(self, port: int) -> list[str]:
        base_url = self.request.base_url
        if self.request.hub_auth:
            command = list(self.options.singleuser_command or default_singleuser_command())
        else:
            command = list(self.options.local_command or default_local_command())
        command += [
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            # Fail instead of silently moving to another port than the one we route to.
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.base_url={base_url}",
            f"--ServerApp.root_dir={self.root_dir}",
            *self.request.hub_page_flags(),
        ]
        if os.geteuid() == 0:
            # Jupyter refuses root unless told; the hub's own user is the one to run as.
            command.append("--ServerApp.allow_root=True")
        if self.request.default_url:
            command.append(f"--ServerApp.default_url={base_url}{self.request.default_url.lstrip('/')}")
        return command

    def _environment(self, port: int | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}
        env.update(self.request.env)
        env["HOME"] = str(self.root_dir)
        if port is not None:  # where jupyterhub-singleuser listens (it reads this, not flags)
            env["JUPYTERHUB_SERVICE_URL"] = f"http://127.0.0.1:{port}{self.request.base_url}"
        env["JUPYTER_CONFIG_PATH"] = str(self.config_dir)
        env["JUPYTER_TOKEN"] = self.request.api_token
        # Marks the process as this hub's server, so a later start of the hub can find it
        # when a crash kept it from being recorded (sweep_leftovers).
        env[_HUB_MARK] = self.context.hub_id
        env[_USER_MARK] = self.request.user
        env[_SERVER_MARK] = self.request.server_name
        env[_INSTANCE_MARK] = self.context.instance
        return env

    @classmethod
    def sweep_leftovers(cls, known: set[tuple[str, str]], options: PluginOptions,
                        context: SpawnerContext) -> list[str]:
        """This user's processes that lead a session and carry this hub's mark, whose
        server the database does not know: stopped (SIGTERM to the group, then SIGKILL)."""
        removed: list[str] = []
        leaders: list[psutil.Process] = []
        for proc in psutil.process_iter(["pid", "uids"]):
            try:
                if proc.info["uids"] is None or proc.info["uids"].real != os.getuid():
                    continue
                if os.getsid(proc.pid) != proc.pid:
                    continue  # only the server itself (it leads its own session)
                env = proc.environ()
            except (psutil.Error, OSError):
                continue
            if (not context.instance or env.get(_HUB_MARK) != context.hub_id
                    or env.get(_INSTANCE_MARK) != context.instance):
                continue
            key = (env.get(_USER_MARK, ""), env.get(_SERVER_MARK, ""))
            if key in known:
                continue
            leaders.append(proc)
            removed.append(f"{key[0]}/{key[1]}")
        for proc in leaders:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(leaders, timeout=max(float(getattr(options, "stop_grace", 5.0)), 0.5))
        for proc in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        return removed

    async def start(self) -> str:
        if self._progress.closed:  # started again after a stop: a new start, a new log
            self._progress = EventLog()
        try:
            return await self._start()
        except BaseException:
            # Cancelled (hub timeout, user pressed stop) or failed: leave no process behind.
            with anyio.CancelScope(shield=True):
                await self.stop()
            raise
        finally:
            self._progress.close()

    async def _start(self) -> str:
        self._progress.append(ProgressEvent(10, "Preparing your directory"))
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._write_config()
        deadline = time.monotonic() + self.context.start_timeout
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = free_port()
            self._progress.append(ProgressEvent(30, "Starting the Jupyter server process"))
            self._launch(port)
            self._progress.append(ProgressEvent(50, f"Waiting for the server to listen on port {port}"))
            while not _listening(port):
                status = await self.poll()
                if status is not None:
                    break
                if time.monotonic() > deadline:
                    raise SpawnTimeout(
                        f"The server process did not start listening within "
                        f"{self.context.start_timeout:g} s. Last log lines:\n{self._read_log_tail()}"
                    )
                await anyio.sleep(0.1)
            else:
                self._progress.append(ProgressEvent(90, "Server process is running"))
                return f"http://127.0.0.1:{port}"
            tail = self._read_log_tail()
            if "already in use" in tail and attempt < _PORT_ATTEMPTS:
                continue  # another process took the port between our check and bind
            self._clear()
            raise SpawnerError(
                f"The server process exited with status {status} right after starting. "
                f"Last log lines:\n{tail}"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, port: int) -> None:
        with open(self.log_path, "wb") as log:  # one log per run: tails stay relevant
            try:
                process = subprocess.Popen(
                    self._command(port),
                    cwd=self.root_dir,
                    env=self._environment(port),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as err:
                raise SpawnerError(
                    f"Could not run the Jupyter command {self._command(port)[0]!r}: {err}. "
                    "Install jupyter_server (or jupyterlab) or set hub.spawner.local_command."
                ) from err
        self._process = process
        self.pid = process.pid
        self.port = port
        try:
            self.create_time = psutil.Process(process.pid).create_time()
        except psutil.Error:
            self.create_time = None

    def _same_process(self) -> psutil.Process | None:
        """The psutil handle of our server if it still runs (and the pid was not reused)."""
        if self.pid is None:
            return None
        try:
            proc = psutil.Process(self.pid)
            if self.create_time is not None and abs(proc.create_time() - self.create_time) > 0.05:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    async def poll(self) -> int | None:
        if self._process is not None:
            code = self._process.poll()
            return None if code is None else code
        if self.pid is None:
            return 0
        return None if self._same_process() is not None else 1

    async def stop(self) -> None:
        if self.pid is None:
            return
        if await self.poll() is None and self._same_process() is not None:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + self.options.stop_grace
            while await self.poll() is None and time.monotonic() < deadline:
                await anyio.sleep(0.05)
            if await self.poll() is None:
                self._signal_group(signal.SIGKILL)
                while await self.poll() is None and time.monotonic() < deadline + 5:
                    await anyio.sleep(0.05)
        self._clear()

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.pid is not None
        try:
            os.killpg(self.pid, sig)  # the server leads its own session: pgid == pid
        except (ProcessLookupError, PermissionError):
            pass

    def _clear(self) -> None:
        self._process = None
        self.pid = self.port = None
        self.create_time = None

    def get_state(self) -> dict[str, Any]:
        if self.pid is None:
            return {}
        return {"pid": self.pid, "port": self.port, "create_time": self.create_time}

    def load_state(self, state: dict[str, Any]) -> None:
        self._process = None
        self.pid = state.get("pid")
        self.port = state.get("port")
        self.create_time = state.get("create_time")

    @property
    def url(self) -> str | None:
        """Where the server listens, if it was started (also after ``load_state``)."""
        return f"http://127.0.0.1:{self.port}" if self.port else None

    async def progress(self) -> AsyncIterator[ProgressEvent]:
        async for event in self._progress.follow():
            yield event
