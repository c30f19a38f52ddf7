"""Orders of every venue: placing, cancelling, a venue's answers, fills and their
settlement, and the lists (OCO, bracket) their orders belong to.

A venue supplies a ``VenueGateway`` (``apps.trading.venues``); this module does everything
venues share: validation against the market's steps and limits (``rules``), the hold, the
order row and its state machine (``constants.TRANSITIONS``), fills and their settlement in
the ledger, and the owners' events. Money moves only through ``apps.wallets.services``.

Lock order (every function here follows it, so none can deadlock another): order rows in
id order, together with the other orders of their lists (``OrderStore.lock``), then the
wallets (``wallets_lock``/``settle_trades``: user wallets in pk order; system accounts are
never locked). Placing an order inserts its row after locking the user's wallets; the
insert's foreign-key check takes a shared lock on the market row, and the market's status
is read again after it, so an admin who disables a market (an exclusive lock on its row)
either waits for the order or is seen by it. The market row is never locked for update
here: orders of one market do not queue on it.

Settlement rules:
- A fill's quote amount rounds in the platform's favour and cumulatively over the order's
  fills: the buyer has paid ``round_up(sum(price x amount))`` after each fill, the seller
  received ``round_down(...)``; the fee likewise ``round_up(sum(quote amount x rate))``. So
  partial fills never cost more than one fill of the whole would, and a BUY order's hold
  (sized at its limit or reference price with the higher fee rate) always covers it.
- The fee rates are the order's (the market's when it was placed).
- Each fill is settled by a journal keyed ``fill:<venue>:<trade id>``: a fill reported
  twice settles once. A batch of fills settles in one transaction
  (``wallets.services.settle_trades``).

Holds follow the order, exactly once: created when it is placed (a conditional order's
too, sized as ``rules`` says), consumed by its fills, closed by its last fill or released
when it ends without one. The two legs of an OCO share one hold: a leg that ends while the
other still lives leaves it (the one that executes closes it; the last to end unfilled
releases it). A bracket's exits hold nothing while they wait; their hold is created when
the entry ends, from what the entry delivered (``_bracket_exits``).
"""
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

import structlog
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.money import EXACT, round_down, round_up
from apps.marketdata import streams
from apps.trading import selectors
from apps.trading.constants import (
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    HELD_BACK_STATUSES,
    LIVE_STATUSES,
    PRICED_TYPES,
    RESTING_STATUSES,
    VENUE_WALLET_TYPE,
    Liquidity,
    MarketStatus,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerSource,
    can_transition,
    is_conditional,
)
from apps.trading.models import Fill, Market, Order, OrderList
from apps.trading.services import rules
from apps.trading.stores import SqlOrderStore, store_for
from apps.trading.venues import Submission, VenueGateway, gateway_for
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


# --- placing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSpec:
    """An order's terms, checked on their own (no price needed): what a replay of its
    client order id must match."""

    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    time_in_force: str
    post_only: bool
    trigger: rules.TriggerInput | None = None

    def matches(self, order: Order) -> bool:
        mine = (order.side, order.type, order.amount, order.price)
        if (self.side, self.type, self.amount, self.price) != mine:
            return False
        if self.trigger is None:
            return True
        t = self.trigger
        # A trailing stop's stop price moves: its own terms are what was given.
        stop = None if t.type == OrderType.TRAILING_STOP else order.stop_price
        return (t.stop_price, t.trailing_delta, t.trailing_rate, t.activation_price,
                t.source) == (stop, order.trailing_delta, order.trailing_rate,
                              order.activation_price, order.trigger_source)


def order_spec(*, market: Market, gateway: VenueGateway, side: str, type: str,
               amount: Decimal, price: Decimal | None, time_in_force: str, post_only: bool,
               stop_price: Decimal | None = None, trigger_source: str | None = None,
               trailing_delta: Decimal | None = None, trailing_rate: Decimal | None = None,
               activation_price: Decimal | None = None) -> OrderSpec:
    """Check an order's terms against its market's steps (no price needed). Raises
    InvalidInput."""
    if side not in Side.values or type not in OrderType.values:
        raise InvalidInput(f"side must be BUY or SELL and type one of "
                           f"{', '.join(OrderType.values)}.")
    if time_in_force not in TimeInForce.values:
        raise rules.refuse("time_in_force must be GTC, IOC or FOK.", "time_in_force")
    amount = rules.on_step(amount, step=market.lot_size, what="Amount")
    if type in PRICED_TYPES:
        if price is None:
            raise rules.refuse(f"A {type} order needs a price.", "price")
        price = rules.on_step(price, step=market.tick_size, what="Price")
    else:
        if price is not None:
            raise rules.refuse(f"A {type} order takes no price.", "price")
        if time_in_force == TimeInForce.GTC:
            time_in_force = TimeInForce.IOC  # a market order never rests
    if post_only and type != OrderType.LIMIT:
        raise rules.refuse(f"A {type} order cannot be post-only.", "post_only")
    trigger = None
    if is_conditional(type):
        source = trigger_source or TriggerSource.LAST
        if source not in gateway.trigger_sources:
            raise rules.refuse(f"trigger_source must be one of "
                               f"{', '.join(sorted(gateway.trigger_sources))} on "
                               f"{market.venue}.", "trigger_source")
        trigger = rules.conditional_parse(
            market=market, type=type, side=side, source=source, stop_price=stop_price,
            trailing_delta=trailing_delta, trailing_rate=trailing_rate,
            activation_price=activation_price)
    else:
        for name, value in (("stop_price", stop_price), ("trigger_source", trigger_source),
                            ("trailing_delta", trailing_delta),
                            ("trailing_rate", trailing_rate),
                            ("activation_price", activation_price)):
            if value is not None:
                raise rules.refuse(f"A {type} order takes no {name}.", name)
    return OrderSpec(side=side, type=type, amount=amount, price=price,
                     time_in_force=time_in_force, post_only=post_only, trigger=trigger)


