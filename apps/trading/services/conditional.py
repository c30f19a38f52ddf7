"""Conditional orders of every venue the platform triggers: order lists (OCO, bracket) and
the trigger that each new quote runs.

A conditional order is an ``Order`` that waits PENDING, its funds held, until a quote moves
its trigger source's price (``rules.source_price``) through ``stop_price`` in its
direction; it then works as ``executes_as(type)`` under the same row and hold.
``conditional_trigger`` runs for every quote of a market (the paper venue's executor and
its beat sweep call it first thing): it moves the trailing stops, finds the orders the
quote fires by one indexed range per direction, and fires them in batches. Firing an
order, cancelling its OCO sibling and placing its child happen in one transaction that
holds every order row involved (in id order; then the wallets), so a duplicated tick, two
executors or a crash fire each order at most once and execute one leg of an OCO only.
"""
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.db import retry_lost_deadlock
from apps.core.errors import Conflict
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.trading import selectors
from apps.trading.constants import (
    CANCELLABLE_STATUSES,
    HELD_BACK_STATUSES,
    LIVE_STATUSES,
    VENUE_WALLET_TYPE,
    OrderListKind,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerSource,
)
from apps.trading.models import Market, Order, OrderList
from apps.trading.services import events, orders, rules, settlement
from apps.trading.stores import store_for
from apps.trading.venues import Submission, gateway_for, is_queued
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)
_OTHER = {Side.BUY: Side.SELL, Side.SELL: Side.BUY}
# Orders fired per transaction: a batch's row locks are held while its fills settle.
TRIGGER_BATCH = 200
_TRAIL_ATTEMPTS = 3


# --- order lists --------------------------------------------------------------------------


