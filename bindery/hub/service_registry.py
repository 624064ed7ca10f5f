"""Making the configured services real at start: their tokens and their proxy routes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bindery.hub.db.models import ApiToken
from bindery.hub.proxy.base import Proxy, ProxyError
from bindery.hub.services import ServiceSettings
from bindery.hub.tokens import ensure_service_token, hash_token

log = logging.getLogger("bindery.hub.services")


def register_service_tokens(db: sessionmaker[Session],
                            services: Sequence[ServiceSettings]) -> None:
    """Store each service's token (hashed) with its scopes; drop tokens it no longer has."""
    with db() as s:
        for service in services:
            keep = hash_token(service.api_token) if service.api_token else None
            for row in s.scalars(select(ApiToken).where(ApiToken.service == service.name,
                                                        ApiToken.user_id.is_(None))):
                if row.hashed != keep and row.note == f"service {service.name}":
                    s.delete(row)
            if service.api_token:
                row = ensure_service_token(s, service.api_token, service.name, service.scopes)
                row.note = f"service {service.name}"
        s.commit()


async def add_service_routes(proxy: Proxy, services: Sequence[ServiceSettings]) -> None:
    """``/services/<name>/`` → the service's url, for every service that has one."""
    for service in services:
        if not service.url:
            continue
        try:
            await proxy.add_route(service.prefix, service.url, {"service": service.name})
        except ProxyError as err:
            log.warning("could not add the route of service %s: %s", service.name, err)
