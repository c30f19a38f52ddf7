"""The quote contract every price source publishes and every consumer reads.

A quote names its venue: the same symbol on two venues (a spot ``BTC/USD`` routed to an
exchange, a paper ``BTC/USD`` priced by TwelveData) is two markets with two prices. This
module treats a venue as an opaque name: which venues exist is the trading core's business
(``apps.trading.constants.Venue``); here a venue is only checked to be well-formed, because
stream names, channel groups and cache keys are built from it (``apps.marketdata.streams``).
"""
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

# Lower-case ASCII, no ``.`` nor ``:``: those delimit the venue in group and stream names.
VENUE_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,15}", re.ASCII)


def is_venue(value: object) -> bool:
    """Whether ``value`` is a well-formed venue name (not whether that venue exists)."""
    return isinstance(value, str) and VENUE_PATTERN.fullmatch(value) is not None


def check_venue(value: object) -> str:
    """``value`` as a plain ``str`` if it is a well-formed venue name, else ValueError."""
    if not is_venue(value):
        raise ValueError(f"{value!r} is not a venue name (lower-case ASCII letters, digits "
                         "and _, starting with a letter, at most 16 characters)")
    # The string itself, not a str subclass such as the trading core's ``Venue`` member.
    return str.__str__(value)


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Quote:
    """A price observation on one venue. ``bid``/``ask`` are None where the feed has no
    book (stocks on TwelveData's WebSocket give only ``price``); ``bid_size``/``ask_size``
    are None where it gives no size (a paper fill is then not limited by size).
    ``timestamp`` is the source's own time. Raises ValueError for a malformed venue."""

    venue: str
    symbol: str
    price: Decimal
    timestamp: datetime
    source: str
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None

    def __post_init__(self) -> None:
        # A plain str: the cached quote is pickled, and an enum member there would tie
        # every reader of the cache to the enum's module.
        object.__setattr__(self, "venue", check_venue(self.venue))

    def age_seconds(self, *, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.timestamp).total_seconds()

    def to_dict(self) -> dict:
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "price": str(self.price),
            "bid": _str_or_none(self.bid),
            "ask": _str_or_none(self.ask),
            "bid_size": _str_or_none(self.bid_size),
            "ask_size": _str_or_none(self.ask_size),
            "timestamp": self.timestamp.isoformat(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Quote":
        return cls(
            venue=data["venue"],
            symbol=data["symbol"],
            price=Decimal(data["price"]),
            bid=_decimal_or_none(data.get("bid")),
            ask=_decimal_or_none(data.get("ask")),
            bid_size=_decimal_or_none(data.get("bid_size")),
            ask_size=_decimal_or_none(data.get("ask_size")),
            timestamp=datetime.fromisoformat(data["timestamp"]),
            source=data["source"],
        )
