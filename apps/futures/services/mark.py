"""The mark price: the median of the contract's fresh index sources plus a bounded premium.

index = median of the latest quotes of ``contract.index_sources`` (on the quote bus) no
older than ``contract.index_max_age_seconds``; the stale ones are dropped, and with none
fresh there is no mark (nothing is liquidated on a guess; the sweep tries again).
premium = the premium source's (``PremiumSource``: the engine's book will feed it; until
then ``LastQuotePremium``, the futures venue's last quote against the index, 0 without a
fresh one), clamped to ±``contract.max_premium``. mark = index x (1 + premium), rounded
half-even to a multiple of the market's tick (so that size x mark is exact money).

``mark_refresh`` publishes the tick on the quote bus (venue ``mark``: the latest-mark cache,
and its listeners) and then liquidates what it reaches, so that after every mark tick no
position is left below maintenance; last, it streams the tick (``mark@futures:<SYMBOL>``)
and the contract's positions at it.
"""
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

import structlog

from apps.core.money import ROUNDING
from apps.futures import margin
from apps.futures.constants import MARK_VENUE
from apps.futures.models import Contract
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


def mark_refresh(*, contract: Contract, now: datetime | None = None) -> MarkTick | None:
    """Compute, publish and act on the contract's mark: every position it reaches is
    liquidated (``liquidation.liquidate_on_mark``) before this returns; then the tick and
    the contract's positions at it are streamed (``streams.mark_tick_publish``). None if
    there is no fresh index."""
    tick = mark_compute(contract=contract, now=now)
    if tick is None:
        return None
    mark_publish(tick=tick)
    liquidated = liquidate_on_mark(tick=tick)
    mark_tick_publish(tick=tick, also=[record.position_id for record in liquidated])
    return tick
