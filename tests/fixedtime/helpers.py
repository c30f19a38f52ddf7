"""Helpers of the fixed-time tests: instruments, prices on the bus, opening trades."""
from datetime import datetime, timedelta
from decimal import Decimal as D

from django.utils import timezone

from apps.core import conf
from apps.fixedtime import services
from apps.fixedtime.models import Instrument, Trade
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.wallets import services as wallet_services
from tests.factories import MarketFactory


def make_instrument(symbol: str = "EUR/USD", **fields) -> Instrument:
    market = MarketFactory(symbol=symbol)
    values = {"enabled": True, "min_stake": D("1"), "max_stake": D("1000"),
              "payout_percent": D("85"), "expiries": [60, 300], "max_open_trades": 3}
    values.update(fields)
    return Instrument.objects.create(market=market, **values)


def quote(price: str, *, at: datetime | None = None, symbol: str = "EUR/USD",
          venue: str = "paper") -> None:
    """Publish a quote on the bus (cached as the latest, recorded by the listener)."""
    publish(quote=Quote(venue=venue, symbol=symbol, price=D(price),
                        timestamp=at or timezone.now(), source="test"))


def fund(user, *, spot: str = "1000") -> None:
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                            amount=D(spot), key=f"seed:{user.pk}")


def open_trade(user, *, direction: str = "UP", mode: str = "LIVE", stake: str = "10",
               expiry: int = 60, symbol: str = "EUR/USD", scheduled: list | None = None):
    return services.trade_open(
        user_id=user.pk, venue="paper", symbol=symbol, mode=mode, direction=direction,
        stake=D(stake), expiry_seconds=expiry,
        schedule=(scheduled.append if scheduled is not None else lambda trade: None))


def due(trade: Trade) -> datetime:
    """The instant the trade may settle."""
    return trade.expires_at + timedelta(seconds=conf.FIXEDTIME_SETTLE_GRACE_SECONDS)
