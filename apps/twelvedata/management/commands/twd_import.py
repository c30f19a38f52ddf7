"""Import the TwelveData catalog from the command line (the admin's "Import instruments")."""
from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.trading import services as trading_services
from apps.trading.constants import MarketStatus
from apps.twelvedata import gateway, services
from apps.twelvedata.models import TwdMarket, TwdProvider


class Command(BaseCommand):
    help = "Import TwelveData instruments; optionally enable and flag some of them."

    def add_arguments(self, parser):
        parser.add_argument("--kind", default="all", choices=[*gateway.CATALOG_KINDS, "all"])
        parser.add_argument("--enable-provider", action="store_true",
                            help="Enable the TwelveData provider first.")
        for flag in ("enable", "trending", "hot"):
            parser.add_argument(f"--{flag}", default="", metavar="SYMBOLS",
                                help=f"Comma-separated symbols to mark {flag}.")

    def handle(self, *args, **options):
        if options["enable_provider"]:
            TwdProvider.objects.filter(name="twelvedata").update(status=True)
        try:
            created, updated = services.catalog_import(kind=options["kind"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Imported {options['kind']}: {created} created, {updated} updated.")
        for option, flag, value in (("enable", "status", MarketStatus.ENABLED),
                                    ("trending", "is_trending", True), ("hot", "is_hot", True)):
            symbols = [s.strip() for s in options[option].split(",") if s.strip()]
            if not symbols:
                continue
            ids = list(TwdMarket.objects.filter(symbol__in=symbols)
                       .values_list("market_id", flat=True))
            if len(ids) != len(symbols):
                raise CommandError(f"Unknown symbols in --{option}: {options[option]}")
            trading_services.markets_set_flags(market_ids=ids, **{flag: value})
            self.stdout.write(f"  {option}: {', '.join(symbols)}")
