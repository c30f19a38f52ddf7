"""Settle every fixed-time trade past due: beat's sweep, from a shell. ``make run`` has no
beat (no broker): it runs this at start for trades whose timer a restart lost."""
from django.core.management.base import BaseCommand

from apps.fixedtime import services


class Command(BaseCommand):
    help = "Settle every open fixed-time trade whose expiry has passed."

    def handle(self, *args, **options):
        self.stdout.write(f"fixed-time trades settled: {services.trades_settle_due()}")
