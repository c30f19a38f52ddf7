"""Stream the spot exchange's prices of the enabled markets until interrupted."""
import signal
import threading

from django.core.management.base import BaseCommand

from apps.marketdata.services import publish
from apps.spot.prices import PriceStream


class Command(BaseCommand):
    help = "Stream the spot exchange's tickers of the enabled markets into the quote bus."

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=float, default=30,
                            help="Seconds between re-reads of the enabled markets.")

    def handle(self, *args, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        PriceStream(publish=lambda quote: publish(quote=quote),
                    refresh_seconds=options["refresh"]).run(stop=stop)
