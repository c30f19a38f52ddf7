"""A position's take-profit and stop-loss: the trading core's conditional orders
(``apps.trading.services.conditional``), triggered by the contract's mark price.

An exit is a TAKE_PROFIT_MARKET or STOP_MARKET order of the side that reduces the position
(a long's SELL, a short's BUY), ``trigger_source`` MARK, reduce-only (its ``OrderTerms``,
at the position's leverage) and ``close_position``: it waits PENDING, and when a mark tick
reaches its stop price it goes to the engine as a market order for the position's size
then (``exit_fire_size``), whatever the size was when it was set. At most one of each kind
per position; setting one replaces the one before (cancelled in the same transaction);
clearing cancels it. A long's take-profit must be above the mark and its stop-loss below
(a short's the other way round), or it would fire at once: InvalidInput (400) otherwise.

Money: an exit only reduces, so it needs no margin: it holds what any reduce-only futures
order holds, its taker fee at the trigger (``orders.order_hold_amount``); a fee beyond that
(the position grew) is paid from the margin the close releases. A position's exits are
cancelled when it closes, flips or is liquidated (``reduce_only.reduce_only_trim``: every
reduce-only order of a position that is flat or on its side), and an exit that fires on
no position to close finds the settlement's reduce-only rule (``position_apply_fill``:
a reduce-only fill never opens one).

Triggering: every mark tick is a quote of the ``mark`` pseudo-venue on the quote bus; its
listener (``tasks.on_mark_quote``) runs ``mark_trigger``, which is the core's
``conditional_trigger`` with that tick: one indexed range per direction, locks, exactly
once under duplicated ticks and concurrent executors (the core's guarantees). The beat's
mark sweep republishes every contract's mark, so a lost tick is made up.
"""
from decimal import Decimal
from typing import Final

from django.db import transaction

from apps.core.errors import Conflict, InvalidInput
from apps.futures import selectors
from apps.futures.constants import PositionSide, PositionStatus
from apps.futures.models import Contract, OrderTerms, Position
from apps.futures.services.streams import positions_publish
from apps.marketdata.quotes import Quote
from apps.trading import services as trading
from apps.trading.constants import (
    TAKE_PROFIT_TYPES,
    MarketStatus,
    OrderStatus,
    OrderType,
    Side,
    TriggerSource,
    Venue,
)
from apps.trading.models import Market, Order

TAKE_PROFIT: Final = "take_profit_price"
STOP_LOSS: Final = "stop_loss_price"
# Omitted from a change: the exit stays as it is (None clears it).
UNCHANGED: Final = object()
_TYPE = {TAKE_PROFIT: OrderType.TAKE_PROFIT_MARKET, STOP_LOSS: OrderType.STOP_MARKET}


def _live_exits(position: Position) -> dict[str, Order]:
    found = {}
    for order in Order.objects.filter(user_id=position.user_id,
                                      market_id=position.contract.market_id,
                                      status=OrderStatus.PENDING, close_position=True):
        found[TAKE_PROFIT if order.type in TAKE_PROFIT_TYPES else STOP_LOSS] = order
    return found


