"""Temporary users for Binder links: no login, a fresh throw-away name per visit."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import ClassVar

from starlette.requests import Request

from bindery.hub.auth.base import Authenticator, AuthResult
from bindery.plugins import PluginOptions

# Short, friendly words make the temporary name readable in URLs and logs;
# the random hex suffix (not the words) is what makes it unique.
_ADJECTIVES = (
    "amber", "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen",
    "lively", "lucky", "merry", "nimble", "quiet", "rapid", "sunny", "swift", "witty",
)
_NOUNS = (
    "badger", "comet", "falcon", "fern", "heron", "lynx", "maple", "meteor", "otter",
    "panda", "pebble", "quartz", "raven", "river", "robin", "tiger", "willow", "zebra",
)


def temporary_username() -> str:
    """A new name like ``tmp-swift-otter-3fa9c1`` (valid hub name, 24 random bits + words)."""
    adjective = secrets.choice(_ADJECTIVES)
    noun = secrets.choice(_NOUNS)
    return f"tmp-{adjective}-{noun}-{secrets.token_hex(3)}"


class TemporaryOptions(PluginOptions):
    """``[hub.auth]`` keys of ``kind = "anonymous"``."""

    #: Opening ``/hub/login`` creates a fresh temporary user. ``bindery serve`` turns
    #: this off: its binder creates each visitor's user itself, after its quotas and
    #: rate limits, so the public ``/hub/login`` must not mint users for free.
    create_on_visit: bool = True


class TemporaryAuthenticator(Authenticator):
    """Everybody who follows a Binder link becomes a new temporary user.

    The hub is expected to check name collisions against existing users and
    call again if the (very unlikely) name is taken.
    """

    name: ClassVar[str] = "anonymous"
    options_model: ClassVar[type[PluginOptions]] = TemporaryOptions
    uses_login_form: ClassVar[bool] = False
    login_on_visit: ClassVar[bool] = True

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        if not isinstance(self.options, TemporaryOptions) or not self.options.create_on_visit:
            return None
        return AuthResult(name=temporary_username(), admin=False, temporary=True)

    def is_admin(self, result: AuthResult) -> bool:
        """Temporary users are never admins, whatever the lists say."""
        return False
