"""Helpers of the engine's and the ecosystem venue's tests: a market, funded traders,
a runner, orders placed through the core."""
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.ecosystem import services as eco_services
from apps.ecosystem.models import Blockchain
from apps.engine.models import EngineLease
from apps.engine.runner import Runner
from apps.trading import services
from apps.trading.models import Market, Order
from apps.wallets import services as wallet_services
from apps.wallets.constants import SystemAccount, WalletType
from apps.wallets.models import Entry, Wallet
from tests.factories import UserFactory
from tests.trading.helpers import identity_reviewed

D = Decimal
SYMBOL = "ABC/USDT"


def eco_market(*, tick: str = "0.01", lot: str = "0.001", maker_fee: str = "0.001",
               taker_fee: str = "0.002", stp: str = "CANCEL_TAKER", base: str = "ABC") -> Market:
    """The ecosystem market ``<base>/USDT``, its token listed (``base``: not yet listed)."""
    chain, _ = Blockchain.objects.get_or_create(name="Testnet", chain_id=31337)
    # ABC's contract is 0xabab...; another token's its symbol's hex digits, padded.
    contract = "0x" + ("ab" * 20 if base == "ABC" else base.encode().hex().ljust(40, "0"))
    token = eco_services.token_list(chain=chain, symbol=base, name=f"{base.title()} token",
                                    contract_address=contract, decimals=8)
    eco = eco_services.market_create(base_token=token, quote_currency="USDT",
                                     tick_size=D(tick), lot_size=D(lot),
                                     maker_fee=D(maker_fee), taker_fee=D(taker_fee),
                                     stp_default=stp)
    return eco.market


def trader(*, usdt: str = "100000", abc: str = "1000", **more: str):
    """A reviewed user with ECO funds: USDT, ABC and ``more`` (``xyz="5"``: 5 XYZ)."""
    user = UserFactory()
    identity_reviewed(user)
    funds = {"USDT": usdt, "ABC": abc, **{code.upper(): amount for code, amount in more.items()}}
    for code, amount in funds.items():
        if D(amount):
            wallet_services.deposit(user_id=user.pk, wallet_type=WalletType.ECO, currency=code,
                                    amount=D(amount), key=f"test-fund:{user.pk}:{code}")
    return user


def runner(market: Market, *, name: str = "test") -> Runner:
    r = Runner(name=name, markets=[market])
    r.start()
    return r


def take_over(market: Market, *, name: str = "next") -> Runner:
    """A new runner of ``market`` once the current one's lease has passed (a restart:
    it restores the book from the snapshot and the log)."""
    EngineLease.objects.filter(pk=market.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    return runner(market, name=name)


def drain(r: Runner) -> int:
    total = 0
    while (done := r.step()):
        total += done
    return total


def place(user, *, side: str, price: str | None, amount: str, type: str = "LIMIT",
          symbol: str = SYMBOL, **kwargs) -> Order:
    return services.order_place(user_id=user.pk, venue="ecosystem", symbol=symbol, side=side,
                                type=type, amount=D(amount),
                                price=None if price is None else D(price), **kwargs)


def balance(user, code: str) -> tuple[Decimal, Decimal]:
    w = Wallet.objects.filter(user_id=user.pk, type=WalletType.ECO, currency_id=code).first()
    return (w.balance, w.held) if w else (D(0), D(0))


def system_total(account: str, code: str) -> Decimal:
    return sum((e.amount for e in Entry.objects.filter(
        wallet__system=account, wallet__currency_id=code, wallet__type=WalletType.ECO)), D(0))


CLEARING, FEES = SystemAccount.CLEARING, SystemAccount.FEES