def order_place(*, user_id: int, venue: str, symbol: str, side: str, type: str,
                amount: Decimal, price: Decimal | None = None,
                time_in_force: str = TimeInForce.GTC, post_only: bool = False,
                client_order_id: str | None = None, stop_price: Decimal | None = None,
                trigger_source: str | None = None, trailing_delta: Decimal | None = None,
                trailing_rate: Decimal | None = None,
                activation_price: Decimal | None = None) -> Order:
    """Place an order on ``venue``'s market ``symbol``.

    Validates (market enabled, amount a multiple of the lot within the amount limits, price
    a multiple of the tick, value within the notional limits and at least one unit of
    quote currency), then in one transaction: inserts the order with the market's fee
    rates (OPEN for a synchronous venue, NEW for the others) and re-reads the market's
    status, hands a synchronous venue the order at once (a REJECTED verdict rolls
    everything back and is raised as a Conflict), locks the user's wallets (the held one;
    both if the venue filled at once, in pk order), holds the funds (``rules.hold_amount``;
    a MARKET order at the venue's reference price, which the venue may not fill beyond)
    and settles the fills. An asynchronous venue gets the order after commit. A replay
    with the same ``client_order_id`` returns the first order.

    A conditional type (``stop_price``, ``trigger_source``, ``trailing_delta`` /
    ``trailing_rate``, ``activation_price``: ``rules.conditional_parse`` and
    ``rules.conditional_trigger_check``) that the venue does not trigger itself is written
    PENDING and holds at once, sized at its limit (``*_LIMIT``) or at its trigger plus
    CONDITIONAL_MARKET_HOLD_MARGIN (a BUY with a MARKET child; a SELL holds its amount);
    the venue sees it only when it triggers (``conditional.conditional_trigger``).

    Raises NotFound (unknown market), InvalidInput, Conflict (market halted, disabled
    meanwhile, stale price, duplicate id with other content, rejected by the venue),
    InsufficientFunds.
    """
    market = selectors.market_for_trading(venue=venue, symbol=symbol)
    gateway = gateway_for(venue)
    spec = order_spec(market=market, gateway=gateway, side=side, type=type, amount=amount,
                      price=price, time_in_force=time_in_force, post_only=post_only,
                      stop_price=stop_price, trigger_source=trigger_source,
                      trailing_delta=trailing_delta, trailing_rate=trailing_rate,
                      activation_price=activation_price)
    store = store_for(venue)
    if client_order_id is None:
        client_order_id = uuid.uuid4().hex  # new by construction: no replay to look for
    else:
        existing = store.user_orders(user_id=user_id, venue=venue).filter(
            client_order_id=client_order_id).first()
        if existing is not None:
            return _replayed(existing, market=market, spec=spec)
    order = order_new(market=market, gateway=gateway, spec=spec, user_id=user_id,
                      client_order_id=client_order_id,
                      hold_key=f"order:{venue}:{user_id}:{client_order_id}")
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    rules.check_limits(market, amount=order.amount, reference=order.reference_price,
                       decimals=decimals)
    gateway.before_place(user_id=user_id)
    try:
        with transaction.atomic():
            order = store.create(order=order)
            _market_unchanged(market)
            _start(order=order, market=market, gateway=gateway, decimals=decimals,
                   hold=order_hold(order, decimals=decimals))
    except IntegrityError:
        # A concurrent request with the same client_order_id won the unique key.
        existing = store.user_orders(user_id=user_id, venue=venue).filter(
            client_order_id=client_order_id).first()
        if existing is None:
            raise
        return _replayed(existing, market=market, spec=spec)
    return order


