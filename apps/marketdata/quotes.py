"""The quote contract every price source publishes and every consumer reads."""
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    """A price observation. ``bid``/``ask`` are None where the feed has no book (stocks on
    TwelveData's WebSocket give only ``price``). ``timestamp`` is the source's own time."""

    symbol: str
    price: Decimal
    timestamp: datetime
    source: str
    bid: Decimal | None = None
    ask: Decimal | None = None

    def age_seconds(self, *, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.timestamp).total_seconds()

    def to_dict(self) -> dict:
        return {
            "symbol": self.symbol,
            "price": str(self.price),
            "bid": None if self.bid is None else str(self.bid),
            "ask": None if self.ask is None else str(self.ask),
            "timestamp": self.timestamp.isoformat(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Quote":
        return cls(
            symbol=data["symbol"],
            price=Decimal(data["price"]),
            bid=None if data.get("bid") is None else Decimal(data["bid"]),
            ask=None if data.get("ask") is None else Decimal(data["ask"]),
            timestamp=datetime.fromisoformat(data["timestamp"]),
            source=data["source"],
        )
