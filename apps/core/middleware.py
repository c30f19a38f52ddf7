"""Request guards for /api/ that act before any view: a body over ``API_MAX_BODY_BYTES``
is a 413, a body that is not JSON a 415, both in the API's JSON error format.

``BodyLimitMiddleware`` wraps the ASGI application (exchange_platform/asgi.py): Django's
ASGI handler would otherwise spool any body, however large, to a temporary file before a
view could refuse it, and a chunked body (no Content-Length) would reach DRF as empty.
``JsonBodyMiddleware`` is ordinary Django middleware, so every server and the test client
go through it.
"""
import json
from collections.abc import Awaitable, Callable

from django.http import HttpRequest, HttpResponse

from apps.core import conf
from apps.core.errors import error_body
from apps.core.http import API_PREFIX, error_response, is_api_request

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


class BodyLimitMiddleware:
    """ASGI: reads an /api/ request's body (at most ``API_MAX_BODY_BYTES``) before the app
    runs, answers 413 as soon as it is known to be larger (from Content-Length, or while a
    chunked body arrives), and hands the app the body with its real Content-Length."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        limit = conf.API_MAX_BODY_BYTES
        declared = _header(scope, b"content-length")
        # The server (h11/httptools) has already refused a Content-Length that is no number.
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            headers = [(key, value) for key, value in scope.get("headers", [])
                       if key not in (b"content-length", b"transfer-encoding")]
            headers.append((b"content-length", str(len(body)).encode("ascii")))
            scope = {**scope, "headers": headers}
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:  # after the body: wait for the disconnect as the app expects
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        payload = json.dumps(error_body(
            "too_large", f"The request body is over the limit of {limit} bytes.")).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode("ascii")),
            # The rest of the body is not read: this connection cannot carry another request.
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": payload})


class JsonBodyMiddleware:
    """A request under /api/ that carries a body must say it is JSON (415 otherwise), on
    every endpoint: also where the view reads no body, and before a session's CSRF check
    would parse a form or multipart body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request) and self._has_body(request) and (
                request.content_type != "application/json"):
            return error_response(
                415, "unsupported_media_type",
                f"Unsupported media type {request.content_type or '(none)'!r}: send "
                "application/json.")
        return self.get_response(request)

    @staticmethod
    def _has_body(request: HttpRequest) -> bool:
        length = request.META.get("CONTENT_LENGTH") or "0"
        return (not length.isdigit() or int(length) > 0
                or "HTTP_TRANSFER_ENCODING" in request.META)
