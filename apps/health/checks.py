"""Readiness checks of our own (django-health-check ``HealthCheck`` classes).

Each ``run`` raises ``ServiceUnavailable`` with a reason an operator can act on; a check
that passes returns nothing. Nothing here writes.
"""
from __future__ import annotations

import dataclasses
import datetime

from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from apps.core import conf
from apps.marketdata.selectors import latest_quotes
from apps.trading.selectors import markets_enabled


@dataclasses.dataclass
class QuoteFreshness(HealthCheck):
    """One venue's price feed is alive: the newest quote among the venue's enabled
    markets is at most ``HEALTH_QUOTE_MAX_AGE_SECONDS`` old. A venue with no enabled
    market has no feed to expect and passes.

    The newest, not the oldest: a feed that works keeps some market moving, while a
    single quiet instrument (a stock outside its session) is no outage."""

    venue: str
    timeout = datetime.timedelta(seconds=5)

    def run(self) -> None:
        symbols = list(markets_enabled(venue=self.venue).values_list("symbol", flat=True))
        if not symbols:
            return
        quotes = latest_quotes(venue=self.venue, symbols=symbols)
        limit = conf.HEALTH_QUOTE_MAX_AGE_SECONDS
        if not quotes:
            raise ServiceUnavailable(
                f"{self.venue}: no quote for any of its {len(symbols)} enabled markets")
        newest = min(quote.age_seconds() for quote in quotes.values())
        if newest > limit:
            raise ServiceUnavailable(
                f"{self.venue}: the newest quote of its {len(symbols)} enabled markets is "
                f"{newest:.0f} s old (limit {limit} s)")
