"""The trading core: placing, cancelling and filling orders of every venue.

A venue supplies a ``VenueGateway`` (``apps.trading.venues``); this module does everything
venues share: validation against the market's steps and limits, the hold, the order row
and its state machine (``constants.TRANSITIONS``), fills and their settlement in the
ledger, and the owners' events. Money moves only through ``apps.wallets.services``.

Lock order (every function here follows it, so none can deadlock another): order rows in
id order, then the wallets (``wallets_lock``/``settle_trades``: user wallets in pk order;
system accounts are never locked). Placing an order inserts its row after locking the
user's wallets; the insert's foreign-key check takes a shared lock on the market row, and
the market's status is read again after it, so an admin who disables a market (an
exclusive lock on its row) either waits for the order or is seen by it. The market row is
never locked for update here: orders of one market do not queue on it.

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
"""
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

import structlog
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.money import EXACT, MAX_AMOUNT, AmountError, quantize_exact, round_down, round_up
from apps.marketdata import streams
from apps.trading import selectors
from apps.trading.constants import (
    FINAL_STATUSES,
    RESTING_STATUSES,
    VENUE_WALLET_TYPE,
    Liquidity,
    MarketStatus,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    can_transition,
)
from apps.trading.models import Fill, Market, Order
from apps.trading.stores import SqlOrderStore, store_for
from apps.trading.venues import Submission, gateway_for
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


# --- validation ---------------------------------------------------------------------------


def _on_step(value: Decimal, *, step: Decimal, what: str) -> Decimal:
    """``value`` if it is a whole multiple of ``step`` (within the column's 18 places)."""
    field = what.lower()
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InvalidInput(f"{what} must be greater than zero.",
                           fields={field: ["Must be greater than zero."]})
    try:
        if value >= MAX_AMOUNT:  # the column could not hold it
            raise AmountError("is too large")
        value = quantize_exact(value, decimals=18)
    except AmountError as exc:
        raise InvalidInput(f"{what} {exc}.", fields={field: [f"{what} {exc}."]}) from None
    with localcontext(EXACT):
        if value % step != 0:
            message = f"{what} must be a multiple of {step.normalize():f}."
            raise InvalidInput(message, fields={field: [message]})
    return value


def _check_limits(market: Market, *, amount: Decimal, reference: Decimal,
                  decimals: int) -> None:
    def refuse(message: str, field: str = "amount") -> None:
        raise InvalidInput(message, fields={field: [message]})

    if amount < market.min_amount:
        refuse(f"Amount is below the minimum of {market.min_amount.normalize():f}.")
    if market.max_amount is not None and amount > market.max_amount:
        refuse(f"Amount is above the maximum of {market.max_amount.normalize():f}.")
    notional = EXACT.multiply(amount, reference)
    if round_down(notional, decimals=decimals) <= 0:
        refuse(f"Order value is below 1 unit of {market.quote_currency}.")
    if notional < market.min_notional:
        refuse(f"Order value is below the minimum of {market.min_notional.normalize():f} "
               f"{market.quote_currency}.")
    if market.max_notional is not None and notional > market.max_notional:
        refuse(f"Order value is above the maximum of {market.max_notional.normalize():f} "
               f"{market.quote_currency}.")


def _hold_amount(*, side: str, amount: Decimal, reference: Decimal, rate: Decimal,
                 decimals: int) -> Decimal:
    """What an order holds: a BUY its cost at ``reference`` plus the fee at ``rate``, both
    rounded up (quote currency); a SELL its amount (base currency)."""
    if side == Side.SELL:
        return amount
    cost = round_up(EXACT.multiply(amount, reference), decimals=decimals)
    return cost + round_up(EXACT.multiply(cost, rate), decimals=decimals)


# --- placing ------------------------------------------------------------------------------


