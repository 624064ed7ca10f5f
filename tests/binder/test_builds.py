"""Build once, launch many: the shared build's replayable log (no engine: a stand-in build)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping

from bindery.binder.builds import BuildRegistry
from bindery.errors import BuildError
from bindery.sources.base import Ref

REF = Ref(source="git", url="git://127.0.0.1/r.git", resolved="a" * 40)


def test_followers_get_the_whole_log_and_the_outcome():
    release = threading.Event()
    calls: list[str] = []

    def build(ref: Ref, *, on_event: Callable[[Mapping[str, object]], None],
              image_name: str) -> None:
        calls.append(image_name)
        on_event({"phase": "fetching", "message": "Fetching\n"})
        on_event({"phase": "built", "imageName": image_name, "message": "not relayed\n"})
        release.wait(10)
        on_event({"phase": "building", "message": "Step 1\n"})
        raise BuildError("no room")

    async def run() -> tuple[list[object], list[object], BaseException | None, bool]:
        registry = BuildRegistry(build, concurrent=1)
        first, started = registry.get_or_start(REF, "img:1")
        early = asyncio.create_task(_collect(first.follow()))
        await asyncio.sleep(0.2)
        late, started_again = registry.get_or_start(REF, "img:1")
        assert late is first and started and not started_again
        release.set()
        late_events = await _collect(late.follow())
        return await early, late_events, first.error, "img:1" in registry.active

    early, late, error, still_active = asyncio.run(run())
    expected = [{"phase": "fetching", "message": "Fetching\n"},
                {"phase": "building", "message": "Step 1\n"}]
    assert early == expected and late == expected
    assert isinstance(error, BuildError) and not still_active
    assert calls == ["img:1"]


async def _collect(events) -> list[object]:  # type: ignore[no-untyped-def]
    return [event async for event in events]
