"""Build once, launch many: one shared build per image, whoever asked first.

Builds are keyed by image name (which the builder derives from the resolved
ref), so concurrent requests for the same uncached commit share one build. A
latecomer first receives the log so far, then the live log. A finished build
leaves the registry at once: success is then found in the image cache, and a
failure is never remembered, so the next request tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol

import anyio

from bindery.binder.events import BuildEvent, BuildLogEvent
from bindery.binder.metrics import BinderMetrics
from bindery.errors import BinderyError, BuildError
from bindery.eventlog import EventLog
from bindery.sources.base import Ref

log = logging.getLogger(__name__)

#: Where the builder reports its events (plain mappings with ``phase`` and ``message``).
BuilderEventSink = Callable[[Mapping[str, object]], None]


class BuildCall(Protocol):
    """The (blocking) builder call: build ``ref`` as ``image_name``, reporting to ``on_event``."""

    def __call__(self, ref: Ref, *, on_event: BuilderEventSink, image_name: str) -> object: ...


def relayed(event: Mapping[str, object]) -> BuildLogEvent | None:
    """The builder's event as clients see it, or None: only its log lines are relayed
    (``built``/``failed`` are the stream's own)."""
    phase = event.get("phase")
    if phase == "fetching" or phase == "building":
        return {"phase": phase, "message": str(event.get("message", ""))}
    return None


class SharedBuild:
    """One running build and everything it has said so far."""

    def __init__(self, image_name: str) -> None:
        self.image_name = image_name
        self.log: EventLog[BuildEvent] = EventLog()
        self.error: BaseException | None = None
        self.seconds = 0.0

    def publish(self, event: BuildEvent) -> None:
        # A build abandoned on cancel may still report from its thread after the end.
        if not self.log.closed:
            self.log.append(event)

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.log.close()

    def follow(self) -> AsyncIterator[BuildEvent]:
        """Every event from the first, then live ones, until the build ends."""
        return self.log.follow()


class BuildRegistry:
    """In-flight builds by image name, and the limit on how many run at once."""

    def __init__(self, build: BuildCall, concurrent: int,
                 metrics: BinderMetrics | None = None) -> None:
        self._build = build
        self._slots = asyncio.Semaphore(concurrent)
        self.metrics = metrics
        self.active: dict[str, SharedBuild] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: How many builds were really started (tests and /health read it).
        self.started = 0

    def get_or_start(self, ref: Ref, image_name: str,
                     labels: Mapping[str, str] | None = None) -> tuple[SharedBuild, bool]:
        """The build of ``image_name``: the running one, or a new one (second item True)."""
        shared = self.active.get(image_name)
        if shared is not None:
            return shared, False
        shared = SharedBuild(image_name)
        self.active[image_name] = shared
        task = asyncio.get_running_loop().create_task(self._run(shared, ref, labels or {}))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return shared, True

    async def _run(self, shared: SharedBuild, ref: Ref, labels: Mapping[str, str]) -> None:
        loop = asyncio.get_running_loop()

        def on_event(event: Mapping[str, object]) -> None:
            line = relayed(event)
            if line is not None:
                loop.call_soon_threadsafe(shared.publish, line)

        error: BaseException | None = None
        try:
            if self._slots.locked():
                shared.publish({"phase": "waiting",
                                "message": "Waiting for a free build slot...\n"})
            async with self._slots:
                self.started += 1
                if self.metrics:
                    self.metrics.builds_in_progress.inc()
                started = time.monotonic()
                try:
                    await anyio.to_thread.run_sync(
                        lambda: self._build(ref, on_event=on_event, image_name=shared.image_name),
                        abandon_on_cancel=True,
                    )
                finally:
                    shared.seconds = time.monotonic() - started
                    if self.metrics:
                        self.metrics.builds_in_progress.dec()
        except BinderyError as exc:
            error = exc
        except Exception as exc:
            log.exception("build of %s crashed", shared.image_name)
            error = BuildError(f"The build stopped because of an internal error ({exc}).")
        finally:
            if self.metrics:
                status = "failure" if error else "success"
                self.metrics.builds.labels(status, labels.get("provider", ""),
                                           labels.get("repo", "")).inc()
                self.metrics.build_time.labels(status).observe(shared.seconds)
            # Let the events drain to followers before the registry forgets the build.
            await asyncio.sleep(0)
            self.active.pop(shared.image_name, None)
            shared.finish(error)
