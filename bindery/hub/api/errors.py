"""Errors of the API as JSON ``{"status": N, "message": "..."}`` (JupyterHub's shape)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(HTTPException):
    """Raise anywhere in a handler; becomes a JSON error with ``message`` for a person."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "message": message}, status_code=status, headers=headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/hub/api") or not _wants_html(request):
        return json_error(exc.status_code, str(exc.detail), exc.headers)
    from bindery.hub.pages import error_page

    return error_page(request, exc.status_code, str(exc.detail), exc.headers)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