def order_new(*, market: Market, gateway: VenueGateway, spec: OrderSpec, user_id: int,
              client_order_id: str, hold_key: str, group: OrderList | None = None,
              role: str = "", status: str | None = None) -> Order:
    """The unsaved order of ``spec``, priced now: a MARKET order at the venue's reference
    price, a conditional one checked against the venue's trigger quote (platform
    triggered: PENDING). Raises InvalidInput, Conflict (stale price)."""
    trigger = None
    if spec.trigger is not None and spec.type not in gateway.conditional_types:
        trigger = rules.conditional_trigger_check(
            market=market, given=spec.trigger, quote=gateway.trigger_quote(market=market),
            price=spec.price)
        reference = trigger.reference
        status = status or OrderStatus.PENDING
    elif spec.price is not None:
        reference = spec.price
    else:
        reference = gateway.reference_price(market=market, side=spec.side)
    if status is None:
        status = OrderStatus.OPEN if gateway.synchronous else OrderStatus.NEW
    order = Order(
        user_id=user_id, market=market, venue=market.venue, client_order_id=client_order_id,
        type=spec.type, side=spec.side, time_in_force=spec.time_in_force,
        post_only=spec.post_only, price=spec.price, reference_price=reference,
        amount=spec.amount, remaining=spec.amount, status=status,
        maker_fee_rate=market.maker_fee, taker_fee_rate=market.taker_fee, hold_key=hold_key,
        group=group, role=role)
    if spec.trigger is not None:
        t = trigger or spec.trigger  # a native conditional type keeps what was given
        order.stop_price = t.stop_price
        order.trigger_source = t.source
        order.trailing_delta = t.trailing_delta
        order.trailing_rate = t.trailing_rate
        order.activation_price = t.activation_price
        if trigger is not None:
            order.trigger_direction = trigger.direction
            order.trailing_best = trigger.trailing_best
    return order


def order_hold(order: Order, *, decimals: int) -> Decimal:
    """What ``order`` holds (``rules.hold_amount`` at its reference price)."""
    return rules.hold_amount(side=order.side, amount=order.amount,
                             reference=order.reference_price,
                             rate=max(order.maker_fee_rate, order.taker_fee_rate),
                             decimals=decimals)


def _market_unchanged(market: Market) -> None:
    """Re-read the market after an order's insert took its row's shared lock. Raises
    Conflict if it was disabled or changed meanwhile."""
    now = Market.objects.filter(pk=market.pk).values(
        "status", "base_currency", "quote_currency").first()
    if now is None or now["status"] != MarketStatus.ENABLED:
        raise Conflict(f"Market {market.symbol} was just disabled.", code="market_disabled")
    if (now["base_currency"], now["quote_currency"]) != (market.base_currency,
                                                         market.quote_currency):
        raise Conflict(f"Market {market.symbol} just changed; try again.",
                       code="market_changed")


def held_currencies(market: Market, side: str) -> tuple[str, str]:
    """The currency an order of ``side`` holds, then the other one."""
    return ((market.quote_currency, market.base_currency) if side == Side.BUY
            else (market.base_currency, market.quote_currency))


def _start(*, order: Order, market: Market, gateway: VenueGateway, decimals: int,
           hold: Decimal | None, locked: Sequence[Order] = ()) -> None:
    """Hand the just inserted ``order`` to its venue and hold its funds (``hold``; None:
    a hold made by the caller), in the caller's transaction. A synchronous venue answers
    at once (REJECTED: Conflict, everything rolls back); an asynchronous one is sent the
    order after commit; a PENDING or WAITING order is not sent at all. ``locked``: the
    other orders of its list, inserted in this transaction."""
    wallet_type = VENUE_WALLET_TYPE[order.venue]
    held, other = held_currencies(market, order.side)
    submission = None
    if gateway.synchronous and order.status == OrderStatus.OPEN:
        # A synchronous venue's answer comes inside this transaction: no one ever sees
        # its order NEW, so it is written as OPEN and, when the venue just accepts it,
        # never written again.
        submission = gateway.submit(order=order, market=market)
        if submission.status == OrderStatus.REJECTED:
            raise Conflict(submission.reason or "The venue rejected the order.",
                           code="order_rejected")
        if not submission.executions and submission.status in FINAL_STATUSES:
            # Over before it began (an IOC with nothing at the price): nothing to hold.
            if hold is None:  # a list's shared hold: its other legs still live
                raise Conflict("The venue ended the order at once.", code="order_rejected")
            _plan(order=order, market=market, submission=submission, event="placed",
                  prior=[], decimals=decimals)
            store_for(order.venue).save(orders=[order], fills=[])
            _publish_order(order, market=market, event="placed")
            return
        if submission.executions:
            # Fills write both of the user's wallets: take them at once, in pk order.
            wallet_services.wallets_lock(owners=[(order.user_id, None, wallet_type, held),
                                                 (order.user_id, None, wallet_type, other)])
    if hold is not None:
        wallet_services.hold_create(user_id=order.user_id, wallet_type=wallet_type,
                                    currency=held, key=order.hold_key, amount=hold)
    if submission is None:
        _publish_order(order, market=market, event="placed")
        if order.status == OrderStatus.NEW:
            transaction.on_commit(lambda: order_submit(order_id=order.pk))
    elif submission.executions or submission.status != OrderStatus.OPEN:
        _settle([_plan(order=order, market=market, submission=submission, event="placed",
                       prior=[], decimals=decimals)], locked=[order, *locked])
    else:
        _publish_order(order, market=market, event="placed")


