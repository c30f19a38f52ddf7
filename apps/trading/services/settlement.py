"""Settlement of every venue's orders: a venue's answers applied, fills planned and
settled in ledger batches, the lists' (OCO, bracket) consequences, the executors' batches.

Lock order: as ``orders`` says (order rows with their lists' in id order, then wallets).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, localcontext

import structlog
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from apps.core import metrics
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.money import EXACT, round_down, round_up
from apps.marketdata import streams
from apps.trading.constants import (
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    HELD_BACK_STATUSES,
    LIVE_STATUSES,
    RESTING_STATUSES,
    VENUE_WALLET_TYPE,
    Liquidity,
    OrderRole,
    OrderStatus,
    Side,
    can_transition,
)
from apps.trading.models import Fill, Market, Order
from apps.trading.services import events, rules
from apps.trading.stores import SqlOrderStore, store_for
from apps.trading.venues import Submission, gateway_for, is_queued
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


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


def prior_fills(orders: Sequence[Order]) -> dict[int, list[Fill]]:
    if not orders:
        return {}
    return store_for(orders[0].venue).fills_of(order_ids=[o.pk for o in orders])


def plan(*, order: Order, market: Market, submission: Submission, event: str,
          prior: list[Fill], decimals: int) -> Pending:
    """The fills, journals and new state of ``order`` after ``submission`` (nothing
    written). ``prior`` are the order's fills so far. Whether the last fill closes the
    hold is ``settle``'s to say."""
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
            if order.quote_amount is not None and execution.amount > order.remaining:
                # A budget order's amount was estimated at its reference price: the book
                # may sell it more lots, cheaper (its budget, not its amount, bounds it).
                order.amount += execution.amount - order.remaining
                order.remaining = execution.amount
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
    if order.quote_amount is not None and status in FINAL_STATUSES and order.filled:
        # A budget order ends with the amount it bought.
        order.amount, order.remaining = order.filled, ZERO
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
    _stamp(order, timezone.now())
    return Pending(order=order, market=market, event=event, was=was, fills=fills,
                   trades=trades, last_fill=fills[-1] if fills else (prior[-1] if prior else None))


def _stamp(order: Order, now: datetime) -> None:
    """``order`` changed at ``now`` (closed then, if it ended)."""
    order.updated_at = now
    if order.status in FINAL_STATUSES:
        order.closed_at = now


