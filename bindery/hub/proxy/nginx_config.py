"""The nginx configuration the nginx proxy backend runs on: rendered text, nothing else.

Two kinds of files live in one directory (``config_dir``):

- ``nginx.conf`` and ``bindery-*.conf``: written once when the hub starts nginx
  (``NginxProcess``): where nginx listens, the hub as default target, edge auth
  through ``auth_request`` against the hub's ``/hub/api/proxy/authorize``, the header
  rules every route shares;
- ``routes-http.conf`` and ``routes-server.conf``: written by the ``nginx`` proxy client
  (``NginxProxy``) on every route change, from ``routes.json``, then nginx reloads.

Rendering is pure (strings in, strings out) so the rules that decide who reaches which
server are readable and checked without running nginx. Every value that reaches a
config file is validated first: a route path or target nginx would parse differently
than we mean is refused with a ``ProxyError``, never written.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bindery.hub.proxy.base import ProxyError

#: Route paths nginx matches literally (no percent-encoding, no quotes, no spaces).
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~@:+,=/-]*$")
#: Tokens and names that go inside a double-quoted nginx string.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._~+/=:@-]*$")
#: Where the status server answers the generation of the loaded route files.
GENERATION_PATH = "/_bindery/generation"
HEALTH_PATH = "/_chp_healthz"


@dataclass(frozen=True)
class HttpTarget:
    """``http://host:port/base`` split the way nginx needs it."""

    host: str
    port: int
    base_path: str

    @property
    def server(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_target(target: str, what: str = "target") -> HttpTarget:
    """An ``http://`` URL with an IP address (or ``localhost``) and a plain path.

    nginx resolves host names once, when it loads its configuration; a name that stops
    resolving would make every later reload fail, so only addresses are accepted.
    """
    parts = urlsplit(target)
    if parts.scheme != "http" or not parts.hostname:
        raise ProxyError(f"The nginx proxy can only route to http:// URLs; {what} is {target!r}.")
    host = parts.hostname
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ProxyError(
                f"The nginx proxy needs an IP address in {what} {target!r} "
                f"(nginx resolves names only when it starts); use e.g. 127.0.0.1."
            ) from None
    base = parts.path.rstrip("/")
    if parts.query or parts.fragment or (base and not _SAFE_PATH.match(base)):
        raise ProxyError(f"The {what} {target!r} has a path nginx cannot carry as written.")
    try:
        port = parts.port or 80
    except ValueError as err:
        raise ProxyError(f"The {what} {target!r} has an invalid port.") from err
    return HttpTarget(host, port, base)


def check_route_path(path: str) -> str:
    if not _SAFE_PATH.match(path) or "//" in path or "/./" in f"{path}/" or "/../" in f"{path}/":
        raise ProxyError(
            f"The route {path!r} cannot be written into an nginx location: use letters, digits "
            "and . _ ~ @ : + , = - between slashes."
        )
    return path


def check_value(value: str, what: str) -> str:
    if not _SAFE_VALUE.match(value):
        raise ProxyError(f"The {what} contains characters that cannot go into nginx's config.")
    return value


def upstream_name(path: str) -> str:
    return "bindery_r_" + hashlib.sha256(path.encode()).hexdigest()[:16]


def render_routes_http(routes: dict[str, dict[str, Any]], generation: int) -> str:
    """``http {}``-level part: one keep-alive upstream per route."""
    lines = [f"# Written by Bindery's nginx proxy client (generation {generation}); do not edit."]
    for path, entry in sorted(routes.items()):
        target = parse_target(entry["target"], f"the target of {path}")
        lines += [
            f"upstream {upstream_name(path)} {{",
            f"    server {target.server};",
            "    keepalive 32;",
            "}",
        ]
    return "\n".join(lines) + "\n"


def render_generation(generation: int) -> str:
    """The status server's answer: which route files nginx has loaded."""
    return f'return 200 "{int(generation)}";\n'


def _route_locations(path: str, entry: dict[str, Any], headers_file: Path,
                     activity_log: Path) -> list[str]:
    target = parse_target(entry["target"], f"the target of {path}")
    data = entry.get("data") or {}
    user = data.get("user") if isinstance(data.get("user"), str) and data.get("user") else None
    token = data.get("server_token")
    prefix = "" if path == "/" else path
    body = [
        f'    set $bindery_route "{path}";',
        f"    access_log {activity_log} bindery_activity if=$bindery_active;",
        f"    include {headers_file};",
    ]
    if user is None:
        body.append(f"    proxy_pass http://{upstream_name(path)}{target.base_path}$request_uri;")
    else:
        route_for_hub = path if path.endswith("/") else path + "/"
        args = f"user={quote(user, safe='')}&path={quote(route_for_hub, safe='')}"
        body += [
            f'    set $bindery_auth_args "{args}";',
            "    set $bindery_link_token $arg_token;",
            "    auth_request /_bindery/auth;",
            "    auth_request_set $bindery_auth_cookie $upstream_http_set_cookie;",
            "    add_header Set-Cookie $bindery_auth_cookie;",
            "    error_page 401 = @bindery_login;",
            "    error_page 403 = @bindery_forbidden;",
            "    error_page 500 = @bindery_auth_failed;",
            # The hub session and the client's credentials stop here; the server gets its own.
            "    if ($bindery_cookie_left) { return 400; }",
            "    if ($bindery_token_left) { return 400; }",
            "    proxy_set_header Cookie $bindery_cookie;",
            "    proxy_set_header Authorization "
            + (f'"token {check_value(token, "server token")}";'
               if isinstance(token, str) and token else '"";'),
            f"    proxy_pass http://{upstream_name(path)}{target.base_path}"
            "$bindery_raw_path$bindery_query;",
        ]
    if path == "/":
        return ["location / {", *body, "}"]
    return [f"location = {prefix} {{", *body, "}", f"location {prefix}/ {{", *body, "}"]


def render_routes_server(routes: dict[str, dict[str, Any]], config_dir: Path) -> str:
    """``server {}``-level part: two locations per route (``= /a`` and ``/a/``)."""
    headers_file = config_dir / "bindery-proxy-headers.conf"
    activity_log = config_dir / "activity.log"
    lines = ["# Written by Bindery's nginx proxy client; do not edit."]
    for path, entry in sorted(routes.items()):
        lines += _route_locations(path, entry, headers_file, activity_log)
    if "/" not in routes:
        lines += ["location / {", "    error_page 418 = @bindery_default;", "    return 418;", "}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class StaticConfig:
    """What the hub decides once: addresses, the hub's URLs and the proxy's secret."""

    config_dir: Path
    listen: str
    default_target: str | None
    auth_url: str | None
    proxy_token: str
    login_url: str = "/hub/login"
    session_cookie: str = "bindery-session"
    auth_cache_ttl: float = 30.0
    #: Where the status server listens (the hub's ``api_url``): generation checks.
    status_listen: str = "127.0.0.1:8001"
    workers: int | str = "auto"
    #: ``user name group`` for the workers when nginx starts as root (else unused).
    worker_user: str | None = None
    #: Where workers write (request bodies, the login-check cache); default ``config_dir``.
    scratch_dir: Path | None = None


def listen_address(ip: str, port: int) -> str:
    """``ip:port`` as nginx's ``listen`` takes it (IPv6 in brackets; empty = every address)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip or '0.0.0.0'}:{port}"


def render_main(cfg: StaticConfig) -> dict[str, str]:
    """``nginx.conf`` and its two shared snippets, by file name."""
    d = cfg.config_dir
    w = cfg.scratch_dir or d
    check_value(cfg.proxy_token, "route-API token")
    check_value(cfg.session_cookie, "session cookie name")
    if not _SAFE_PATH.match(cfg.login_url):
        raise ProxyError(f"The login URL {cfg.login_url!r} cannot go into nginx's config.")
    cookie = re.escape(cfg.session_cookie)
    cookie_maps = _indent(_session_cookie_maps(cookie), 4)
    upstreams: list[str] = []
    if cfg.default_target:
        default = parse_target(cfg.default_target, "the default target")
        upstreams += ["upstream bindery_default {", f"    server {default.server};",
                      "    keepalive 32;", "}"]
        default_location = ["location @bindery_default {",
                            f"    include {d / 'bindery-proxy-headers.conf'};",
                            f"    proxy_pass http://bindery_default{default.base_path}$request_uri;",
                            "}"]
    else:
        default_location = ["location @bindery_default {", "    default_type text/plain;",
                            '    return 404 "No route for this address.\\n";', "}"]
    if cfg.auth_url:
        hub = parse_target(cfg.auth_url, "the hub's authorize URL")
        upstreams += ["upstream bindery_hub_auth {", f"    server {hub.server};",
                      "    keepalive 8;", "}"]
        ttl = max(int(cfg.auth_cache_ttl), 0)
        auth = [
            "location = /_bindery/auth {",
            "    internal;",
            f"    proxy_pass http://bindery_hub_auth{hub.base_path}?$bindery_auth_args;",
            f"    proxy_set_header Host {hub.server};",
            "    proxy_pass_request_body off;",
            '    proxy_set_header Content-Length "";',
            '    proxy_set_header Connection "";',
            '    proxy_set_header Upgrade "";',
            f'    proxy_set_header X-Bindery-Proxy-Token "{cfg.proxy_token}";',
            "    proxy_set_header X-Bindery-Token $bindery_link_token;",
            # Yes answers are reused for a while per (route, credentials), as the built-in
            # proxy does; the hub marks link-token answers no-store, which nginx honours.
            *(["    proxy_buffering on;  # nginx caches only buffered answers",
               "    proxy_cache bindery_auth;",
               # A session refresh must not stop the reuse (the built-in proxy's rule); the
               # hub's link-token answers carry Set-Cookie *and* no-store: never reused.
               "    proxy_ignore_headers Set-Cookie;",
               '    proxy_cache_key "$bindery_auth_args|$http_cookie|$http_authorization|'
               '$bindery_link_token";',
               f"    proxy_cache_valid 200 {ttl}s;"] if ttl else []),
            "}",
        ]
    else:
        auth = ["location = /_bindery/auth {", "    internal;", "    return 503;", "}"]
    user_line = f"user {cfg.worker_user};\n" if cfg.worker_user else ""
    main = f"""# Written by Bindery when it starts nginx (kind = "nginx"); regenerated at every start.
{user_line}worker_processes {cfg.workers};
# Each reload leaves the old workers serving their open WebSockets; after this long they
# close them (Jupyter reconnects), so route changes cannot pile up old workers forever.
worker_shutdown_timeout 10m;
daemon off;
pid {d / 'nginx.pid'};
error_log {d / 'error.log'} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    absolute_redirect off;
    client_body_temp_path {w / 'tmp/body'};
    proxy_temp_path {w / 'tmp/proxy'};
    fastcgi_temp_path {w / 'tmp/fastcgi'};
    uwsgi_temp_path {w / 'tmp/uwsgi'};
    scgi_temp_path {w / 'tmp/scgi'};
    proxy_cache_path {w / 'auth-cache'} levels=1 keys_zone=bindery_auth:1m max_size=16m inactive=5m;
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_redirect off;
    proxy_read_timeout 1d;
    proxy_send_timeout 1d;
    proxy_connect_timeout 10s;
    keepalive_requests 100000;
    # Streamed upgrade only when asked; otherwise an empty Connection keeps upstreams alive.
    map $http_upgrade $bindery_connection {{ default upgrade; "" ""; }}
    map $request_uri $bindery_raw_path {{ "~^(?<p>[^?]*)" $p; }}
    # ?token= is for the hub's check only; the server never sees it.
    map $args $bindery_args_1 {{ "~^(?<a>.*?)(?:^|&)token=[^&]*(?<b>.*)$" "$a$b"; default $args; }}
    map $bindery_args_1 $bindery_args {{
        "~^(?<a>.*?)(?:^|&)token=[^&]*(?<b>.*)$" "$a$b";
        default $bindery_args_1;
    }}
    map $bindery_args $bindery_token_left {{ "~(?:^|&)token=" 1; default 0; }}
    map $bindery_args $bindery_query {{ "" ""; "~^&?(?<q>.+)$" "?$q"; }}
    # The hub session cookie never reaches a user's server: every copy of it is removed
    # (a server may set its own cookie of that name for its path; the browser then sends
    # both). nginx has no loop, so {COOKIE_PASSES} passes; a request with more copies is refused.
{cookie_maps}
    map "$request_method $http_upgrade|$http_accept" $bindery_browser {{
        "~^GET \\|.*text/html" 1;
        default 0;
    }}
    map $bindery_raw_path $bindery_next {{ "~^(?<p>[A-Za-z0-9._~/%:@-]*)" $p; }}
    map $status $bindery_active {{ "~^[12]" 1; default 0; }}
    log_format bindery_activity '$msec $bindery_route $status';
{_indent(upstreams, 4)}
    include {d / 'routes-http.conf'};
    # The status server: the client sees here which route files are live. Its token is
    # the route-API token, so a client holding another one is refused, as by CHP's API.
    server {{
        listen {cfg.status_listen};
        access_log off;
        location = {GENERATION_PATH} {{
            if ($http_authorization != "token {cfg.proxy_token}") {{ return 403; }}
            default_type text/plain;
            include {d / 'routes-generation.conf'};
        }}
        location / {{ return 404; }}
    }}
    server {{
        listen {cfg.listen} backlog=1024;
        server_name _;
        # '.' and '..' segments: the route matched and the path a server resolves could differ.
        if ($request_uri ~ "(^|/)(\\.|%2[eE]){{1,2}}(/|\\?|$)") {{ return 400; }}
        location = {HEALTH_PATH} {{
            default_type application/json;
            return 200 '{{"status": "ok"}}';
        }}
{_indent(auth, 8)}
        # Never used: declares the variables route locations set, so nginx accepts the
        # config with no route. (A server-level "set" would also run in the login check's
        # subrequest and wipe the values the route location set.)
        location @bindery_variables {{
            set $bindery_route "";
            set $bindery_auth_args "";
            set $bindery_link_token "";
            return 404;
        }}
        location @bindery_login {{
            if ($bindery_browser) {{ return 302 {cfg.login_url}?next=$bindery_next; }}
            default_type text/plain;
            return 401 "Login required: log in to the hub first, or send a valid token (Authorization: token <token>).\\n";
        }}
        location @bindery_forbidden {{
            default_type text/plain;
            return 403 "This server belongs to another user.\\n";
        }}
        location @bindery_auth_failed {{
            default_type text/plain;
            return 503 "Cannot check your login: the hub did not answer.\\n";
        }}
        location @bindery_not_running {{
            default_type text/plain;
            return 503 "The server at this address is not running.\\n";
        }}
{_indent(default_location, 8)}
        include {d / 'routes-server.conf'};
    }}
}}
"""
    headers = """# Header rules every relayed request shares (nginx drops inherited ones per location).