def _replayed(order: Order, *, market: Market, spec: OrderSpec) -> Order:
    if order.market_id != market.pk or not spec.matches(order):
        raise Conflict("client_order_id was already used for a different order.",
                       code="duplicate_client_order_id")
    return order


def order_submit(*, order_id: int) -> Order:
    """Send a NEW order of an asynchronous venue and apply the venue's answer. Called after
    the placing transaction commits (by the venue's task). A venue that does not answer
    (an exception from ``submit``) leaves the order UNKNOWN: only ``order_reconcile``
    decides it, never a guess. Locks the order row after the venue's answer."""
    order = Order.objects.select_related("market").get(pk=order_id)
    if order.status != OrderStatus.NEW:
        return order
    gateway = gateway_for(order.venue)
    try:
        submission = gateway.submit(order=order, market=order.market)
    except Exception as exc:  # the venue's outcome is unknown: never guess it
        log.warning("order_submit_unknown", order_id=order_id, error=str(exc))
        submission = Submission(status=OrderStatus.UNKNOWN, reason=str(exc)[:255])
    return order_apply(order_id=order_id, submission=submission)


def order_reconcile(*, order_id: int) -> Order:
    """Ask the venue what became of an UNKNOWN (or any live) order and apply it."""
    order = Order.objects.select_related("market").get(pk=order_id)
    if order.status in FINAL_STATUSES:
        return order
    return order_apply(order_id=order_id,
                       submission=gateway_for(order.venue).fetch(order=order,
                                                                 market=order.market))


def order_apply(*, order_id: int, submission: Submission) -> Order:
    """Apply a venue's ``submission`` to the order: its new executions settle (each
    exactly once, by trade id), its state moves if the state machine allows it. Locks the
    order row and its list's, then its wallets. Raises Conflict for a transition the
    machine forbids."""
    with transaction.atomic():
        locked = _store_of(order_id).lock(order_ids=[order_id])
        order = next((o for o in locked if o.pk == order_id), None)
        if order is None:
            raise NotFound(f"No order {order_id}.")
        known = set(Fill.objects.filter(order_id=order_id).values_list("trade_id", flat=True))
        fresh = []
        for e in submission.executions:
            # One answer may list an execution twice (pages that overlap): it is new once.
            if e.trade_id is None or e.trade_id not in known:
                fresh.append(e)
                known.add(e.trade_id)
        _apply(order=order, market=order.market,
               submission=Submission(status=submission.status, executions=tuple(fresh),
                                     reason=submission.reason,
                                     external_id=submission.external_id),
               event="updated", locked=locked)
        return order


def _store_of(order_id: int) -> SqlOrderStore:
    venue = Order.objects.filter(pk=order_id).values_list("venue", flat=True).first()
    if venue is None:
        raise NotFound(f"No order {order_id}.")
    return store_for(venue)


# --- cancelling ---------------------------------------------------------------------------


