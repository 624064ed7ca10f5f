"""The ``Authenticator`` contract (bindery/hub/auth/base.py), checked on every registered one.

Parametrised over ``AUTHENTICATORS.names()``: the built-ins and every installed plugin
(the example distribution's ``example-table`` among them). An authenticator is built
the way the hub builds it, ``cls(options, AuthContext(...))``; the options each needs
to be usable, and the credentials a form authenticator accepts, are in the tables
below (a newly registered authenticator without an entry fails, naming the table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from bindery.hub.auth.base import (
    AUTHENTICATORS,
    HUB_PREFIX,
    AuthContext,
    Authenticator,
    AuthResult,
    LoginRoute,
)
from bindery.hub.auth.errors import AuthConfigError
from bindery.hub.auth.names import is_valid_username
from bindery.hub.auth.password_store import set_password

from .support import no_io, require_example_plugin

NAMES = AUTHENTICATORS.names()

#: The options (``[hub.auth]`` keys beside ``kind``) with which each one is usable.
USABLE_OPTIONS: dict[str, dict[str, Any]] = {
    "anonymous": {},
    "password": {},
    "shared-password": {"shared_password": "workshop-2026"},
    "oidc": {"client_id": "bindery-contract", "client_secret": "s3cret",
             "oidc_issuer": "http://127.0.0.1:9/never-contacted"},
    "github": {"client_id": "bindery-contract", "client_secret": "s3cret"},
    "example-table": {"users": {"Ada": "lovelace-1843", "grace": "cobol-1959"}},
}


def _password_accounts(session: Session) -> None:
    set_password(session, "ada", "lovelace-1843")


#: For form logins: how to create an account (given a hub DB session), and its name and password.
ACCOUNTS: dict[str, tuple[Callable[[Session], None] | None, str, str]] = {
    "password": (_password_accounts, "ada", "lovelace-1843"),
    "shared-password": (None, "ada", "workshop-2026"),
    "example-table": (None, "ada", "lovelace-1843"),
}

#: The hub's own pages under /hub: an authenticator's routes must never shadow them.
HUB_PAGES = {"/login", "/logout", "/home", "/spawn", "/admin", "/token", "/health", "/metrics"}


def _entry(table: dict[str, Any], name: str, table_name: str) -> Any:
    if name not in table:
        pytest.fail(f"The authenticator {name!r} is registered but has no entry in {table_name} "
                    f"of {__file__}: add one so the contract suite covers it.", pytrace=False)
    return table[name]


@pytest.fixture
def session_factory(tmp_path: Any) -> Iterator[sessionmaker[Session]]:
    """A real SQLite hub database, as the hub gives its authenticator."""
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def make(session_factory: sessionmaker[Session]) -> Callable[..., Authenticator]:
    """``make(name, **lists)``: the authenticator built as the hub builds it, usable options."""

    def _make(name: str, **lists: frozenset[str]) -> Authenticator:
        cls = AUTHENTICATORS.load(name)
        options = cls.options_model.model_validate(_entry(USABLE_OPTIONS, name, "USABLE_OPTIONS"))
        context = AuthContext(session_factory=session_factory, cookie_secret="c" * 64,
                              **lists)
        with no_io():  # building it contacts nothing (the hub may start offline)
            return cls(options, context)

    return _make


def _login_request() -> Request:
    """What the hub passes for ``POST /hub/login`` (the form data is given separately)."""
    return Request({"type": "http", "method": "POST", "path": "/hub/login", "headers": [],
                    "query_string": b"", "client": ("127.0.0.1", 50000)})


def _is_external(cls: type[Authenticator]) -> bool:
    return not cls.uses_login_form and not cls.login_on_visit


def test_the_example_plugin_authenticator_is_registered() -> None:
    require_example_plugin()
    assert "example-table" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_usable_options_table_fits_the_options_model(name: str) -> None:
    """(Name, contract and options basics: tests/contracts/test_registry.py.)"""
    AUTHENTICATORS.load(name).options_model.model_validate(
        _entry(USABLE_OPTIONS, name, "USABLE_OPTIONS"))


@pytest.mark.parametrize("name", NAMES)
def test_default_options_build_it_or_say_what_to_set(
        name: str, session_factory: sessionmaker[Session]) -> None:
    """With defaults an authenticator works, or refuses to start with a sentence (never insecurely)."""
    cls = AUTHENTICATORS.load(name)
    context = AuthContext(session_factory=session_factory, cookie_secret="c" * 64)
    try:
        with no_io():
            auth = cls(cls.options_model(), context)
    except AuthConfigError as refused:
        assert len(str(refused)) > 20, "the refusal says what to set"
    else:
        assert auth.options == cls.options_model() and auth.context is context


@pytest.mark.parametrize("name", NAMES)
def test_exactly_one_way_to_log_in(name: str, make: Callable[..., Authenticator]) -> None:
    cls = AUTHENTICATORS.load(name)
    ways = [cls.uses_login_form, cls.login_on_visit, _is_external(cls)]
    assert ways.count(True) == 1, "a form, a visit, or an external provider"
    auth = make(name)
    with no_io(files=True):
        link = auth.login_url("/hub/home")
    if not _is_external(cls):
        assert link is None, "form and visit logins show no login button"
        assert cls.login_service == ""
        return
    assert cls.login_service, "the login button names the provider"
    assert link is not None
    parts = urlsplit(link)
    assert not parts.scheme and not parts.netloc and parts.path.startswith(HUB_PREFIX + "/"), \
        "the button links to the hub's own route, which then talks to the provider"
    assert parse_qs(parts.query).get("next") == ["/hub/home"]
    assert parts.path in {HUB_PREFIX + route.path for route in auth.routes()}


@pytest.mark.parametrize("name", NAMES)
def test_routes_stay_out_of_the_hubs_way(name: str, make: Callable[..., Authenticator]) -> None:
    routes = make(name).routes()
    assert all(isinstance(route, LoginRoute) for route in routes)
    paths = [route.path for route in routes]
    assert len(set(paths)) == len(paths)
    for route in routes:
        assert route.path.startswith("/") and not route.path.startswith(HUB_PREFIX + "/")
        assert route.path not in HUB_PAGES and not route.path.startswith("/api/")
        assert set(route.methods) <= {"GET", "POST"} and callable(route.endpoint)


@pytest.mark.anyio
@pytest.mark.parametrize("name", NAMES)
async def test_wrong_credentials_log_nobody_in(
        name: str, make: Callable[..., Authenticator], session_factory: sessionmaker[Session]) -> None:
    cls = AUTHENTICATORS.load(name)
    if cls.login_on_visit:
        return  # a visit is the login; there are no credentials to get wrong
    auth = make(name)
    if cls.uses_login_form:
        setup, user, password = _entry(ACCOUNTS, name, "ACCOUNTS")
        if setup is not None:
            with session_factory() as session:
                setup(session)
                session.commit()
    else:
        user, password = "ada", "anything"
    wrong = [
        {"username": user, "password": password + "-wrong"},
        {"username": user, "password": ""},
        {"username": user},
        {"username": "", "password": password},
        {"username": "nobody-here", "password": "lovelace-1843-nope"},
        {},
    ]
    if not cls.uses_login_form:  # external providers: a form never logs anyone in
        wrong.append({"username": user, "password": password})
    for form in wrong:
        assert await auth.authenticate(_login_request(), form) is None, form


@pytest.mark.anyio
@pytest.mark.parametrize("name", [n for n in NAMES if AUTHENTICATORS.load(n).uses_login_form])
async def test_right_credentials_name_the_person_as_the_hub_stores_names(
        name: str, make: Callable[..., Authenticator], session_factory: sessionmaker[Session]) -> None:
    auth = make(name)  # first: it makes its own tables
    setup, user, password = _entry(ACCOUNTS, name, "ACCOUNTS")
    if setup is not None:
        with session_factory() as session:
            setup(session)
            session.commit()
    result = await auth.authenticate(_login_request(), {"username": f"  {user.upper()} ",
                                                        "password": password})
    assert isinstance(result, AuthResult)
    assert result.name == user and not result.temporary


@pytest.mark.anyio
@pytest.mark.parametrize("name", [n for n in NAMES if AUTHENTICATORS.load(n).login_on_visit])
async def test_a_visit_logs_in_a_new_temporary_person(
        name: str, make: Callable[..., Authenticator]) -> None:
    auth = make(name)
    first = await auth.authenticate(_login_request(), {})
    second = await auth.authenticate(_login_request(), {})
    assert first is not None and second is not None
    assert first.temporary and is_valid_username(first.name) and first.name != second.name


@pytest.mark.parametrize("name", NAMES)
def test_allow_and_block_lists_apply(name: str, make: Callable[..., Authenticator]) -> None:
    listed = make(name, allowed_users=frozenset({"Alice", "mallory"}),
                  blocked_users=frozenset({"Mallory"}))
    assert listed.check_allowed(AuthResult(name="alice"))
    assert not listed.check_allowed(AuthResult(name="bob")), "not on the allow list"
    assert not listed.check_allowed(AuthResult(name="mallory")), "blocked wins over allowed"
    open_hub = make(name, blocked_users=frozenset({"mallory"}))
    assert open_hub.check_allowed(AuthResult(name="bob")), "no allow list: everyone not blocked"
    assert not open_hub.check_allowed(AuthResult(name="mallory"))


@pytest.mark.parametrize("name", NAMES)
def test_nobody_becomes_admin_unasked(name: str, make: Callable[..., Authenticator]) -> None:
    auth = make(name, admin_users=frozenset({"root-person"}))
    assert not auth.is_admin(AuthResult(name="bob"))
    assert not auth.is_admin(AuthResult(name="bob", admin=False))
