"""Login rate limiting windows, per IP and per name, with bounded memory."""

from hypothesis import given, settings
from hypothesis import strategies as st

from bindery.hub.auth.ratelimit import LoginRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_for_the_rest_of_the_window() -> None:
    clock = Clock()
    limiter = LoginRateLimiter(clock=clock)
    for _ in range(5):
        assert limiter.check("10.0.0.1", "alice") is None
        limiter.record_failure("10.0.0.1", "alice")
        clock.now += 1
    # failures at t=1000..1004, now t=1005: locked until 1060
    assert limiter.check("10.0.0.1", "alice") == 55
    clock.now = 1059.5
    assert limiter.check("10.0.0.1", "alice") == 1
    clock.now = 1060.0
    assert limiter.check("10.0.0.1", "alice") is None


def test_name_is_locked_from_any_ip_and_ip_for_any_name() -> None:
    clock = Clock()
    limiter = LoginRateLimiter(max_failures=3, window=30, clock=clock)
    for i in range(3):
        limiter.record_failure(f"192.0.2.{i}", "alice")  # distributed guessing on one name
    assert limiter.check("198.51.100.7", "alice") is not None
    assert limiter.check("198.51.100.7", "bob") is None
    for name in ("u1", "u2", "u3"):
        limiter.record_failure("203.0.113.9", name)  # one IP spraying names
    assert limiter.check("203.0.113.9", "fresh-name") is not None


def test_success_clears_the_name_but_not_the_ip() -> None:
    clock = Clock()
    limiter = LoginRateLimiter(max_failures=2, window=60, clock=clock)
    limiter.record_failure("203.0.113.9", "alice")
    limiter.record_success("203.0.113.9", "alice")
    limiter.record_failure("203.0.113.10", "alice")
    assert limiter.check("203.0.113.10", "alice") is None  # alice's earlier failure was forgotten
    limiter.record_failure("203.0.113.9", "mallory")
    assert limiter.check("203.0.113.9", "someone") is not None  # the IP still has 2 failures


def test_old_failures_slide_out_of_the_window() -> None:
    clock = Clock()
    limiter = LoginRateLimiter(max_failures=3, window=10, clock=clock)
    for _ in range(2):
        limiter.record_failure("ip", "n")
    clock.now += 11
    limiter.record_failure("ip", "n")
    assert limiter.check("ip", "n") is None


def test_memory_is_bounded() -> None:
    limiter = LoginRateLimiter(max_keys=100, clock=Clock())
    for i in range(10_000):
        limiter.record_failure(f"ip-{i}", f"name-{i}")
    assert len(limiter) <= 100



_events = st.lists(
    st.tuples(
        st.sampled_from(["fail", "success", "advance"]),
        st.sampled_from(["ip-a", "ip-b"]),
        st.sampled_from(["ann", "ben"]),
        st.floats(min_value=0, max_value=40),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_events)
def test_matches_a_naive_model_of_the_sliding_window(events) -> None:
    """Locked exactly when IP or name has >= max failures in the last window seconds."""
    clock = Clock()
    limiter = LoginRateLimiter(max_failures=3, window=30, clock=clock)
    history: dict[str, list[float]] = {}
    for kind, ip, name, step in events:
        if kind == "advance":
            clock.now += step
        elif kind == "fail":
            history.setdefault(f"ip:{ip}", []).append(clock.now)
            history.setdefault(f"name:{name}", []).append(clock.now)
            limiter.record_failure(ip, name)
        else:
            history.pop(f"name:{name}", None)
            limiter.record_success(ip, name)
        for check_ip in ("ip-a", "ip-b"):
            for check_name in ("ann", "ben"):
                recent = [
                    len([t for t in history.get(key, []) if t > clock.now - 30])
                    for key in (f"ip:{check_ip}", f"name:{check_name}")
                ]
                locked = max(recent) >= 3
                assert (limiter.check(check_ip, check_name) is not None) == locked