def order_cancel(*, user_id: int, venue: str, order_id: int) -> Order:
    """Cancel the user's live order on ``venue`` and release what its hold has left.

    A leg of an OCO or of a bracket cancels its whole list (every live order of it, one
    release of the shared hold); a bracket's entry cancels itself, and its exits wait no
    more: cancelled if it filled nothing, placed for what it filled otherwise. Locks the
    order rows of the list in id order, then the wallets. A PENDING or WAITING order
    (never sent to its venue) and any order of a synchronous venue end at once; an
    asynchronous venue is asked after commit and its answer applied. Raises NotFound
    (unknown order, or another user's, or another venue's), Conflict (not live)."""
    store = store_for(venue)
    with transaction.atomic():
        owned = store.get(order_id=order_id, user_id=user_id)
        if owned is None or owned.venue != venue:
            raise NotFound(f"No order {order_id}.")
        locked = store.lock(order_ids=[order_id])
        order = next(o for o in locked if o.pk == order_id)
        if order.status not in CANCELLABLE_STATUSES:
            raise Conflict(f"Order {order_id} is {order.status}, not open.",
                           code="order_not_open")
        market = order.market
        targets = [order]
        if order.group_id is not None and order.role != OrderRole.ENTRY:
            targets = [o for o in locked if o.group_id == order.group_id
                       and o.status in CANCELLABLE_STATUSES]
        gateway = gateway_for(venue)
        decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
        pending = []
        fills = _prior_fills([o for o in targets if o.filled])
        for target in targets:
            reason = "" if target is order else "Canceled with its list."
            if target.status in HELD_BACK_STATUSES:
                submission = Submission(status=OrderStatus.CANCELED, reason=reason)
            elif not gateway.synchronous:
                transaction.on_commit(lambda pk=target.pk: order_cancel_remote(order_id=pk))
                continue
            else:
                submission = gateway.cancel(order=target, market=market)
                submission = replace(submission, reason=submission.reason or reason)
            pending.append(_plan(order=target, market=market, submission=submission,
                                 event="canceled", prior=fills.get(target.pk, []),
                                 decimals=decimals))
        if pending:
            _settle(pending, locked=locked)
        return order


def order_cancel_remote(*, order_id: int) -> Order:
    """Ask an asynchronous venue to cancel the order and apply its answer (UNKNOWN if it
    does not answer)."""
    order = Order.objects.select_related("market").get(pk=order_id)
    try:
        submission = gateway_for(order.venue).cancel(order=order, market=order.market)
    except Exception as exc:  # the venue's outcome is unknown: never guess it
        log.warning("order_cancel_unknown", order_id=order_id, error=str(exc))
        submission = Submission(status=OrderStatus.UNKNOWN, reason=str(exc)[:255])
    return order_apply(order_id=order_id, submission=submission)


# --- fills --------------------------------------------------------------------------------


@dataclass
class Pending:
    """One order's part of a settlement batch. ``was``: its status before it."""

    order: Order
    market: Market
    event: str
    was: str
    fills: list[Fill]
    trades: list[wallet_services.TradeSettlement]
    last_fill: Fill | None


def _fee_rate(order: Order, liquidity: str) -> Decimal:
    return order.maker_fee_rate if liquidity == Liquidity.MAKER else order.taker_fee_rate


def _prior_fills(orders: Sequence[Order]) -> dict[int, list[Fill]]:
    if not orders:
        return {}
    return store_for(orders[0].venue).fills_of(order_ids=[o.pk for o in orders])


def _plan(*, order: Order, market: Market, submission: Submission, event: str,
          prior: list[Fill], decimals: int) -> Pending:
    """The fills, journals and new state of ``order`` after ``submission`` (nothing
    written). ``prior`` are the order's fills so far. Whether the last fill closes the
    hold is ``_settle``'s to say."""
    if submission.status != order.status and not can_transition(order.status,
                                                                 submission.status):
        raise Conflict(f"Order {order.pk} cannot go from {order.status} to "
                       f"{submission.status}.", code="invalid_transition")
    was = order.status
    gateway = gateway_for(order.venue)
    counterparty = wallet_services.TradeParty(system=gateway.counterparty)
    wallet_type = VENUE_WALLET_TYPE[order.venue]
    rounding = round_up if order.side == Side.BUY else round_down
    with localcontext(EXACT):
        notional = sum((f.price * f.amount for f in prior), ZERO)
        fee_exact = sum((f.quote_amount * _fee_rate(order, f.liquidity) for f in prior), ZERO)
        fills, trades = [], []
        done = len(prior)
        for execution in submission.executions:
            if execution.amount <= 0 or execution.amount > order.remaining:
                raise Conflict(f"Order {order.pk} cannot fill {execution.amount} of "
                               f"{order.remaining}.", code="overfill")
            notional += execution.price * execution.amount
            quote_amount = rounding(notional, decimals=decimals) - order.cost
            fee_exact += quote_amount * _fee_rate(order, execution.liquidity)
            fee = round_up(fee_exact, decimals=decimals) - order.fee
            done += 1
            trade_id = execution.trade_id or f"{order.pk}-{done}"
            key = f"fill:{order.venue}:{trade_id}"
            order.filled += execution.amount
            order.remaining -= execution.amount
            order.cost += quote_amount
            order.fee += fee
            order.fee_currency = market.quote_currency
            party = wallet_services.TradeParty(user_id=order.user_id, hold_key=order.hold_key,
                                               fee=fee)
            buyer, seller = ((party, counterparty) if order.side == Side.BUY
                             else (counterparty, party))
            trades.append(wallet_services.TradeSettlement(
                key=key, wallet_type=wallet_type, base=market.base_currency,
                quote=market.quote_currency, quantity=execution.amount,
                quote_amount=quote_amount, buyer=buyer, seller=seller,
                memo=f"{order.venue} {order.side} {execution.amount} {market.symbol} "
                     f"@ {execution.price}"))
            fills.append(Fill(
                order=order, venue=order.venue, trade_id=trade_id, price=execution.price,
                amount=execution.amount, quote_amount=quote_amount,
                liquidity=execution.liquidity, fee=fee, fee_currency=market.quote_currency,
                settlement_key=key, evidence=execution.evidence,
                executed_at=execution.executed_at))
    status = submission.status
    if order.remaining == 0:
        status = OrderStatus.FILLED
    elif status == OrderStatus.FILLED:
        raise Conflict(f"Order {order.pk} reported filled with {order.remaining} left.",
                       code="overfill")
    elif status == OrderStatus.OPEN and order.filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    order.status = status
    order.reason = submission.reason[:255] if submission.reason else order.reason
    order.external_id = submission.external_id or order.external_id
    now = timezone.now()
    order.updated_at = now
    if status in FINAL_STATUSES:
        order.closed_at = now
    return Pending(order=order, market=market, event=event, was=was, fills=fills,
                   trades=trades, last_fill=fills[-1] if fills else (prior[-1] if prior else None))


