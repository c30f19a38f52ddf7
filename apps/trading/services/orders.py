"""Placing and cancelling orders of every venue.

A venue supplies a ``VenueGateway`` (``apps.trading.venues``); this module does what
placing shares across venues: validation against the market's steps and limits
(``rules``), the order row, the hold, the venue's first answer (settled by
``settlement``). Money moves only through ``apps.wallets.services``.

Lock order (every function of the package follows it, so none can deadlock another): order
rows in id order, together with the other orders of their lists (``OrderStore.lock``),
then the wallets (``wallets_lock``/``settle_trades``: user wallets in pk order; system
accounts are never locked). Placing an order inserts its row after locking the user's
wallets; the insert's foreign-key check takes a shared lock on the market row, and the
market's status is read again after it, so an admin who disables a market (an exclusive
lock on its row) either waits for the order or is seen by it. The market row is never
locked for update here: orders of one market do not queue on it.
"""
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction

from apps.accounts import audit
from apps.accounts import services as account_services
from apps.core import metrics
from apps.core.compiled import CompiledQuery
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.marketdata.selectors import latest_quote
from apps.marketdata.streams import MARK_VENUE
from apps.trading import selectors
from apps.trading.constants import (
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    HELD_BACK_STATUSES,
    PRICED_TYPES,
    VENUE_WALLET_TYPE,
    MarketStatus,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerSource,
    Venue,
    is_conditional,
)
from apps.trading.models import Market, Order, OrderList
from apps.trading.services import events, rules, settlement
from apps.trading.stores import store_for
from apps.trading.venues import (
    Submission,
    VenueGateway,
    gateway_for,
    is_queued,
    takes_quote_budget,
)
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
    # A MARKET BUY by quote budget: ``amount`` is then None until ``order_new`` estimates it.
    quote_amount: Decimal | None = None

    def matches(self, order: Order) -> bool:
        if self.quote_amount is not None or order.quote_amount is not None:
            # A budget order's amount is what it bought: its budget is its term.
            return ((self.side, self.type, self.quote_amount, self.price)
                    == (order.side, order.type, order.quote_amount, order.price))
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
               amount: Decimal | None, price: Decimal | None, time_in_force: str,
               post_only: bool, stop_price: Decimal | None = None,
               trigger_source: str | None = None, trailing_delta: Decimal | None = None,
               trailing_rate: Decimal | None = None, activation_price: Decimal | None = None,
               quote_amount: Decimal | None = None) -> OrderSpec:
    """Check an order's terms against its market's steps (no price needed): ``amount``,
    or for a MARKET BUY on a venue that takes one (``gateway.quote_budget``) instead
    ``quote_amount``, a budget in the quote currency (its decimals and the notional
    limits are ``rules.check_budget``'s). Raises InvalidInput."""
    if side not in Side.values or type not in OrderType.values:
        raise InvalidInput(f"side must be BUY or SELL and type one of "
                           f"{', '.join(OrderType.values)}.")
    if time_in_force not in TimeInForce.values:
        raise rules.refuse("time_in_force must be GTC, IOC or FOK.", "time_in_force")
    if quote_amount is not None:
        quote_amount = _budget_check(market=market, gateway=gateway, side=side, type=type,
                                     amount=amount, quote_amount=quote_amount)
    elif amount is None:
        raise rules.refuse("Give an amount (or, for a MARKET BUY, a quote_amount).",
                           "amount")
    else:
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
    spec = OrderSpec(side=side, type=type, amount=amount, price=price,
                     time_in_force=time_in_force, post_only=post_only, trigger=trigger,
                     quote_amount=quote_amount)
    # A venue that offers fewer order types, times in force or precisions than the core
    # refuses the others here, before anything is held (the spot venue: what its
    # exchange reports).
    check = getattr(gateway, "order_check", None)
    if check is not None:
        check(market=market, spec=spec)
    return spec


