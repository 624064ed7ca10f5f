"""Docker Engine: BuildKit builds through the docker CLI, containers through the API.

Why two channels: only the CLI drives BuildKit (needed for ``RUN --mount=type=cache``,
which makes dependency installs fast), while the Python SDK gives typed, reliable
container management. Both talk to the same daemon.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

import docker
import docker.errors
from docker.models.containers import Container

from bindery.engine.base import (
    BuildRequest,
    ContainerExited,
    ContainerStartTimeout,
    ContainerState,
    Engine,
    EngineError,
    LogSink,
    NamedVolume,
    RunningServer,
    RunRequest,
    run_as_user,
)
from bindery.engine.build_limits import BuildMemoryGuard, parse_memory
from bindery.engine.buildkit_log import BuildKitLog
from bindery.engine.debian_base import BaseImageError, make_debian_image, suite_of
from bindery.errors import BuildError, BuildLimitExceeded, EngineUnavailable
from bindery.plugins import PluginOptions

#: The most ``read_file`` reads (lock files and build reports that become image labels).
MAX_READ_BYTES = 1024 * 1024

#: A docker CLI whose plain ``docker build`` is BuildKit without the buildx plugin.
PREFERRED_CLIS = ("/usr/bin/docker",)
LOG_TAIL_LINES = 40
#: The bridge network every server container joins; inter-container traffic is off.
USER_NETWORK = "bindery-users"


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
        if options is not None and not isinstance(options, DockerEngineOptions):
            raise TypeError(f"DockerEngine needs DockerEngineOptions, not {type(options).__name__}")
        opts = options if options is not None else DockerEngineOptions()
        super().__init__(opts)
        self._cli_setting = opts.cli
        self._client = client
        self._network_lock = threading.Lock()
        self._base_lock = threading.Lock()

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
        for key, value in sorted(request.build_args.items()):
            cmd += ["--build-arg", f"{key}={value}"]
        cmd.append(str(request.context_dir))
        env = {**os.environ, "DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": "plain"}
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        steps = BuildKitLog()
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
                steps.feed(line)
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
            failed = steps.failed_step()
            if failed is not None:
                raise BuildError(_step_summary(failed.header, failed.output), log_tail,
                                 step=failed.header, step_output=failed.output,
                                 exit_code=failed.exit_code)
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

    def tag_image(self, source: str, target: str) -> bool:
        repository, _, tag = target.rpartition(":")
        if not repository or "/" in tag:
            repository, tag = target, "latest"
        try:
            return bool(self.client.images.get(source).tag(repository, tag))
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            return False

    def read_file(self, image: str, path: str) -> str:
        # Copied out of a created, never started container: nothing of the image runs,
        # and no output can be lost (``cat`` through a container's log lost the output
        # of short-lived containers about one read in three, seen with small files).
        # The file is the repository's to shape (a postBuild can replace it), so only a
        # regular file of bounded size is read: never a link to /dev/zero, never gigabytes.
        container = self.client.containers.create(
            image, ["true"], entrypoint=[], network_disabled=True, user="1000")
        try:
            _check_readable(self.client, container, image, path)
            chunks, _ = container.get_archive(path)
            archive = io.BytesIO()
            for chunk in chunks:
                archive.write(chunk)
                if archive.tell() > MAX_READ_BYTES + 64 * 1024:
                    raise EngineError(f"{path} in {image} is larger than {MAX_READ_BYTES} bytes")
        finally:
            _remove_quietly(container)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            member = tar.next()
            handle = tar.extractfile(member) if member is not None and member.isfile() else None
            if handle is None:
                raise EngineError(f"{path} in {image} is not a regular file")
            return handle.read(MAX_READ_BYTES).decode("utf-8", "replace")

    def pull_image(self, name: str) -> None:
        try:
            self.client.images.pull(name)
        except docker.errors.APIError as err:
            raise EngineError(
                f"The image {name!r} is not on this machine and could not be pulled "
                f"({_reason(err)}). Build it first (e.g. `bindery build`)."
            ) from err

    def provide_base_image(self, name: str, mirror: str, on_log: LogSink) -> None:
        """``bindery/base:<suite>``: pulled as ``debian:<suite>-slim`` where a registry
        answers, otherwise debootstrapped from the Debian mirror (one at a time)."""
        suite = suite_of(name)
        if suite is None:
            raise EngineError(
                f"The base image {name} is missing, and only bindery/base:<suite> images "
                "(a Debian release) can be made on demand; build or pull it first."
            )
        with self._base_lock:
            if self.image_labels(name) is not None:
                return  # made meanwhile by another build
            try:
                how = make_debian_image(self.cli, name, suite, mirror,
                                        lambda line: on_log(line + "\n"))
            except (BaseImageError, OSError, subprocess.SubprocessError) as exc:
                raise EngineError(f"The base image {name} could not be made: {exc}") from exc
            on_log(f"Base image {name}: {how}\n")

    # -- containers ---------------------------------------------------------

    def run(self, request: RunRequest) -> RunningServer:
        container = self._create(request)
        try:
            container.start()
        except docker.errors.APIError as err:
            _remove_quietly(container)
            raise EngineError(f"The container could not start: {_reason(err)}") from err
        try:
            port = self._wait_published(container, request)
        except BaseException:
            _remove_quietly(container)
            raise
        return RunningServer(container.id, port, f"http://127.0.0.1:{port}")

    def _create(self, request: RunRequest) -> Container:
        volumes: dict[str, dict[str, str]] = {}
        if request.mount_home is not None:
            volumes[str(request.mount_home.resolve())] = {"bind": "/home/jovyan", "mode": "rw"}
        for volume in request.volumes:
            self._ensure_volume(volume)
            volumes[volume.name] = {"bind": volume.target, "mode": "rw"}
        kwargs: dict[str, Any] = {}
        if request.memory:
            kwargs["mem_limit"] = request.memory
            if not request.swap:
                kwargs["memswap_limit"] = request.memory  # equal: no swap on top of it
        if request.cpus:
            kwargs["nano_cpus"] = int(request.cpus * 1_000_000_000)
        if request.extra_hosts:
            kwargs["extra_hosts"] = dict(request.extra_hosts)
        image_user, image_env = self._image_config(request.image)
        user = run_as_user(image_user, request.allow_root)
        environment = {**request.env, "JUPYTER_TOKEN": request.token}
        if user is not None:
            kwargs["user"] = user
            if "HOME" not in request.env and image_env.get("HOME", "/root") == "/root":
                # A root image's home is root's: give the server one it may write to.
                environment["HOME"] = "/tmp"
        try:
            return self.client.containers.create(
                request.image,
                request.command,
                name=request.name,
                environment=environment,
                labels=dict(request.labels),
                ports={f"{request.container_port}/tcp": ("127.0.0.1", request.host_port or None)},
                volumes=volumes,
                pids_limit=request.pids_limit,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                network=self._user_network(),
                detach=True,
                **kwargs,
            )
        except docker.errors.APIError as err:
            raise EngineError(f"The container engine refused to run the container: {_reason(err)}") from err

    def _user_network(self) -> str:
        """The user network, created on first use: a bridge without inter-container traffic.

        On Docker's default bridge every container can reach every other one's
        server port; here a container reaches the outside (package installs)
        and the host's published ports, never another user's container.
        """
        with self._network_lock:
            found = self.client.networks.list(names=[USER_NETWORK])
            if any(network.name == USER_NETWORK for network in found):
                return USER_NETWORK
            try:
                self.client.networks.create(
                    USER_NETWORK, driver="bridge", labels={"bindery.network": "users"},
                    options={"com.docker.network.bridge.enable_icc": "false"},
                )
            except docker.errors.APIError as err:
                if self.client.networks.list(names=[USER_NETWORK]):
                    return USER_NETWORK  # made meanwhile by another process
                raise EngineError(f"The user network {USER_NETWORK!r} could not be created: {_reason(err)}") from err
            return USER_NETWORK

    def _image_config(self, image: str) -> tuple[str, dict[str, str]]:
        """The user the image runs as (``""`` = root by default) and its environment."""
        try:
            found = self.client.images.get(image)
        except docker.errors.ImageNotFound as err:
            raise EngineError(f"The image {image!r} is not on this machine; build or pull it first.") from err
        except docker.errors.APIError as err:
            raise EngineError(f"The container engine could not look up {image!r}: {_reason(err)}") from err
        config = found.attrs.get("Config") or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        return str(config.get("User") or ""), env

    def _ensure_volume(self, volume: NamedVolume) -> None:
        try:
            self.client.volumes.get(volume.name)
        except docker.errors.NotFound:
            try:
                self.client.volumes.create(volume.name, labels=dict(volume.labels))
            except docker.errors.APIError as err:
                raise EngineError(f"The volume {volume.name!r} could not be created: {_reason(err)}") from err

    def remove_volume(self, name: str) -> None:
        try:
            self.client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as err:
            raise EngineError(f"The volume {name!r} could not be removed: {_reason(err)}") from err

    def _wait_published(self, container: Container, request: RunRequest) -> int:
        """Block until the container runs with its port published; return the host port."""
        deadline = time.monotonic() + request.start_timeout
        while True:
            container.reload()
            state = _state(container)
            port = state.published.get(request.container_port)
            if state.status == "running" and port:
                return port
            if state.ended:
                logs = container.logs(tail=20).decode("utf-8", "replace")
                raise ContainerExited(
                    f"The container stopped right away (exit status {state.exit_code}). "
                    f"Last log lines:\n{logs}", state, logs)
            if time.monotonic() > deadline:
                raise ContainerStartTimeout(
                    f"The container was not running after {request.start_timeout:g} s "
                    f"(state: {state.status}).", state.status)
            time.sleep(0.1)

    def inspect(self, container: str) -> ContainerState | None:
        try:
            found = self.client.containers.get(container)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as err:
            raise EngineError(f"The container engine could not look up {container!r}: {_reason(err)}") from err
        return _state(found)

    def stop(self, container_id: str, grace: float = 5.0) -> None:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return
        if grace > 0:
            try:
                container.stop(timeout=max(1, int(grace)))
            except docker.errors.APIError:
                pass  # already stopping or gone: removal below settles it
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as err:
            if "already in progress" not in str(err):
                raise EngineError(f"The container could not be removed: {_reason(err)}") from err

    def containers(self, labels: Mapping[str, str]) -> list[ContainerState]:
        try:
            found = self.client.containers.list(
                all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})
        except docker.errors.APIError as err:
            raise EngineError(f"The container engine could not list containers: {_reason(err)}") from err
        return [_state(c) for c in found]

    def is_running(self, container_id: str) -> bool:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return False
        return container.status in ("created", "running")

    def logs(self, container_id: str, tail: int = 50) -> str:
        try:
            container = self.client.containers.get(container_id)
            raw: bytes = container.logs(tail=tail)
        except docker.errors.NotFound:
            return ""
        except docker.errors.APIError as err:
            raise EngineError(f"The container's log could not be read: {_reason(err)}") from err
        return raw.decode("utf-8", "replace")


def _reason(err: docker.errors.APIError) -> str:
    """The daemon's own explanation, without the SDK's HTTP preamble."""
    return str(err.explanation or err)


def _remove_quietly(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.APIError:
        pass


def _state(container: Container) -> ContainerState:
    attrs: dict[str, Any] = container.attrs
    state = attrs.get("State") or {}
    status = str(state.get("Status") or container.status)
    ended = status in ("exited", "dead")
    published: dict[int, int] = {}
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for key, bindings in ports.items():
        number, _, protocol = str(key).partition("/")
        if protocol != "tcp":
            continue
        for binding in bindings or []:
            if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                published[int(number)] = int(binding["HostPort"])
                break
    return ContainerState(
        container_id=str(container.id),
        name=str(attrs.get("Name") or container.name or "").lstrip("/"),
        status=status,
        exit_code=int(state.get("ExitCode") or 0) if ended else None,
        oom_killed=bool(state.get("OOMKilled")),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
        image=str((attrs.get("Config") or {}).get("Image") or ""),
        published=published,
    )


def _looks_oom(log_tail: str) -> bool:
    return bool(re.search(r"exit code: 137|signal: killed|Killed\b", log_tail))


def _step_summary(header: str, output: tuple[str, ...]) -> str:
    """The failed step and its own last lines (the builder rewords the step's name)."""
    shown = "\n".join(f"  {line}" for line in output[-8:]) or "  (the step printed nothing)"
    return f"The image build failed at step {header[:200]}. Its last output:\n{shown}"


#: Go's os.FileMode type bits (dir, symlink, device, pipe, socket, char device, irregular).
_NOT_REGULAR = (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


def _check_readable(client: docker.DockerClient, container: Container, image: str, path: str) -> None:
    """Refuse, from the archive API's stat alone (HEAD: no content is produced), anything but
    a regular file of at most MAX_READ_BYTES: the daemon would stream a link's target or
    gigabytes before the first byte could be checked."""
    api = client.api
    url = api._url("/containers/{0}/archive", container.id)  # noqa: SLF001 - no SDK wrapper
    response = api.head(url, params={"path": path})
    api._raise_for_status(response)  # noqa: SLF001 - the SDK's own error mapping (NotFound ...)
    encoded = response.headers.get("x-docker-container-path-stat")
    stat = docker.utils.decode_json_header(encoded) if encoded else {}
    if stat.get("linkTarget") or int(stat.get("mode", 0)) & _NOT_REGULAR:
        raise EngineError(f"{path} in {image} is a link or not a regular file; not read")
    if int(stat.get("size", 0)) > MAX_READ_BYTES:
        raise EngineError(f"{path} in {image} is larger than {MAX_READ_BYTES} bytes; not read")


def _failure_summary(log_tail: str) -> str:
    """The most telling line of a failed build, for people who won't read the log."""
    lines = [ln for ln in log_tail.splitlines() if ln.strip()]
    interesting = [
        ln for ln in lines
        if re.search(r"error|not found|No matching|failed|unable to locate", ln, re.IGNORECASE)
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

