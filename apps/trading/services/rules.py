"""The trading core's rules that need no database: an order's numbers against its market's
steps and limits, what it holds, and a conditional order's trigger (which price it
compares, which way it fires, where a trailing stop's trigger stands).

Nothing here reads or writes a row; every function raises InvalidInput (a 4xx with field
errors) for input it refuses.
"""
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from apps.core import conf
from apps.core.errors import InvalidInput
from apps.core.money import EXACT, MAX_AMOUNT, AmountError, quantize_exact, round_down, round_up
from apps.marketdata.quotes import Quote
from apps.marketdata.streams import MARK_VENUE
from apps.trading.constants import (
    STOP_TYPES,
    OrderType,
    Side,
    TriggerDirection,
    TriggerSource,
    executes_as,
    trigger_direction,
)
from apps.trading.models import Market, Order
from apps.trading.venues import gateway_for

ZERO = Decimal(0)
# A trailing stop's callback rate, as Binance bounds it (0.1% to 20%).
TRAILING_RATE_MIN = Decimal("0.001")
TRAILING_RATE_MAX = Decimal("0.2")


def refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def on_step(value: Decimal, *, step: Decimal, what: str, field: str | None = None) -> Decimal:
    """``value`` if it is a whole multiple of ``step`` (within the column's 18 places)."""
    field = field or what.lower()
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise refuse(f"{what} must be greater than zero.", field)
    try:
        if value >= MAX_AMOUNT:  # the column could not hold it
            raise AmountError("is too large")
        value = quantize_exact(value, decimals=18)
    except AmountError as exc:
        raise refuse(f"{what} {exc}.", field) from None
    with localcontext(EXACT):
        if value % step != 0:
            raise refuse(f"{what} must be a multiple of {step.normalize():f}.", field)
    return value


def check_limits(market: Market, *, amount: Decimal, reference: Decimal,
                 decimals: int) -> None:
    if amount < market.min_amount:
        raise refuse(f"Amount is below the minimum of {market.min_amount.normalize():f}.",
                     "amount")
    if market.max_amount is not None and amount > market.max_amount:
        raise refuse(f"Amount is above the maximum of {market.max_amount.normalize():f}.",
                     "amount")
    notional = EXACT.multiply(amount, reference)
    if round_down(notional, decimals=decimals) <= 0:
        raise refuse(f"Order value is below 1 unit of {market.quote_currency}.", "amount")
    if notional < market.min_notional:
        raise refuse(f"Order value is below the minimum of "
                     f"{market.min_notional.normalize():f} {market.quote_currency}.", "amount")
    if market.max_notional is not None and notional > market.max_notional:
        raise refuse(f"Order value is above the maximum of "
                     f"{market.max_notional.normalize():f} {market.quote_currency}.", "amount")