def order_place(*, user_id: int, venue: str, symbol: str, side: str, type: str,
                amount: Decimal, price: Decimal | None = None,
                time_in_force: str = TimeInForce.GTC, post_only: bool = False,
                client_order_id: str | None = None) -> Order:
    """Place an order on ``venue``'s market ``symbol``.

    Validates (market enabled, amount a multiple of the lot within the amount limits, price
    a multiple of the tick, value within the notional limits and at least one unit of
    quote currency), then in one transaction: inserts the order with the market's fee
    rates (OPEN for a synchronous venue, NEW for the others) and re-reads the market's
    status, hands a synchronous venue the order at once (a REJECTED verdict rolls
    everything back and is raised as a Conflict), locks the user's wallets (the held one;
    both if the venue filled at once, in pk order), holds the funds (``_hold_amount``; a
    MARKET order at the venue's reference price, which the venue may not fill beyond) and
    settles the fills. An asynchronous venue gets the order after commit. A replay with
    the same ``client_order_id`` returns the first order. Raises NotFound (unknown market),
    InvalidInput, Conflict (market halted, disabled meanwhile, stale price, duplicate id
    with other content, rejected by the venue), InsufficientFunds.
    """
    if side not in Side.values or type not in OrderType.values:
        raise InvalidInput("side must be BUY or SELL and type MARKET or LIMIT.")
    if time_in_force not in TimeInForce.values:
        raise InvalidInput("time_in_force must be GTC, IOC or FOK.",
                           fields={"time_in_force": ["Unknown value."]})
    market = selectors.market_for_trading(venue=venue, symbol=symbol)
    amount = _on_step(amount, step=market.lot_size, what="Amount")
    if type == OrderType.LIMIT:
        if price is None:
            raise InvalidInput("A LIMIT order needs a price.", fields={"price": ["Required."]})
        price = _on_step(price, step=market.tick_size, what="Price")
    else:
        if price is not None:
            raise InvalidInput("A MARKET order takes no price.",
                               fields={"price": ["Not allowed."]})
        if post_only:
            raise InvalidInput("A MARKET order cannot be post-only.",
                               fields={"post_only": ["Not allowed for MARKET."]})
        if time_in_force == TimeInForce.GTC:
            time_in_force = TimeInForce.IOC  # a market order never rests
    store = store_for(venue)
    if client_order_id is None:
        client_order_id = uuid.uuid4().hex  # new by construction: no replay to look for
    else:
        existing = store.user_orders(user_id=user_id, venue=venue).filter(
            client_order_id=client_order_id).first()
        if existing is not None:
            return _replayed(existing, market=market, side=side, type=type, amount=amount,
                             price=price)
    gateway = gateway_for(venue)
    reference = price if price is not None else gateway.reference_price(market=market,
                                                                        side=side)
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    _check_limits(market, amount=amount, reference=reference, decimals=decimals)
    gateway.before_place(user_id=user_id)
    wallet_type = VENUE_WALLET_TYPE[venue]
    held, other = ((market.quote_currency, market.base_currency) if side == Side.BUY
                   else (market.base_currency, market.quote_currency))

    try:
        with transaction.atomic():
            # A synchronous venue's answer comes inside this transaction: no one ever sees
            # its order NEW, so it is written as OPEN and, when the venue just accepts it,
            # never written again.
            order = store.create(order=Order(
                user_id=user_id, market=market, venue=venue, client_order_id=client_order_id,
                type=type, side=side, time_in_force=time_in_force, post_only=post_only,
                price=price, reference_price=reference, amount=amount, remaining=amount,
                status=OrderStatus.OPEN if gateway.synchronous else OrderStatus.NEW,
                maker_fee_rate=market.maker_fee, taker_fee_rate=market.taker_fee,
                hold_key=f"order:{venue}:{user_id}:{client_order_id}"))
            now = Market.objects.filter(pk=market.pk).values(
                "status", "base_currency", "quote_currency").first()
            if now is None or now["status"] != MarketStatus.ENABLED:
                raise Conflict(f"Market {symbol} was just disabled.", code="market_disabled")
            if (now["base_currency"], now["quote_currency"]) != (market.base_currency,
                                                                 market.quote_currency):
                raise Conflict(f"Market {symbol} just changed; try again.",
                               code="market_changed")
            submission = (gateway.submit(order=order, market=market)
                          if gateway.synchronous else None)
            if submission is not None and submission.status == OrderStatus.REJECTED:
                raise Conflict(submission.reason or "The venue rejected the order.",
                               code="order_rejected")
            if (submission is not None and not submission.executions
                    and submission.status in FINAL_STATUSES):
                # Over before it began (an IOC with nothing at the price): nothing to hold.
                _plan(order=order, market=market, submission=submission, event="placed",
                      prior=[], decimals=decimals)
                store.save(orders=[order], fills=[])
                _publish_order(order, market=market, event="placed")
                return order
            if submission is not None and submission.executions:
                # Fills write both of the user's wallets: take them at once, in pk order.
                wallet_services.wallets_lock(owners=[(user_id, None, wallet_type, held),
                                                     (user_id, None, wallet_type, other)])
            wallet_services.hold_create(
                user_id=user_id, wallet_type=wallet_type, currency=held, key=order.hold_key,
                amount=_hold_amount(side=side, amount=amount, reference=reference,
                                    rate=max(market.maker_fee, market.taker_fee),
                                    decimals=decimals))
            if submission is None:
                _publish_order(order, market=market, event="placed")
                transaction.on_commit(lambda: order_submit(order_id=order.pk))
            elif submission.executions or submission.status != OrderStatus.OPEN:
                _apply(order=order, market=market, submission=submission, event="placed",
                       decimals=decimals)
            else:
                _publish_order(order, market=market, event="placed")
    except IntegrityError:
        # A concurrent request with the same client_order_id won the unique key.
        existing = store.user_orders(user_id=user_id, venue=venue).filter(
            client_order_id=client_order_id).first()
        if existing is None:
            raise
        return _replayed(existing, market=market, side=side, type=type, amount=amount,
                         price=price)
    return order


