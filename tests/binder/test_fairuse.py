"""Ban/allow lists, per-address rate limit, quotas with a waiting line."""

import asyncio

import pytest

from bindery.binder.fairuse import (
    LaunchQueue,
    QueueTimeout,
    RateLimited,
    RateLimiter,
    SpecPolicy,
    SpecRefused,
)


def test_banned_and_allowed_patterns():
    policy = SpecPolicy(banned=[r"^gh/evil/"], allowed=[])
    policy.check("gh/good/repo/HEAD")
    with pytest.raises(SpecRefused, match="ban list"):
        policy.check("gh/evil/miner/HEAD")
    only = SpecPolicy(allowed=[r"^gh/ours/"])
    only.check("gh/ours/x/HEAD")
    with pytest.raises(SpecRefused, match="allow list"):
        only.check("gh/theirs/x/HEAD")


def test_rate_limit_per_address_with_a_sliding_window():
    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    limiter.hit("1.1.1.1")
    limiter.hit("1.1.1.1")
    limiter.hit("2.2.2.2")
    with pytest.raises(RateLimited, match="try again in"):
        limiter.hit("1.1.1.1")
    now[0] = 61
    limiter.hit("1.1.1.1")


async def _drain(queue, key, holder, positions, timeout=5):
    async for position in queue.acquire(key, holder, timeout):
        positions.append(position)


@pytest.mark.anyio
async def test_full_quota_makes_requests_wait_in_line_with_positions():
    queue = LaunchQueue(per_key=1, total=10)
    await _drain(queue, "gh/a", "u1", [])
    seen2, seen3 = [], []
    second = asyncio.create_task(_drain(queue, "gh/a", "u2", seen2))
    third = asyncio.create_task(_drain(queue, "gh/a", "u3", seen3))
    other = []
    await _drain(queue, "gh/b", "v1", other)  # another repository is not held up
    await asyncio.sleep(0.05)
    assert seen2 == [1] and seen3 == [2] and other == []
    queue.release("u1")
    await asyncio.wait_for(second, 2)
    await asyncio.sleep(0.05)
    assert seen3 == [2, 1] and not third.done()
    queue.reconcile(alive={"v1"}, grace=0)  # the hub culled u2
    await asyncio.wait_for(third, 2)
    assert queue.count("gh/a") == 1


@pytest.mark.anyio
async def test_waiting_too_long_fails_clearly_and_leaves_the_line():
    queue = LaunchQueue(per_key=0, total=1)
    await _drain(queue, "k", "u1", [])
    with pytest.raises(QueueTimeout, match="full"):
        await _drain(queue, "k", "u2", [], timeout=0.2)
    assert queue.waiters == []
