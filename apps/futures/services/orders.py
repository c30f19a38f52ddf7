"""Futures orders on the internal engine: placed through the trading core with their
leverage and reduce-only flag, held as margin plus fee, and settled fill by fill into
positions (``position_apply_fill``) instead of exchanging base for quote.

- ``futures_order_place`` checks the leverage against the contract and the tier of the
  position the order would leave (InvalidInput before anything is held), refuses a
  reduce-only order that cannot reduce and sizes one larger than the position down to
  it, then places through ``trading.services.order_place`` with the terms as the venue's
  options (``FuturesGateway`` writes them as an ``OrderTerms`` row with the command).
  A take-profit and stop-loss given with an order that opens or adds (never a reduce-only
  one) are checked against its side and its price (a MARKET order's: the mark) and kept
  in its terms: they are the position's exits from the order's first fill (Bybit's
  "TP/SL on order", full position).
- ``order_hold_amount`` is the hold: the initial margin of the part that would open (or
  add to) a position plus the fee of the whole at the higher of the fee rates, in the
  contract's quote currency of the FUTURES wallet. A SELL may fill above its price, so
  its margin is sized at the higher of its price and the protective ask.
- ``fills_settle`` (the runner's batch transaction, the order row locked): per fill, the
  position row locked, what the fill needs (its margin and fee) released from the order's
  hold, then ``position_apply_fill`` keyed by the fill's settlement key (exactly once);
  the order's last fill releases what the hold has left. After the fill that leaves the
  position open on the order's side, the order's take-profit and stop-loss become its
  exits (``exits.position_exits_set``, replacing earlier ones), once.
"""
from collections.abc import Mapping, Sequence
from decimal import Decimal

import structlog
from django.db import transaction

from apps.core.errors import Conflict, InvalidInput
from apps.core.money import EXACT, exact_sums
from apps.futures import margin, selectors
from apps.futures.constants import PositionSide, PositionStatus
from apps.futures.models import AppliedFill, Contract, OrderTerms, Position
from apps.futures.services import exits, insurance
from apps.futures.services.positions import (
    ensure_position,
    lock_position,
    position_apply_fill,
)
from apps.trading import services as trading
from apps.trading.constants import LIVE_STATUSES, Liquidity, Side, TimeInForce, Venue
from apps.trading.models import Fill, Order
from apps.trading.services import rules
from apps.trading.venues import gateway_for
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger

ZERO = Decimal(0)
log = structlog.get_logger(__name__)


def _leverage(value: object, *, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"The leverage is a whole number from 1 to {maximum}.",
                           code="invalid_leverage",
                           fields={"leverage": [f"A whole number from 1 to {maximum}."]})
    return value


def _open_position(*, user_id: int, contract_id: int) -> tuple[str, Decimal]:
    """The side and size of the user's open position (``("", 0)`` when flat)."""
    found = (Position.objects.filter(user_id=user_id, contract_id=contract_id,
                                     status=PositionStatus.OPEN)
             .values_list("side", "size").first())
    return found or ("", ZERO)


def _opening(*, side: str, amount: Decimal, position: tuple[str, Decimal]) -> Decimal:
    """What of ``amount`` would open or add to a position (the rest reduces it)."""
    held_side, size = position
    direction = PositionSide.LONG if side == Side.BUY else PositionSide.SHORT
    if not size or held_side == direction:
        return amount
    return max(ZERO, amount - size)


def _open_orders_size(*, user_id: int, market_id: int, side: str) -> Decimal:
    """What the user's live orders of ``side`` in the market may still fill, reduce-only
    orders apart (they never increase a position)."""
    live = Order.objects.filter(user_id=user_id, market_id=market_id, side=side,
                                status__in=LIVE_STATUSES, futures_terms__reduce_only=False)
    return exact_sums(live, by=[], fields=["remaining"]).get((), [ZERO])[0]