def order_list_place(*, user_id: int, venue: str, symbol: str, kind: str, side: str,
                     amount: Decimal, price: Decimal | None = None,
                     stop_price: Decimal | None = None,
                     stop_limit_price: Decimal | None = None,
                     take_profit_price: Decimal | None = None,
                     entry_type: str = OrderType.LIMIT, trigger_source: str | None = None,
                     client_order_id: str | None = None) -> OrderList:
    """Place an OCO or a bracket on ``venue``'s market ``symbol``; returns the list (its
    orders: ``list.orders``, each with its ``role``).

    OCO (``side`` both legs' side): a LIMIT leg at ``price`` that must not cross the
    market now (a sell above it, a buy below) and a stop leg at ``stop_price`` (a sell
    below the market, a buy above): STOP_LIMIT at ``stop_limit_price`` if given, else
    STOP_MARKET. One hold for the pair: a SELL its amount, a BUY the larger of the legs'
    needs. The LIMIT leg goes to the venue; the stop leg waits PENDING.

    BRACKET (``side`` the entry's): the entry, ``entry_type`` LIMIT at ``price`` or
    MARKET, holding as any order; its exits, of the other side, wait (WAITING, nothing
    held): a take-profit LIMIT at ``take_profit_price`` beyond the entry's price and a
    stop-loss at ``stop_price`` (with ``stop_limit_price``: STOP_LIMIT) on the other side
    of it. When the entry ends having filled, the exits become an OCO for the filled
    amount (REJECTED if that is below the market's minimums or does not fund them; the
    take-profit sent to the venue then); when it ends unfilled they are cancelled
    (``settlement._bracket_exits``).

    One transaction (the list, its orders, the hold, the venue's answer to the first
    order). A replay of ``client_order_id`` returns the first list if it is the same,
    else Conflict. Raises NotFound (unknown market), InvalidInput, Conflict (stale price,
    market halted or disabled, rejected by the venue), InsufficientFunds.
    """
    if kind not in OrderListKind.values:
        raise rules.refuse("kind must be OCO or BRACKET.", "kind")
    if side not in Side.values:
        raise rules.refuse("side must be BUY or SELL.", "side")
    market = selectors.market_for_trading(venue=venue, symbol=symbol)
    gateway = gateway_for(venue)
    stop_type = OrderType.STOP_MARKET if stop_limit_price is None else OrderType.STOP_LIMIT

    def spec(type: str, side: str, *, price: Decimal | None = None,
             stop: Decimal | None = None) -> orders.OrderSpec:
        return orders.order_spec(
            market=market, gateway=gateway, side=side, type=type, amount=amount, price=price,
            time_in_force=TimeInForce.GTC, post_only=False, stop_price=stop,
            trigger_source=trigger_source if stop is not None else None)

    if kind == OrderListKind.OCO:
        if take_profit_price is not None:
            raise rules.refuse("An OCO takes price (its limit leg), not take_profit_price.",
                               "take_profit_price")
        if entry_type != OrderType.LIMIT:
            raise rules.refuse("An OCO has no entry.", "entry_type")
        specs = [(OrderRole.LIMIT, spec(OrderType.LIMIT, side, price=price)),
                 (OrderRole.STOP, spec(stop_type, side, price=stop_limit_price,
                                       stop=stop_price))]
    else:
        if entry_type not in (OrderType.LIMIT, OrderType.MARKET):
            raise rules.refuse("A bracket's entry is a LIMIT or MARKET order.", "entry_type")
        if take_profit_price is None:
            raise rules.refuse("A bracket needs a take-profit price.", "take_profit_price")
        exit_side = _OTHER[side]
        specs = [(OrderRole.ENTRY, spec(entry_type, side, price=price)),
                 (OrderRole.LIMIT, spec(OrderType.LIMIT, exit_side, price=take_profit_price)),
                 (OrderRole.STOP, spec(stop_type, exit_side, price=stop_limit_price,
                                       stop=stop_price))]
    if client_order_id is None:
        client_order_id = uuid.uuid4().hex
    else:
        existing = OrderList.objects.filter(user_id=user_id, venue=venue,
                                            client_order_id=client_order_id).first()
        if existing is not None:
            return _list_replayed(existing, market=market, kind=kind, specs=specs)
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    gateway.before_place(user_id=user_id)
    try:
        with transaction.atomic():
            group = OrderList.objects.create(user_id=user_id, market=market, venue=venue,
                                             kind=kind, client_order_id=client_order_id)
            if kind == OrderListKind.OCO:
                _oco_start(group=group, market=market, specs=specs, decimals=decimals)
            else:
                _bracket_start(group=group, market=market, specs=specs, decimals=decimals)
    except IntegrityError:
        existing = OrderList.objects.filter(user_id=user_id, venue=venue,
                                            client_order_id=client_order_id).first()
        if existing is None:
            raise
        return _list_replayed(existing, market=market, kind=kind, specs=specs)
    return group


def order_list_cancel(*, user_id: int, venue: str, list_id: int) -> OrderList:
    """Cancel every live order of the user's order list ``list_id`` on ``venue``; returns
    the list as it stands after (``selectors.order_list_get``).

    One ``orders.order_cancel`` of one of its legs does it: a take-profit or stop leg
    cancels its whole list in one transaction (the list's rows locked in id order, then
    the wallets; the shared hold released once). A live exit is chosen, else the live
    entry (a bracket whose exits have ended, or still wait: cancelling the entry cancels
    them). Raises NotFound (unknown list, another venue's or another user's), Conflict
    ``order_list_not_live`` (nothing of it is live, also when its last live order ends
    meanwhile)."""
    group = selectors.order_list_get(user_id=user_id, venue=venue, list_id=list_id)
    live = [o for o in group.orders.all() if o.status in CANCELLABLE_STATUSES]
    if not live:
        raise Conflict(f"Order list {list_id} has no live order.", code="order_list_not_live")
    leg = next((o for o in live if o.role != OrderRole.ENTRY), live[0])
    try:
        orders.order_cancel(user_id=user_id, venue=venue, order_id=leg.pk)
    except Conflict as exc:
        if exc.code != "order_not_open":
            raise
        # The leg ended since it was read: what is left of the list decides.
        return order_list_cancel(user_id=user_id, venue=venue, list_id=list_id)
    return selectors.order_list_get(user_id=user_id, venue=venue, list_id=list_id)