def _mates(locked: Sequence[Order]) -> dict[int, list[Order]]:
    """The locked orders of each list, by list id."""
    lists: dict[int, list[Order]] = {}
    for order in locked:
        if order.group_id is not None:
            lists.setdefault(order.group_id, []).append(order)
    return lists


def _sharing(order: Order, mates: dict[int, list[Order]]) -> list[Order]:
    """The other orders paying from ``order``'s hold (the other leg of an OCO)."""
    return [m for m in mates.get(order.group_id, ()) if m.pk != order.pk
            and m.hold_key == order.hold_key]


def _oco_cancels(pending: Sequence[Pending], mates: dict[int, list[Order]]) -> list[Pending]:
    """Cancel the live other leg of every OCO leg in ``pending`` that executed or
    triggered: it leaves the shared hold to the leg that did. An asynchronous venue's
    leg it has already been sent is asked to cancel after commit."""
    extra, seen = [], {p.order.pk for p in pending}
    for p in pending:
        order = p.order
        acted = p.fills or (p.was == OrderStatus.PENDING and order.triggered_at is not None)
        if order.group_id is None or not acted:
            continue
        why = "triggered" if p.was == OrderStatus.PENDING else "filled"
        for sibling in _sharing(order, mates):
            if sibling.pk in seen or sibling.status not in CANCELLABLE_STATUSES:
                continue
            seen.add(sibling.pk)
            if (sibling.status not in HELD_BACK_STATUSES
                    and not gateway_for(sibling.venue).synchronous):
                transaction.on_commit(
                    lambda pk=sibling.pk: order_cancel_remote(order_id=pk))
                continue
            extra.append(_plan(order=sibling, market=p.market, event="canceled",
                               submission=Submission(status=OrderStatus.CANCELED,
                                                     reason=f"OCO: the other leg {why}."),
                               prior=[], decimals=0))
    return extra


def _bracket_exits(pending: Sequence[Pending], mates: dict[int, list[Order]]) -> list[Pending]:
    """The waiting exits of every bracket entry in ``pending`` that just ended: cancelled
    if it filled nothing; otherwise an OCO for what it filled, its one hold created now
    from what the entry delivered (REJECTED, nothing held, if that is not enough). The
    caller holds the list's rows and the user's wallets."""
    extra = []
    for p in pending:
        entry = p.order
        if (entry.role != OrderRole.ENTRY or entry.status not in FINAL_STATUSES
                or p.was in FINAL_STATUSES):
            continue
        exits = [m for m in mates.get(entry.group_id, ()) if m.status == OrderStatus.WAITING]
        if not exits:
            continue
        if entry.filled == 0:
            extra += [_plan(order=leg, market=p.market, event="canceled", prior=[],
                            decimals=0,
                            submission=Submission(status=OrderStatus.CANCELED,
                                                  reason="The entry ended unfilled."))
                      for leg in exits]
            continue
        decimals = wallet_selectors.currency_decimals(code=p.market.quote_currency)
        for leg in exits:
            leg.amount = leg.remaining = entry.filled
        hold = max(order_hold(leg, decimals=decimals) for leg in exits)
        held, _ = held_currencies(p.market, exits[0].side)
        try:
            wallet_services.hold_create(user_id=entry.user_id,
                                        wallet_type=VENUE_WALLET_TYPE[entry.venue],
                                        currency=held, key=exits[0].hold_key, amount=hold)
        except wallet_services.InsufficientFunds as exc:
            extra += [_plan(order=leg, market=p.market, event="rejected", prior=[],
                            decimals=0,
                            submission=Submission(status=OrderStatus.REJECTED,
                                                  reason=f"The entry delivered too little "
                                                         f"to hold its exits: {exc}"[:255]))
                      for leg in exits]
            continue
        synchronous = gateway_for(entry.venue).synchronous
        for leg in exits:
            if leg.role == OrderRole.STOP:
                status = OrderStatus.PENDING
            elif synchronous:
                status = OrderStatus.OPEN
            else:
                status = OrderStatus.NEW
                transaction.on_commit(lambda pk=leg.pk: order_submit(order_id=pk))
            extra.append(_plan(order=leg, market=p.market, event="activated", prior=[],
                               decimals=0, submission=Submission(status=status)))
    return extra