def _replayed(order: Order, *, market: Market, side: str, type: str, amount: Decimal,
              price: Decimal | None) -> Order:
    if (order.market_id, order.side, order.type, order.amount, order.price) != (
            market.pk, side, type, amount, price):
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
    order row, then its wallets. Raises Conflict for a transition the machine forbids."""
    with transaction.atomic():
        order = _store_of(order_id).get(order_id=order_id, for_update=True)
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
               event="updated")
        return order


def _store_of(order_id: int) -> SqlOrderStore:
    venue = Order.objects.filter(pk=order_id).values_list("venue", flat=True).first()
    if venue is None:
        raise NotFound(f"No order {order_id}.")
    return store_for(venue)


# --- cancelling ---------------------------------------------------------------------------


def order_cancel(*, user_id: int, venue: str, order_id: int) -> Order:
    """Cancel the user's live order on ``venue`` and release what its hold has left.
    Locks the order row, then the hold's wallet. A synchronous venue confirms at once; an
    asynchronous one is asked and its answer applied. Raises NotFound (unknown order, or
    another user's, or another venue's), Conflict (not live)."""
    store = store_for(venue)
    with transaction.atomic():
        order = store.get(order_id=order_id, user_id=user_id, for_update=True)
        if order is None or order.venue != venue:
            raise NotFound(f"No order {order_id}.")
        if order.status not in RESTING_STATUSES and order.status != OrderStatus.NEW:
            raise Conflict(f"Order {order_id} is {order.status}, not open.",
                           code="order_not_open")
        market = order.market
        gateway = gateway_for(venue)
        if not gateway.synchronous:
            transaction.on_commit(lambda: order_cancel_remote(order_id=order_id))
            return order
        _apply(order=order, market=market, event="canceled",
               submission=gateway.cancel(order=order, market=market))
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
class _Pending:
    """One order's part of a settlement batch."""

    order: Order
    market: Market
    event: str
    fills: list[Fill]
    trades: list[wallet_services.TradeSettlement]
    last_fill: Fill | None


