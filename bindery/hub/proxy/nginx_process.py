"""Running nginx (from the operating system) as the hub's proxy child process (kind = "nginx").

The hub writes nginx's whole configuration into ``config_dir`` at start, with the
routes nginx had before (``routes.json``, so a restarted nginx routes the servers that
are still running), starts ``nginx -g`` in the foreground and waits until its status
server answers. The ``nginx`` proxy client (``bindery.hub.proxy.nginx``) then changes
routes by rewriting the route files and reloading.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from pathlib import Path
from typing import Unpack

from bindery.hub.proxy.base import ProxyError
from bindery.hub.proxy.nginx import NginxProxy, NginxProxyOptions, RouteFiles, default_config_dir
from bindery.hub.proxy.nginx_config import (
    GENERATION_PATH,
    StaticConfig,
    listen_address,
    render_main,
)
from bindery.hub.proxy.processes import ProcessArgs, _ProcessBase


def find_nginx() -> str | None:
    """nginx on PATH, or where Debian puts it (``/usr/sbin`` is not on every user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _unprivileged_user() -> tuple[str, str]:
    """``nobody`` and its group (``nogroup`` on Debian)."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError as err:
        raise ProxyError("nginx runs as root here and needs the user 'nobody' for its workers.") from err
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


class NginxProcess(_ProcessBase):
    """nginx with Bindery's configuration, in the foreground, as a child of the hub."""

    name = "nginx proxy"

    def __init__(
        self,
        *,
        config_dir: str | Path | None = None,
        auth_url: str | None = None,
        login_url: str = "/hub/login",
        session_cookie: str = "bindery-session",
        auth_cache_ttl: float = 30.0,
        executable: str | None = None,
        workers: int | str = "auto",
        **kwargs: Unpack[ProcessArgs],
    ) -> None:
        super().__init__(**kwargs)
        found = executable or find_nginx()
        if found is None:
            raise ProxyError("nginx is not installed (Debian: apt-get install nginx); "
                             "it is needed for [hub.proxy] kind = \"nginx\".")
        self.executable = found
        self.config_dir = Path(config_dir) if config_dir else default_config_dir(self.api_port)
        self._temporary_config = not config_dir
        #: Started as root, nginx runs its workers as an unprivileged user (never as root).
        self.worker = _unprivileged_user() if os.geteuid() == 0 else None
        self.static = StaticConfig(
            config_dir=self.config_dir,
            listen=listen_address(self.ip, self.port),
            status_listen=listen_address(self.api_ip, self.api_port),
            default_target=self.default_target,
            auth_url=auth_url,
            proxy_token=self.auth_token,
            login_url=login_url,
            session_cookie=session_cookie,
            auth_cache_ttl=auth_cache_ttl,
            workers=workers,
            worker_user=f"{self.worker[0]} {self.worker[1]}" if self.worker else None,
            scratch_dir=(Path(tempfile.gettempdir()) / f"{self.config_dir.name}-{self.api_port}-work"
                         if self.worker else None),
        )

    def ready_url(self) -> str:
        return f"{self.api_url}{GENERATION_PATH}"

    def client(self) -> NginxProxy:  # type: ignore[override]
        """The ``nginx`` proxy client for this process (close it with ``aclose``)."""
        return NginxProxy(NginxProxyOptions(api_url=self.api_url, auth_token=self.auth_token,
                                            config_dir=str(self.config_dir)))

    def write_config(self) -> None:
        """nginx.conf afresh; the route files from the routes nginx had (or none)."""
        self.config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        scratch = self.static.scratch_dir or self.config_dir
        for sub in ("tmp", "auth-cache"):
            (scratch / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.worker is not None:
            # The workers' user may not enter config_dir (tokens live there): its scratch
            # directory is its own, in the system's temporary directory.
            uid, gid = pwd.getpwnam(self.worker[0]).pw_uid, grp.getgrnam(self.worker[1]).gr_gid
            for root, dirs, files in os.walk(scratch):
                for name in (root, *(os.path.join(root, n) for n in dirs + files)):
                    os.chown(name, uid, gid)
        routes = RouteFiles(self.config_dir)
        state = routes.load()
        try:
            routes.write(state)
        except ProxyError:
            # A route file from another version or a hand edit nginx would refuse: start
            # empty; the hub adds the routes of running servers again.
            routes.write({"generation": state["generation"], "routes": {}})
        for name, text in render_main(self.static).items():
            path = self.config_dir / name
            path.write_text(text)
            path.chmod(0o600)

    def command(self) -> list[str]:
        conf = self.config_dir / "nginx.conf"
        return [self.executable, "-p", str(self.config_dir), "-c", str(conf),
                "-e", str(self.config_dir / "error.log")]

    def start(self) -> None:
        self.write_config()
        super().start()

    def stop(self) -> None:
        """Stop nginx; its scratch files go, and so does a default (temporary) config_dir."""
        super().stop()
        if self.static.scratch_dir is not None:
            shutil.rmtree(self.static.scratch_dir, ignore_errors=True)
        if self._temporary_config:
            shutil.rmtree(self.config_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        own = super().log_tail(lines)
        try:
            errors = (self.config_dir / "error.log").read_text().splitlines()[-lines:]
        except OSError:
            errors = []
        return "\n".join(filter(None, [own, *errors]))
