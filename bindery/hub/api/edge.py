"""Edge auth's login passes: a hub login handed over to one user's servers.

The hub's login cookie never travels to users' servers (path ``/hub/``, hub host
only). The proxy's authorize call may carry a one-time hand-off code instead
(``X-Bindery-Login``, see :mod:`bindery.hub.handoff`); the answer then sets a
``bindery-server`` pass naming that login, for ``/user/<name>/`` on the server's own
host. Every later request is checked against the login: logout, a password change or
deleting the user ends the pass too.
"""

from __future__ import annotations

from starlette.requests import Request

from bindery.hub.api.access import granted_to_user
from bindery.hub.context import hub_of
from bindery.hub.scopes import owner_scopes
from bindery.hub.security import ServerPass, server_pass_cookie_header
from bindery.hub.server_state import server_base_url
from bindery.hub.sessions import session_user_by_hash
from bindery.hub.tokens import Principal
from bindery.proxy.protocol import HANDOFF_HEADER


def login_principal(request: Request, hashed: str) -> Principal | None:
    """Who the still-valid login stored as ``hashed`` is (scopes of its owner), else ``None``."""
    hub = hub_of(request)
    with hub.db() as s:
        user = session_user_by_hash(s, hashed)
        if user is None:
            return None
        scopes = owner_scopes(user.admin,
                              temporary_name=user.name if user.kind == "temporary" else None)
        # A login's roles and the servers shared with it count here as on the hub.
        scopes = scopes | granted_to_user(request, s, user)
        return Principal(name=user.name, scopes=scopes, user_name=user.name,
                         owner_admin=user.admin, via="login-pass", session_hash=hashed)


def handed_over_login(request: Request, target: str) -> Principal | None:
    """The login a hand-off code in this authorize call names, once (``None`` if none/spent)."""
    code = request.headers.get(HANDOFF_HEADER, "")
    if not code:
        return None
    hashed = hub_of(request).handoffs.redeem(code, target)
    return login_principal(request, hashed) if hashed else None


def login_pass_cookie(request: Request, principal: Principal, target: str) -> str:
    """``Set-Cookie`` of a pass for ``target``'s servers naming ``principal``'s login."""
    hub = hub_of(request)
    grant = ServerPass(token_id=0, fingerprint="", user=target, session=principal.session_hash)
    return server_pass_cookie_header(hub.signer.server_passes, grant, server_base_url(target),
                                     hub.secure_cookies)
