"""Enable (or disable) fixed-time trading on a market: ``make run`` uses it for its demo;
the admin does the same by hand."""
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.fixedtime import services


def _seconds(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


class Command(BaseCommand):
    help = "Create or change a market's fixed-time settings."

    def add_arguments(self, parser):
        parser.add_argument("venue")
        parser.add_argument("symbols", help="Comma-separated, as the markets spell them.")
        parser.add_argument("--disable", action="store_true")
        parser.add_argument("--min-stake", type=Decimal, default=Decimal("1"))
        parser.add_argument("--max-stake", type=Decimal, default=Decimal("1000"))
        parser.add_argument("--payout-percent", type=Decimal, default=Decimal("85"))
        parser.add_argument("--expiries", type=_seconds, default=[60, 300, 900],
                            help="Comma-separated seconds (default 60,300,900).")
        parser.add_argument("--max-open-trades", type=int, default=5)

    def handle(self, *args, **options):
        for symbol in options["symbols"].split(","):
            try:
                instrument = services.instrument_configure(
                    venue=options["venue"], symbol=symbol, enabled=not options["disable"],
                    min_stake=options["min_stake"], max_stake=options["max_stake"],
                    payout_percent=options["payout_percent"], expiries=options["expiries"],
                    max_open_trades=options["max_open_trades"])
            except DomainError as exc:
                raise CommandError(f"{symbol}: {exc.message}") from None
            state = "enabled" if instrument.enabled else "disabled"
            self.stdout.write(f"fixed-time {state}: {instrument.market}")
