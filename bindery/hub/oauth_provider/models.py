"""Tables of the OAuth provider: clients, pending authorization codes, tokens' clients.

Kept beside the hub's own tables (same ``Base``, created by migration 0005) but in
this package, so the provider's storage is read next to its rules. Secrets are
stored as SHA-256 only: the client secret (a service's or server's API token) and
the authorization code, which are both full-entropy random strings.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bindery.hub.db.base import Base
from bindery.hub.db.models import ApiToken, User, UTCDateTime, utcnow


class OAuthClient(Base):
    """One application allowed to log users in through the hub.

    ``kind`` is ``"service"`` (a configured service; ``service`` names it) or
    ``"server"`` (a user's server run by jupyterhub-singleuser; ``user_id`` and
    ``server_name`` name it). The redirect URI must match a request's exactly.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    #: SHA-256 of the client secret.
    secret_hash: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Scopes the client may ask for beyond identifying the user and accessing itself.
    allowed_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16), default="service")
    service: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    server_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Skip the consent page (a service the deployment trusts: ``oauth_no_confirm``).
    no_confirm: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class OAuthCode(Base):
    """An authorization code: good once, for five minutes, for the client it was made for."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hashed: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()


class OAuthTokenClient(Base):
    """Which client an API token was issued to: the consent page is skipped when the user
    already holds a token of that client covering the scopes asked for (JupyterHub's rule),
    and revoking the token revokes that consent with it."""

    __tablename__ = "oauth_token_clients"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )

    token: Mapped[ApiToken] = relationship()
    client: Mapped[OAuthClient] = relationship()
