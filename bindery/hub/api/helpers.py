"""Small pieces every API module uses: names from the path, lookups, paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse

from bindery.hub.api.errors import ApiError
from bindery.hub.context import hub_of
from bindery.hub.db.models import Group, User
from bindery.hub.names import InvalidName, check_name

PAGINATION_MEDIA = "application/jupyterhub-pagination+json"


def path_name(value: str, what: str = "user name") -> str:
    """A name from the URL, normalised; 400 with the reason when unusable."""
    try:
        return check_name(value, what)
    except InvalidName as err:
        raise ApiError(400, str(err)) from err


def load_user(s: Session, name: str) -> User:
    user = s.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise ApiError(404, f"No such user: {name!r}.")
    return user


def load_group(s: Session, name: str) -> Group:
    group = s.scalars(select(Group).where(Group.name == name)).first()
    if group is None:
        raise ApiError(404, f"No such group: {name!r}.")
    return group


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ApiError(400, f"'{name}' must be a whole number, got {raw[:40]!r}.") from err
    if not low <= value <= high:
        raise ApiError(400, f"'{name}' must be between {low} and {high}.")
    return value


def page_window(request: Request) -> tuple[int, int]:
    """``(offset, limit)`` from the query, ``limit`` bounded by ``max_page_size``."""
    settings = hub_of(request).settings
    # A negative offset is read as 0 (JupyterHub answers it with a page, not an error).
    offset = max(0, int_param(request, "offset", 0, -(2**62), 2**62))
    limit = int_param(request, "limit", settings.default_page_size, 0, 2**62)
    return offset, min(limit or settings.default_page_size, settings.max_page_size)


def wants_envelope(request: Request) -> bool:
    return PAGINATION_MEDIA in request.headers.get("accept", "")


def paged(request: Request, items: Sequence[Any] | dict[str, Any], offset: int, limit: int,
          total: int, *, always_envelope: bool = False) -> JSONResponse:
    """The list as is, or JupyterHub's ``{"items", "_pagination"}`` envelope when asked for
    (``Accept: application/jupyterhub-pagination+json``) or when the endpoint always uses it."""
    if not (always_envelope or wants_envelope(request)):
        return JSONResponse(items)
    next_info = None
    if offset + len(items) < total:
        params = dict(request.query_params)
        params.update(offset=str(offset + len(items)), limit=str(limit))
        next_info = {
            "offset": offset + len(items),
            "limit": limit,
            "url": f"{request.url.replace(query=urlencode(params))}",
        }
    return JSONResponse(
        {
            "items": items,
            "_pagination": {"offset": offset, "limit": limit, "total": total, "next": next_info},
        }
    )


def truthy_param(request: Request, name: str) -> bool:
    """``?name``, ``?name=1``/``true``/``yes`` → True (JupyterHub's boolean query flags)."""
    if name not in request.query_params:
        return False
    return request.query_params[name].lower() not in ("0", "false", "no", "off")
