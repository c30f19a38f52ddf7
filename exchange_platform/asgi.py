"""One ASGI application for HTTP and (as venues add consumers) WebSocket."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up first)

application = ProtocolTypeRouter({"http": django_asgi_app})

from django.conf import settings  # noqa: E402

if settings.PRICE_STREAM_IN_PROCESS:
    from apps.twelvedata.ingest import start_in_background  # noqa: E402

    start_in_background()
