"""The hub: one object holding DB, spawners, proxy client and authenticator, plus its ASGI app.

    hub = Hub(settings, spawner_factory=...)  # made by bindery.composition.make_hub
    app = build_app(hub)                      # Starlette; startup opens the DB and reconciles
    uvicorn.run(app, host=settings.hub_ip, port=settings.hub_port)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from bindery.hub import audit
from bindery.hub.api.errors import json_error
from bindery.hub.auth.base import Authenticator
from bindery.hub.context import HubContext
from bindery.hub.db.engine import open_database
from bindery.hub.db.models import User, utcnow
from bindery.hub.db.private_files import private_file
from bindery.hub.handoff import HandoffCodes
from bindery.hub.metrics import HubMetrics
from bindery.hub.origins import HubHostOnly
from bindery.hub.proxy.base import Proxy, ProxyError
from bindery.hub.security import SecurityHeadersMiddleware, SessionSigner
from bindery.hub.servers import ServerManager
from bindery.hub.service_registry import add_service_routes, register_service_tokens
from bindery.hub.sessions import start_session
from bindery.hub.settings import HubSettings
from bindery.hub.spawners.factory import SpawnerFactory
from bindery.hub.tokens import ensure_service_token
from bindery.request_id import RequestIdMiddleware

log = logging.getLogger("bindery.hub")
access_log = logging.getLogger("bindery.hub.access")

#: Environment variable with a token the deployment gives its services (stored hashed, scope admin).
ADMIN_TOKEN_ENV = "BINDERY_HUB_ADMIN_TOKEN"
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def load_cookie_secret(settings: HubSettings) -> str:
    """The configured secret, else one kept in ``cookie_secret_file`` (made 0600 at first start)."""
    if settings.cookie_secret:
        return settings.cookie_secret
    path = Path(settings.cookie_secret_file)
    if path.is_file():
        value = path.read_text().strip()
        if value:
            private_file(path)  # an older or hand-made file may be readable by others
            return value
    value = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


class Hub:
    """State of one running hub; created before the app, started by the app's lifespan."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        spawner_factory: SpawnerFactory,
        proxy: Proxy | None | bool = True,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = HubMetrics()
        self._spawner_factory = spawner_factory
        self._proxy_arg = proxy
        self._authenticator = authenticator
        self._db: sessionmaker[Session] | None = None
        self._manager: ServerManager | None = None
        self.proxy: Proxy | None = None
        self._made_authenticator: Authenticator | None = None
        self._cookie_secret = load_cookie_secret(settings)
        self.signer = SessionSigner(self._cookie_secret, settings.cookie_max_age)
        self.handoffs = HandoffCodes(self._cookie_secret)
        self.origins = settings.origins
        self._audit_handler: logging.Handler | None = None
        self.secure_cookies = settings.effective_public_url.startswith("https://")
        self.login_limiter = settings.auth.rate_limiter()
        self._tasks: list[asyncio.Task[None]] = []
        self.engine: Engine | None = None

    @property
    def db(self) -> sessionmaker[Session]:
        """Sessions of the hub database (open from ``build_app`` on)."""
        if self._db is None:
            raise RuntimeError("The hub database is not open yet: call Hub.open_db() "
                               "(build_app does).")
        return self._db

    @property
    def manager(self) -> ServerManager:
        """The domain service of users' servers (there from the app's start-up on)."""
        if self._manager is None:
            raise RuntimeError("The hub has not started yet: its server manager exists from "
                               "Hub.start() on.")
        return self._manager

    # -- lifecycle -----------------------------------------------------------

    def open_db(self) -> None:
        """Open and migrate the database, then make the authenticator (it may need the DB)."""
        if self._db is None:
            self.engine, self._db = open_database(self.settings.db_url)
        if self._made_authenticator is None:
            # The cookie secret lets OAuth login state survive restarts and several workers.
            self._made_authenticator = self._authenticator or self.settings.auth.make_authenticator(
                self.db, self._cookie_secret)

    @property
    def authenticator(self) -> Authenticator:
        """Who logs people in (made by :meth:`open_db`, as it may need the database)."""
        if self._made_authenticator is None:
            raise RuntimeError("The authenticator is made when the database opens: call "
                               "Hub.open_db() (build_app does).")
        return self._made_authenticator

    async def start(self) -> None:
        self.open_db()
        audit.watch_database()
        self._audit_handler = audit.open_audit_log(self.settings.audit, self.settings.db_url,
                                                   self.settings.data_dir)
        self._register_env_token()
        self._register_services()
        if self._proxy_arg is True:
            self.proxy = self.settings.proxy.make_client(self.settings.proxy_timeout)
        elif isinstance(self._proxy_arg, Proxy):
            self.proxy = self._proxy_arg
        factory = self._spawner_factory
        self._manager = ServerManager(self.settings, self.db, self.proxy, factory, self.metrics)
        if self.proxy is not None:
            try:
                await self.proxy.add_route("/hub/", self.settings.hub_url, {"hub": True})
            except ProxyError as err:
                log.warning("could not add the /hub/ route: %s", err)
            await add_service_routes(self.proxy, self.settings.services)
        counts = await self.manager.reconcile()
        log.info("reconciled servers: %s", counts)
        from bindery.hub.culler import activity_loop, cull_loop, server_check_loop

        self._tasks.append(asyncio.create_task(activity_loop(self)))
        self._tasks.append(asyncio.create_task(server_check_loop(self)))
        if self.settings.cull.timeout or self.settings.cull.max_age:
            self._tasks.append(asyncio.create_task(cull_loop(self)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._manager is not None:
            if self.settings.cleanup_servers:
                # Bounded, so a signal's stop ends in time (the commands force after 90 s).
                await self._manager.stop_all(timeout=60.0)
            await self._manager.shutdown()
        if self.proxy is not None and self._proxy_arg is True:
            await self.proxy.aclose()
        if self.engine is not None:
            self.engine.dispose()
        audit.close_audit_log(self._audit_handler)
        self._audit_handler = None

    def _register_env_token(self) -> None:
        token = self.settings.admin_token
        if not token:
            return
        if len(token) < 16:
            raise ValueError("hub.admin_token ($BINDERY_HUB_ADMIN_TOKEN) is too short: "
                             "use at least 16 random characters.")
        with self.db() as s:
            ensure_service_token(s, token, ADMIN_TOKEN_ENV, ["admin"])
            s.commit()

    def _register_services(self) -> None:
        """``[[hub.services]]``: their API tokens and OAuth clients, as configured now."""
        from bindery.hub.oauth_provider.provider import sync_service_clients

        register_service_tokens(self.db, self.settings.services)
        with self.db() as s:
            sync_service_clients(s, self.settings.services)
            s.commit()

    # -- users -----------------------------------------------------------------

    def get_or_create_user(self, name: str, *, admin: bool | None = None,
                           kind: str = "user") -> User:
        with self.db() as s:
            user = s.scalars(select(User).where(User.name == name)).first()
            if user is None:
                user = User(name=name, admin=bool(admin), kind=kind, created=utcnow())
                s.add(user)
            elif admin is not None:
                user.admin = admin
            user.last_activity = utcnow()
            s.commit()
            return user

    def login_cookie(self, name: str) -> str:
        """Start a login of the existing user ``name``; the ``bindery-session`` cookie value."""
        with self.db() as s:
            user = s.scalars(select(User).where(User.name == name)).one()
            key = start_session(s, user, self.settings.cookie_max_age)
            s.commit()
        return self.signer.dumps(name, key)


def build_app(hub: Hub) -> Starlette:
    """The hub's ASGI app (API, pages, static files, metrics)."""
    from bindery.hub.api.routes import api_routes
    from bindery.hub.oauth_provider.routes import oauth_routes
    from bindery.hub.pages import authenticator_routes, http_exception_handler, page_routes
    from bindery.hub.sharing_pages import sharing_page_routes
    from bindery.hub.user_redirect import user_redirect_routes

    hub.open_db()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    routes = [
        *api_routes(),
        *oauth_routes(),
        *page_routes(),
        *sharing_page_routes(),
        *user_redirect_routes(),
        Mount("/hub/static", app=StaticFiles(directory=WEB_DIR / "static"), name="static"),
        *authenticator_routes(hub.authenticator),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception_handler, Exception: _unexpected},
        middleware=[Middleware(RequestIdMiddleware),
                    Middleware(HubHostOnly, origins=hub.origins),
                    Middleware(SecurityHeadersMiddleware,
                               frame_ancestors=hub.settings.frame_ancestors,
                               secure=hub.secure_cookies, metrics=hub.metrics,
                               access_log=access_log)],
    )
    context: HubContext = hub  # handlers see the hub through this Protocol (bindery.hub.context)
    app.state.hub = context
    return app


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Last resort: log the traceback for us, show the person a sentence, not a traceback."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return json_error(500, "The hub hit an unexpected error; it has been logged.")
