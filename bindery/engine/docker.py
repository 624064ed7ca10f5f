"""Docker Engine: BuildKit builds through the docker CLI, containers through the API.

Why two channels: only the CLI drives BuildKit (needed for ``RUN --mount=type=cache``,
which makes dependency installs fast), while the Python SDK gives typed, reliable
container management. Both talk to the same daemon.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.errors

from bindery.engine.build_limits import BuildMemoryGuard, parse_memory
from bindery.engine.base import BuildRequest, Engine, LogSink, RunningServer, RunRequest
from bindery.errors import BuildError, BuildLimitExceeded, EngineUnavailable
from bindery.plugins import PluginOptions

#: A docker CLI whose plain ``docker build`` is BuildKit without the buildx plugin.
PREFERRED_CLIS = ("/usr/bin/docker",)
#: Exit status of a process killed by the kernel's OOM killer (128 + SIGKILL).
OOM_EXIT = 137
LOG_TAIL_LINES = 40


def find_docker_cli(explicit: str = "") -> str:
    """Pick a docker CLI able to run BuildKit builds.

    Docker ≥ 23 CLIs need the buildx plugin for BuildKit; Debian's 20.10 client
    has it built in, so it is preferred when present.
    """
    if explicit:
        return explicit
    for path in PREFERRED_CLIS:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("docker")
    if found is None:
        raise EngineUnavailable(
            "No docker command found. Install Docker (Debian/Ubuntu: "
            "'apt-get install docker.io') or run 'bindery doctor --fix' as root."
        )
    return found


class DockerEngineOptions(PluginOptions):
    """``[engine]`` keys of the Docker engine."""

    #: Path of the docker CLI used for BuildKit builds ("" = find one);
    #: also ``$BINDERY_DOCKER_CLI``.
    cli: str = ""


class DockerEngine(Engine):
    """The local Docker Engine."""

    name: ClassVar[str] = "docker"
    options_model: ClassVar[type[PluginOptions]] = DockerEngineOptions

    def __init__(self, options: PluginOptions | None = None,
                 client: docker.DockerClient | None = None) -> None:
        opts = options if isinstance(options, DockerEngineOptions) else DockerEngineOptions()
        super().__init__(opts)
        self._cli_setting = opts.cli
        self._client = client

    # -- plumbing -----------------------------------------------------------

    @property
    def cli(self) -> str:
        return find_docker_cli(self._cli_setting)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.from_env(timeout=120)
                self._client.ping()
            except docker.errors.DockerException as exc:
                self._client = None
                raise EngineUnavailable(
                    "The Docker engine is not answering "
                    f"({exc.__class__.__name__}). Start it ('dockerd &' or "
                    "'systemctl start docker'), or run 'bindery doctor --fix' as root."
                ) from exc
        return self._client

    def check(self) -> str:
        info: dict[str, Any] = self.client.info()
        return (
            f"Docker {info.get('ServerVersion', '?')} ({info.get('Driver', '?')} storage, "
            f"cgroup v{info.get('CgroupVersion', '1')}), CLI {self.cli}"
        )

    # -- images -------------------------------------------------------------

    def build(self, request: BuildRequest, on_log: LogSink) -> None:
        cmd = [
            self.cli, "build", "--progress=plain", "--force-rm",
            "-f", str(request.dockerfile), "-t", request.tag,
        ]
        for key, value in sorted(request.labels.items()):
            cmd += ["--label", f"{key}={value}"]
        cmd.append(str(request.context_dir))
        env = {**os.environ, "DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": "plain"}
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            text=True, errors="replace", bufsize=1,
        )
        timed_out = threading.Event()
        timer = None
        if request.timeout:
            def _cancel() -> None:
                timed_out.set()
                proc.terminate()
            timer = threading.Timer(request.timeout, _cancel)
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        guard = BuildMemoryGuard(parse_memory(request.memory)) if request.memory else None
        try:
            if guard is not None:
                guard.__enter__()
            assert proc.stdout is not None
            for line in proc.stdout:
                tail.append(line.rstrip("\n"))
                on_log(line if line.endswith("\n") else line + "\n")
            status = proc.wait()
        finally:
            if guard is not None:
                guard.__exit__()
                if guard.problem:
                    on_log(f"warning: {guard.problem}; the build ran without a memory limit\n")
            if timer is not None:
                timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log_tail = "\n".join(tail)
        if timed_out.is_set():
            self.remove_image(request.tag)
            raise BuildLimitExceeded(
                f"The build took longer than the limit of {request.timeout:g} seconds "
                f"and was stopped after {time.monotonic() - started:.0f} s.",
                log_tail,
            )
        if status != 0:
            if _looks_oom(log_tail):
                raise BuildLimitExceeded(
                    "The build ran out of memory"
                    + (f" (limit {request.memory})" if request.memory else "")
                    + ": a step was killed. Reduce what the build installs or compiles.",
                    log_tail,
                )
            raise BuildError(_failure_summary(log_tail), log_tail)

    def image_labels(self, name: str) -> dict[str, str] | None:
        try:
            image = self.client.images.get(name)
        except docker.errors.ImageNotFound:
            return None
        return dict(image.labels or {})

    def remove_image(self, name: str) -> None:
        try:
            self.client.images.remove(name, noprune=False)
        except (docker.errors.ImageNotFound, docker.errors.NotFound):
            pass

    def read_file(self, image: str, path: str) -> str:
        output = self.client.containers.run(
            image, ["cat", path], entrypoint=[], remove=True,
            network_disabled=True, user="1000", mem_limit="256m",
        )
        return output.decode("utf-8", "replace")

    # -- containers ---------------------------------------------------------

    def run(self, request: RunRequest) -> RunningServer:
        environment = {**request.env, "JUPYTER_TOKEN": request.token}
        volumes = {}
        if request.mount_home is not None:
            volumes[str(request.mount_home.resolve())] = {"bind": "/home/jovyan", "mode": "rw"}
        kwargs: dict[str, Any] = {}
        if request.memory:
            kwargs["mem_limit"] = request.memory
        if request.cpus:
            kwargs["nano_cpus"] = int(request.cpus * 1e9)
        container = self.client.containers.run(
            request.image,
            request.command,
            detach=True,
            name=request.name,
            environment=environment,
            ports={f"{request.container_port}/tcp": ("127.0.0.1", request.host_port or None)},
            volumes=volumes,
            labels=dict(request.labels),
            pids_limit=request.pids_limit,
            security_opt=["no-new-privileges"],
            **kwargs,
        )
        container.reload()
        binding = container.attrs["NetworkSettings"]["Ports"][f"{request.container_port}/tcp"]
        port = int(binding[0]["HostPort"])
        return RunningServer(container.id, port, f"http://127.0.0.1:{port}")

    def stop(self, container_id: str) -> None:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return
        try:
            container.stop(timeout=5)
        except docker.errors.APIError:
            pass
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass

    def is_running(self, container_id: str) -> bool:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return False
        return container.status in ("created", "running")

    def logs(self, container_id: str, tail: int = 50) -> str:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return ""
        return container.logs(tail=tail).decode("utf-8", "replace")


def _looks_oom(log_tail: str) -> bool:
    return bool(re.search(r"exit code: 137|signal: killed|Killed\b", log_tail))


def _failure_summary(log_tail: str) -> str:
    """The most telling line of a failed build, for people who won't read the log."""
    lines = [ln for ln in log_tail.splitlines() if ln.strip()]
    interesting = [
        ln for ln in lines
        if re.search(r"error|not found|No matching|failed|unable to locate", ln, re.I)
    ]
    reason = ""
    for line in interesting:
        # BuildKit prefixes lines with "#12 3.456 "; strip that for readability.
        cleaned = re.sub(r"^#\d+\s+[\d.]+\s+", "", line).strip()
        if cleaned and not cleaned.startswith("------"):
            reason = cleaned
            break
    message = "The image build failed"
    if reason:
        message += f": {reason[:300]}"
    return message + ". See the build log for details."


def docker_socket_path() -> Path:
    """Where the daemon listens by default (used by ``bindery doctor``)."""
    return Path("/var/run/docker.sock")
