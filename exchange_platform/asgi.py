"""One ASGI application: HTTP (Django) and WebSocket (``/ws/``, apps.streaming).

WebSocket connections authenticate with the session cookie or a DRF token
(``Authorization: Token``/``?token=``); a connection that sends an Origin (a browser's)
must come from an allowed host, one without gets no session (apps/streaming/auth.py).
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
django_asgi_app = get_asgi_application()

# These need Django set up first.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.core.middleware import BodyLimitMiddleware  # noqa: E402
from apps.streaming.auth import OriginRouter, TokenAuthMiddleware  # noqa: E402
from apps.streaming.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": BodyLimitMiddleware(django_asgi_app),
    "websocket": OriginRouter(
        browser=AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
        other=TokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
    ),
})

if settings.PRICE_STREAM_IN_PROCESS:
    from apps.twelvedata.ingest import start_in_background  # noqa: E402

    start_in_background()

if settings.MARKETMAKER_EMBEDDED:  # make run: the demo market's bot (apps/ecosystem)
    from apps.ecosystem.marketmaker import start_in_background as start_marketmaker  # noqa: E402

    start_marketmaker()

if settings.ENGINE_EMBEDDED:
    from apps.engine.embedded import start_in_background as start_engine  # noqa: E402

    start_engine()

if settings.SPOT_EMBEDDED:  # make run: the spot venue's prices and tracker (apps/spot)
    from apps.spot.embedded import start_in_background as start_spot  # noqa: E402

    start_spot()
