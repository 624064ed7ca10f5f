"""Own accounts with Argon2-hashed passwords in a real SQLite hub DB."""

import statistics
import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from bindery.hub.auth.base import AuthContext
from bindery.hub.auth.errors import AuthConfigError, PasswordPolicyError
from bindery.hub.auth.password import PasswordAuthenticator, PasswordOptions
from bindery.hub.auth.password_store import (
    PasswordCredential,
    set_password,
    set_password_cli,
    verify_password,
)


def password_auth(session_factory, options: PasswordOptions | None = None, **context) -> PasswordAuthenticator:
    return PasswordAuthenticator(options or PasswordOptions(), AuthContext(session_factory=session_factory, **context))


def _add_user(session_factory, name: str, password: str) -> None:
    with session_factory() as session:
        set_password(session, name, password)
        session.commit()


@pytest.mark.anyio
async def test_right_password_logs_in_wrong_one_does_not(session_factory, login_request) -> None:
    _add_user(session_factory, "alice", "correct horse battery")
    auth = password_auth(session_factory)
    good = await auth.authenticate(login_request, {"username": "Alice ", "password": "correct horse battery"})
    assert good is not None and good.name == "alice"
    assert await auth.authenticate(login_request, {"username": "alice", "password": "wrong password"}) is None
    assert await auth.authenticate(login_request, {"username": "alice", "password": ""}) is None


@pytest.mark.anyio
async def test_password_is_stored_hashed_not_plain(session_factory) -> None:
    _add_user(session_factory, "alice", "correct horse battery")
    with session_factory() as session:
        stored = session.scalars(select(PasswordCredential.hash)).one()
    assert "correct horse" not in stored
    assert stored.startswith("$argon2id$")


@pytest.mark.anyio
async def test_unknown_user_is_refused_in_about_the_same_time(session_factory, login_request) -> None:
    """Timing must not reveal whether an account exists (unknown names verify a dummy hash)."""
    _add_user(session_factory, "alice", "correct horse battery")
    auth = password_auth(session_factory)

    async def median_seconds(name: str) -> float:
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            result = await auth.authenticate(login_request, {"username": name, "password": "guess-guess"})
            samples.append(time.perf_counter() - start)
            assert result is None
        return statistics.median(samples)

    wrong_password = await median_seconds("alice")
    unknown_user = await median_seconds("nobody-here")
    assert unknown_user > 0.5 * wrong_password, (unknown_user, wrong_password)


@pytest.mark.anyio
async def test_outdated_hash_is_upgraded_on_login(session_factory, login_request) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with session_factory() as session:
        session.add(PasswordCredential(user_name="bob", hash=weak.hash("old but valid pw")))
        session.commit()
    auth = password_auth(session_factory)
    assert await auth.authenticate(login_request, {"username": "bob", "password": "old but valid pw"})
    with session_factory() as session:
        upgraded = session.get(PasswordCredential, "bob").hash
        assert "m=8192" not in upgraded
        assert verify_password(session, "bob", "old but valid pw")


def test_short_password_is_refused_with_the_minimum(session_factory) -> None:
    with session_factory() as session, pytest.raises(PasswordPolicyError, match="at least 12"):
        set_password(session, "alice", "short-pass", min_length=12)


def test_invalid_name_is_refused(session_factory) -> None:
    with session_factory() as session, pytest.raises(PasswordPolicyError, match="not a valid user name"):
        set_password(session, "../etc", "long enough password")


@pytest.mark.anyio
async def test_cli_sets_password_in_a_fresh_database(db_url, login_request) -> None:
    set_password_cli(db_url, "carol", "carols-password")
    engine = create_engine(db_url)
    auth = password_auth(sessionmaker(engine))
    assert (await auth.authenticate(login_request, {"username": "carol", "password": "carols-password"})).name == "carol"
    set_password_cli(db_url, "carol", "a-new-password")
    assert await auth.authenticate(login_request, {"username": "carol", "password": "carols-password"}) is None
    assert await auth.authenticate(login_request, {"username": "carol", "password": "a-new-password"})
    engine.dispose()


@pytest.mark.anyio
async def test_lists_apply_to_password_users(session_factory, login_request) -> None:
    for name in ("alice", "bob", "mallory"):
        _add_user(session_factory, name, f"{name}-password")
    auth = password_auth(
        session_factory,
        allowed_users=frozenset({"alice", "mallory"}),
        blocked_users=frozenset({"mallory"}),
        admin_users=frozenset({"alice"}),
    )
    results = {
        name: await auth.authenticate(login_request, {"username": name, "password": f"{name}-password"})
        for name in ("alice", "bob", "mallory")
    }
    assert auth.check_allowed(results["alice"]) and auth.is_admin(results["alice"])
    assert not auth.check_allowed(results["bob"])  # not on the allow list
    assert not auth.check_allowed(results["mallory"])  # blocked wins over allowed
    assert not auth.is_admin(results["bob"])


def test_needs_a_database() -> None:
    with pytest.raises(AuthConfigError, match="database"):
        PasswordAuthenticator(PasswordOptions(), AuthContext())


@pytest.mark.anyio
async def test_a_burst_of_logins_queues_instead_of_hashing_all_at_once(session_factory, login_request) -> None:
    """Argon2 needs 64 MiB per check: 6 parallel logins must not run 6 hashes at once."""
    import anyio

    _add_user(session_factory, "alice", "correct horse battery")
    auth = password_auth(session_factory, PasswordOptions(max_concurrent_hashes=2))
    running = peak = 0
    original = auth._check

    def counting_check(name: str, password: str) -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return original(name, password)
        finally:
            running -= 1

    auth._check = counting_check
    results = []

    async def one() -> None:
        results.append(await auth.authenticate(login_request, {"username": "alice", "password": "correct horse battery"}))

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(one)
    assert len(results) == 6 and all(r is not None and r.name == "alice" for r in results)
    assert peak <= 2
