"""The spot venue inside the web process (``make run``, ``SPOT_EMBEDDED``): the price
stream, the private order stream and the order tracker on daemon threads, since the
embedded mode has no Celery worker or beat and its cache and channel layer exist only in
this process. Production runs ``spot_stream_prices``, ``spot_stream_orders`` and beat's
``spot.track`` instead."""
import threading

import structlog

from apps.core import conf

log = structlog.get_logger(__name__)


def start_in_background() -> threading.Event:
    """Start the streams and the tracker; returns the event that stops them."""
    from django.db import connection

    from apps.marketdata.services import publish
    from apps.spot import services
    from apps.spot.prices import PriceStream
    from apps.spot.private import OrderStream

    stop = threading.Event()

    def stream() -> None:
        PriceStream(publish=lambda quote: publish(quote=quote)).run(stop=stop)

    def track() -> None:
        while not stop.wait(conf.SPOT_TRACK_SECONDS):
            try:
                services.orders_track()
            except Exception:  # the next round tries again; the thread must live on
                log.warning("spot_embedded_track_failed", exc_info=True)
            finally:
                connection.close()

    threading.Thread(target=stream, name="spot-prices", daemon=True).start()
    threading.Thread(target=lambda: OrderStream().run(stop=stop), name="spot-orders",
                     daemon=True).start()
    threading.Thread(target=track, name="spot-tracker", daemon=True).start()
    return stop
