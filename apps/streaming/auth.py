"""Authentication of WebSocket connections.

Browsers authenticate with the session cookie (channels' AuthMiddlewareStack); other
clients send ``Authorization: Token <key>`` or, where they cannot set headers,
``?token=<key>``. A token that is present but unknown (or whose user is inactive) makes
the connection anonymous: explicit credentials that fail never fall back to a session.

``OriginRouter`` decides which applies. Browsers always send ``Origin``: such connections
must come from an allowed host (AllowedHostsOriginValidator), which stops another site
from riding the user's cookie. A connection without ``Origin`` is not a browser's, so it
may connect, but the session cookie is ignored and only a token authenticates it.
"""
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from rest_framework.authtoken.models import Token

_MAX_TOKEN_LENGTH = 64  # DRF keys are 40 hex characters; anything far longer is junk


def token_from_scope(scope: dict[str, Any]) -> str | None:
    """The token key a connection offers (the header wins over the query string), or
    None if it offers none."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            keyword, _, key = value.decode("latin-1").strip().partition(" ")
            if keyword.lower() == "token":
                return key.strip()[:_MAX_TOKEN_LENGTH]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    keys = query.get("token")
    return keys[0][:_MAX_TOKEN_LENGTH] if keys else None


@database_sync_to_async
def _user_for_token(key: str) -> Any:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class OriginRouter:
    """Sends connections with an ``Origin`` header to ``browser`` and the others to
    ``other`` (see the module docstring)."""

    def __init__(self, *, browser: Any, other: Any) -> None:
        self.browser = browser
        self.other = other

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        has_origin = any(name.lower() == b"origin" for name, _ in scope.get("headers", ()))
        return await (self.browser if has_origin else self.other)(scope, receive, send)


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from a DRF token when the connection offers one."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = token_from_scope(scope)
        if key is not None:
            scope = dict(scope, user=await _user_for_token(key))
        return await super().__call__(scope, receive, send)