def _list_replayed(group: OrderList, *, market: Market, kind: str,
                   specs: Sequence[tuple[str, orders.OrderSpec]]) -> OrderList:
    placed = {o.role: o for o in group.orders.all()}

    def same(role: str, spec: orders.OrderSpec) -> bool:
        order = placed[role]
        if kind == OrderListKind.BRACKET and role != OrderRole.ENTRY:
            # The exits take the entry's filled amount when they start; the entry
            # carries the amount asked for.
            spec = replace(spec, amount=order.amount)
        return spec.matches(order)

    if (group.market_id != market.pk or group.kind != kind
            or set(placed) != {role for role, _ in specs}
            or not all(same(role, spec) for role, spec in specs)):
        raise Conflict("client_order_id was already used for a different order list.",
                       code="duplicate_client_order_id")
    return group


def _legs(*, group: OrderList, market: Market, specs: Sequence[tuple[str, orders.OrderSpec]],
          status_of: dict[str, str | None], hold_key_of: dict[str, str]) -> list[Order]:
    gateway = gateway_for(market.venue)
    built = [orders.order_new(market=market, gateway=gateway, spec=s, user_id=group.user_id,
                              client_order_id=uuid.uuid4().hex, hold_key=hold_key_of[role],
                              group=group, role=role, status=status_of.get(role))
             for role, s in specs]
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    for order in built:
        rules.check_limits(market, amount=order.amount, reference=order.reference_price,
                           decimals=decimals)
    return built


def _oco_start(*, group: OrderList, market: Market,
               specs: Sequence[tuple[str, orders.OrderSpec]], decimals: int) -> None:
    key = f"orderlist:{group.venue}:{group.user_id}:{group.client_order_id}"
    limit, stop = _legs(group=group, market=market, specs=specs, status_of={},
                        hold_key_of={OrderRole.LIMIT: key, OrderRole.STOP: key})
    gateway = gateway_for(market.venue)
    # The limit leg waits for the price to come to it: one the market already crosses
    # would execute at once, and the pair would be no pair.
    market_price = rules.source_price(source=TriggerSource.BID_ASK, side=limit.side,
                                      quote=gateway.trigger_quote(market=market))
    if (market_price <= limit.price if limit.side == Side.BUY
            else market_price >= limit.price):
        where = "below" if limit.side == Side.BUY else "above"
        raise rules.refuse(f"An OCO's {limit.side.lower()} limit must be {where} the market "
                           f"price {market_price.normalize():f}.", "price")
    store = store_for(group.venue)
    # Both legs are inserted before anything is held or sent: the list's rows exist
    # (and are this transaction's) before the first write to a wallet.
    for order in (limit, stop):
        store.create(order=order)
    orders.market_unchanged(market)
    wallet_type = VENUE_WALLET_TYPE[group.venue]
    held, other = rules.held_currencies(market, limit.side)
    wallet_services.wallets_lock(owners=[(group.user_id, None, wallet_type, held),
                                         (group.user_id, None, wallet_type, other)])
    wallet_services.hold_create(
        user_id=group.user_id, wallet_type=wallet_type, currency=held, key=key,
        amount=max(rules.order_hold(o, decimals=decimals) for o in (limit, stop)))
    events.publish_order(stop, market=market, event="placed")
    orders.start(order=limit, market=market, gateway=gateway, decimals=decimals, hold=None,
                 locked=[stop])