def _fee_rate(order: Order, liquidity: str) -> Decimal:
    return order.maker_fee_rate if liquidity == Liquidity.MAKER else order.taker_fee_rate


def _plan(*, order: Order, market: Market, submission: Submission, event: str,
          prior: list[Fill], decimals: int) -> _Pending:
    """The fills, journals and new state of ``order`` after ``submission`` (nothing
    written). ``prior`` are the order's fills so far."""
    if submission.status != order.status and not can_transition(order.status,
                                                                 submission.status):
        raise Conflict(f"Order {order.pk} cannot go from {order.status} to "
                       f"{submission.status}.", code="invalid_transition")
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
        if trades:
            # The last fill releases whatever the hold has left.
            payer = "buyer" if order.side == Side.BUY else "seller"
            trades[-1] = replace(trades[-1], **{payer: replace(getattr(trades[-1], payer),
                                                               close_hold=True)})
    return _Pending(order=order, market=market, event=event, fills=fills, trades=trades,
                    last_fill=fills[-1] if fills else (prior[-1] if prior else None))


def _settle(pending: Sequence[_Pending]) -> None:
    """Write a batch planned by ``_plan``: one ledger batch for every fill, the fills,
    the orders' state, the holds of orders that closed without a last fill, the events.
    The caller holds the order rows."""
    trades = [t for p in pending for t in p.trades]
    if trades:
        wallet_services.settle_trades(trades=trades)
    for p in pending:
        if p.order.status in FINAL_STATUSES and not p.trades:
            wallet_services.hold_release(key=p.order.hold_key)
    store = store_for(pending[0].order.venue) if pending else None
    if store is not None:
        store.save(orders=[p.order for p in pending],
                   fills=[f for p in pending for f in p.fills])
    streams.publish_user_events(events=[
        _order_event(p.order, market=p.market, event=p.event, last_fill=p.last_fill)
        for p in pending])


def _apply(*, order: Order, market: Market, submission: Submission, event: str,
           decimals: int | None = None) -> None:
    """Plan and settle one order's ``submission`` (the caller holds the order row)."""
    if decimals is None:
        decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    prior = (store_for(order.venue).fills_of(order_ids=[order.pk]).get(order.pk, [])
             if order.filled else [])
    _settle([_plan(order=order, market=market, submission=submission, event=event,
                   prior=prior, decimals=decimals)])


MatchResting = Callable[[Order], Submission | None]


def fill_resting(*, market: Market, order_ids: Sequence[int],
                 matcher: Callable[[], MatchResting]) -> int:
    """Fill resting orders of ``market`` in one transaction; returns how many orders got
    a fill.

    Locks ``order_ids`` (those still resting and not set aside) in id order, asks a fresh
    ``matcher()`` for each order's executions (None: nothing now), and settles them all
    in one ledger batch. If the batch fails for a reason other than a passing database
    error, each order is retried in its own transaction, and one that still cannot settle
    is set aside (``settle_error``) so it never blocks the others. A passing database
    error (lost connection, lock timeout) leaves the orders for the next quote or sweep.
    """
    try:
        return _fill_batch(market=market, order_ids=order_ids, match=matcher())
    except (OperationalError, InterfaceError) as exc:
        log.warning("fill_batch_deferred", market=str(market), error=str(exc))
        return 0
    except Exception:
        log.warning("fill_batch_failed_isolating", market=str(market), exc_info=True)
    filled = 0
    match = matcher()
    for order_id in order_ids:
        try:
            filled += _fill_batch(market=market, order_ids=[order_id], match=match)
        except (OperationalError, InterfaceError) as exc:
            log.warning("fill_deferred", order_id=order_id, error=str(exc))
        except Exception as exc:
            _set_aside(order_id=order_id, reason=f"{type(exc).__name__}: {exc}")
    return filled


