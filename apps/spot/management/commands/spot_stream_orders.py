"""Follow the exchange account's order updates (ccxt.pro) until interrupted."""
import signal
import threading

from django.core.management.base import BaseCommand

from apps.spot.private import OrderStream


class Command(BaseCommand):
    help = "Reconcile each spot order the exchange's private stream says has changed."

    def handle(self, *args, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        OrderStream().run(stop=stop)
