"""Run the TwelveData price stream for the enabled markets until interrupted."""
import signal
import threading

from django.core.management.base import BaseCommand

from apps.core import conf
from apps.marketdata.services import publish
from apps.twelvedata import selectors
from apps.twelvedata.ingest import PriceStream, enabled_symbols


class Command(BaseCommand):
    help = "Stream TwelveData prices of the enabled markets into the quote bus."

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=float, default=60,
                            help="Seconds between re-reads of the enabled markets.")

    def handle(self, *args, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stream = PriceStream(
            apikey=selectors.provider_api_key(), ws_url=conf.TWELVEDATA_WS_URL,
            symbols=enabled_symbols, publish=lambda quote: publish(quote=quote),
            refresh_seconds=options["refresh"])
        stream.run(stop=stop)
