"""Between the core's orders and the matching core's book: a command's payload, applying
it to an ``OrderBook``, and what its events mean for the core's orders.

Pure functions of their arguments (no database): the runner and a from-scratch replay use
the same ones, so a book restored from a snapshot plus replay equals one replayed from the
first command.

How a core order meets the book: a LIMIT order GTC rests (``LIMIT``; post-only:
``POST_ONLY``), IOC and FOK are the book's own types; a MARKET order (and a triggered
conditional order whose child is one) is sent as an IOC (or FOK) at its
``reference_price``, the protective limit its hold was sized at (the best
opposite price and ``ENGINE_MARKET_PROTECTION`` when it was placed), so it never fills
beyond what it holds; a triggered sell stop's market child has no limit (it holds the
amount it sells). A MARKET BUY by quote budget is the book's own MARKET order with a
``quote_budget``: its budget in quote units (tick x lot) rounded down, so it never
spends more than it holds; it needs no limit. Self-trade prevention: the order's
``stp`` option, else the market's default.
"""
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

from apps.matching import (
    Accepted,
    BookChanged,
    Cancelled,
    CancelReason,
    MarketSpec,
    OrderBook,
    Rejected,
    RejectReason,
    StpMode,
    Trade,
)
from apps.matching import OrderType as BookType
from apps.matching import Side as BookSide
from apps.trading.constants import (
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    executes_as,
    is_conditional,
)
from apps.trading.models import Market, Order
from apps.trading.venues import Execution

STP_MODES = {mode.name: mode for mode in StpMode}
_REJECTS = {
    RejectReason.POST_ONLY_WOULD_CROSS: "Post-only: the order would have taken liquidity.",
    RejectReason.FOK_NOT_FILLABLE: "Fill-or-kill: not enough at the price to fill it all.",
    RejectReason.DUPLICATE_ORDER_ID: "The engine already has this order.",
    RejectReason.INVALID_PRICE: "The engine refused the price.",
    RejectReason.INVALID_QUANTITY: "The engine refused the amount.",
    RejectReason.INVALID_BUDGET: "The engine refused the budget.",
}


class LegDropped:
    """The kind of ``(LegDropped, order_id)``, not a book event: the fired OCO leg was
    not placed, its other leg having executed first (``apply``)."""


class LegCancelled:
    """The kind of ``(LegCancelled, order_id)``, not a book event: the OCO leg was
    cancelled for its fired other leg (``apply``)."""


def market_spec(market: Market, *, stp_default: StpMode = StpMode.CANCEL_TAKER) -> MarketSpec:
    """The book's spec of ``market``: its id is the market's primary key (trade ids are
    ``"<market pk>:<event seq>"``)."""
    return MarketSpec(market_id=str(market.pk), tick_size=market.tick_size.normalize(),
                      lot_size=market.lot_size.normalize(), stp_default=stp_default)


def _book_type(order: Order) -> BookType:
    if order.time_in_force == TimeInForce.FOK:
        return BookType.FOK
    if order.time_in_force == TimeInForce.IOC or executes_as(order.type) == OrderType.MARKET:
        return BookType.IOC
    return BookType.POST_ONLY if order.post_only else BookType.LIMIT


def command_payload(*, order: Order, market: Market, kind: str,
                    options: Mapping[str, object]) -> dict:
    """The durable payload of ``order``'s ``kind`` command: everything the book needs, in
    integers, so a replay never reads the order row. Raises ValueError for an unknown
    ``stp`` option or amounts off the market's steps."""
    if kind == "cancel":
        return {"order_id": order.pk}
    spec = market_spec(market)
    stp = options.get("stp")
    if stp is not None and stp not in STP_MODES:
        raise ValueError(f"unknown self-trade prevention mode {stp!r}")
    stp = None if stp is None else int(STP_MODES[stp])
    if order.quote_amount is not None:
        return {"order_id": order.pk, "owner": order.user_id, "side": int(BookSide.BUY),
                "type": int(BookType.MARKET), "price": None, "qty": None,
                "quote_budget": quote_budget(order.quote_amount, spec=spec), "stp": stp}
    if order.price is not None:
        price = spec.to_ticks(order.price)
    elif is_conditional(order.type) and order.side == Side.SELL:
        price = 1  # a triggered sell stop fills at the market however far it gapped
    else:
        # A MARKET order's protective limit; a triggered buy's market child fills up to
        # what its hold covers (its trigger plus CONDITIONAL_MARKET_HOLD_MARGIN).
        price = spec.to_ticks(order.reference_price)
    return {"order_id": order.pk, "owner": order.user_id,
            "side": int(BookSide.BUY if order.side == Side.BUY else BookSide.SELL),
            "type": int(_book_type(order)),
            "price": price,
            "qty": spec.to_lots(order.amount),
            "stp": stp}