def _bracket_start(*, group: OrderList, market: Market,
                   specs: Sequence[tuple[str, orders.OrderSpec]], decimals: int) -> None:
    exits_key = f"orderlist:{group.venue}:{group.user_id}:{group.client_order_id}"
    entry, take_profit, stop = _legs(
        group=group, market=market, specs=specs,
        status_of={OrderRole.LIMIT: OrderStatus.WAITING, OrderRole.STOP: OrderStatus.WAITING},
        hold_key_of={OrderRole.ENTRY: f"{exits_key}:entry", OrderRole.LIMIT: exits_key,
                     OrderRole.STOP: exits_key})
    # The exits are checked against the entry's price, not the market's: they start
    # from where the entry fills.
    base = entry.reference_price
    if (take_profit.price - base) * (1 if entry.side == Side.BUY else -1) <= 0:
        where = "above" if entry.side == Side.BUY else "below"
        raise rules.refuse(f"The take-profit must be {where} the entry price "
                           f"{base.normalize():f}.", "take_profit_price")
    if (stop.stop_price - base) * (1 if entry.side == Side.BUY else -1) >= 0:
        where = "below" if entry.side == Side.BUY else "above"
        raise rules.refuse(f"The stop-loss must be {where} the entry price "
                           f"{base.normalize():f}.", "stop_price")
    store = store_for(group.venue)
    for order in (entry, take_profit, stop):
        store.create(order=order)
    orders.market_unchanged(market)
    for leg in (take_profit, stop):
        events.publish_order(leg, market=market, event="placed")
    orders.start(order=entry, market=market, gateway=gateway_for(market.venue),
                 decimals=decimals, hold=rules.order_hold(entry, decimals=decimals),
                 locked=[take_profit, stop])


# --- triggering ---------------------------------------------------------------------------


def _trigger_prices(quote: Quote) -> dict[tuple[str, str], Decimal]:
    """The price each (trigger source, side) that ``quote`` moves compares in it."""
    return {(source, side): rules.source_price(source=source, side=side, quote=quote)
            for source in rules.quote_sources(quote) for side in Side.values}


def _trail(*, market: Market, quote: Quote) -> int:
    """Move the active trailing stops of ``market`` the quote improves on, and activate
    those whose activation price it reached (``OrderStore.trail``: one UPDATE per side
    and price compared, setting the best price to the quote's and the trigger to its
    callback from it). Idempotent (a duplicated tick improves nothing). Returns the rows
    moved."""
    store = store_for(market.venue)
    by_price: dict[tuple[str, Decimal], list[str]] = {}
    for (source, side), price in _trigger_prices(quote).items():
        by_price.setdefault((side, price), []).append(source)
    return sum(_retrying(lambda side=side, price=price, sources=sources: store.trail(
        market=market, side=side, sources=sources, price=price,
        placed_before=quote.timestamp)) for (side, price), sources in by_price.items())


def _retrying(update: Callable[[], int]) -> int:
    """``update()`` (one statement, in autocommit), tried again when it lost a deadlock:
    it takes the rows in index order while a firing batch holds some in id order. Losing
    a quote's move entirely would lose a best price, so it is retried before the error is
    let through."""
    return retry_lost_deadlock(update, attempts=_TRAIL_ATTEMPTS,
                               event="trailing_update_retried")


Execute = Callable[[Order], Submission]


