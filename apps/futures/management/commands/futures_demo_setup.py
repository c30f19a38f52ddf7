"""``manage.py futures_demo_setup``: the demo futures contract of ``make run`` (DEBUG only):
the BTC/USDT perpetual the spot import listed (disabled) made a contract indexed on the
spot venue's BTC/USDT, enabled, and the demo trader's FUTURES USDT funded. Idempotent;
run after ``spot_import``."""
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.futures import margin
from apps.futures.models import Contract
from apps.futures.services.contracts import contract_create
from apps.trading import services as trading_services
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market
from apps.wallets import services as wallet_services
from apps.wallets.constants import WalletType

SYMBOL = "BTC/USDT"
DEMO_FUNDS = Decimal("100000")
# floor, cap, max leverage, maintenance rate, cum: continuous at every edge.
TIERS = [
    margin.Tier(Decimal(0), Decimal(50000), 100, Decimal("0.004"), Decimal(0)),
    margin.Tier(Decimal(50000), Decimal(600000), 75, Decimal("0.005"), Decimal(50)),
    margin.Tier(Decimal(600000), None, 50, Decimal("0.0065"), Decimal(950)),
]


class Command(BaseCommand):
    help = "Make the imported BTC/USDT perpetual the demo futures contract (DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("futures_demo_setup funds demo accounts: DEBUG only.")
        market = Market.objects.filter(venue=Venue.FUTURES, symbol=SYMBOL).first()
        if market is None:
            raise CommandError(f"No futures market {SYMBOL}: run spot_import first.")
        if not Contract.objects.filter(market=market).exists():
            contract_create(market=market, tiers=TIERS, fields={
                "contract_size": market.lot_size, "max_leverage": TIERS[0].max_leverage,
                "index_sources": [{"venue": Venue.SPOT, "symbol": SYMBOL}]})
        if market.status != MarketStatus.ENABLED:
            trading_services.markets_set_flags(market_ids=[market.pk],
                                               status=MarketStatus.ENABLED)
        trader = get_user_model().objects.filter(username="trader").first()
        if trader is not None:
            wallet_services.deposit(user_id=trader.pk, wallet_type=WalletType.FUTURES,
                                    currency=market.quote_currency, amount=DEMO_FUNDS,
                                    key=f"demo:{trader.pk}:FUTURES:{market.quote_currency}")
        self.stdout.write(f"  futures: {SYMBOL} perpetual (the engine runs in the web process)")