def _settle(pending: Sequence[Pending], *, locked: Sequence[Order] = ()) -> None:
    """Write a batch planned by ``_plan``: the other legs of OCOs that executed cancelled,
    one ledger batch for every fill (an order's last fill closes its hold unless another
    live order shares it), the holds of orders that ended without a fill released (once
    per hold, when none of its orders lives on), bracket exits placed or cancelled, the
    orders' state, the fills, the events. The caller holds the order rows of ``pending``
    and ``locked`` (the same objects, with the other orders of their lists)."""
    pending = list(pending)
    mates = _mates(locked)
    if mates:
        pending += _oco_cancels(pending, mates)
        ending = [p for p in pending if p.order.role == OrderRole.ENTRY
                  and p.order.status in FINAL_STATUSES and p.order.filled]
        if ending:
            # The exits' hold is made after the entry's proceeds land: take both of each
            # user's wallets first, in pk order.
            wallet_services.wallets_lock(owners=[
                (p.order.user_id, None, VENUE_WALLET_TYPE[p.order.venue], code)
                for p in ending for code in (p.market.base_currency, p.market.quote_currency)])

    def lives_on(order: Order) -> bool:
        return any(m.status in LIVE_STATUSES for m in _sharing(order, mates))

    trades, closed = [], set()
    for p in pending:
        if p.trades and p.order.status in FINAL_STATUSES and not lives_on(p.order):
            # The last fill releases whatever the hold has left.
            payer = "buyer" if p.order.side == Side.BUY else "seller"
            p.trades[-1] = replace(p.trades[-1], **{payer: replace(
                getattr(p.trades[-1], payer), close_hold=True)})
            closed.add(p.order.hold_key)
        trades += p.trades
    if trades:
        wallet_services.settle_trades(trades=trades)
    release = sorted({p.order.hold_key for p in pending
                      if p.order.status in FINAL_STATUSES and p.was not in FINAL_STATUSES
                      and p.was != OrderStatus.WAITING and not lives_on(p.order)} - closed)
    for key in release:
        wallet_services.hold_release(key=key)
    if mates:
        pending += _bracket_exits(pending, mates)
    store = store_for(pending[0].order.venue) if pending else None
    if store is not None:
        store.save(orders=[p.order for p in pending],
                   fills=[f for p in pending for f in p.fills])
    streams.publish_user_events(events=[
        _order_event(p.order, market=p.market, event=p.event, last_fill=p.last_fill)
        for p in pending])


def _apply(*, order: Order, market: Market, submission: Submission, event: str,
           decimals: int | None = None, locked: Sequence[Order] = ()) -> None:
    """Plan and settle one order's ``submission`` (the caller holds the order row and,
    in ``locked``, those of its list)."""
    if decimals is None:
        decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    prior = _prior_fills([order]).get(order.pk, []) if order.filled else []
    _settle([_plan(order=order, market=market, submission=submission, event=event,
                   prior=prior, decimals=decimals)], locked=locked)


MatchResting = Callable[[Order], Submission | None]


def fill_resting(*, market: Market, order_ids: Sequence[int],
                 matcher: Callable[[], MatchResting]) -> int:
    """Fill resting orders of ``market`` in one transaction; returns how many orders got
    a fill.

    Locks ``order_ids`` and the other orders of their lists in id order, asks a fresh
    ``matcher()`` for the executions of each of ``order_ids`` still resting and not set
    aside (None: nothing now), and settles them all in one ledger batch (an OCO leg that
    fills cancels its other leg in it). If the batch fails for a reason other than a
    passing database error, each order is retried in its own transaction, and one that
    still cannot settle is set aside (``settle_error``) so it never blocks the others. A
    passing database error (lost connection, lock timeout) leaves the orders for the next
    quote or sweep.
    """
    return isolating(market=market, order_ids=order_ids,
                     batch=lambda ids, match: _fill_batch(market=market, order_ids=ids,
                                                          match=match),
                     context=matcher)