def exit_price_check(*, long: bool, field: str, price: object, reference: Decimal,
                     whose: str, against: str) -> None:
    """Raise InvalidInput (on ``field``) unless ``price`` is a positive finite Decimal on
    the side of ``reference`` where the exit would not fire at once: a long's (or a
    BUY's) take-profit above it and stop-loss below, a short's the other way round.
    ``whose`` and ``against`` name the two in the message ("A long's", "the mark price")."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise InvalidInput(f"{field} must be a positive number.",
                           fields={field: ["A positive number."]})
    above = (field == TAKE_PROFIT) == long
    if (price <= reference) if above else (price >= reference):
        what = "take-profit" if field == TAKE_PROFIT else "stop-loss"
        where = "above" if above else "below"
        message = f"{whose} {what} must be {where} {against} {reference.normalize():f}."
        raise InvalidInput(message, fields={field: [message]})


def position_exits_set(*, user_id: int, position_id: int,
                       take_profit_price: Decimal | None | object = UNCHANGED,
                       stop_loss_price: Decimal | None | object = UNCHANGED) -> Position:
    """Set, replace or clear the take-profit and stop-loss of the user's open position
    (see the module docstring): a price sets (or replaces) that exit, None clears it,
    ``UNCHANGED`` leaves it.

    Checks first, writing nothing: the position (NotFound: not the user's; Conflict
    "position_closed"), a fresh mark (Conflict "stale_mark"), each price against it and
    the market's tick (InvalidInput). Then one transaction: the replaced or cleared
    exits cancelled (``trading.services.order_cancel``: the order row, then the wallet),
    the new ones placed (``trading.services.order_place``: its checks, errors and
    hold, InsufficientFunds for the fee) with their terms. Guarantees: at most one live
    exit of each kind per position; either every change happens or none."""
    changes = {name: value for name, value in ((TAKE_PROFIT, take_profit_price),
                                               (STOP_LOSS, stop_loss_price))
               if value is not UNCHANGED}
    position = selectors.position_of(user_id=user_id, position_id=position_id)
    if position.status != PositionStatus.OPEN:
        raise Conflict("The position is closed.", code="position_closed")
    contract = Contract.objects.select_related("market").get(pk=position.contract_id)
    position.contract = contract
    mark = selectors.latest_mark(contract=contract)
    if mark is None or mark.age_seconds() > contract.index_max_age_seconds:
        raise Conflict("No fresh mark price: exits cannot be set now.", code="stale_mark")
    for field, price in changes.items():
        if price is not None:
            exit_price_check(long=position.side == PositionSide.LONG, field=field,
                             price=price, reference=mark.price,
                             whose=f"A {position.side.lower()}'s", against="the mark price")
    exit_side = Side.SELL if position.side == PositionSide.LONG else Side.BUY
    with transaction.atomic():
        live = _live_exits(position)
        for field, price in changes.items():
            if field in live:
                trading.order_cancel(user_id=user_id, venue=Venue.FUTURES,
                                     order_id=live[field].pk,
                                     reason="Replaced." if price is not None else "Cleared.")
            if price is None:
                continue
            options = {"leverage": position.leverage, "reduce_only": True}
            try:
                order = trading.order_place(
                    user_id=user_id, venue=Venue.FUTURES, symbol=contract.market.symbol,
                    side=exit_side, type=_TYPE[field], amount=position.size,
                    stop_price=price, trigger_source=TriggerSource.MARK,
                    venue_options=options)
            except InvalidInput as exc:
                # The core names its own fields (stop_price, amount): say which exit.
                raise InvalidInput(str(exc), fields={field: [str(exc)]}) from None
            Order.objects.filter(pk=order.pk).update(close_position=True)
            OrderTerms.objects.create(order_id=order.pk, leverage=position.leverage,
                                      reduce_only=True)
        positions_publish(positions=[position])
    return position


def exit_fire_size(*, order: Order) -> None:
    """Size a firing ``close_position`` exit to its trader's position now (its row is
    locked by the trigger; the position is read, not locked: the settlement applies the
    fill to the position as it is then, under the reduce-only rule). Left as it is when
    there is no position of the other side to close."""
    side, size = (Position.objects.filter(
        user_id=order.user_id, contract__market_id=order.market_id,
        status=PositionStatus.OPEN).values_list("side", "size").first() or ("", 0))
    reduces = (side == PositionSide.LONG) == (order.side == Side.SELL)
    if size and side and reduces:
        order.amount = order.remaining = size


def mark_trigger(*, quote: Quote) -> int:
    """Fire the MARK-triggered conditional orders (the exits) of the futures market whose
    mark tick ``quote`` is (``trading.services.conditional_trigger``); returns how many
    fired. An unknown or disabled market fires nothing."""
    market = Market.objects.filter(venue=Venue.FUTURES, symbol=quote.symbol,
                                   status=MarketStatus.ENABLED).first()
    if market is None or market.symbol != quote.symbol:
        return 0
    return trading.conditional_trigger(market=market, quote=quote)
