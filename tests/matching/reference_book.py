"""The plain reference book: the same semantics as ``apps.matching.OrderBook``, written simply.

It is the oracle of the property tests and the baseline of ``bench/matching.py``: a
``sortedcontainers.SortedDict`` of price -> level (a deque of orders in arrival order plus its
running total) per side and a dict of order id -> order. Cancels remove from the deque by
search; there is no lazy deletion, no heap and no record trickery, so that a bug in the fast
book's bookkeeping cannot hide behind the same bug here. The FOK check is a dry run of the
real matching on a copy of the book rather than a separate fillability computation.

Only the event and enum types are shared with the engine, never its logic.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedDict

from apps.matching.types import (
    Accepted,
    BookChanged,
    Cancelled,
    CancelReason,
    CrossedBookError,
    DepthSnapshot,
    MarketSpec,
    OrderType,
    OrderView,
    Reduced,
    Rejected,
    RejectReason,
    Replaced,
    RestingOrder,
    Side,
    StpMode,
    Trade,
)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(slots=True)
class RefOrder:
    order_id: Hashable
    owner: Hashable
    side: Side
    price: int
    qty: int
    stp: StpMode | None
    post_only: bool


@dataclass(slots=True)
class RefLevel:
    total: int = 0
    orders: deque[RefOrder] = field(default_factory=deque)


class ReferenceBook:
    def __init__(self, spec: MarketSpec, *, seq: int = 0) -> None:
        self.spec = spec
        self.seq = seq
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.orders: dict[Hashable, RefOrder] = {}

    # ------------------------------------------------------------------ helpers

    def _emit(self, events: list, cls: type, **fields: Any) -> None:
        # Emitted form (Kind, seq, *fields); the NamedTuple checks that every field is given.
        self.seq += 1
        events.append((cls, *cls(seq=self.seq, **fields)))

    def _side_levels(self, side: Side) -> SortedDict:
        return self.bids if side == Side.BUY else self.asks

    def _best(self, side: Side) -> int | None:
        levels = self._side_levels(side)
        if not levels:
            return None
        return levels.peekitem(-1 if side == Side.BUY else 0)[0]

    def _crosses(self, side: Side, price: int) -> bool:
        if side == Side.BUY:
            ask = self._best(Side.SELL)
            return ask is not None and price >= ask
        bid = self._best(Side.BUY)
        return bid is not None and price <= bid

    def _rest(self, order: RefOrder, events: list) -> None:
        levels = self._side_levels(order.side)
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = RefLevel()
        level.orders.append(order)
        level.total += order.qty
        self.orders[order.order_id] = order
        self._emit(events, BookChanged, side=order.side, price=order.price, qty=level.total)

    def _remove(self, order: RefOrder) -> int:
        levels = self._side_levels(order.side)
        level = levels[order.price]
        level.orders.remove(order)
        level.total -= order.qty
        del self.orders[order.order_id]
        if not level.orders:
            del levels[order.price]
        return level.total

    def _taker_stp(self, stp: StpMode | None) -> StpMode:
        return self.spec.stp_default if stp is None else stp

    def _match(
        self,
        *,
        side: Side,
        order_id: Hashable,
        owner: Hashable,
        limit: int | None,
        qty: int | None,
        budget: int | None,
        stp: StpMode,
        events: list,
    ) -> tuple[int, bool]:
        """Return (lots or budget left, stopped by STP)."""
        maker_side = Side.SELL if side == Side.BUY else Side.BUY
        levels = self._side_levels(maker_side)
        left = budget if budget is not None else qty
        stopped = False
        while left and levels and not stopped:
            price, level = levels.peekitem(0 if side == Side.BUY else -1)
            if limit is not None and (price > limit if side == Side.BUY else price < limit):
                break
            if budget is not None and left < price:
                break
            changed = False
            while level.orders:
                maker = level.orders[0]
                if stp != StpMode.NONE and maker.owner == owner:
                    if stp in (StpMode.CANCEL_MAKER, StpMode.CANCEL_BOTH):
                        level.orders.popleft()
                        level.total -= maker.qty
                        del self.orders[maker.order_id]
                        changed = True
                        self._emit(
                            events, Cancelled, order_id=maker.order_id, qty=maker.qty,
                            reason=CancelReason.SELF_TRADE,
                        )
                    if stp in (StpMode.CANCEL_TAKER, StpMode.CANCEL_BOTH):
                        stopped = True
                        break
                    continue
                if budget is not None:
                    fill = min(maker.qty, left // price)
                    left -= fill * price
                else:
                    fill = min(maker.qty, left)
                    left -= fill
                maker.qty -= fill
                level.total -= fill
                changed = True
                if maker.qty == 0:
                    level.orders.popleft()
                    del self.orders[maker.order_id]
                self._emit(
                    events, Trade, market_id=self.spec.market_id,
                    maker_order_id=maker.order_id, taker_order_id=order_id,
                    maker_owner=maker.owner, taker_owner=owner, maker_side=maker_side,
                    price=price, qty=fill,
                )
                if budget is not None and left < price:
                    break
                if budget is None and not left:
                    break
            if changed:
                self._emit(events, BookChanged, side=maker_side, price=price, qty=level.total)
            if not level.orders:
                del levels[price]
            if budget is not None and left < price:
                break
        return left, stopped

    def _copy(self) -> ReferenceBook:
        twin = ReferenceBook(self.spec, seq=self.seq)
        for o in self.open_orders():
            twin._rest(RefOrder(*o), [])
        return twin

    # ------------------------------------------------------------------ commands

    def place(
        self,
        *,
        order_id: Hashable,
        owner: Hashable,
        side: Side,
        order_type: OrderType = OrderType.LIMIT,
        qty: int | None = None,
        price: int | None = None,
        quote_budget: int | None = None,
        stp: StpMode | None = None,
    ) -> list:
        side = Side(side)
        order_type = OrderType(order_type)
        stp = None if stp is None else StpMode(stp)
        events: list = []
        reason = None
        if order_type == OrderType.MARKET:
            if price is not None:
                reason = RejectReason.INVALID_PRICE
            elif quote_budget is not None:
                if qty is not None or side == Side.SELL or not _is_count(quote_budget):
                    reason = RejectReason.INVALID_BUDGET
            elif not _is_count(qty):
                reason = RejectReason.INVALID_QUANTITY
        elif quote_budget is not None:
            reason = RejectReason.INVALID_BUDGET
        elif not _is_count(price):
            reason = RejectReason.INVALID_PRICE
        elif not _is_count(qty):
            reason = RejectReason.INVALID_QUANTITY
        if reason is None and order_id in self.orders:
            reason = RejectReason.DUPLICATE_ORDER_ID
        if reason is None and order_type == OrderType.POST_ONLY and self._crosses(side, price):
            reason = RejectReason.POST_ONLY_WOULD_CROSS
        if reason is None and order_type == OrderType.FOK:
            left, _ = self._copy()._match(
                side=side, order_id=order_id, owner=owner, limit=price, qty=qty, budget=None,
                stp=self._taker_stp(stp), events=[],
            )
            if left:
                reason = RejectReason.FOK_NOT_FILLABLE
        if reason is not None:
            self._emit(events, Rejected, order_id=order_id, reason=reason)
            return events

        self._emit(
            events, Accepted, order_id=order_id, owner=owner, side=side, order_type=order_type,
            price=price, qty=qty, quote_budget=quote_budget,
        )
        left, stopped = 0, False
        if order_type != OrderType.POST_ONLY:
            left, stopped = self._match(
                side=side, order_id=order_id, owner=owner, limit=price, qty=qty,
                budget=quote_budget, stp=self._taker_stp(stp), events=events,
            )
        else:
            left = qty
        if quote_budget is not None:
            if left:
                reason = CancelReason.SELF_TRADE if stopped else CancelReason.UNFILLED
                self._emit(events, Cancelled, order_id=order_id, qty=0, reason=reason)
        elif left:
            if stopped:
                self._emit(
                    events, Cancelled, order_id=order_id, qty=left,
                    reason=CancelReason.SELF_TRADE,
                )
            elif order_type in (OrderType.LIMIT, OrderType.POST_ONLY):
                self._rest(
                    RefOrder(order_id, owner, side, price, left, stp,
                             order_type == OrderType.POST_ONLY),
                    events,
                )
            else:
                self._emit(
                    events, Cancelled, order_id=order_id, qty=left,
                    reason=CancelReason.UNFILLED,
                )
        return events

    def cancel(self, *, order_id: Hashable) -> list:
        events: list = []
        order = self.orders.get(order_id)
        if order is None:
            self._emit(events, Rejected, order_id=order_id, reason=RejectReason.UNKNOWN_ORDER)
            return events
        total = self._remove(order)
        self._emit(events, Cancelled, order_id=order_id, qty=order.qty, reason=CancelReason.USER)
        self._emit(events, BookChanged, side=order.side, price=order.price, qty=total)
        return events

    def reduce(self, *, order_id: Hashable, qty: int) -> list:
        events: list = []
        order = self.orders.get(order_id)
        if order is None:
            self._emit(events, Rejected, order_id=order_id, reason=RejectReason.UNKNOWN_ORDER)
            return events
        if not _is_count(qty) or qty >= order.qty:
            self._emit(
                events, Rejected, order_id=order_id, reason=RejectReason.INVALID_QUANTITY
            )
            return events
        level = self._side_levels(order.side)[order.price]
        removed = order.qty - qty
        order.qty = qty
        level.total -= removed
        self._emit(events, Reduced, order_id=order_id, qty=removed, new_qty=qty)
        self._emit(events, BookChanged, side=order.side, price=order.price, qty=level.total)
        return events

    def replace(self, *, order_id: Hashable, price: int) -> list:
        events: list = []
        order = self.orders.get(order_id)
        reason = None
        if order is None:
            reason = RejectReason.UNKNOWN_ORDER
        elif not _is_count(price):
            reason = RejectReason.INVALID_PRICE
        elif order.post_only and self._crosses(order.side, price):
            reason = RejectReason.POST_ONLY_WOULD_CROSS
        if reason is not None:
            self._emit(events, Rejected, order_id=order_id, reason=reason)
            return events
        total = self._remove(order)
        self._emit(
            events, Replaced, order_id=order_id, old_price=order.price, new_price=price,
            qty=order.qty,
        )
        self._emit(events, BookChanged, side=order.side, price=order.price, qty=total)
        left, stopped = self._match(
            side=order.side, order_id=order_id, owner=order.owner, limit=price, qty=order.qty,
            budget=None, stp=self._taker_stp(order.stp), events=events,
        )
        if left:
            if stopped:
                self._emit(
                    events, Cancelled, order_id=order_id, qty=left,
                    reason=CancelReason.SELF_TRADE,
                )
            else:
                self._rest(
                    RefOrder(order_id, order.owner, order.side, price, left, order.stp,
                             order.post_only),
                    events,
                )
        return events

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self.orders)

    def best_bid(self) -> int | None:
        return self._best(Side.BUY)

    def best_ask(self) -> int | None:
        return self._best(Side.SELL)

    def order(self, order_id: Hashable) -> OrderView | None:
        o = self.orders.get(order_id)
        if o is None:
            return None
        return OrderView(o.order_id, o.owner, o.side, o.price, o.qty, o.stp, o.post_only)

    def open_orders(self) -> Iterator[RestingOrder]:
        for price in reversed(self.bids):
            for o in self.bids[price].orders:
                yield RestingOrder(o.order_id, o.owner, o.side, o.price, o.qty, o.stp,
                                   o.post_only)
        for price in self.asks:
            for o in self.asks[price].orders:
                yield RestingOrder(o.order_id, o.owner, o.side, o.price, o.qty, o.stp,
                                   o.post_only)

    def depth(self, *, levels: int = 10) -> DepthSnapshot:
        bids = tuple((p, self.bids[p].total) for p in list(reversed(self.bids))[:levels])
        asks = tuple((p, self.asks[p].total) for p in list(self.asks)[:levels])
        text = ",".join(f"b:{p}:{q}" for p, q in bids) + ";" + ",".join(
            f"a:{p}:{q}" for p, q in asks
        )
        return DepthSnapshot(self.seq, bids, asks, zlib.crc32(text.encode("ascii")))

    @classmethod
    def rebuild(
        cls, *, spec: MarketSpec, orders: list[RestingOrder], seq: int = 0
    ) -> ReferenceBook:
        book = cls(spec, seq=seq)
        for o in orders:
            if o.order_id in book.orders:
                raise CrossedBookError(f"order {o.order_id!r} appears twice")
            book._rest(RefOrder(*o), [])
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise CrossedBookError(f"crossed book: {bid} >= {ask}")
        return book
