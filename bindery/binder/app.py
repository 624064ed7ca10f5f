"""The launch service's web app: launch page, launch links, the ``/build`` event stream.

Routes follow BinderHub's so badges, links and clients made for mybinder.org
work unchanged: ``/v2/<provider>/<spec>``, ``/build/<provider>/<spec>``,
``/repo/<owner>/<repo>``, ``/health``, ``/versions``, ``/api/repoproviders``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bindery import __version__
from bindery.binder import badges, providers
from bindery.binder.headers import SecurityHeaders, content_security_policy
from bindery.binder.hub_client import HubClient, HubError
from bindery.binder.service import BinderService, ImageBuilder, LaunchRequest
from bindery.binder.settings import BinderSettings
from bindery.binder.sse import with_keepalive
from bindery.binder.weblinks import is_web_link
from bindery.errors import BinderyError
from bindery.request_id import RequestIdMiddleware
from bindery.sources.base import LaunchProvider

WEB = Path(__file__).resolve().parent.parent / "web"
templates = Jinja2Templates(directory=str(WEB / "templates"))
#: ``{% if url is web_link %}``: only http(s) URLs become links (a repository URL
#: comes from the visitor's link and may be ``javascript:``).
templates.env.tests["web_link"] = is_web_link


def _public_url(request: Request, service: BinderService) -> str:
    configured = service.options.public_url
    return (configured.rstrip("/") + "/") if configured else str(request.base_url)


def _raw_spec(request: Request, prefix: str) -> tuple[str, str]:
    """``(provider, spec)`` from the *undecoded* path: git specs hold encoded slashes."""
    raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    raw = raw.split("?", 1)[0]
    rest = raw[len(prefix):] if raw.startswith(prefix) else raw.split("/", 2)[-1]
    provider, _, spec = rest.partition("/")
    return unquote(provider), spec


def client_address(request: Request) -> str:
    """The visitor's address for rate limiting.

    Behind ``bindery serve`` every request comes from the proxy on loopback; the proxy
    appends the real peer to ``X-Forwarded-For``, so the *last* entry is the one to
    trust (a client can only add entries before it).
    """
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and peer in ("127.0.0.1", "::1"):
        return forwarded.split(",")[-1].strip() or peer
    return peer


async def index(request: Request) -> Response:
    service: BinderService = request.app.state.service
    return templates.TemplateResponse(request, "binder/index.html", {
        "providers": service.providers.values(),
        "banner": service.options.banner,
        "version": __version__,
        "public_url": _public_url(request, service),
    })


def _understand(request: Request, service: BinderService) -> dict[str, str]:
    """What the form's fields mean: launch link and badge snippets (SpecError when unclear)."""
    q = request.query_params
    provider, repo, ref = providers.understand(q.get("repo", ""), q.get("provider", "gh"))
    path = providers.launch_path(provider, repo, q.get("ref") or ref, service.providers)
    target = q.get("path", "").strip()
    query = ""
    if target:
        query = providers.open_query(labpath=target) if q.get("pathtype", "file") == "file" \
            else providers.open_query(urlpath=target)
    base = _public_url(request, service)
    launch_url = base + path + query
    snip = badges.snippets(launch_url, base + badges.BADGE_PATH)
    return {"provider": provider, "repo": repo, "ref": q.get("ref") or ref or "HEAD",
            "launch_path": "/" + path + query, "launch_url": launch_url,
            "markdown": snip.markdown, "rst": snip.rst, "html": snip.html}


async def understand(request: Request) -> Response:
    """Form helper: what the pasted text means, its launch link and badge snippets."""
    try:
        return JSONResponse(_understand(request, request.app.state.service))
    except BinderyError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


async def launch_form(request: Request) -> Response:
    """The form without JavaScript: understand, then redirect to the launch link."""
    service: BinderService = request.app.state.service
    try:
        answer = _understand(request, service)
    except BinderyError as exc:
        return templates.TemplateResponse(request, "binder/index.html", {
            "providers": service.providers.values(), "banner": service.options.banner,
            "version": __version__, "public_url": _public_url(request, service),
            "error": str(exc)}, status_code=400)
    return RedirectResponse(answer["launch_path"], status_code=303)


async def loading_page(request: Request) -> Response:
    """``/v2/<provider>/<spec>``: the page that watches the build and then redirects."""
    service: BinderService = request.app.state.service
    provider, spec = _raw_spec(request, "/v2/")
    q = request.query_params
    error = None
    info = None
    try:
        info = providers.parse(provider, spec, service.providers)
    except BinderyError as exc:
        error = str(exc)
    target = providers.target_urlpath(q.get("urlpath", ""), q.get("labpath", ""),
                                      q.get("filepath", ""))
    base = _public_url(request, service)
    return templates.TemplateResponse(request, "binder/loading.html", {
        "provider": provider, "spec": spec, "info": info, "error": error,
        "build_url": f"/build/{quote(provider)}/{spec}",
        "target": target, "version": __version__,
        "badge_url": base + badges.BADGE_PATH,
        "launch_url": base + f"v2/{provider}/{spec}",
    }, status_code=400 if error else 200)