def isolating(*, market: Market, order_ids: Sequence[int],
              batch: Callable[[Sequence[int], object], int],
              context: Callable[[], object]) -> int:
    """Run ``batch(order_ids, context())`` (one transaction); if it fails for a reason
    other than a passing database error, run it again for each order alone and set aside
    an order that still fails. Returns the sum of what the batches return."""
    try:
        return batch(order_ids, context())
    except (OperationalError, InterfaceError) as exc:
        log.warning("order_batch_deferred", market=str(market), error=str(exc))
        return 0
    except Exception:
        log.warning("order_batch_failed_isolating", market=str(market), exc_info=True)
    done = 0
    shared = context()
    for order_id in order_ids:
        try:
            done += batch([order_id], shared)
        except (OperationalError, InterfaceError) as exc:
            log.warning("order_deferred", order_id=order_id, error=str(exc))
        except Exception as exc:
            _set_aside(order_id=order_id, reason=f"{type(exc).__name__}: {exc}")
    return done


def _fill_batch(*, market: Market, order_ids: Sequence[int], match: MatchResting) -> int:
    store = store_for(market.venue)
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    wanted = set(order_ids)
    with transaction.atomic():
        locked = store.lock(order_ids=order_ids)
        orders = [o for o in locked if o.pk in wanted and o.status in RESTING_STATUSES
                  and not o.settle_error]
        answers = [(order, match(order)) for order in orders]
        answers = [(order, s) for order, s in answers if s is not None]
        if not answers:
            return 0
        prior = _prior_fills([order for order, _ in answers if order.filled])
        _settle([_plan(order=order, market=market, submission=s, event="filled",
                       prior=prior.get(order.pk, []), decimals=decimals)
                 for order, s in answers], locked=locked)
        return len(answers)


# Where the executors look: an order set aside leaves them until an admin clears it.
_EXECUTABLE = (*RESTING_STATUSES, OrderStatus.PENDING)


def _set_aside(*, order_id: int, reason: str) -> None:
    """Mark the resting or pending order as not settleable for ``reason`` (called while
    handling the error, whose traceback is logged)."""
    now = timezone.now()
    Order.objects.filter(pk=order_id, status__in=_EXECUTABLE).update(
        settle_error=reason, settle_error_at=now, updated_at=now)
    log.error("order_set_aside", order_id=order_id, reason=reason, exc_info=True)


def orders_retry_settlement(*, order_ids: list[int]) -> int:
    """Clear the settle error of those of ``order_ids`` that are resting or pending and
    set aside, so that the next crossing price or sweep tries them again. Returns how
    many."""
    now = timezone.now()
    cleared = (Order.objects.filter(pk__in=order_ids, status__in=_EXECUTABLE)
               .exclude(settle_error="")
               .update(settle_error="", settle_error_at=None, updated_at=now))
    log.info("orders_retry_settlement", order_ids=sorted(order_ids), cleared=cleared)
    return cleared


# --- events -------------------------------------------------------------------------------


def _decimal_str(value: Decimal | int | None) -> str | None:
    # Normalised, so a fresh row (Python values) and a re-read one (the column's 18
    # places) read the same; exactly, as amounts have up to 36 digits.
    return None if value is None else f"{EXACT.normalize(Decimal(value)):f}"


def _order_event(order: Order, *, market: Market, event: str,
                 last_fill: Fill | None = None) -> tuple[int, str, dict]:
    """The owner's ``orders`` stream event telling ``order`` as it stands now, with its
    latest fill."""
    return order.user_id, streams.ORDERS, {
        "event": event, "id": order.pk, "client_order_id": order.client_order_id,
        "venue": order.venue, "symbol": market.symbol, "side": order.side,
        "type": order.type, "status": order.status, "price": _decimal_str(order.price),
        "amount": _decimal_str(order.amount), "filled": _decimal_str(order.filled),
        "remaining": _decimal_str(order.remaining),
        "fill_price": _decimal_str(last_fill.price) if last_fill else None,
        "cost": _decimal_str(order.cost), "fee": _decimal_str(order.fee),
        "fee_currency": order.fee_currency, "liquidity": last_fill.liquidity if last_fill else "",
        "stop_price": _decimal_str(order.stop_price),
        "trigger_direction": order.trigger_direction, "trigger_source": order.trigger_source,
        "trailing_delta": _decimal_str(order.trailing_delta),
        "trailing_rate": _decimal_str(order.trailing_rate),
        "activation_price": _decimal_str(order.activation_price),
        "trailing_best": _decimal_str(order.trailing_best),
        "triggered_at": order.triggered_at.isoformat() if order.triggered_at else None,
        "group_id": order.group_id, "role": order.role, "reason": order.reason,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    }


def _publish_order(order: Order, *, market: Market, event: str) -> None:
    """Tell the owner's ``orders`` stream about ``order`` once the surrounding transaction
    commits."""
    streams.publish_user_events(events=[_order_event(order, market=market, event=event)])
