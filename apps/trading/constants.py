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
    # Conditional orders: they wait PENDING (funds held) until a price reaches
    # ``stop_price``, then work as the MARKET or LIMIT order ``executes_as`` names.
    STOP_MARKET = "STOP_MARKET", "Stop market"
    STOP_LIMIT = "STOP_LIMIT", "Stop limit"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET", "Take-profit market"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT", "Take-profit limit"
    # A market child whose trigger follows the best price since activation.
    TRAILING_STOP = "TRAILING_STOP", "Trailing stop"


CONDITIONAL_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT,
                               OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT,
                               OrderType.TRAILING_STOP})
STOP_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT})
TAKE_PROFIT_TYPES = frozenset({OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT})
# The types that carry a limit price (their child, or themselves, rest at it).
PRICED_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})


def executes_as(type: str) -> str:
    """The plain type an order of ``type`` works as once triggered (MARKET or LIMIT)."""
    return OrderType.LIMIT if type in PRICED_TYPES else OrderType.MARKET


def is_conditional(type: str) -> bool:
    return type in CONDITIONAL_TYPES


class TriggerDirection(models.TextChoices):
    RISE = "RISE", "Fires when the price rises to the stop price"
    FALL = "FALL", "Fires when the price falls to the stop price"


class TriggerSource(models.TextChoices):
    """The price a trigger compares: LAST the quote's price; BID_ASK the bid for a sell
    and the ask for a buy (the last price where the feed has no book); MARK a venue's mark
    price (futures only)."""

    LAST = "LAST", "Last price"
    BID_ASK = "BID_ASK", "Bid (sell) / ask (buy)"
    MARK = "MARK", "Mark price"


def trigger_direction(*, type: str, side: str) -> str:
    """Which way the price must move to fire a conditional order of ``type`` and ``side``:
    a stop buys on a rise and sells on a fall, a take-profit the other way round, a
    trailing stop as a stop (its trigger trails the best price)."""
    rising = (side == Side.BUY) == (type not in TAKE_PROFIT_TYPES)
    return TriggerDirection.RISE if rising else TriggerDirection.FALL


class OrderListKind(models.TextChoices):
    OCO = "OCO", "One cancels the other"
    BRACKET = "BRACKET", "Entry with take-profit and stop-loss"


class OrderRole(models.TextChoices):
    """An order's part in its list (blank for an order on its own)."""

    ENTRY = "ENTRY", "Entry"
    LIMIT = "LIMIT", "Limit (take-profit) leg"
    STOP = "STOP", "Stop leg"


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
    PENDING = "PENDING", "Pending (waiting for its trigger price)"
    WAITING = "WAITING", "Waiting (for its bracket's entry to fill)"


# The state machine. An order is live (may still fill) while NEW, OPEN or
# PARTIALLY_FILLED, and a conditional one while PENDING (its funds held, waiting for its
# trigger) or WAITING (a bracket leg waiting for its entry, nothing held); UNKNOWN may be
# live or not, which only reconciliation with the venue decides (never a guess); the other
# states are final and never change again.
TRANSITIONS: dict[str, frozenset[str]] = {
    # Triggered: NEW on an asynchronous venue, the child's verdict on a synchronous one.
    OrderStatus.PENDING: frozenset({OrderStatus.NEW, OrderStatus.OPEN,
                                    OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                    OrderStatus.EXPIRED, OrderStatus.REJECTED,
                                    OrderStatus.CANCELED}),
    # The entry filled: the leg is placed (PENDING for a stop; a limit OPEN, or NEW on
    # an asynchronous venue).
    OrderStatus.WAITING: frozenset({OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.NEW,
                                    OrderStatus.CANCELED, OrderStatus.REJECTED}),
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
LIVE_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,
                           OrderStatus.PENDING, OrderStatus.WAITING})
# Orders that rest on a book and may fill when the price comes to them.
RESTING_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
# Live orders the venue has not seen: the core alone decides them.
HELD_BACK_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.WAITING})
# Orders the owner may cancel here (an UNKNOWN one waits for reconciliation).
CANCELLABLE_STATUSES = frozenset(LIVE_STATUSES)
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