def conditional_trigger(*, market: Market, quote: Quote, execute: Execute | None = None) -> int:
    """Trigger the PENDING conditional orders of ``market`` that ``quote`` fires; returns
    how many fired. The caller checked the quote is the market's (a quote of its venue, or
    a mark tick of its symbol: then only the MARK orders compare it) and fresh.

    ``execute``: how a synchronous venue executes a fired order (its trigger and evidence
    set) against ``quote``: the venue's executor passes one so that the order fills at the
    quote that fired it, not at whatever price the venue holds by then, and takes from
    that quote's sizes what the resting orders it crosses will share. Default: the
    gateway's ``submit``.

    Moves the trailing stops first (``_trail``, if the market has any), then finds the
    orders to fire by one indexed range per direction (``OrderStore.triggered_ids``:
    never a scan), placed before the quote's time, and fires them in batches of
    TRIGGER_BATCH, each one transaction (``_fire_batch``). A batch that fails is retried
    order by order and an order that still fails is set aside; a passing database error
    leaves its orders for the next quote or the sweep. A market with no PENDING order
    costs one indexed look-up.

    A quote older than the market's latest (an executor that got its tick late) fires and
    moves nothing: the state it would be compared with may have been moved by the newer
    quote (a trailing stop raised), and the newer quote's own run, or the sweep's, decides.
    """
    # A mark tick (``rules.quote_sources``) is compared with the latest mark.
    latest = latest_quote(venue=quote.venue, symbol=market.symbol)
    if latest is not None and latest.timestamp > quote.timestamp:
        return 0
    store = store_for(market.venue)
    any_pending, any_trailing = store.pending(market=market)
    if not any_pending:
        return 0
    if any_trailing:
        _trail(market=market, quote=quote)
    ids = store.triggered_ids(market=market, prices=_trigger_prices(quote),
                              placed_before=quote.timestamp)
    fired = 0
    for start in range(0, len(ids), TRIGGER_BATCH):
        fired += settlement.isolating(
            market=market, order_ids=ids[start:start + TRIGGER_BATCH],
            batch=lambda batch_ids, _: _fire_batch(market=market, order_ids=batch_ids,
                                                   quote=quote, execute=execute),
            context=lambda: None)
    if fired:
        log.info("conditional_orders_triggered", venue=market.venue, symbol=market.symbol,
                 count=fired)
    return fired


def _fire_batch(*, market: Market, order_ids: Sequence[int], quote: Quote,
                execute: Execute | None) -> int:
    """Fire those of ``order_ids`` still PENDING, not set aside and fired by ``quote``
    (checked again on the locked rows), in one transaction: lock them and their lists'
    orders (id order), record the trigger and its evidence, hand each to its venue (a
    synchronous one answers now, through ``execute`` if given: fills settle, a limit child
    rests; an asynchronous one gets it NEW after commit, a queued one NEW with its command
    written now) and cancel the OCO siblings (``orders.settle``; on a queued venue a
    sibling on the book is cancelled by the fired leg's own command, which the engine
    applies only if that sibling has not executed first: ``engine.books``)."""
    store = store_for(market.venue)
    gateway = gateway_for(market.venue)
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    wanted = set(order_ids)
    now = timezone.now()
    evidence = {"quote": quote.to_dict()}
    with transaction.atomic():
        locked = store.lock(order_ids=order_ids)
        pending = []
        for order in locked:
            if (order.pk not in wanted or order.status != OrderStatus.PENDING
                    or order.settle_error or not rules.fires(
                        direction=order.trigger_direction, stop_price=order.stop_price,
                        price=rules.source_price(source=order.trigger_source,
                                                 side=order.side, quote=quote))):
                continue
            order.triggered_at, order.trigger_evidence = now, evidence
            if gateway.synchronous:
                submission = (execute(order) if execute is not None
                              else gateway.submit(order=order, market=market))
            elif is_queued(gateway):
                # The engine gets the child now, in this transaction (its order's command).
                # An OCO leg whose other leg is on the book goes as one ordered pair: the
                # engine cancels that leg and places this one only if that leg has not
                # executed meanwhile (it may have filled in a batch not settled yet).
                submission = Submission(status=OrderStatus.NEW)
                sibling = next((m for m in locked if m.group_id is not None
                                and m.group_id == order.group_id and m.pk != order.pk
                                and m.hold_key == order.hold_key
                                and m.status not in HELD_BACK_STATUSES
                                and m.status in LIVE_STATUSES), None)
                gateway.enqueue(order=order, market=market, kind="place",
                                options=None if sibling is None else {"sibling": sibling})
            else:
                submission = Submission(status=OrderStatus.NEW)
                settlement.send_after_commit(order=order, action="submit")
            pending.append(settlement.plan(order=order, market=market, submission=submission,
                                           event="triggered", prior=[], decimals=decimals))
        if not pending:
            return 0
        settlement.settle(pending, locked=locked)
        return len(pending)

