"""Names the proxy and the hub share on the wire, defined once for both sides.

Kept free of any HTTP library so the hub can import them without loading the
proxy's server stack.
"""

from __future__ import annotations

#: Environment variable holding the route-API token (CHP's name, so both proxies share it).
#: Read once when a proxy process starts; the hub sets it only in the child's environment.
AUTH_TOKEN_ENV = "CONFIGPROXY_AUTH_TOKEN"
#: Query parameter a user's link may carry (``?token=...``), as in Jupyter.
TOKEN_PARAM = "token"
#: Header carrying that query token to the hub's auth endpoint.
TOKEN_HEADER = "X-Bindery-Token"
#: Header carrying the proxy's shared secret, so the hub knows the question is the proxy's.
PROXY_TOKEN_HEADER = "X-Bindery-Proxy-Token"
#: One-time login hand-off code (query parameter) the hub adds when it sends a logged-in
#: browser to a user's server; the proxy passes it to the hub in ``HANDOFF_HEADER``, and
#: never to the server.
HANDOFF_PARAM = "bindery-login"
HANDOFF_HEADER = "X-Bindery-Login"
#: Cookies that belong to the hub: never sent to users' servers, never set by them.
HUB_COOKIE_PREFIX = "bindery-"
HUB_COOKIE_NAMES = frozenset({"_xsrf"})
