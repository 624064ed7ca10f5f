"""A tiny JupyterHub service with browser login, built only on JupyterHub's own ``HubOAuth``.

Run as a subprocess by the OAuth tests, configured the way JupyterHub configures its
services (``JUPYTERHUB_*`` variables). Its page greets the logged-in user by name.
"""

from __future__ import annotations

import asyncio
import json
import os

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web


class WhoAmI(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self) -> None:
        user = self.get_current_user()
        self.set_header("Content-Type", "text/html")
        self.write(f"<h1 id='hello'>Hello {user['name']}</h1>"
                   f"<pre id='model'>{json.dumps(user, sort_keys=True)}</pre>")


async def main() -> None:
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    app = web.Application(
        [(prefix, WhoAmI), (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler)],
        cookie_secret=os.urandom(32),
    )
    app.listen(int(os.environ["SERVICE_PORT"]), "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
