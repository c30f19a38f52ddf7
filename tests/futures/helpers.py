"""What the futures tests share: funded traders, index quotes, matched fills, and the
books' invariants (docs/FUTURES.md "Money")."""
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model

from apps.futures import selectors as futures_selectors
from apps.futures.services import position_apply_fill
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import SystemAccount
from tests.factories import UserFactory

D = Decimal
SYSTEMS = (SystemAccount.CLEARING, SystemAccount.INSURANCE, SystemAccount.FEES)


def futures_trader(amount="10000", *, user=None):
    """A user (``UserFactory``'s, or ``user``) with ``amount`` USDT in FUTURES."""
    user = user or UserFactory()
    ledger.deposit(user_id=user.pk, wallet_type="FUTURES", currency="USDT",
                   amount=D(amount), key=f"dep:{user.pk}")
    return user


def many_traders(amounts: list[Decimal]) -> list:
    """Traders funded with ``amounts``, their users inserted at once (no password hashing:
    1,000 of them are a simulation's setup, not its subject)."""
    User = get_user_model()
    first = User.objects.count()
    users = User.objects.bulk_create([User(username=f"sim{first + n}", password="!")
                                      for n in range(len(amounts))])
    users = list(User.objects.filter(username__in=[u.username for u in users]).order_by("pk"))
    return [futures_trader(str(amount), user=user) for user, amount in zip(users, amounts,
                                                                          strict=True)]


def wallet(user) -> tuple[Decimal, Decimal]:
    found = wallet_selectors.wallet_get(user_id=user.pk, wallet_type="FUTURES",
                                        currency="USDT")
    return found.balance, found.held


def system(account: str) -> Decimal:
    return wallet_selectors.system_balance(system=account, wallet_type="FUTURES",
                                           currency="USDT")


def index_quote(price, *, now: datetime, symbol="BTC/USDT", venue="spot") -> None:
    publish(quote=Quote(venue=venue, symbol=symbol, price=D(price), timestamp=now,
                        source="test"))


def fill_pair(contract, *, buyer, seller, amount, price, key, leverage=10, now=None,
              buyer_leverage=None, seller_leverage=None):
    """One trade: the buyer's and the seller's fills at one price (the engine's two
    calls)."""
    common = dict(contract_id=contract.pk, amount=D(amount), price=D(price),
                  fee_rate=contract.market.taker_fee, now=now)
    buy = position_apply_fill(key=f"{key}:b", user_id=buyer.pk, side="BUY",
                              leverage=buyer_leverage or leverage, **common)
    sell = position_apply_fill(key=f"{key}:s", user_id=seller.pk, side="SELL",
                               leverage=seller_leverage or leverage, **common)
    return buy, sell


def clearing_owed(contract, price) -> Decimal:
    """What CLEARING must hold in the contract's currency: every open position's
    unrealised PnL, the contract's at ``price`` (any price gives the same sum when every
    fill was matched), plus the funding collected (``futures.selectors.clearing_owed``, as
    ``wallets_reconcile`` checks it)."""
    return futures_selectors.clearing_owed(currency=contract.market.quote_currency,
                                           prices={contract.pk: D(price)})