def _change(order: Order, *, market: Market, status: str, event: str,
            reason: str = "") -> Pending:
    """``plan`` of a change of state alone (no execution, so nothing to round)."""
    return plan(order=order, market=market, event=event, prior=[], decimals=0,
                submission=Submission(status=status, reason=reason))


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
    leg it has already been sent is asked to cancel after commit; a queued venue's is
    left to the engine (the fired leg's command cancels it, or is dropped)."""
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
            if sibling.status not in HELD_BACK_STATUSES:
                gateway = gateway_for(sibling.venue)
                if is_queued(gateway):
                    # The engine decides in its command order: a fired leg's command
                    # cancels the leg on the book, or is dropped if that leg executed
                    # before it (``engine.books``); a fill here means the latter.
                    continue
                if not gateway.synchronous:
                    send_after_commit(order=sibling, action="cancel")
                    continue
            extra.append(_change(sibling, market=p.market, status=OrderStatus.CANCELED,
                                 event="canceled", reason=f"OCO: the other leg {why}."))
    return extra


def _bracket_exits(pending: Sequence[Pending], locked: Sequence[Order]) -> list[Pending]:
    """The waiting exits of every bracket entry in ``pending`` that just ended: cancelled
    if it filled nothing; otherwise an OCO for what it filled, its one hold created now
    from what the entry delivered. REJECTED, nothing held, if what it filled is below the
    market's minimum amount or value (``rules.check_limits``) or does not fund the hold.
    The take-profit goes to the venue: a synchronous one answers now, and a take-profit
    the market already crosses fills at once (settled here, with its OCO sibling
    cancelled: ``settle``). The caller holds the list's rows (``locked``) and the user's
    wallets."""
    mates = _mates(locked)
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
            extra += [_change(leg, market=p.market, status=OrderStatus.CANCELED,
                              event="canceled", reason="The entry ended unfilled.")
                      for leg in exits]
            continue
        decimals = wallet_selectors.currency_decimals(code=p.market.quote_currency)
        for leg in exits:
            leg.amount = leg.remaining = entry.filled
        try:
            for leg in exits:
                rules.check_limits(p.market, amount=leg.amount, reference=leg.reference_price,
                                   decimals=decimals)
        except InvalidInput as exc:
            why = (f"The entry filled {entry.filled.normalize():f}, too little for its exits: "
                   f"{exc.message}")
            extra += [_change(leg, market=p.market, status=OrderStatus.REJECTED,
                              event="rejected", reason=why[:255]) for leg in exits]
            continue
        hold = max(rules.order_hold(leg, decimals=decimals) for leg in exits)
        held, _ = rules.held_currencies(p.market, exits[0].side)
        try:
            wallet_services.hold_create(user_id=entry.user_id,
                                        wallet_type=VENUE_WALLET_TYPE[entry.venue],
                                        currency=held, key=exits[0].hold_key, amount=hold)
        except wallet_services.InsufficientFunds as exc:
            extra += [_change(leg, market=p.market, status=OrderStatus.REJECTED,
                              event="rejected", reason=f"The entry delivered too little to "
                                                       f"hold its exits: {exc}"[:255])
                      for leg in exits]
            continue
        gateway = gateway_for(entry.venue)
        started = [_change(leg, market=p.market, status=OrderStatus.PENDING, event="activated")
                   for leg in exits if leg.role == OrderRole.STOP]
        for leg in exits:
            if leg.role == OrderRole.STOP:
                continue
            if not gateway.synchronous:
                if is_queued(gateway):
                    # The engine's command, in this transaction (the runner's settlement
                    # when the entry filled there): its market's sequence row last.
                    gateway.enqueue(order=leg, market=p.market, kind="place")
                else:
                    send_after_commit(order=leg, action="submit")
                started.append(_change(leg, market=p.market, status=OrderStatus.NEW,
                                       event="activated"))
                continue
            opened = _change(leg, market=p.market, status=OrderStatus.OPEN, event="activated")
            answer = gateway.submit(order=leg, market=p.market)
            if answer.status == OrderStatus.OPEN and not answer.executions:
                started.append(opened)
                continue
            # It executed at once: settled as any answer of an OCO leg (a fill cancels its
            # stop-loss; the last fill closes the hold); what it replaced is not shown.
            settle([plan(order=leg, market=p.market, submission=answer, event="filled",
                         prior=[], decimals=decimals)], locked=locked)
            started = [s for s in started if s.order.status == OrderStatus.PENDING]
        extra += started
    return extra


def settle(pending: Sequence[Pending], *, locked: Sequence[Order] = ()) -> None:
    """Write a batch planned by ``plan``: the other legs of OCOs that executed cancelled,
    one ledger batch for every fill (an order's last fill closes its hold unless another
    live order shares it), the holds of orders that ended without a fill released (once
    per hold, when none of its orders lives on), bracket exits placed or cancelled, the
    orders' state (stamped with one time, the batch's), the fills, the events. The caller
    holds the order rows of ``pending`` and ``locked`` (the same objects, with the other
    orders of their lists)."""
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
        settle_fills = getattr(gateway_for(p.order.venue), "settle_fills", None)
        if p.trades and settle_fills is not None:
            # A margined venue's fills move margin and PnL, not base for quote: the venue
            # settles them (and its hold) itself, in this transaction.
            final = p.order.status in FINAL_STATUSES and not lives_on(p.order)
            settle_fills(order=p.order, fills=p.fills, close_hold=final)
            if final:
                closed.add(p.order.hold_key)
            continue
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
    if release:
        wallet_services.holds_release(keys=release)
    if mates:
        pending += _bracket_exits(pending, locked)
    store = store_for(pending[0].order.venue) if pending else None
    if store is not None:
        # One time for the batch, as it is written in one transaction: the orders'
        # UPDATE then sets it once, not one CASE branch (and one datetime prepared) per row.
        now = timezone.now()
        for p in pending:
            _stamp(p.order, now)
        fills = [f for p in pending for f in p.fills]
        store.save(orders=[p.order for p in pending], fills=fills)
        if fills:  # counted, and their lag measured, when the settlement commits
            executed = [(f.venue, f.executed_at) for f in fills]
            transaction.on_commit(lambda: metrics.fills_settled(fills=executed))
    streams.publish_user_events(events=[
        events.order_event(p.order, market=p.market, event=p.event, last_fill=p.last_fill)
        for p in pending])


def _apply(*, order: Order, market: Market, submission: Submission, event: str,
           decimals: int | None = None, locked: Sequence[Order] = ()) -> None:
    """Plan and settle one order's ``submission`` (the caller holds the order row and,
    in ``locked``, those of its list)."""
    if decimals is None:
        decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    prior = prior_fills([order]).get(order.pk, []) if order.filled else []
    settle([plan(order=order, market=market, submission=submission, event=event,
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
        prior = prior_fills([order for order, _ in answers if order.filled])
        settle([plan(order=order, market=market, submission=s, event="filled",
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


# --- a venue's answers -------------------------------------------------------------------


def send_after_commit(*, order: Order, action: str) -> None:
    """Have an asynchronous venue ``submit`` or ``cancel`` ``order`` once the caller's
    transaction commits: through its gateway's ``dispatch(action=, order_id=)`` where it
    has one (the spot venue's Celery tasks: a worker that dies on the way leaves the
    order to the venue's tracker), else in this process (``order_submit``,
    ``order_cancel_remote``)."""
    pk = order.pk
    dispatch = getattr(gateway_for(order.venue), "dispatch", None)
    if dispatch is not None:
        transaction.on_commit(lambda: dispatch(action=action, order_id=pk))
        return
    run = order_submit if action == "submit" else order_cancel_remote
    transaction.on_commit(lambda: run(order_id=pk))


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