async def legacy_repo(request: Request) -> Response:
    """``/repo/<owner>/<repo>[/tree/<ref>]`` (binder 1 links) → ``/v2/gh/<owner>/<repo>/<ref>``."""
    owner = request.path_params["owner"]
    repo = request.path_params["repo"]
    rest = request.path_params.get("rest", "")
    ref = rest[len("tree/"):] if rest.startswith("tree/") else "HEAD"
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/v2/gh/{owner}/{repo}/{ref or 'HEAD'}{query}", status_code=301)


async def build_stream(request: Request) -> Response:
    """``/build/<provider>/<spec>``: BinderHub's event stream."""
    service: BinderService = request.app.state.service
    provider, spec = _raw_spec(request, "/build/")
    build_only = request.query_params.get("build_only", "").lower() in ("1", "true", "yes")
    client = client_address(request)
    launch = LaunchRequest(provider, spec, client, build_only, _public_url(request, service))

    async def body() -> AsyncIterator[bytes]:
        events = service.launch(launch)
        try:
            async for chunk in with_keepalive(events, service.options.keepalive_interval,
                                              service.options.stream_linger):
                yield chunk
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()

    return StreamingResponse(body(), media_type="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def badge(request: Request) -> Response:
    return Response(badges.BADGE_SVG, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


async def repoproviders(request: Request) -> Response:
    """The providers in BinderHub's ``display_config`` shape, which its frontend reads."""
    service: BinderService = request.app.state.service
    return JSONResponse([provider_config(p) for p in service.providers.values()])


def provider_config(p: LaunchProvider) -> dict[str, object]:
    """One provider as BinderHub's ``/api/repoproviders`` lists it (same keys and nesting)."""
    config: dict[str, object] = {
        "displayName": p.display_name,
        "id": p.id,
        "spec": {"validateRegex": p.validate_regex},
        "repo": {"label": p.repo_label, "placeholder": f"example: {p.placeholder}",
                 "urlEncode": p.url_encode},
        "ref": {"enabled": True, "default": "HEAD"} if p.has_ref else {"enabled": False},
    }
    if p.detect_regex is not None:
        config["detect"] = {"regex": p.detect_regex}
    return config


async def versions(request: Request) -> Response:
    # BinderHub allows cross-origin reads here (federation front pages poll it).
    return JSONResponse(request.app.state.service.versions(),
                        headers={"Access-Control-Allow-Origin": "*"})


async def metrics(request: Request) -> Response:
    service: BinderService = request.app.state.service
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def health(request: Request) -> Response:
    """Engine, hub and capacity checks, BinderHub's shape: ``{"ok", "checks": [...]}``."""
    service: BinderService = request.app.state.service
    checks: list[dict[str, object]] = []

    def engine_ok() -> bool:
        service.builder.engine.check()  # raises EngineUnavailable when no engine answers
        return True

    try:
        with anyio.fail_after(5):
            ok = await anyio.to_thread.run_sync(engine_ok, abandon_on_cancel=True)
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        ok = False
    checks.append({"service": "Container engine", "ok": ok})
    if service.hub is not None:
        try:
            with anyio.fail_after(5):
                await service.hub.info()
            hub_ok = True
        except (HubError, TimeoutError):
            hub_ok = False
        checks.append({"service": "Hub", "ok": hub_ok})
    queue = service.queue
    total = service.options.total_quota
    # A soft check, as BinderHub's pod quota: a full deployment queues launches, it is
    # not unhealthy (a federation must not take it out of rotation for being busy).
    checks.append({"service": "Capacity", "ok": total <= 0 or queue.count() < total,
                   "running": queue.count(), "quota": total, "waiting": len(queue.waiters),
                   "builds_in_progress": len(service.builds.active),
                   "_ignore_failure": True})
    all_ok = all(c["ok"] for c in checks if not c.get("_ignore_failure"))
    return JSONResponse({"ok": all_ok, "checks": checks}, status_code=200 if all_ok else 503)


def create_app(options: BinderSettings, builder: ImageBuilder, hub: HubClient | None = None,
               *, allow_local_repos: bool = False) -> Starlette:
    """The binder app on ``builder``; ``hub`` defaults to the one at ``options.hub_url``.

    The composition root makes the builder (this package never constructs other parts).
    """
    if hub is None and options.hub_url:
        hub = HubClient(options.hub_url, options.hub_api_token)
    service = BinderService(options, builder, hub, allow_local_repos=allow_local_repos)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(
            service.reconcile_forever(options.reconcile_every))
        try:
            yield
        finally:
            task.cancel()
            if service.pool is not None:
                with contextlib.suppress(Exception):
                    await service.pool.close()
            if hub is not None:
                await hub.aclose()

    routes = [
        Route("/", index),
        Route("/launch", launch_form),
        Route("/api/understand", understand),
        Route("/v2/{provider}/{spec:path}", loading_page),
        Route("/build/{provider}/{spec:path}", build_stream),
        Route("/repo/{owner}/{repo}", legacy_repo),
        Route("/repo/{owner}/{repo}/{rest:path}", legacy_repo),
        Route("/badge_logo.svg", badge),
        Route("/badge.svg", badge),
        Route("/assets/images/badge.svg", badge),
        Route("/assets/images/badge_logo.svg", badge),
        Route("/api/repoproviders", repoproviders),
        Route("/versions", versions),
        Route("/metrics", metrics),
        Route("/health", health),
        Mount("/static", StaticFiles(directory=str(WEB / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(RequestIdMiddleware),
        Middleware(SecurityHeaders, csp=content_security_policy(options.public_url))])
    app.state.service = service
    return app