def budget_amount(*, budget: Decimal, reference: Decimal, lot: Decimal) -> Decimal:
    """The whole lots ``budget`` buys at ``reference``: a budget order's amount until it
    ends (zero: ``check_budget`` refuses it)."""
    with localcontext() as ctx:
        ctx.prec = 80  # 36-digit amounts over 18-decimal steps divide exactly
        return (budget // (reference * lot)) * lot


def check_budget(market: Market, *, budget: Decimal, amount: Decimal, reference: Decimal,
                 decimals: int) -> None:
    """A MARKET BUY's quote budget: at most ``decimals`` places (the quote currency's),
    within the market's notional limits, and enough for one lot at ``reference``
    (``amount``: ``budget_amount``'s estimate)."""
    try:
        if budget >= MAX_AMOUNT:  # the column could not hold it
            raise AmountError("is too large")
        quantize_exact(budget, decimals=decimals)
    except AmountError as exc:
        raise refuse(f"quote_amount {exc}.", "quote_amount") from None
    if budget < market.min_notional:
        raise refuse(f"quote_amount is below the minimum order value of "
                     f"{market.min_notional.normalize():f} {market.quote_currency}.",
                     "quote_amount")
    if market.max_notional is not None and budget > market.max_notional:
        raise refuse(f"quote_amount is above the maximum order value of "
                     f"{market.max_notional.normalize():f} {market.quote_currency}.",
                     "quote_amount")
    if amount <= 0:
        raise refuse(f"quote_amount does not buy one lot "
                     f"({market.lot_size.normalize():f}) at "
                     f"{reference.normalize():f}.", "quote_amount")


def hold_amount(*, side: str, amount: Decimal, reference: Decimal, rate: Decimal,
                decimals: int) -> Decimal:
    """What an order holds: a BUY its cost at ``reference`` plus the fee at ``rate``, both
    rounded up (quote currency); a SELL its amount (base currency)."""
    if side == Side.SELL:
        return amount
    cost = round_up(EXACT.multiply(amount, reference), decimals=decimals)
    return cost + round_up(EXACT.multiply(cost, rate), decimals=decimals)


def order_hold(order: Order, *, decimals: int,
               options: Mapping[str, object] | None = None) -> Decimal:
    """What ``order`` holds: ``hold_amount`` at its reference price, or what its venue's
    ``order_hold`` says (a margined venue: its margin and fee, from the order's
    ``options``, the venue's terms beyond the core's order)."""
    sizing = getattr(gateway_for(order.venue), "order_hold", None)
    if sizing is not None:
        return sizing(order=order, decimals=decimals, options=options or {})
    if order.quote_amount is not None:
        # A budget order only takes: its budget, and the taker fee on all of it.
        return order.quote_amount + round_up(
            EXACT.multiply(order.quote_amount, order.taker_fee_rate), decimals=decimals)
    return hold_amount(side=order.side, amount=order.amount,
                             reference=order.reference_price,
                             rate=max(order.maker_fee_rate, order.taker_fee_rate),
                             decimals=decimals)


def held_currencies(market: Market, side: str) -> tuple[str, str]:
    """The currency an order of ``side`` holds, then the other one. A margined venue's
    orders (futures: no base to deliver) hold the quote currency either way."""
    if getattr(gateway_for(market.venue), "margined", False):
        return market.quote_currency, market.base_currency
    return ((market.quote_currency, market.base_currency) if side == Side.BUY
            else (market.base_currency, market.quote_currency))


def market_child_reference(*, side: str, trigger: Decimal, tick: Decimal) -> Decimal:
    """The price a conditional order whose child is a MARKET order is sized and held at:
    a BUY its trigger plus CONDITIONAL_MARKET_HOLD_MARGIN (rounded up to the tick: a gap
    through the trigger up to that margin still fills in full), a SELL its trigger (it
    holds its amount, whatever the price)."""
    if side == Side.SELL:
        return trigger
    margin = Decimal(conf.CONDITIONAL_MARKET_HOLD_MARGIN)
    return to_tick(EXACT.multiply(trigger, 1 + margin), tick=tick, rounding=ROUND_CEILING)


def to_tick(value: Decimal, *, tick: Decimal, rounding: str) -> Decimal:
    with localcontext(EXACT) as ctx:
        ctx.rounding = rounding
        return (value / tick).to_integral_value() * tick


def covered_amount(*, amount: Decimal, reference: Decimal, price: Decimal,
                   lot: Decimal) -> Decimal:
    """How much of ``amount`` (whole lots) a BUY held at ``reference`` can pay for at
    ``price``: all of it at or below the reference, ``amount x reference / price`` above
    it (the hold's cost and fee are monotone in amount x price, so it covers that)."""
    if price <= reference:
        return amount
    with localcontext(EXACT) as ctx:
        ctx.rounding = ROUND_FLOOR
        return ((amount * reference / price) / lot).to_integral_value() * lot


# --- triggers -----------------------------------------------------------------------------


def quote_sources(quote: Quote) -> tuple[str, ...]:
    """The trigger sources ``quote`` moves: MARK for a mark tick (a quote of the
    ``MARK_VENUE`` pseudo-venue, under the contract's symbol), LAST and BID_ASK for any
    other quote. A mark tick never fires a LAST order, nor a trade a MARK one."""
    if quote.venue == MARK_VENUE:
        return (TriggerSource.MARK,)
    return (TriggerSource.LAST, TriggerSource.BID_ASK)


def source_price(*, source: str, side: str, quote: Quote) -> Decimal:
    """The price a trigger of ``source`` compares for an order of ``side``: LAST the
    quote's price; BID_ASK the bid for a sell and the ask for a buy (the last price where
    the feed has no book). MARK: the mark tick's price (``quote_sources``: only a venue
    with a mark publishes one, futures)."""
    if source == TriggerSource.BID_ASK:
        book = quote.ask if side == Side.BUY else quote.bid
        if book is not None:
            return book
    return quote.price


def fires(*, direction: str, stop_price: Decimal | None, price: Decimal) -> bool:
    if stop_price is None:  # a trailing stop not yet active
        return False
    return price >= stop_price if direction == TriggerDirection.RISE else price <= stop_price


def trailing_trigger(*, side: str, best: Decimal, delta: Decimal | None,
                     rate: Decimal | None, tick: Decimal) -> Decimal:
    """A trailing stop's trigger for the best price ``best`` since activation: a SELL's
    ``best - delta`` or ``best x (1 - rate)`` rounded down to the tick, a BUY's
    ``best + delta`` or ``best x (1 + rate)`` rounded up (the callback is never less than
    asked)."""
    if delta is not None:
        return best - delta if side == Side.SELL else best + delta
    if side == Side.SELL:
        return to_tick(EXACT.multiply(best, 1 - rate), tick=tick, rounding=ROUND_FLOOR)
    return to_tick(EXACT.multiply(best, 1 + rate), tick=tick, rounding=ROUND_CEILING)


@dataclass(frozen=True)
class Trigger:
    """A conditional order's trigger as validated at placement: what the order row
    stores, and ``reference`` (what its hold is sized at)."""

    stop_price: Decimal | None
    direction: str
    source: str
    reference: Decimal
    trailing_delta: Decimal | None = None
    trailing_rate: Decimal | None = None
    activation_price: Decimal | None = None
    trailing_best: Decimal | None = None


def _side_word(direction: str) -> str:
    return "above" if direction == TriggerDirection.RISE else "below"


def _type_word(type: str, side: str) -> str:
    kind = ("stop" if type in STOP_TYPES else "trailing stop" if type == OrderType.TRAILING_STOP
            else "take-profit")
    return f"A {side.lower()} {kind}"


@dataclass(frozen=True)
class TriggerInput:
    """A conditional order's trigger parameters as given, checked on their own (steps,
    bounds, which go with which type); ``conditional_trigger_check`` then checks them
    against the market's price."""

    type: str
    side: str
    source: str
    stop_price: Decimal | None = None
    trailing_delta: Decimal | None = None
    trailing_rate: Decimal | None = None
    activation_price: Decimal | None = None


def conditional_parse(*, market: Market, type: str, side: str, source: str,
                      stop_price: Decimal | None, trailing_delta: Decimal | None,
                      trailing_rate: Decimal | None,
                      activation_price: Decimal | None) -> TriggerInput:
    """Check a conditional order's trigger parameters without a price: a stop or
    take-profit needs ``stop_price`` on the tick and takes no trailing parameter; a
    trailing stop takes no stop price and exactly one of ``trailing_delta`` (a tick
    multiple) and ``trailing_rate`` (TRAILING_RATE_MIN..MAX, at most 6 places), and an
    optional ``activation_price`` on the tick. Raises InvalidInput."""
    tick = market.tick_size
    if type == OrderType.TRAILING_STOP:
        if stop_price is not None:
            raise refuse("A trailing stop takes no stop price: it follows the market.",
                         "stop_price")
        if (trailing_delta is None) == (trailing_rate is None):
            raise refuse("A trailing stop needs exactly one of trailing_delta and "
                         "trailing_rate.", "trailing_delta")
        if trailing_delta is not None:
            trailing_delta = on_step(trailing_delta, step=tick, what="Trailing delta",
                                     field="trailing_delta")
        elif (not isinstance(trailing_rate, Decimal) or not trailing_rate.is_finite()
              or not TRAILING_RATE_MIN <= trailing_rate <= TRAILING_RATE_MAX):
            raise refuse(f"Trailing rate must be between {TRAILING_RATE_MIN} and "
                         f"{TRAILING_RATE_MAX}.", "trailing_rate")
        elif trailing_rate != trailing_rate.quantize(Decimal("0.000001")):
            raise refuse("Trailing rate has at most 6 decimal places.", "trailing_rate")
        if activation_price is not None:
            activation_price = on_step(activation_price, step=tick, what="Activation price",
                                       field="activation_price")
    else:
        for name, value in (("trailing_delta", trailing_delta),
                            ("trailing_rate", trailing_rate),
                            ("activation_price", activation_price)):
            if value is not None:
                raise refuse(f"Only a trailing stop takes {name}.", name)
        if stop_price is None:
            raise refuse(f"A {type} order needs a stop price.", "stop_price")
        stop_price = on_step(stop_price, step=tick, what="Stop price", field="stop_price")
    return TriggerInput(type=type, side=side, source=source, stop_price=stop_price,
                        trailing_delta=trailing_delta, trailing_rate=trailing_rate,
                        activation_price=activation_price)


def conditional_trigger_check(*, market: Market, given: TriggerInput, quote: Quote,
                              price: Decimal | None) -> Trigger:
    """Check a parsed trigger against the current ``quote`` (fresh; the caller checked)
    and say what the order stores and what its hold is sized at.

    A stop or take-profit's ``stop_price`` must be on the side of the market its
    direction fires from (a buy stop above the trigger source's price, a sell stop below;
    a buy take-profit below, a sell take-profit above): one already crossed would fire at
    once. A trailing stop's activation price must not be reached yet (a sell activates at
    or above it, a buy at or below); without one it trails from placement, from the
    current price. ``price`` is the limit of a ``*_LIMIT`` type (validated by the caller).
    Raises InvalidInput."""
    type, side, tick = given.type, given.side, market.tick_size
    direction = trigger_direction(type=type, side=side)
    current = source_price(source=given.source, side=side, quote=quote)
    if type == OrderType.TRAILING_STOP:
        best = None
        if given.activation_price is not None:
            reached = (current >= given.activation_price if side == Side.SELL
                       else current <= given.activation_price)
            if reached:
                where = "above" if side == Side.SELL else "below"
                raise refuse(f"A {side.lower()} trailing stop's activation price must be "
                             f"{where} the market price {current.normalize():f}.",
                             "activation_price")
            start = given.activation_price
        else:
            best = start = current
        initial = trailing_trigger(side=side, best=start, delta=given.trailing_delta,
                                   rate=given.trailing_rate, tick=tick)
        if initial <= 0:
            raise refuse("The trailing distance is larger than the price.",
                         "trailing_delta" if given.trailing_delta else "trailing_rate")
        return Trigger(stop_price=initial if best is not None else None, direction=direction,
                       source=given.source,
                       reference=market_child_reference(side=side, trigger=initial, tick=tick),
                       trailing_delta=given.trailing_delta, trailing_rate=given.trailing_rate,
                       activation_price=given.activation_price, trailing_best=best)
    if fires(direction=direction, stop_price=given.stop_price, price=current):
        raise refuse(f"{_type_word(type, side)} must be {_side_word(direction)} the market "
                     f"price {current.normalize():f}.", "stop_price")
    if executes_as(type) == OrderType.LIMIT:
        reference = price
    else:
        reference = market_child_reference(side=side, trigger=given.stop_price, tick=tick)
    return Trigger(stop_price=given.stop_price, direction=direction, source=given.source,
                   reference=reference)
