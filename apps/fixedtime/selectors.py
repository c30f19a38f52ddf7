"""Reads of fixed-time trading: instruments, recorded quotes, trades."""
from datetime import datetime

from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.fixedtime.constants import TradeStatus
from apps.fixedtime.models import Instrument, RecordedQuote, Trade
from apps.trading.constants import MarketStatus
from apps.trading.models import Market


def instruments_enabled() -> QuerySet[Instrument]:
    """Instruments open to trades now (the instrument and its market enabled)."""
    return (Instrument.objects.filter(enabled=True, market__status=MarketStatus.ENABLED)
            .select_related("market").order_by("market__venue", "market__symbol"))


def instrument_for_trading(*, venue: str, symbol: str) -> Instrument:
    """The enabled instrument of ``symbol`` on ``venue`` (its market enabled too). The
    symbol and venue are compared exactly in Python as well (a database folding case must
    not match a look-alike). Raises NotFound (unknown, disabled, or its market not
    enabled)."""
    instrument = instruments_enabled().filter(market__venue=venue,
                                              market__symbol=symbol).first()
    if (instrument is None or instrument.market.symbol != symbol
            or instrument.market.venue != venue):
        raise NotFound(f"No fixed-time trading in {venue} {symbol!r}.", code="unknown_instrument")
    return instrument


def market_get(*, venue: str, symbol: str) -> Market:
    """The market ``symbol`` of ``venue``, whatever its status (compared exactly). Raises
    NotFound."""
    market = Market.objects.filter(venue=venue, symbol=symbol).first()
    if market is None or market.symbol != symbol or market.venue != venue:
        raise NotFound(f"No {venue} market {symbol!r}.", code="unknown_market")
    return market


def recorded_tickers() -> set[tuple[str, str]]:
    """The ``(venue, symbol)`` pairs whose quotes are recorded: enabled instruments', and
    those of instruments that still have open trades (they settle on recorded quotes even
    if the instrument was disabled meanwhile)."""
    enabled = instruments_enabled().values_list("market__venue", "market__symbol")
    settling = (Trade.objects.filter(status=TradeStatus.OPEN)
                .values_list("venue", "symbol").distinct())
    return set(enabled) | set(settling)


def quote_at(*, venue: str, symbol: str, at: datetime) -> RecordedQuote | None:
    """The last recorded quote of ``symbol`` on ``venue`` stamped at or before ``at``
    (of two with the same time, the later recorded), or None. One index seek."""
    return (RecordedQuote.objects.filter(venue=venue, symbol=symbol, timestamp__lte=at)
            .order_by("-timestamp", "-id").first())


def trade_list(*, user_id: int, state: str | None = None) -> QuerySet[Trade]:
    """The user's trades, newest first: ``state`` "open" (not yet settled), "settled"
    (the history), or all."""
    trades = Trade.objects.filter(user_id=user_id).order_by("-id")
    if state == "open":
        return trades.filter(status=TradeStatus.OPEN)
    if state == "settled":
        return trades.exclude(status=TradeStatus.OPEN)
    return trades


def trade_get(*, user_id: int, trade_id: int) -> Trade:
    """The user's trade ``trade_id``. Raises NotFound (also for another user's)."""
    trade = Trade.objects.filter(user_id=user_id, pk=trade_id).first()
    if trade is None:
        raise NotFound(f"No trade {trade_id}.", code="unknown_trade")
    return trade


def trades_due(*, now: datetime, limit: int) -> list[int]:
    """Ids of open trades whose settlement time (``expires_at``) is at or before ``now``,
    oldest expiry first."""
    return list(Trade.objects.filter(status=TradeStatus.OPEN, expires_at__lte=now)
                .order_by("expires_at", "id").values_list("pk", flat=True)[:limit])


def oldest_open_expiry() -> datetime | None:
    """The earliest expiry among open trades (the quotes it needs must be kept)."""
    return (Trade.objects.filter(status=TradeStatus.OPEN).order_by("expires_at")
            .values_list("expires_at", flat=True).first())