def _budget_check(*, market: Market, gateway: VenueGateway, side: str, type: str,
                  amount: Decimal | None, quote_amount: Decimal) -> Decimal:
    """``quote_amount`` if a budget is allowed here: a MARKET BUY without an amount, on a
    venue that fills one. Raises InvalidInput."""
    if amount is not None:
        raise rules.refuse("Give either amount or quote_amount, not both.", "quote_amount")
    if type != OrderType.MARKET or side != Side.BUY:
        raise rules.refuse("Only a MARKET BUY takes a quote_amount.", "quote_amount")
    if not takes_quote_budget(gateway):
        raise rules.refuse(f"A market buy by quote_amount is not supported on "
                           f"{market.venue}.", "quote_amount")
    if not isinstance(quote_amount, Decimal) or not quote_amount.is_finite() \
            or quote_amount <= 0:
        raise rules.refuse("quote_amount must be greater than zero.", "quote_amount")
    return quote_amount


def order_place(*, user_id: int, venue: str, symbol: str, side: str, type: str,
                amount: Decimal | None = None, price: Decimal | None = None,
                time_in_force: str = TimeInForce.GTC, post_only: bool = False,
                client_order_id: str | None = None, stop_price: Decimal | None = None,
                trigger_source: str | None = None, trailing_delta: Decimal | None = None,
                trailing_rate: Decimal | None = None,
                activation_price: Decimal | None = None,
                venue_options: Mapping[str, object] | None = None,
                quote_amount: Decimal | None = None) -> Order:
    """Place an order on ``venue``'s market ``symbol``.

    Validates (market enabled, amount a multiple of the lot within the amount limits, price
    a multiple of the tick, value within the notional limits and at least one unit of
    quote currency), then in one transaction: inserts the order with the market's fee
    rates (OPEN for a synchronous venue, NEW for the others) and re-reads the market's
    status, hands a synchronous venue the order at once (a REJECTED verdict rolls
    everything back and is raised as a Conflict), locks the user's wallets (the held one;
    both if the venue filled at once, in pk order), holds the funds (``rules.hold_amount``;
    a MARKET order at the venue's reference price, which the venue may not fill beyond)
    and settles the fills. An asynchronous venue gets the order after commit; a queued
    one (an internal engine) gets its command in this transaction, after the hold
    (``venue_options`` go with it). A replay with the same ``client_order_id`` returns
    the first order.

    The market and its quote currency's decimals come from this process's cache
    (``selectors.market_for_placing``); the re-read under the insert's lock compares every
    field the checks used, and a difference rolls back and places once more from a fresh
    read, so a stale copy costs a retry, never a wrong order. The venue prepares the
    user's account (``before_place``: the paper demo balance) once the order passed every
    check: where the hold finds the funds short (the order is then placed once more),
    else after commit if the order held nothing (one that held found the account open).

    A conditional type (``stop_price``, ``trigger_source``, ``trailing_delta`` /
    ``trailing_rate``, ``activation_price``: ``rules.conditional_parse`` and
    ``rules.conditional_trigger_check``) that the venue does not trigger itself is written
    PENDING and holds at once, sized at its limit (``*_LIMIT``) or at its trigger plus
    CONDITIONAL_MARKET_HOLD_MARGIN (a BUY with a MARKET child; a SELL holds its amount);
    the venue sees it only when it triggers (``conditional.conditional_trigger``).

    A MARKET BUY may give ``quote_amount`` (a budget, quote currency) instead of
    ``amount`` on a venue that takes one (``order_spec``): it holds the budget plus the
    taker fee on it, its ``amount`` is estimated at the reference price
    (``rules.budget_amount``; the venue may fill more lots at better prices) and becomes
    what it bought when it ends; the unspent hold is released then.

    Raises KycRequired (403: the user's KYC level is below the one KYC_REQUIRED_LEVEL
    sets for paper or live trading; checked first, so nothing is written),
    NotFound (unknown market), InvalidInput, Conflict (market halted, disabled
    meanwhile, stale price, duplicate id with other content, rejected by the venue),
    InsufficientFunds.
    """
    account_services.kyc_require(user_id=user_id, action=(
        account_services.TRADE_PAPER if venue == Venue.PAPER else account_services.TRADE_LIVE))
    terms = {"side": side, "type": type, "amount": amount, "price": price,
             "time_in_force": time_in_force, "post_only": post_only,
             "stop_price": stop_price, "trigger_source": trigger_source,
             "trailing_delta": trailing_delta, "trailing_rate": trailing_rate,
             "activation_price": activation_price, "quote_amount": quote_amount}
    gateway = gateway_for(venue)
    store = store_for(venue)
    market, decimals, cached = selectors.market_for_placing(venue=venue, symbol=symbol)
    given_id = client_order_id
    prepared = False
    while True:
        spec = order_spec(market=market, gateway=gateway, **terms)
        # A server-made id is new by construction: no replay to look for.
        client_order_id = given_id or uuid.uuid4().hex
        if given_id is not None:
            existing = store.user_orders(user_id=user_id, venue=venue).filter(
                client_order_id=client_order_id).first()
            if existing is not None:
                return _replayed(existing, market=market, spec=spec)
        order = order_new(market=market, gateway=gateway, spec=spec, user_id=user_id,
                          client_order_id=client_order_id,
                          hold_key=f"order:{venue}:{user_id}:{client_order_id}")
        if order.quote_amount is not None:
            rules.check_budget(market, budget=order.quote_amount, amount=order.amount,
                               reference=order.reference_price, decimals=decimals)
        else:
            rules.check_limits(market, amount=order.amount,
                               reference=order.reference_price, decimals=decimals)
        try:
            order, held = _place(order=order, market=market, gateway=gateway,
                                 decimals=decimals, venue_options=venue_options)
            if not prepared and not held:
                # A first order that held nothing (an IOC over at once) still opens the
                # account, as any accepted order does; one that held found funds there,
                # so the account was open (asking on every order cost a cache round trip).
                gateway.before_place(user_id=user_id)
            return order
        except wallet_services.InsufficientFunds:
            if prepared:
                raise
            # The account may not be ready (the paper venue's demo balance comes with a
            # first order): prepared only for an order that passed every check.
            gateway.before_place(user_id=user_id)
            prepared = True
            continue
        except Conflict as exc:
            if not cached or exc.code not in MARKET_MOVED:
                raise
        except IntegrityError:
            # A concurrent request with the same client_order_id won the unique key.
            existing = store.user_orders(user_id=user_id, venue=venue).filter(
                client_order_id=client_order_id).first()
            if existing is None:
                raise
            return _replayed(existing, market=market, spec=spec)
        # This process's copy of the market was stale (an edit elsewhere): nothing was
        # written; once more, with the market as it is now and checked as if new.
        selectors.market_forget(venue=venue, symbol=symbol)
        market, decimals, cached = selectors.market_for_placing(venue=venue, symbol=symbol,
                                                                cached=False)


