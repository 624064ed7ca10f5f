"""The launch: spec → resolved ref → image (cached or shared build) → server → ready.

:meth:`BinderService.launch` yields BinderHub's events (``waiting``, ``fetching``,
``building``, ``built``, ``launching``, ``ready``, ``failed``) for one request.
Every failure ends the stream with one ``failed`` event whose message a person
can act on; a temporary user that was created is removed again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from bindery import __version__
from bindery.binder import providers
from bindery.binder.builds import BuilderEventSink, BuildRegistry
from bindery.binder.events import BuiltEvent, LaunchEvent, ReadyEvent, is_final
from bindery.binder.fairuse import LaunchQueue, RateLimiter, SpecPolicy
from bindery.binder.hub_client import (
    TEMPORARY_PREFIX,
    HubClient,
    HubError,
    ProgressNote,
    ServerReady,
    temporary_user_name,
)
from bindery.binder.launch_log import LaunchLog
from bindery.binder.metrics import BinderMetrics
from bindery.binder.ready_images import READY_IMAGE_PROVIDER, ReadyImages
from bindery.binder.settings import BinderSettings
from bindery.binder.warm_pool import WarmPool
from bindery.engine.base import Engine
from bindery.errors import BinderyError, BuildError, BuildLimitExceeded
from bindery.sources.base import LaunchProvider, Ref
from bindery.sources.safety import check_public_remote

log = logging.getLogger(__name__)


class ImageBuilder(Protocol):
    """What the launch service asks of the builder (``bindery.builder.Builder``)."""

    @property
    def engine(self) -> Engine: ...

    def resolve(self, spec: str, ref: str | None = None) -> Ref: ...

    def image_name(self, ref: Ref) -> str: ...

    def find_image(self, ref: Ref) -> str | None: ...

    def build(self, ref: Ref, *, on_event: BuilderEventSink, image_name: str) -> object: ...


@dataclass
class LaunchRequest:
    provider: str
    spec: str
    client: str = "unknown"
    build_only: bool = False
    #: Base URL users reach the deployment at, ending in "/".
    public_url: str = "http://127.0.0.1:8585/"


@dataclass
class _Timing:
    start: float = field(default_factory=time.monotonic)
    build: float | None = None
    launch: float | None = None


@dataclass
class _LaunchState:
    timing: _Timing = field(default_factory=_Timing)
    spec_info: providers.LaunchSpec | None = None
    ref: Ref | None = None


class BinderService:
    """Everything one launch needs, shared by all requests of the app."""

    def __init__(self, options: BinderSettings, builder: ImageBuilder, hub: HubClient | None,
                 *, allow_local_repos: bool = False) -> None:
        b = self.options = options
        #: Whether links may name local paths and hosts on private networks (tests, labs).
        self.allow_local_repos = allow_local_repos
        self.builder = builder
        self.hub = hub
        self.metrics = BinderMetrics()
        self.builds = BuildRegistry(builder.build, b.concurrent_builds, self.metrics)
        self.policy = SpecPolicy(b.banned_specs, b.allowed_specs)
        self.limiter = RateLimiter(b.rate_limit, b.rate_limit_period)
        self.queue = LaunchQueue(b.per_repo_quota, b.total_quota)
        self.launch_log = LaunchLog(b.events_log or None)
        #: Link providers of this deployment: the installed sources', plus ready-made
        #: images when the operator allow-listed some.
        self.providers: dict[str, LaunchProvider] = dict(providers.launch_providers())
        self.ready_images = ReadyImages(tuple(b.ready_images)) if b.ready_images else None
        if self.ready_images is not None:
            self.providers[READY_IMAGE_PROVIDER.id] = READY_IMAGE_PROVIDER
        self.pool = WarmPool(hub, self.queue, b.warm_pool_size, b.warm_pool_images,
                             b.launch_timeout, b.warm_pool_delay) \
            if hub is not None and b.warm_pool_size else None

    # -- the stream -------------------------------------------------------------

    async def launch(self, request: LaunchRequest) -> AsyncGenerator[LaunchEvent, None]:
        """BinderHub's events for one request; the record is written before the last event."""
        state = _LaunchState()
        recorded = False
        self.metrics.launches_in_progress.inc()
        try:
            async with aclosing(self._events(request, state)) as events:
                async for event in events:
                    if is_final(event) and not recorded:
                        recorded = True
                        self._record(request, state, "success" if event["phase"] == "ready"
                                     else "failure")
                    yield event
        finally:
            if not recorded:  # the client went away mid-launch
                self._record(request, state, "cancelled")

    def _record(self, request: LaunchRequest, state: _LaunchState, status: str) -> None:
        self.metrics.launches_in_progress.dec()
        info = state.spec_info
        self.metrics.launches.labels(status, info.launcher.display_name if info else "",
                                     info.repo_url if info else "").inc()
        timing = state.timing
        self.launch_log.record(
            provider=request.provider, spec=request.spec,
            ref=state.ref.resolved if state.ref else None, status=status,
            build_seconds=timing.build, launch_seconds=timing.launch,
            total_seconds=time.monotonic() - timing.start,
            repo=state.spec_info.repo_url if state.spec_info else None,
            build_only=request.build_only,
        )

    async def _events(self, request: LaunchRequest, state: _LaunchState
                      ) -> AsyncGenerator[LaunchEvent, None]:
        timing = state.timing
        try:
            self.limiter.hit(request.client)
            spec_info = state.spec_info = providers.parse(request.provider, request.spec,
                                                          self.providers)
            self.policy.check(spec_info.full)
            if spec_info.launcher is READY_IMAGE_PROVIDER:
                async with aclosing(self._ready_image(spec_info, request, state)) as steps:
                    async for event in steps:
                        yield event
                return
            ref = state.ref = await self._resolve(spec_info)
            image = self.builder.image_name(ref)
            cached = await anyio.to_thread.run_sync(self.builder.find_image, ref)
            if cached and request.build_only:
                # BinderHub answers a cached build_only with one event.
                yield {"phase": "ready", "imageName": image,
                       "message": "Done! Found built image\n"}
                return
            if cached:
                found: BuiltEvent = {"phase": "built", "imageName": image,
                                     "message": "Found built image, launching...\n"}
                labels = await anyio.to_thread.run_sync(self.builder.engine.image_labels, image)
                if labels and labels.get("org.bindery.grade-line"):
                    found["grade"] = labels["org.bindery.grade-line"]
                yield found
            else:
                async with aclosing(self._build(spec_info, ref, image, timing)) as build_events:
                    async for event in build_events:
                        yield event
            if request.build_only:
                yield {"phase": "ready", "imageName": image,
                       "message": "Done! The image is built and was not launched (build_only).\n"}
                return
            async with aclosing(self._launch(spec_info, ref, image, request, timing)) as steps:
                async for event in steps:
                    yield event
        except BinderyError as exc:
            yield {"phase": "failed", "message": _failure_message(exc)}
        except Exception:
            log.exception("launch of %s/%s crashed", request.provider, request.spec)
            yield {"phase": "failed",
                   "message": "Something went wrong inside the launch service. "
                              "Please try again; if it keeps failing, tell the administrator.\n"}

    async def _ready_image(self, spec_info: providers.LaunchSpec, request: LaunchRequest,
                           state: _LaunchState) -> AsyncGenerator[LaunchEvent, None]:
        """An allow-listed image: pulled when missing, launched as is, never built."""
        assert self.ready_images is not None
        image = spec_info.link.repo_url
        self.ready_images.check(image)
        ref = state.ref = ReadyImages.ref_for(image)
        engine = self.builder.engine
        if await anyio.to_thread.run_sync(engine.image_labels, image) is None:
            yield {"phase": "fetching", "message": f"Pulling the ready-made image {image}...\n"}
            await anyio.to_thread.run_sync(engine.pull_image, image, abandon_on_cancel=True)
        if request.build_only:
            yield {"phase": "ready", "imageName": image, "message": "Done! Found built image\n"}
            return
        yield {"phase": "built", "imageName": image,
               "message": "Found the ready-made image, launching...\n"}
        async with aclosing(self._launch(spec_info, ref, image, request, state.timing)) as steps:
            async for event in steps:
                yield event

    async def _resolve(self, spec_info: providers.LaunchSpec) -> Ref:
        source_spec = spec_info.source_spec
        if spec_info.link.names_host and not self.allow_local_repos:
            await anyio.to_thread.run_sync(check_public_remote,
                                           spec_info.link.host_url or source_spec)
        return await anyio.to_thread.run_sync(
            self.builder.resolve, source_spec, spec_info.source_ref)

    async def _build(self, spec_info: providers.LaunchSpec, ref: Ref, image: str, timing: _Timing
                     ) -> AsyncGenerator[LaunchEvent, None]:
        shared, started = self.builds.get_or_start(
            ref, image, {"provider": spec_info.launcher.display_name, "repo": spec_info.repo_url})
        yield {"phase": "waiting",
               "message": "Waiting for build to start...\n" if started else
                          "Another launch is already building this repository; "
                          "following its build...\n"}
        began = time.monotonic()
        async for event in shared.follow():
            yield event
        timing.build = time.monotonic() - began
        if shared.error is not None:
            raise shared.error
        yield {"phase": "built", "imageName": image, "message": "Built image, launching...\n"}

    async def _launch(self, spec_info: providers.LaunchSpec, ref: Ref, image: str,
                      request: LaunchRequest, timing: _Timing) -> AsyncGenerator[LaunchEvent, None]:
        hub = self.hub
        if hub is None:
            raise HubError("This deployment has no hub to launch servers on; "
                           "only build_only requests work.")
        if self.pool is not None:
            began = time.monotonic()
            pooled = await self.pool.take(image)
            if pooled is not None:
                yield {"phase": "launching",
                       "message": "Found a server started ahead of time for this image.\n"}
                try:
                    token = await hub.create_token(pooled.user)
                except HubError:
                    await self.pool.discard(pooled)
                    raise
                timing.launch = time.monotonic() - began
                self.metrics.launch_time.labels("success", "0").observe(timing.launch)
                self.pool.refill(image, spec_info.key)
                yield self._ready_event(spec_info, ref, image, request, pooled.url_path, token)
                return
        user = temporary_user_name()
        started = launched = False
        began = time.monotonic()
        try:
            async for position in self.queue.acquire(spec_info.key, user,
                                                     self.options.queue_timeout):
                self.metrics.queue_length.set(len(self.queue.waiters))
                yield {"phase": "waiting", "position": position,
                       "message": f"All places are in use; you are number {position} in line. "
                                  "Your server starts as soon as a place is free.\n"}
            self.metrics.queue_length.set(len(self.queue.waiters))
            yield {"phase": "launching", "message": "Launching server...\n"}
            url_path = ""
            async with aclosing(hub.launch(user, image, self.options.launch_timeout)
                                ) as steps:
                async for step in steps:
                    if isinstance(step, ServerReady):
                        url_path, started = step.url_path, True
                    elif isinstance(step, ProgressNote):
                        yield {"phase": "launching", "message": step.message,
                               "progress": step.progress}
                    else:
                        yield {"phase": "launching", "message": step.message}
            token = await hub.create_token(user)
            timing.launch = time.monotonic() - began
            self.metrics.launch_time.labels("success", "0").observe(timing.launch)
            launched = True
            self.queue.settle(user)
            if self.pool is not None:
                self.pool.refill(image, spec_info.key)
            yield self._ready_event(spec_info, ref, image, request, url_path, token)
        finally:
            if not launched:
                self.metrics.launch_time.labels("failure", "-1").observe(time.monotonic() - began)
                self.queue.release(user)
                if started:  # running, but nobody got the token to open it
                    await hub.remove_user(user)

    def _ready_event(self, spec_info: providers.LaunchSpec, ref: Ref, image: str,
                     request: LaunchRequest, url_path: str, token: str) -> ReadyEvent:
        persistent = spec_info.persistent_spec(ref.resolved)
        url = url_path if "://" in url_path else request.public_url + url_path
        return {
            "phase": "ready",
            "message": f"server running at {url}\n",
            "url": url,
            "token": token,
            "image": image,
            "repo_url": spec_info.repo_url,
            "binder_ref_url": spec_info.ref_url(ref.resolved),
            "binder_launch_host": request.public_url,
            "binder_request": f"v2/{spec_info.full}",
            "binder_persistent_request": f"v2/{spec_info.provider}/{persistent}",
            "binder_client_ip": request.client,
        }

    # -- housekeeping -----------------------------------------------------------

    async def reconcile_forever(self, every: float = 15.0) -> None:
        """Keep quota slots in step with the hub, and remove temporary users left without
        a server (the hub's culler stopped it), so culling frees both."""
        while True:
            await asyncio.sleep(every)
            if self.hub is not None:
                await self.reconcile_once()

    async def reconcile_once(self) -> None:
        assert self.hub is not None
        grace = self.options.launch_timeout + 60
        try:
            users = await self.hub.list_users()
            alive = {u["name"] for u in users if u.get("servers") or u.get("server")
                     or u.get("pending")}
            self.queue.reconcile(alive, grace=grace)
            now = time.monotonic()
            for user in users:
                name = user["name"]
                launching = now - self.queue.granted_at.get(name, -grace) < grace
                if name.startswith(TEMPORARY_PREFIX) and name not in alive and not launching:
                    await self.hub.delete_user(name)
        except (HubError, KeyError, TypeError) as exc:
            log.warning("could not reconcile users with the hub: %s", exc)

    def versions(self) -> dict[str, object]:
        # BinderHub's keys: ``builder_info`` and, for older clients, ``builder`` (the
        # build image there; here the builder's own name and version).
        return {"binderhub": f"bindery {__version__}",
                "builder_info": {"builder": "bindery", "version": __version__,
                                 "build_image": f"bindery-builder:{__version__}"},
                "builder": f"bindery-builder:{__version__}"}


def _failure_message(exc: BinderyError) -> str:
    text = str(exc).rstrip("\n")
    if isinstance(exc, BuildLimitExceeded):
        text = f"The build was stopped: {text}"
    elif isinstance(exc, BuildError):
        text = f"The environment could not be built: {text}"
        tail = getattr(exc, "log_tail", "")
        # A named failing step already quotes its own output; BuildKit's executor lines
        # would only bury it (the whole log is in the page's log box).
        if tail and not getattr(exc, "step", ""):
            text += "\n\nLast lines of the build log:\n" + tail.rstrip("\n")
    return text + "\n"
