"""Names shared by the trading core and every venue: venues, market and order vocabularies
and the order state machine."""
from django.db import models

from apps.wallets.constants import WalletType


class Venue(models.TextChoices):
    PAPER = "paper", "Paper (TwelveData prices)"
    SPOT = "spot", "Spot (external exchange)"
    ECOSYSTEM = "ecosystem", "Ecosystem (internal engine)"
    FUTURES = "futures", "Futures (internal engine)"


class MarketKind(models.TextChoices):
    SPOT = "spot", "Spot"
    PERPETUAL = "perpetual", "Perpetual"


class MarketStatus(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    ENABLED = "enabled", "Enabled"
    HALTED = "halted", "Trading halted"
    DELISTED = "delisted", "Delisted"


class OrderType(models.TextChoices):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class Side(models.TextChoices):
    BUY = "BUY"
    SELL = "SELL"


class TimeInForce(models.TextChoices):
    GTC = "GTC", "Good till cancelled"
    IOC = "IOC", "Immediate or cancel"
    FOK = "FOK", "Fill or kill"


class Liquidity(models.TextChoices):
    MAKER = "MAKER"
    TAKER = "TAKER"


class OrderStatus(models.TextChoices):
    NEW = "NEW", "New (not yet accepted by the venue)"
    OPEN = "OPEN", "Open"
    PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled"
    FILLED = "FILLED", "Filled"
    CANCELED = "CANCELED", "Canceled"
    REJECTED = "REJECTED", "Rejected"
    EXPIRED = "EXPIRED", "Expired"
    UNKNOWN = "UNKNOWN", "Unknown (the venue did not answer: awaiting reconciliation)"


# The state machine. An order is live (may still fill) while NEW, OPEN or
# PARTIALLY_FILLED; UNKNOWN may be live or not, which only reconciliation with the venue
# decides (never a guess); the other states are final and never change again.
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.NEW: frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,
                                OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                                OrderStatus.EXPIRED, OrderStatus.UNKNOWN}),
    OrderStatus.OPEN: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                 OrderStatus.CANCELED, OrderStatus.EXPIRED,
                                 OrderStatus.UNKNOWN}),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                             OrderStatus.CANCELED, OrderStatus.EXPIRED,
                                             OrderStatus.UNKNOWN}),
    OrderStatus.UNKNOWN: frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,
                                    OrderStatus.FILLED, OrderStatus.CANCELED,
                                    OrderStatus.REJECTED, OrderStatus.EXPIRED}),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}
LIVE_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
# Orders that rest on a book and may fill when the price comes to them.
RESTING_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
FINAL_STATUSES = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS[current]


# The wallet type each venue trades from.
VENUE_WALLET_TYPE: dict[str, str] = {
    Venue.PAPER: WalletType.PAPER,
    Venue.SPOT: WalletType.SPOT,
    Venue.ECOSYSTEM: WalletType.ECO,
    Venue.FUTURES: WalletType.FUTURES,
}
