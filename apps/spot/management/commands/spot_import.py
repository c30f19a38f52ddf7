"""Import the spot exchange's markets from the command line (the admin's "Import
markets"), optionally activating the provider first and enabling and flagging some."""
from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.spot import services
from apps.spot.models import SpotProvider
from apps.trading import services as trading_services
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market


class Command(BaseCommand):
    help = "Import the spot exchange's markets; optionally enable and flag some of them."

    def add_arguments(self, parser):
        parser.add_argument("--activate", default="", metavar="NAME",
                            help="Activate this provider first (and record its opening "
                                 "balances if it has none).")
        for flag in ("enable", "trending", "hot"):
            parser.add_argument(f"--{flag}", default="", metavar="SYMBOLS",
                                help=f"Comma-separated spot symbols to mark {flag}.")

    def handle(self, *args, **options):
        try:
            if options["activate"]:
                provider = SpotProvider.objects.filter(name=options["activate"]).first()
                if provider is None:
                    raise CommandError(f"No spot provider {options['activate']!r}.")
                provider = services.provider_activate(provider_id=provider.pk)
                if not provider.opening_balances:
                    services.provider_record_opening_balances(provider=provider)
            created, updated = services.markets_import()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Imported: {created} created, {updated} updated.")
        for option, flag, value in (("enable", "status", MarketStatus.ENABLED),
                                    ("trending", "is_trending", True), ("hot", "is_hot", True)):
            symbols = [s.strip() for s in options[option].split(",") if s.strip()]
            if not symbols:
                continue
            ids = list(Market.objects.filter(venue=Venue.SPOT, symbol__in=symbols)
                       .values_list("pk", flat=True))
            if len(ids) != len(symbols):
                raise CommandError(f"Unknown symbols in --{option}: {options[option]}")
            trading_services.markets_set_flags(market_ids=ids, **{flag: value})
            self.stdout.write(f"  {option}: {', '.join(symbols)}")
