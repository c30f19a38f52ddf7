"""What a venue plugs into the trading core: its ``VenueGateway``.

A venue is a module that implements this protocol and registers one gateway for its venue
name (from its ``AppConfig.ready``); the core does the rest (validation, holds, orders,
fills, settlement, events). The paper simulator (``apps.twelvedata.paper``) is the first
implementation; the exchange (CCXT) and internal-engine venues follow.
"""
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from apps.core.errors import InvalidInput

if TYPE_CHECKING:
    from apps.marketdata.quotes import Quote
    from apps.trading.models import Market, Order


@dataclass(frozen=True)
class Execution:
    """One execution a venue reports. ``trade_id`` is the venue's id of it (unique per
    venue); None lets the core number it ``<order id>-<n>`` (venues whose executions
    happen inside the core's transaction). ``evidence`` is what the price was decided on."""

    price: Decimal
    amount: Decimal
    liquidity: str
    executed_at: datetime
    evidence: dict = field(default_factory=dict)
    trade_id: str | None = None


@dataclass(frozen=True)
class Submission:
    """A venue's verdict on an order: its state there and the executions not yet reported.
    ``status`` is one of ``constants.OrderStatus``; REJECTED and EXPIRED carry a
    ``reason``."""

    status: str
    executions: tuple[Execution, ...] = ()
    reason: str = ""
    external_id: str = ""


class VenueGateway(Protocol):
    """A venue, as the core sees it.

    ``synchronous`` venues (paper) answer ``submit`` and ``cancel`` inside the core's
    transaction, holding the order row; the others (an external exchange) are called
    after commit and their answers applied with ``services.order_apply``: a timeout there
    leaves the order UNKNOWN until ``fetch`` (reconciliation) says what happened.

    A ``queued`` venue (an internal engine: ``apps.engine``) is neither: its order stays
    NEW and ``enqueue`` writes the place or cancel command to the market's durable command
    log inside the core's transaction (with the order row and its hold, so placement has
    no seam to lose an order in); the engine's runner applies the commands in their order
    and settles what they did itself. A venue that does not declare ``queued`` is not.

    Two optional methods: ``order_check(market=, spec=)`` refuses (InvalidInput) an order
    the venue does not offer, before anything is held (``services.orders.order_spec``);
    ``dispatch(action=, order_id=)`` runs an asynchronous venue's "submit" or "cancel"
    after commit its own way, e.g. as a Celery task (``settlement.send_after_commit``;
    without it they run in the committing process).

    ``quote_budget``: the venue fills a MARKET BUY by a quote budget (``quote_amount``),
    buying whole lots while the budget lasts; a venue that does not declare it refuses
    one (``services.orders.order_spec``).

    A ``margined`` venue (futures) holds its quote currency on either side; two more
    optional methods go with it: ``order_hold(order=, decimals=, options=)`` sizes an
    order's hold (``rules.order_hold``; ``options`` are the venue options it was placed
    with), and ``settle_fills(order=, fills=, close_hold=)`` settles an order's new fills
    itself, in the settlement's transaction, instead of the exchange of base for quote
    (``settlement.settle``), releasing the order's hold as it goes (all of it with
    ``close_hold``).

    Conditional orders (``constants.CONDITIONAL_TYPES``): a venue lists in
    ``conditional_types`` those it keeps and triggers itself (an exchange's native stop
    orders: they are submitted like any order); the platform triggers the others
    (``services.conditional_trigger`` on the venue's quotes): they wait PENDING in the
    core, never seen by the venue, and once triggered are submitted as
    ``executes_as(order.type)`` with ``order.triggered_at`` set. ``trigger_sources`` are
    the prices a platform trigger may compare on this venue (``constants.TriggerSource``).
    """

    venue: str
    synchronous: bool
    counterparty: str  # the system account on the other side of its fills
    conditional_types: frozenset[str]
    trigger_sources: frozenset[str]

    def reference_price(self, *, market: "Market", side: str) -> Decimal:
        """The price a MARKET order is sized and held at now. Raises Conflict when the
        venue has no usable price."""
        ...

    def trigger_quote(self, *, market: "Market") -> "Quote":
        """The current quote a conditional order's trigger is checked against when it is
        placed. Raises Conflict (stale_quote) when the venue has no fresh one."""
        ...

    def before_place(self, *, user_id: int) -> None:
        """Prepare the user's account (e.g. grant the paper demo balance); outside any
        transaction. ``order_place`` asks only for an order that passed every check: when
        its hold found the funds short (then places it once more), else after commit if
        it held nothing (an order that held found the account open)."""
        ...

    def submit(self, *, order: "Order", market: "Market") -> Submission:
        """The venue's answer to a new order. ``order.reference_price`` is the price its
        hold was sized at (a LIMIT order's price, a MARKET order's ``reference_price()``):
        a BUY must never fill above it nor a SELL below it (the hold would not cover it).
        A triggered conditional order with a MARKET child is the exception: it fills at
        the market (a stop-market's gap), a BUY only as much as its hold covers at that
        price (``services.rules.covered_amount``), the rest EXPIRED."""
        ...

    def cancel(self, *, order: "Order", market: "Market") -> Submission: ...

    def enqueue(self, *, order: "Order", market: "Market", kind: str,
                options: Mapping[str, object] | None = None) -> None:
        """A ``queued`` venue only: write ``kind`` ("place" or "cancel") of ``order`` to
        the market's command log, in the caller's transaction. ``options``: what the
        venue takes beyond the core's order (e.g. the engine's self-trade prevention)."""
        ...

    def fetch(self, *, order: "Order", market: "Market") -> Submission: ...


_gateways: dict[str, VenueGateway] = {}


def is_queued(gateway: VenueGateway) -> bool:
    """Whether ``gateway`` takes its orders as commands written in the core's transaction
    (``VenueGateway.enqueue``)."""
    return bool(getattr(gateway, "queued", False))


def takes_quote_budget(gateway: VenueGateway) -> bool:
    """Whether ``gateway`` fills a MARKET BUY by a quote budget (``quote_budget``)."""
    return bool(getattr(gateway, "quote_budget", False))


def register_gateway(gateway: VenueGateway) -> None:
    """Make ``gateway`` the one serving its venue (a later registration replaces it)."""
    _gateways[gateway.venue] = gateway


def gateway_for(venue: str) -> VenueGateway:
    """The registered gateway of ``venue``. Raises InvalidInput for a venue with none."""
    gateway = _gateways.get(venue)
    if gateway is None:
        raise InvalidInput(f"Venue {venue!r} does not trade here.", code="unknown_venue")
    return gateway
