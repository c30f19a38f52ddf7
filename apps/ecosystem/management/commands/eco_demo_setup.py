"""``manage.py eco_demo_setup``: the demo ecosystem market of ``make run`` (DEBUG only):
a demo chain, the DEMO token, the DEMO/USDT market, and the demo trader's ECO wallets
funded. Idempotent."""
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.ecosystem import services
from apps.ecosystem.models import Blockchain, EcoMarket, Token
from apps.wallets import services as wallet_services
from apps.wallets.constants import WalletType

DEMO_FUNDS = (("USDT", Decimal("100000")), ("DEMO", Decimal("10000")))


class Command(BaseCommand):
    help = "Create the demo ecosystem market DEMO/USDT and fund the demo trader (DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("eco_demo_setup funds demo accounts: DEBUG only.")
        wallet_services.currencies_ensure(currencies=[("USDT", "Tether", 8)])
        chain, _ = Blockchain.objects.get_or_create(name="Demo chain",
                                                    defaults={"chain_id": 424242})
        token = Token.objects.filter(symbol="DEMO").first() or services.token_list(
            chain=chain, symbol="DEMO", name="Demo token",
            contract_address="0x" + "de" * 20, decimals=8)
        if not EcoMarket.objects.filter(base_token=token).exists():
            services.market_create(base_token=token, quote_currency="USDT",
                                   tick_size=Decimal("0.001"), lot_size=Decimal("0.01"),
                                   min_notional=Decimal("1"))
        trader = get_user_model().objects.filter(username="trader").first()
        if trader is not None:
            for code, amount in DEMO_FUNDS:
                wallet_services.deposit(user_id=trader.pk, wallet_type=WalletType.ECO,
                                        currency=code, amount=amount,
                                        key=f"demo:{trader.pk}:ECO:{code}")
        self.stdout.write("  ecosystem: DEMO/USDT (the engine runs in the web process)")
