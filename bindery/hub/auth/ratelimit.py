"""Login rate limiting: slow down password guessing per client IP and per user name.

A sliding window of recent failures is kept for each IP and each name. When
either reaches ``max_failures`` within ``window`` seconds, further attempts are
refused until the oldest of those failures leaves the window. Memory is bounded:
at most ``max_keys`` keys are tracked, least recently used forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class LoginRateLimiter:
    """Per-IP and per-name failure counting; the hub calls it around POST /hub/login.

    Usage::

        retry_after = limiter.check(ip, name)
        if retry_after is not None: -> 429 with Retry-After: retry_after
        ... authenticate ...
        limiter.record_failure(ip, name) or limiter.record_success(ip, name)
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 60.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0 or max_keys < 1:
            raise ValueError("max_failures, window and max_keys must be positive")
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _keys(ip: str | None, name: str | None) -> list[str]:
        keys = []
        if ip:
            keys.append(f"ip:{ip}")
        if name:
            keys.append(f"name:{name.strip().lower()}")
        return keys

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, ip: str | None, name: str | None) -> int | None:
        """Seconds to wait (rounded up, for ``Retry-After``) or ``None`` when an attempt is allowed."""
        now = self._clock()
        wait = 0.0
        for key in self._keys(ip, name):
            times = self._recent(key, now)
            if times is not None and len(times) >= self.max_failures:
                unlock_at = times[-self.max_failures] + self.window
                wait = max(wait, unlock_at - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record_failure(self, ip: str | None, name: str | None) -> None:
        """Count a failed login for both the IP and the name."""
        now = self._clock()
        for key in self._keys(ip, name):
            times = self._recent(key, now)
            if times is None:
                times = deque(maxlen=self.max_failures)
                self._failures[key] = times
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def record_success(self, ip: str | None, name: str | None) -> None:
        """Forget the name's failures after a good login.

        The IP's failures stay: otherwise an attacker could reset the IP counter by
        logging into an account of their own between guesses.
        """
        for key in self._keys(None, name):
            self._failures.pop(key, None)

    def __len__(self) -> int:
        """Number of IPs and names currently tracked (memory bound check)."""
        return len(self._failures)