def futures_order_place(*, user_id: int, symbol: str, side: str, type: str,
                        amount: Decimal, leverage: int, reduce_only: bool = False,
                        price: Decimal | None = None,
                        time_in_force: str = TimeInForce.GTC, post_only: bool = False,
                        client_order_id: str | None = None,
                        take_profit_price: Decimal | None = None,
                        stop_loss_price: Decimal | None = None) -> Order:
    """Place a futures order of ``user_id`` on the contract ``symbol`` at ``leverage``.

    Checks first, writing nothing: the contract (NotFound), the leverage (1 to the
    contract's maximum, then at most the maximum of the tier of the position the order
    would leave with every open order of its side filled (reduce-only ones apart), at its
    price or the engine's protective price: InvalidInput
    "invalid_leverage" / "leverage_above_tier"), a reduce-only order against an open
    position of the other side (InvalidInput "reduce_only_increases"; one larger than the
    position is sized down to it), a take-profit or stop-loss (InvalidInput on a
    reduce-only order, "reduce_only_exits", or off the tick, or on the side of the
    order's price, or of the mark for a MARKET order, where it would fire at once;
    Conflict "stale_mark" for a MARKET order with no fresh mark). Then
    ``trading.services.order_place`` (its checks,
    errors and guarantees: one transaction with the order, its hold and its engine
    command). Locks nothing of its own: the position read here may change before the
    fills, which is why the settlement applies each fill to the position as it is then.
    """
    contract = selectors.contract_get(symbol=symbol)
    leverage = _leverage(leverage, maximum=contract.max_leverage)
    position = _open_position(user_id=user_id, contract_id=contract.pk)
    direction = PositionSide.LONG if side == Side.BUY else PositionSide.SHORT
    valid_amount = isinstance(amount, Decimal) and amount.is_finite() and amount > 0
    order_exits = {name: value for name, value in ((exits.TAKE_PROFIT, take_profit_price),
                                                   (exits.STOP_LOSS, stop_loss_price))
                   if value is not None}
    if order_exits:
        _order_exits_check(contract=contract, side=side, price=price, reduce_only=reduce_only,
                           order_exits=order_exits)
    if reduce_only:
        if not position[1] or position[0] == direction:
            raise InvalidInput("A reduce-only order must be against an open position of "
                               "the other side: this one would open or increase one.",
                               code="reduce_only_increases",
                               fields={"reduce_only": ["Nothing to reduce on this side."]})
        if valid_amount and amount > position[1]:
            amount = position[1]
    elif valid_amount and side in (Side.BUY, Side.SELL):
        reference = price if isinstance(price, Decimal) and price.is_finite() and price > 0 \
            else gateway_for(Venue.FUTURES).reference_price(market=contract.market, side=side)
        # The worst case: every open order of this side fills, as far as it increases.
        signed = position[1] if position[0] == direction else -position[1]
        leaves = signed + _open_orders_size(user_id=user_id, market_id=contract.market_id,
                                            side=side) + amount
        if leaves > 0:
            notional = EXACT.multiply(leaves, reference)
            tier = margin.tier_for(selectors.contract_tiers(contract_id=contract.pk), notional)
            if leverage > tier.max_leverage:
                raise InvalidInput(
                    f"A position of {notional.normalize():f} {contract.market.quote_currency} "
                    f"allows at most {tier.max_leverage}x leverage.",
                    code="leverage_above_tier",
                    fields={"leverage": [f"At most {tier.max_leverage}x for this size."]})
    return trading.order_place(
        user_id=user_id, venue=Venue.FUTURES, symbol=symbol, side=side, type=type,
        amount=amount, price=price, time_in_force=time_in_force, post_only=post_only,
        client_order_id=client_order_id,
        venue_options={"leverage": leverage, "reduce_only": bool(reduce_only),
                       **order_exits})


def _order_exits_check(*, contract: Contract, side: str, price: object, reduce_only: bool,
                       order_exits: Mapping[str, object]) -> None:
    if reduce_only:
        message = "Take-profit and stop-loss go with an order that opens or adds to a " \
                  "position, not a reduce-only one."
        raise InvalidInput(message, code="reduce_only_exits",
                           fields={name: [message] for name in order_exits})
    if isinstance(price, Decimal) and price.is_finite() and price > 0:
        reference, against = price, "its price"
    else:
        mark = selectors.latest_mark(contract=contract)
        if mark is None or mark.age_seconds() > contract.index_max_age_seconds:
            raise Conflict("No fresh mark price: take-profit and stop-loss cannot be "
                           "checked now.", code="stale_mark")
        reference, against = mark.price, "the mark price"
    for name, value in order_exits.items():
        exits.exit_price_check(long=side == Side.BUY, field=name, price=value,
                               reference=reference, whose=f"A {side}'s", against=against)
        rules.on_step(value, step=contract.market.tick_size, what="Price", field=name)


def order_hold_amount(*, order: Order, decimals: int,
                      options: Mapping[str, object]) -> Decimal:
    """What a futures ``order`` holds (see the module docstring). Raises InvalidInput
    "invalid_leverage" for an order without a valid leverage in ``options`` (one placed
    through the core's own order endpoint, which does not take it)."""
    contract = Contract.objects.only("max_leverage").get(market_id=order.market_id)
    leverage = _leverage(options.get("leverage"), maximum=contract.max_leverage)
    price = order.reference_price
    if order.side == Side.SELL:
        try:
            price = max(price, gateway_for(Venue.FUTURES).reference_price(
                market=order.market, side=Side.BUY))
        except Conflict:
            pass  # no asks: a sell fills at the bids, below the last ask it could see
    opening = ZERO if options.get("reduce_only") else _opening(
        side=order.side, amount=order.amount,
        position=_open_position(user_id=order.user_id, contract_id=contract.pk))
    initial = margin.initial_margin(notional=EXACT.multiply(opening, price),
                                    leverage=leverage, decimals=decimals) if opening else ZERO
    rate = max(order.maker_fee_rate, order.taker_fee_rate)
    return initial + margin.fee(notional=EXACT.multiply(order.amount, price), rate=rate,
                                decimals=decimals)


