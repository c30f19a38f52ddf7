"""Pure-Python matching core: one deterministic order book per market, in integer ticks/lots.

No Django, no I/O, nothing of the project: venues own storage and money and feed commands in.
Semantics and invariants are documented in ``apps.matching.book``.
"""

from apps.matching.book import OrderBook, depth_checksum
from apps.matching.types import (
    Accepted,
    BookChanged,
    Cancelled,
    CancelReason,
    CrossedBookError,
    DepthSnapshot,
    Event,
    InternalStateError,
    MarketSpec,
    OrderType,
    OrderView,
    PrecisionError,
    Reduced,
    Rejected,
    RejectReason,
    Replaced,
    RestingOrder,
    Side,
    StpMode,
    Trade,
)

__all__ = [
    "Accepted",
    "BookChanged",
    "CancelReason",
    "Cancelled",
    "CrossedBookError",
    "DepthSnapshot",
    "Event",
    "InternalStateError",
    "MarketSpec",
    "OrderBook",
    "OrderType",
    "OrderView",
    "PrecisionError",
    "Reduced",
    "Rejected",
    "RejectReason",
    "Replaced",
    "RestingOrder",
    "Side",
    "StpMode",
    "Trade",
    "depth_checksum",
]