def quote_budget(amount: Decimal, *, spec: MarketSpec) -> int:
    """``amount`` (quote currency) in whole quote units of ``spec``, rounded down."""
    with localcontext() as ctx:
        ctx.prec = 80  # a 36-digit amount over an 18-decimal unit divides exactly
        return int(amount // spec.quote_unit)


def sibling_condition(*, sibling: Order, market: Market) -> dict:
    """What a fired OCO leg's place command adds to its payload when its other leg,
    ``sibling``, is on the book: that leg's id and whole amount in lots
    (``_fired_leg``)."""
    return {"sibling": [sibling.pk, market_spec(market).to_lots(sibling.amount)]}


def _fired_leg(book: OrderBook, *, payload: dict) -> list:
    """Place a fired OCO leg only if its other leg still rests with its whole amount,
    cancelling that leg first; else drop it (``LegDropped``: CANCELED in the core) and
    let the other leg live on: it executed, even partly, in a command applied before
    this one. So exactly one leg of a pair executes, whichever reaches the book first;
    the decision is the book's state at the command, and a replay repeats it. (A leg
    the book itself cancelled before it, by self-trade prevention, drops the fired leg
    too: neither executes.)"""
    sibling, whole = payload["sibling"]
    resting = book.order(sibling)
    if resting is None or resting.qty != whole:
        return [(LegDropped, payload["order_id"])]
    return [*book.cancel(order_id=sibling), (LegCancelled, sibling),
            *apply(book, kind="place",
                   payload={k: v for k, v in payload.items() if k != "sibling"})]


def apply(book: OrderBook, *, kind: str, payload: dict) -> list:
    """Apply one command to ``book``; its events."""
    if kind == "cancel":
        return book.cancel(order_id=payload["order_id"])
    if "sibling" in payload:
        return _fired_leg(book, payload=payload)
    stp = payload.get("stp")
    return book.place(order_id=payload["order_id"], owner=payload["owner"],
                      side=BookSide(payload["side"]), order_type=BookType(payload["type"]),
                      qty=payload["qty"], price=payload["price"],
                      quote_budget=payload.get("quote_budget"),
                      stp=None if stp is None else StpMode(stp))


@dataclass
class Outcome:
    """What a batch did to one core order: its executions in order, and the state it
    ends in (None: still resting, as far as the batch says)."""

    executions: list[Execution] = field(default_factory=list)
    status: str | None = None
    reason: str = ""
    placed: bool = False


def outcomes(events: list, *, spec: MarketSpec, executed_at: datetime,
             outcome_of: dict[int, Outcome], command_seq: int) -> None:
    """Fold one command's ``events`` into ``outcome_of`` (core order id -> Outcome). A
    trade is one execution of each side, ``<trade id>:M`` (maker) and ``<trade id>:T``
    (taker), each settled once by its key."""
    for event in events:
        kind = event[0]
        if kind is Trade:
            _, seq, market_id, maker, taker, _mo, _to, _ms, price, qty = event
            trade_id = f"{market_id}:{seq}"
            price_d, amount = spec.price(price), spec.qty(qty)
            evidence = {"engine": {"trade_id": trade_id, "command": command_seq}}
            for order_id, role, mark in ((maker, Liquidity.MAKER, "M"),
                                         (taker, Liquidity.TAKER, "T")):
                outcome_of.setdefault(order_id, Outcome()).executions.append(Execution(
                    price=price_d, amount=amount, liquidity=role, executed_at=executed_at,
                    evidence=evidence, trade_id=f"{trade_id}:{mark}"))
        elif kind is Accepted:
            found = outcome_of.setdefault(event[2], Outcome())
            found.placed = True
            if event[8] is not None:
                # A budget order is over with its command: filled, unless a Cancelled
                # event (budget left unspent) follows.
                found.status = OrderStatus.FILLED
        elif kind is Rejected:
            _, _seq, order_id, reason = event
            if reason == RejectReason.UNKNOWN_ORDER:
                continue  # a cancel of an order already done: nothing to do
            found = outcome_of.setdefault(order_id, Outcome())
            found.status, found.reason = OrderStatus.REJECTED, _REJECTS.get(reason, "")
        elif kind is Cancelled:
            _, _seq, order_id, _qty, reason = event
            found = outcome_of.setdefault(order_id, Outcome())
            if reason == CancelReason.UNFILLED:
                found.status = OrderStatus.EXPIRED
                found.reason = "Nothing more to match within its price."
            elif reason == CancelReason.SELF_TRADE:
                found.status = OrderStatus.CANCELED
                found.reason = "Self-trade prevention."
            else:
                found.status, found.reason = OrderStatus.CANCELED, ""
        elif kind is LegCancelled:
            outcome_of[event[1]].reason = "OCO: the other leg triggered."
        elif kind is LegDropped:
            found = outcome_of.setdefault(event[1], Outcome())
            found.status = OrderStatus.CANCELED
            found.reason = "OCO: the other leg filled first."
        # BookChanged and the rest change no order.


def is_depth_event(event: tuple) -> bool:
    return event[0] is BookChanged or event[0] is Trade


def protective_price(*, best: Decimal | None, side: str, band: Decimal,
                     tick: Decimal) -> Decimal | None:
    """A MARKET order's limit: the best opposite price moved by ``band`` against the
    taker, on the tick (up for a buy, down for a sell, never below one tick)."""
    if best is None:
        return None
    if side == Side.BUY:
        raw = best * (1 + band)
        ticks = -(-raw // tick)
    else:
        raw = best * (1 - band)
        ticks = max(raw // tick, Decimal(1))
    return (ticks * tick).normalize()
