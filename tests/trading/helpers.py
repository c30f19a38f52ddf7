"""Helpers shared by the trading core's and the paper venue's tests: quotes on the bus,
orders placed through the core, wallets as a user sees them."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from apps.accounts.models import KycApplication
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.trading import services
from apps.trading.models import Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold, Wallet

D = Decimal
SYMBOL = "EUR/USD"
DEMO = D("100000")  # settings.PAPER_DEMO_BALANCE, in USD


def quote(*, bid: str, ask: str, at: datetime | None = None, venue: str = "paper",
          symbol: str = SYMBOL, bid_size: str | None = None,
          ask_size: str | None = None) -> Quote:
    mid = (D(bid) + D(ask)) / 2
    return Quote(venue=venue, symbol=symbol, price=mid, bid=D(bid), ask=D(ask),
                 bid_size=None if bid_size is None else D(bid_size),
                 ask_size=None if ask_size is None else D(ask_size),
                 timestamp=at or datetime.now(UTC), source="test")


def after(order: Order, *, ms: int = 1) -> datetime:
    """A time just after ``order`` was placed (or last written): a quote stamped so is
    newer than the order."""
    return max(order.created_at, order.updated_at) + timedelta(milliseconds=ms)


def publish_quote(**kwargs) -> Quote:
    q = quote(**kwargs)
    publish(quote=q)
    return q


def place(user, *, side: str = "BUY", type: str = "LIMIT", amount: str = "1000",
          price: str | None = None, venue: str = "paper", symbol: str = SYMBOL,
          **kwargs) -> Order:
    return services.order_place(
        user_id=user.pk, venue=venue, symbol=symbol, side=side, type=type, amount=D(amount),
        price=None if price is None else D(price), **kwargs)


def wallet(user, currency: str, wallet_type: str = "PAPER") -> Wallet:
    return (Wallet.objects.filter(user=user, type=wallet_type, currency_id=currency).first()
            or Wallet(balance=D(0), held=D(0)))


def hold_of(order: Order) -> Hold:
    return Hold.objects.get(key=order.hold_key)


def holding(order: Order) -> bool:
    """Whether ``order`` still holds funds (an order over before it began holds none)."""
    return Hold.objects.filter(key=order.hold_key, status=Hold.Status.OPEN).exists()


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def books_clean() -> list[str]:
    return wallet_selectors.reconcile()


def identity_reviewed(user) -> None:
    """Give ``user`` KYC level 2 (an approved identity application): live venues need it."""
    KycApplication.objects.create(user=user, full_name="Ada Lovelace",
                                  date_of_birth=datetime(1990, 12, 10, tzinfo=UTC).date(),
                                  country="GB", status=KycApplication.Status.APPROVED,
                                  decided_at=datetime.now(UTC))


def logged_events(monkeypatch, *, modules, events) -> list[str]:
    """The ``events`` the structlog loggers of ``modules`` log from now on, in order (still
    logged as well): the races' way of seeing work deferred, set aside or failed."""
    seen: list[str] = []

    class Recorder:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, level):
            def record(event, *args, **kwargs):
                if event in events:
                    seen.append(event)
                return getattr(self.real, level)(event, *args, **kwargs)
            return record

    for module in modules:
        monkeypatch.setattr(module, "log", Recorder(module.log))
    return seen