def _fill_batch(*, market: Market, order_ids: Sequence[int], match: MatchResting) -> int:
    store = store_for(market.venue)
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    with transaction.atomic():
        orders = store.lock_resting(order_ids=order_ids)
        answers = [(order, match(order)) for order in orders]
        answers = [(order, s) for order, s in answers if s is not None]
        if not answers:
            return 0
        partial = [order.pk for order, _ in answers if order.filled]
        prior = store.fills_of(order_ids=partial) if partial else {}
        _settle([_plan(order=order, market=market, submission=s, event="filled",
                       prior=prior.get(order.pk, []), decimals=decimals)
                 for order, s in answers])
        return len(answers)


def _set_aside(*, order_id: int, reason: str) -> None:
    """Mark the resting order as not settleable for ``reason`` (called while handling the
    error, whose traceback is logged)."""
    now = timezone.now()
    Order.objects.filter(pk=order_id, status__in=RESTING_STATUSES).update(
        settle_error=reason, settle_error_at=now, updated_at=now)
    log.error("order_set_aside", order_id=order_id, reason=reason, exc_info=True)


def orders_retry_settlement(*, order_ids: list[int]) -> int:
    """Clear the settle error of those of ``order_ids`` that are resting and set aside, so
    that the next crossing price or sweep tries them again. Returns how many."""
    now = timezone.now()
    cleared = (Order.objects.filter(pk__in=order_ids, status__in=RESTING_STATUSES)
               .exclude(settle_error="")
               .update(settle_error="", settle_error_at=None, updated_at=now))
    log.info("orders_retry_settlement", order_ids=sorted(order_ids), cleared=cleared)
    return cleared


# --- markets ------------------------------------------------------------------------------

# What an import from a venue's catalog may change: the venue's facts, never the admin's
# choices (status, flags, fees, limits).
_IMPORTED_FIELDS = ["base_currency", "quote_currency", "kind", "tick_size", "lot_size",
                    "updated_at"]


def markets_import(*, venue: str, markets: Sequence[Market]) -> dict[str, int]:
    """Create or update ``venue``'s markets from its catalog (unsaved ``Market`` rows,
    keyed by symbol): new ones keep their given (disabled) status, existing ones get the
    catalog's currencies, kind and steps only. Returns every given symbol's market id.
    One bulk upsert; race-safe on the (venue, symbol) key."""
    if any(m.venue != venue for m in markets):
        raise ValueError("every imported market must be of the importing venue")
    # MySQL's ON DUPLICATE KEY takes no conflict target ((venue, symbol) is the table's
    # one unique key besides its id).
    target = (["venue", "symbol"] if connection.features.supports_update_conflicts_with_target
              else None)
    with transaction.atomic():
        Market.objects.bulk_create(list(markets), update_conflicts=True, unique_fields=target,
                                   update_fields=_IMPORTED_FIELDS)
        return dict(Market.objects.filter(venue=venue, symbol__in=[m.symbol for m in markets])
                    .values_list("symbol", "pk"))



def markets_set_flags(*, market_ids: list[int], **flags) -> int:
    """Set status / is_trending / is_hot on many markets at once. Changing the status
    takes the market rows' exclusive locks, so it waits for any order being placed in
    them (which holds a shared lock through its foreign key) and stops the next ones."""
    allowed = {"status", "is_trending", "is_hot"}
    if not flags or set(flags) - allowed:
        raise InvalidInput(f"Only {sorted(allowed)} can be set.")
    if "status" in flags and flags["status"] not in MarketStatus.values:
        raise InvalidInput(f"Unknown market status {flags['status']!r}.")
    with transaction.atomic():
        ids = list(Market.objects.select_for_update().filter(pk__in=market_ids)
                   .order_by("pk").values_list("pk", flat=True))
        return Market.objects.filter(pk__in=ids).update(**flags, updated_at=timezone.now())


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
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    }


def _publish_order(order: Order, *, market: Market, event: str) -> None:
    """Tell the owner's ``orders`` stream about ``order`` once the surrounding transaction
    commits."""
    streams.publish_user_events(events=[_order_event(order, market=market, event=event)])