def terms_record(*, order: Order, options: Mapping[str, object]) -> OrderTerms:
    """Record ``order``'s futures terms (its engine command's transaction)."""
    return OrderTerms.objects.create(order_id=order.pk, leverage=int(options["leverage"]),
                                     reduce_only=bool(options.get("reduce_only")),
                                     closes_id=options.get("closes"),
                                     take_profit_price=options.get(exits.TAKE_PROFIT),
                                     stop_loss_price=options.get(exits.STOP_LOSS))


def fills_settle(*, order: Order, fills: Sequence[Fill], close_hold: bool) -> None:
    """Apply ``order``'s new ``fills`` to its trader's position, each exactly once (see
    the module docstring), and with ``close_hold`` release what its hold has left. Runs
    in the caller's transaction, which holds the order row. Locks, per fill: the position
    row, then the FUTURES wallet and the order's hold (``hold_release``), then the
    position's margin hold (``position_apply_fill``): the positions' own order. Each
    fill's fee becomes what the position charged. Never fails on the trader's money: a
    fill its hold and the free balance cannot pay opens with what there is, and a
    reduce-only order's fill never opens or flips the position (``position_apply_fill``
    with ``held`` and ``reduce_only``; docs/FUTURES.md "A fill its hold cannot pay")."""
    terms = OrderTerms.objects.get(order_id=order.pk)
    contract = Contract.objects.select_related("market").get(market_id=order.market_id)
    decimals = wallet_selectors.currency_decimals(code=contract.market.quote_currency)
    if terms.closes_id is not None:  # the liquidation engine's: the fund's position
        insurance.close_fills_settle(order=order, terms=terms, contract=contract,
                                     fills=fills, close_hold=close_hold, decimals=decimals)
        return
    for fill in fills:
        if AppliedFill.objects.filter(key=fill.settlement_key).exists():
            continue
        ensure_position(user_id=order.user_id, contract=contract)
        lock_position(user_id=order.user_id, contract=contract)
        rate = (order.maker_fee_rate if fill.liquidity == Liquidity.MAKER
                else order.taker_fee_rate)
        notional = EXACT.multiply(fill.amount, fill.price)
        need = margin.fee(notional=notional, rate=rate, decimals=decimals) + \
            margin.initial_margin(notional=notional, leverage=terms.leverage,
                                  decimals=decimals)
        held = min(wallet_selectors.hold_remaining(key=order.hold_key) or ZERO, need)
        if held:
            ledger.hold_release(key=order.hold_key, amount=held)
        applied = position_apply_fill(
            key=fill.settlement_key, user_id=order.user_id, contract_id=contract.pk,
            side=order.side, amount=fill.amount, price=fill.price, fee_rate=rate,
            leverage=terms.leverage, now=fill.executed_at, reduce_only=terms.reduce_only,
            held=held)
        order.fee += applied.fee - fill.fee
        fill.fee = applied.fee
    if close_hold and wallet_selectors.hold_remaining(key=order.hold_key) is not None:
        ledger.hold_release(key=order.hold_key)
    if not terms.exits_set and (terms.take_profit_price or terms.stop_loss_price):
        _order_exits_apply(order=order, terms=terms, contract=contract)


def _order_exits_apply(*, order: Order, terms: OrderTerms, contract: Contract) -> None:
    """The order's take-profit and stop-loss become its position's exits, once the
    position is open on the order's side. A savepoint: exits that cannot be set now
    (the mark moved through one, went stale, or the exit's fee cannot be held) are
    logged and dropped, never failing the fill's settlement."""
    direction = PositionSide.LONG if order.side == Side.BUY else PositionSide.SHORT
    position = Position.objects.filter(user_id=order.user_id, contract_id=contract.pk,
                                       status=PositionStatus.OPEN, side=direction).first()
    if position is None:
        return
    terms.exits_set = True
    terms.save(update_fields=["exits_set"])
    changes = {name: value for name, value in ((exits.TAKE_PROFIT, terms.take_profit_price),
                                               (exits.STOP_LOSS, terms.stop_loss_price))
               if value is not None}
    try:
        with transaction.atomic():
            exits.position_exits_set(user_id=order.user_id, position_id=position.pk,
                                     **changes)
    except (InvalidInput, Conflict) as exc:  # InsufficientFunds is a Conflict
        log.warning("futures_order_exits_dropped", order_id=order.pk,
                    position_id=position.pk, reason=str(exc))