proxy_set_header Host $http_host;
proxy_set_header Upgrade $http_upgrade;
proxy_set_header Connection $bindery_connection;
proxy_set_header X-Forwarded-For $remote_addr;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $host;
proxy_set_header X-Forwarded-Port "";
proxy_set_header X-Real-IP "";
proxy_set_header Forwarded "";
error_page 502 504 = @bindery_not_running;
"""
    return {"nginx.conf": main, "bindery-proxy-headers.conf": headers}


#: How many copies of the session cookie one request may carry (each is removed).
COOKIE_PASSES = 4


def _session_cookie_maps(cookie: str) -> list[str]:
    """Maps removing one copy each: ``$http_cookie`` → ... → ``$bindery_cookie``."""
    lines = []
    source = "$http_cookie"
    for number in range(1, COOKIE_PASSES + 1):
        target = "$bindery_cookie" if number == COOKIE_PASSES else f"$bindery_cookie_{number}"
        lines += [f"map {source} {target} {{",
                  f'    "~^(?<a>.*?)(?:^|;\\s*){cookie}=[^;]*(?<b>.*)$" "$a$b";',
                  f"    default {source};", "}"]
        source = target
    lines += ["map $bindery_cookie $bindery_cookie_left {",
              f'    "~(?:^|;)\\s*{cookie}\\s*=" 1;', "    default 0;", "}"]
    return lines


def _indent(lines: list[str], spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in lines)
