"""The mark price: the median of the contract's fresh index sources plus a bounded premium.

index = median of the latest quotes of ``contract.index_sources`` (on the quote bus) no
older than ``contract.index_max_age_seconds``; the stale ones are dropped, and with none
fresh there is no mark (nothing is liquidated on a guess; the sweep tries again).
premium = the premium source's (``PremiumSource``: the engine's book will feed it; until
then ``LastQuotePremium``, the futures venue's last quote against the index, 0 without a
fresh one), clamped to ±``contract.max_premium``. mark = index x (1 + premium), rounded
half-even to a multiple of the market's tick (so that size x mark is exact money).

``mark_refresh`` publishes the tick on the quote bus (venue ``mark``: the latest-mark cache,
and its listeners: the conditional orders triggered by the MARK) and then liquidates what
it reaches, so that after every mark tick no position is left below maintenance (having
counted the tick in its funding interval's window, ``funding_window_add``: what funding
prices a stamp by, however late it is charged); last, it
streams the tick (``mark@futures:<SYMBOL>``) and the contract's positions at it.
"""
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Case, DecimalField, F, Value, When

from apps.core.money import ROUNDING
from apps.futures import margin, selectors
from apps.futures.constants import MARK_VENUE
from apps.futures.models import Contract, FundingWindow
from apps.futures.services.liquidation import liquidate_on_mark
from apps.futures.services.streams import mark_tick_publish
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.marketdata.services import publish

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MarkTick:
    """One mark price with what it was computed from (a liquidation's evidence)."""

    contract_id: int
    symbol: str
    mark: Decimal
    index: Decimal
    premium: Decimal
    timestamp: datetime
    sources: tuple[dict, ...] = field(default=())

    def evidence(self) -> dict:
        return {"mark": str(self.mark), "index": str(self.index), "premium": str(self.premium),
                "timestamp": self.timestamp.isoformat(), "sources": list(self.sources)}


class PremiumSource(Protocol):
    """Where the premium over the index comes from (the engine's book, later)."""

    def premium(self, *, contract: Contract, index: Decimal, now: datetime) -> Decimal: ...


class LastQuotePremium:
    """(last - index) / index, the futures venue's last quote of the contract if it is
    fresh (``contract.index_max_age_seconds``), else 0."""

    def premium(self, *, contract: Contract, index: Decimal, now: datetime) -> Decimal:
        market = contract.market
        last = latest_quote(venue=market.venue, symbol=market.symbol)
        if last is None or last.age_seconds(now=now) > contract.index_max_age_seconds:
            return Decimal(0)
        return ROUNDING.divide(last.price - index, index)


_premium_source: PremiumSource = LastQuotePremium()


def premium_source_set(source: PremiumSource) -> PremiumSource:
    """Make ``source`` the premium source; returns the one it replaces."""
    global _premium_source
    previous, _premium_source = _premium_source, source
    return previous


def _fresh_sources(contract: Contract, now: datetime) -> list[Quote]:
    fresh = []
    for source in contract.index_sources:
        quote = latest_quote(venue=source["venue"], symbol=source["symbol"])
        if quote is not None and 0 <= quote.age_seconds(now=now) <= \
                contract.index_max_age_seconds:
            fresh.append(quote)
    return fresh


def mark_compute(*, contract: Contract, now: datetime | None = None) -> MarkTick | None:
    """The contract's mark now, or None (logged) if no index source is fresh."""
    now = now or datetime.now(UTC)
    quotes = _fresh_sources(contract, now)
    if not quotes:
        log.warning("futures_index_stale", contract=contract.market.symbol,
                    sources=len(contract.index_sources))
        return None
    index = margin.median([q.price for q in quotes])
    bound = contract.max_premium
    premium = margin.clamp(_premium_source.premium(contract=contract, index=index, now=now),
                           -bound, bound)
    market = contract.market
    ticks = ROUNDING.divide(ROUNDING.multiply(index, 1 + premium), market.tick_size)
    mark = ROUNDING.multiply(ticks.to_integral_value(rounding=ROUND_HALF_EVEN, context=ROUNDING),
                             market.tick_size).quantize(Decimal(1).scaleb(-market.price_precision))
    sources = tuple({"venue": q.venue, "symbol": q.symbol, "price": str(q.price),
                     "timestamp": q.timestamp.isoformat()} for q in quotes)
    return MarkTick(contract_id=contract.pk, symbol=contract.market.symbol, mark=mark,
                    index=index, premium=premium, timestamp=now, sources=sources)


def mark_publish(*, tick: MarkTick) -> None:
    """Put ``tick`` on the quote bus (venue ``mark``). Outside any transaction."""
    publish(quote=Quote(venue=MARK_VENUE, symbol=tick.symbol, price=tick.mark,
                        timestamp=tick.timestamp, source="futures.mark"))


def window_stamp(contract: Contract, at: datetime) -> datetime:
    """The stamp that ends the interval ``at`` falls in."""
    return selectors.funding_stamp(contract=contract, now=at) + timedelta(
        hours=contract.funding_interval_hours)


def funding_window_add(*, contract: Contract, tick: MarkTick) -> None:
    """Add ``tick`` to its interval's window: one more tick, its premium summed, and its
    mark and index the window's last unless a later tick is there already (ticks may be
    applied out of order). One conditional UPDATE (an INSERT for the interval's first
    tick); two ticks at once both count."""
    stamp = window_stamp(contract, tick.timestamp)
    premium = tick.premium.quantize(Decimal("1e-18"), context=ROUNDING)
    money = DecimalField(max_digits=36, decimal_places=18)

    def latest(field: str, value: Decimal) -> Case:
        return Case(When(last_tick_at__lte=tick.timestamp, then=Value(value, money)),
                    default=F(field), output_field=money)

    rows = FundingWindow.objects.filter(contract=contract, funding_time=stamp)
    # last_tick_at last: MariaDB assigns left to right, and the others read its old value.
    update = dict(ticks=F("ticks") + 1, premium_sum=F("premium_sum") + premium,
                  mark=latest("mark", tick.mark), index=latest("index", tick.index),
                  last_tick_at=Case(When(last_tick_at__lte=tick.timestamp,
                                         then=Value(tick.timestamp)),
                                    default=F("last_tick_at")))
    if rows.update(**update):
        return
    try:
        with transaction.atomic():
            FundingWindow.objects.create(contract=contract, funding_time=stamp, ticks=1,
                                         premium_sum=premium, mark=tick.mark,
                                         index=tick.index, last_tick_at=tick.timestamp)
    except IntegrityError:  # another tick made it first
        rows.update(**update)


def mark_refresh(*, contract: Contract, now: datetime | None = None) -> MarkTick | None:
    """Compute, publish and act on the contract's mark: counted in its funding interval's
    window (``funding_window_add``), and every position it reaches is liquidated
    (``liquidation.liquidate_on_mark``) before this returns; then the tick and
    the contract's positions at it are streamed (``streams.mark_tick_publish``). None if
    there is no fresh index."""
    tick = mark_compute(contract=contract, now=now)
    if tick is None:
        return None
    mark_publish(tick=tick)
    funding_window_add(contract=contract, tick=tick)
    liquidated = liquidate_on_mark(tick=tick)
    mark_tick_publish(tick=tick, also=[record.position_id for record in liquidated])
    return tick