def _place(*, order: Order, market: Market, gateway: VenueGateway, decimals: int,
           venue_options: Mapping[str, object] | None) -> tuple[Order, bool]:
    """``order_place``'s transaction: insert, confirm the market, hold and start; the
    order, and whether it held funds. The order's client id is unique per user and
    venue and its hold key is made of it, so the insert proves that key new (no hold
    lookup; the hold's unique key still guards)."""
    with transaction.atomic():
        order = store_for(order.venue).create(order=order)
        market_unchanged(market, decimals=decimals)
        held = start(order=order, market=market, gateway=gateway, decimals=decimals,
                     hold=rules.order_hold(order, decimals=decimals, options=venue_options),
                     venue_options=venue_options, hold_key_new=True)
    return order, held


def order_new(*, market: Market, gateway: VenueGateway, spec: OrderSpec, user_id: int,
              client_order_id: str, hold_key: str, group: OrderList | None = None,
              role: str = "", status: str | None = None) -> Order:
    """The unsaved order of ``spec``, priced now: a MARKET order at the venue's reference
    price, a conditional one checked against the venue's trigger quote, or the market's
    latest mark tick for a MARK trigger (platform triggered: PENDING). Raises
    InvalidInput, Conflict (stale price, "no_mark")."""
    trigger = None
    if spec.trigger is not None and spec.type not in gateway.conditional_types:
        if spec.trigger.source == TriggerSource.MARK:
            quote = latest_quote(venue=MARK_VENUE, symbol=market.symbol)
            if quote is None:
                raise Conflict(f"{market.symbol} has no mark price yet.", code="no_mark")
        else:
            quote = gateway.trigger_quote(market=market)
        trigger = rules.conditional_trigger_check(
            market=market, given=spec.trigger, quote=quote, price=spec.price)
        reference = trigger.reference
        status = status or OrderStatus.PENDING
    elif spec.price is not None:
        reference = spec.price
    else:
        reference = gateway.reference_price(market=market, side=spec.side)
    if status is None:
        status = OrderStatus.OPEN if gateway.synchronous else OrderStatus.NEW
    amount = spec.amount
    if spec.quote_amount is not None:
        amount = rules.budget_amount(budget=spec.quote_amount, reference=reference,
                                     lot=market.lot_size)
    order = Order(
        user_id=user_id, market=market, venue=market.venue, client_order_id=client_order_id,
        type=spec.type, side=spec.side, time_in_force=spec.time_in_force,
        post_only=spec.post_only, price=spec.price, reference_price=reference,
        amount=amount, remaining=amount, quote_amount=spec.quote_amount, status=status,
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


# The Conflict codes of ``market_unchanged``.
MARKET_MOVED = frozenset({"market_disabled", "market_changed"})


def market_unchanged(market: Market, *, decimals: int | None = None) -> None:
    """Re-read the market after an order's insert took its row's shared lock (and, given
    ``decimals``, its quote currency's decimals). Raises Conflict if it was disabled
    meanwhile, or if any field an order's checks and terms use
    (``selectors.TRADING_FIELDS``: steps, limits, fees, currencies, status) or the
    decimals differ from what the caller checked with: the caller's copy may come from a
    per-process cache, so this is what makes that copy safe."""
    now = _MARKET_NOW.first(pk=market.pk)
    if now is None or now.status != MarketStatus.ENABLED:
        raise Conflict(f"Market {market.symbol} was just disabled.", code="market_disabled")
    fields = selectors.TRADING_FIELDS
    if (tuple(getattr(now, name) for name in fields)
            != tuple(getattr(market, name) for name in fields)
            or decimals is not None and now.quote_decimals != decimals):
        raise Conflict(f"Market {market.symbol} just changed; try again.",
                       code="market_changed")


# ``market_unchanged``'s read, built by the ORM once per process: it runs on every order.
_MARKET_NOW = CompiledQuery(
    lambda pk: Market.objects.filter(pk=pk).only(*selectors.TRADING_FIELDS).annotate(
        quote_decimals=wallet_selectors.currency_decimals_subquery(
            code_field="quote_currency")),
    pk=int)


def start(*, order: Order, market: Market, gateway: VenueGateway, decimals: int,
          hold: Decimal | None, locked: Sequence[Order] = (),
          venue_options: Mapping[str, object] | None = None,
          hold_key_new: bool = False) -> bool:
    """Hand the just inserted ``order`` to its venue and hold its funds (``hold``; None:
    a hold made by the caller; ``hold_key_new``: the caller proved its key unused, see
    ``wallet_services.hold_create``), in the caller's transaction; True if it held
    some. A synchronous venue answers at once (REJECTED: Conflict, everything rolls
    back); an asynchronous one is sent the order after commit; a queued one gets its
    command now, after the hold (its last write: the command log's per-market sequence
    row is locked until commit); a PENDING or WAITING order is not sent at all.
    ``locked``: the other orders of its list, inserted in this transaction."""
    wallet_type = VENUE_WALLET_TYPE[order.venue]
    held, other = rules.held_currencies(market, order.side)
    # Counted once its transaction commits (a rejected order rolls back uncounted).
    transaction.on_commit(lambda venue=order.venue: metrics.order_placed(venue=venue))
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
            # Over before it began (an IOC with nothing at the price): nothing to hold
            # (an OCO leg's shared hold, made by the caller, stays with the other leg).
            settlement.plan(order=order, market=market, submission=submission,
                            event="placed", prior=[], decimals=decimals)
            store_for(order.venue).save(orders=[order], fills=[])
            events.publish_order(order, market=market, event="placed")
            return False
        if submission.executions:
            # Fills write both of the user's wallets: take them at once, in pk order.
            wallet_services.wallets_lock(owners=[(order.user_id, None, wallet_type, held),
                                                 (order.user_id, None, wallet_type, other)])
    if hold is not None:
        wallet_services.hold_create(user_id=order.user_id, wallet_type=wallet_type,
                                    currency=held, key=order.hold_key, amount=hold,
                                    new_key=hold_key_new)
    if submission is None:
        events.publish_order(order, market=market, event="placed")
        if order.status == OrderStatus.NEW and is_queued(gateway):
            gateway.enqueue(order=order, market=market, kind="place", options=venue_options)
        elif order.status == OrderStatus.NEW:
            settlement.send_after_commit(order=order, action="submit")
    elif submission.executions or submission.status != OrderStatus.OPEN:
        settlement.settle([settlement.plan(order=order, market=market, submission=submission,
                                           event="placed", prior=[], decimals=decimals)],
                          locked=[order, *locked])
    else:
        events.publish_order(order, market=market, event="placed")
    return bool(hold)


def _replayed(order: Order, *, market: Market, spec: OrderSpec) -> Order:
    if order.market_id != market.pk or not spec.matches(order):
        raise Conflict("client_order_id was already used for a different order.",
                       code="duplicate_client_order_id")
    return order


# --- cancelling ---------------------------------------------------------------------------


def order_cancel(*, user_id: int, venue: str, order_id: int, reason: str = "") -> Order:
    """Cancel the user's live order on ``venue`` and release what its hold has left;
    ``reason`` becomes the order's reason where the cancel ends here (a held-back order,
    a synchronous venue; an asynchronous or queued venue's answer carries its own).

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
        fills = settlement.prior_fills([o for o in targets if o.filled])
        for target in targets:
            why = reason if target is order else "Canceled with its list."
            if target.status in HELD_BACK_STATUSES:
                submission = Submission(status=OrderStatus.CANCELED, reason=why)
            elif is_queued(gateway):
                # The engine cancels it in its order; the hold is released when it does.
                gateway.enqueue(order=target, market=market, kind="cancel")
                continue
            elif not gateway.synchronous:
                settlement.send_after_commit(order=target, action="cancel")
                continue
            else:
                submission = gateway.cancel(order=target, market=market)
                submission = replace(submission, reason=submission.reason or why)
            pending.append(settlement.plan(
                order=target, market=market, submission=submission, event="canceled",
                prior=fills.get(target.pk, []), decimals=decimals))
        if pending:
            settlement.settle(pending, locked=locked)
        return order


def order_cancel_by_admin(*, order_id: int, admin_id: int, reason: str) -> Order:
    """An administrator cancels a user's live order (``order_cancel``, whose locks it
    takes): the order's reason says so with ``reason``, and the audit trail records the
    admin, the order and the reason in the same transaction (a cancel that fails records
    nothing). Raises InvalidInput (blank reason), NotFound, Conflict (not live)."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Say why the order is cancelled.", code="reason_required")
    owner = Order.objects.filter(pk=order_id).values("user_id", "venue").first()
    if owner is None:
        raise NotFound(f"No order {order_id}.")
    with transaction.atomic():
        order = order_cancel(user_id=owner["user_id"], venue=owner["venue"], order_id=order_id,
                             reason=f"Canceled by an administrator: {reason}"[:255])
        audit.record(kind=audit.ORDER_CANCELLED_BY_ADMIN, actor_id=admin_id, obj=order,
                     message=reason)
    return order

