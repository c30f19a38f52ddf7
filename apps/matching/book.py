"""A deterministic single-market order book with price-time priority, in integers.

The book knows nothing of money, users, storage or Django. Prices are integer ticks,
quantities integer lots, a quote budget integer quote units (ticks * lots); ``MarketSpec``
converts Decimals at the boundary and refuses amounts that would need rounding. Every command
returns the list of events it caused, in order, each carrying the next value of the book's
sequence number; the same commands from the same state always give the same events. An event
is a plain tuple ``(Kind, seq, *fields)`` whose ``Kind`` is the ``NamedTuple`` class in
``apps.matching.types`` that names its fields (``named_event`` builds that view), e.g.
``(Trade, seq, market_id, maker_order_id, taker_order_id, maker_owner, taker_owner,
maker_side, price, qty)``; a trade's id is ``"<market_id>:<seq>"`` (``trade_id``).

Order types
-----------
``LIMIT`` (good till cancelled)
    Matches against the opposite side while the opposite best price is at or better than its
    limit; the remainder rests at its limit price behind every order already there.
``IOC``
    Matches like ``LIMIT``; the remainder is cancelled (``CancelReason.UNFILLED``).
``FOK``
    Filled completely at once or rejected (``FOK_NOT_FILLABLE``) with no side effect. The
    check accounts for self-trade prevention exactly: makers that STP would cancel do not
    count, and under ``CANCEL_TAKER``/``CANCEL_BOTH`` nothing behind the first own maker does.
``POST_ONLY``
    Rejected (``POST_ONLY_WOULD_CROSS``) if its price reaches the opposite best; otherwise it
    rests like ``LIMIT``. It stays post-only: a replace that would cross is rejected too.
``MARKET``
    No price. By quantity: matches until filled or the opposite side is empty; the remainder
    is cancelled (``UNFILLED``). A buy may give a quote budget instead: at each level it buys
    as many whole lots as the budget left affords, and stops at the first level where it
    cannot afford one lot; it is then cancelled with ``qty=0`` unless the budget is spent.

Fills happen at the maker's price. A taker meeting a maker of the same owner applies the
taker's self-trade prevention mode (its own, else the market's ``stp_default``):
``NONE`` trades, ``CANCEL_TAKER`` cancels the taker's remainder, ``CANCEL_MAKER`` cancels
the maker and goes on, ``CANCEL_BOTH`` does both; STP cancels carry ``SELF_TRADE``.

Commands on resting orders: ``cancel``; ``reduce`` to a smaller positive quantity, keeping
the queue position; ``replace`` to a new price, which moves the order to the back of the new
level and lets it match first like a ``LIMIT`` taker (with its own STP mode).

Events of one command, in order: ``Accepted`` or ``Rejected`` (a rejected command changes
nothing else); then, per opposite level visited, its ``Trade`` and STP ``Cancelled`` events
followed by one ``BookChanged`` if its total moved; then the taker's end: a ``Cancelled``
(STP or unfilled remainder) or a ``BookChanged`` for the level it now rests on.

Invariants (checked by ``validate_internal_state``)
---------------------------------------------------
* Every open order has ``qty > 0`` and sits in exactly one level queue, on its own side at
  its own price, and in the order index under its id; order ids are unique among open orders.
* A level's ``total`` is the sum of its open orders' quantities; its queue holds them in
  arrival order, possibly interleaved with cancelled records (``qty == 0``) that are skipped
  and counted in ``dead``.
* Each side's price heap holds, once each, exactly the keys of that side's levels marked
  ``listed`` (bids keyed by ``-price``, asks by ``price``, so both heaps are min-heaps of
  "best first"); every level with open orders is listed. A level whose total fell to zero
  may stay listed until it reaches the top of the heap; there it is unlisted but kept in the
  dict, with no records, so that the next order at its price reuses it (and lists it again)
  instead of building a new one. A sweep drops the empty levels when a side's dict grows.
* The book is never crossed at rest: best bid < best ask.
* ``seq`` grows by exactly one per event.

Representation, chosen for speed in pure Python: an open order is a list
``[qty, order_id, owner, side, price, stp, post_only, level]`` (cheaper to create and read
than an object); cancelling marks the record ``qty = 0`` and leaves it in its deque, to be
dropped when it reaches the front or when the level is compacted.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import deque
from collections.abc import Hashable, Iterable, Iterator
from decimal import Decimal
from heapq import heapify, heappop, heappush, nsmallest
from typing import Any

from apps.matching.types import (
    Accepted,
    BookChanged,
    Cancelled,
    CancelReason,
    CrossedBookError,
    DepthSnapshot,
    Event,
    InternalStateError,
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

__all__ = ["OrderBook", "depth_checksum"]

BUY = Side.BUY
SELL = Side.SELL
LIMIT = OrderType.LIMIT
IOC = OrderType.IOC
FOK = OrderType.FOK
POST_ONLY = OrderType.POST_ONLY
MARKET = OrderType.MARKET
STP_NONE = StpMode.NONE
CANCEL_TAKER = StpMode.CANCEL_TAKER
CANCEL_MAKER = StpMode.CANCEL_MAKER
CANCEL_BOTH = StpMode.CANCEL_BOTH
R_QTY = RejectReason.INVALID_QUANTITY
R_PRICE = RejectReason.INVALID_PRICE
R_BUDGET = RejectReason.INVALID_BUDGET
R_DUP = RejectReason.DUPLICATE_ORDER_ID
R_UNKNOWN = RejectReason.UNKNOWN_ORDER
R_POST_ONLY = RejectReason.POST_ONLY_WOULD_CROSS
R_FOK = RejectReason.FOK_NOT_FILLABLE
C_USER = CancelReason.USER
C_UNFILLED = CancelReason.UNFILLED
C_STP = CancelReason.SELF_TRADE

# A level is compacted when it holds more than this many cancelled records and they
# outnumber the open ones; a side is swept of empty levels when its dict doubles past this.
_COMPACT_MIN_DEAD = 32
_SWEEP_MIN_LEVELS = 1024


class _Level:
    __slots__ = ("price", "total", "dead", "queue", "listed")

    def __init__(self, price: int) -> None:
        self.price = price
        self.total = 0
        self.dead = 0
        self.queue: deque[list[Any]] = deque()
        self.listed = False  # its key is in the side's heap


def depth_checksum(
    bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]
) -> int:
    """CRC32 of ``"b:<price>:<qty>,...;a:<price>:<qty>,..."`` over the given levels, best first."""
    text = (
        ",".join(f"b:{p}:{q}" for p, q in bids) + ";" + ",".join(f"a:{p}:{q}" for p, q in asks)
    )
    return zlib.crc32(text.encode("ascii"))


def _is_count(value: object) -> bool:
    return type(value) is int and value > 0  # noqa: E721 - bool must not pass as a count


class OrderBook:
    """One market's book. Single writer: callers serialise commands (see module docstring)."""

    __slots__ = (
        "_spec",
        "_market_id",
        "_stp_default",
        "_seq",
        "_orders",
        "_bids",
        "_asks",
        "_bid_heap",
        "_ask_heap",
        "_bid_sweep_at",
        "_ask_sweep_at",
    )

    def __init__(self, spec: MarketSpec, *, seq: int = 0) -> None:
        spec.validate()
        if type(seq) is not int or seq < 0:  # noqa: E721
            raise ValueError(f"seq must be a non-negative int, got {seq!r}")
        self._spec = spec
        self._market_id = spec.market_id
        self._stp_default = StpMode(spec.stp_default)
        self._seq = seq
        self._orders: dict[Hashable, list[Any]] = {}
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_heap: list[int] = []
        self._ask_heap: list[int] = []
        self._bid_sweep_at = _SWEEP_MIN_LEVELS
        self._ask_sweep_at = _SWEEP_MIN_LEVELS

    # ------------------------------------------------------------------ commands

    def place(
        self,
        *,
        order_id: Hashable,
        owner: Hashable,
        side: Side,
        order_type: OrderType = LIMIT,
        qty: int | None = None,
        price: int | None = None,
        quote_budget: int | None = None,
        stp: StpMode | None = None,
    ) -> list[Event]:
        """Validate and execute a new order; see the module docstring for each type."""
        orders = self._orders
        if (
            order_type is LIMIT
            and type(price) is int  # noqa: E721 - bool and float must not pass
            and type(qty) is int  # noqa: E721
            and price > 0
            and qty > 0
            and quote_budget is None
            and (stp is None or type(stp) is StpMode)  # noqa: E721
            and order_id not in orders
        ):
            # The common case, inlined: a valid GTC limit order. Everything else (and every
            # rejection) takes the general path below, which has the same semantics.
            # Keys: a buy meets asks keyed by price and rests among bids keyed by -price.
            if side is BUY:
                heap, key, levels = self._ask_heap, price, self._bids
            elif side is SELL:
                heap, key, levels = self._bid_heap, -price, self._asks
            else:
                return self._place(
                    order_id, owner, side, order_type, qty, price, quote_budget, stp
                )
            if heap and heap[0] <= key:
                # It may cross (or the opposite top is an empty level): match, then rest.
                return self._limit_taker(order_id, owner, side, key, price, qty, stp)
            # Nothing to match: rest at once (inlined _rest).
            lvl = levels.get(-key)
            if lvl is None or not lvl.listed:
                lvl = self._list_level(side, -key, price, lvl)
            o = [qty, order_id, owner, side, price, stp, False, lvl]
            lvl.queue.append(o)
            total = lvl.total + qty
            lvl.total = total
            orders[order_id] = o
            seq = self._seq + 2
            self._seq = seq
            return [
                (Accepted, seq - 1, order_id, owner, side, LIMIT, price, qty, None),
                (BookChanged, seq, side, price, total),
            ]
        return self._place(
            order_id, owner, side, order_type, qty, price, quote_budget, stp
        )

    def _limit_taker(
        self,
        order_id: Hashable,
        owner: Hashable,
        side: Side,
        limit_key: int,
        price: int,
        qty: int,
        stp: StpMode | None,
    ) -> list[Event]:
        """A valid GTC limit order that reaches the opposite heap's top: match, then rest."""
        seq = self._seq + 1
        events: list[Event] = [(Accepted, seq, order_id, owner, side, LIMIT, price, qty, None)]
        return self._take(order_id, owner, side, limit_key, price, qty, stp, True, False,
                          events, seq)

    def _place(
        self,
        order_id: Hashable,
        owner: Hashable,
        side: Side,
        order_type: OrderType,
        qty: int | None,
        price: int | None,
        quote_budget: int | None,
        stp: StpMode | None,
    ) -> list[Event]:
        if side is not BUY and side is not SELL:
            side = Side(side)
        if order_type is not LIMIT:
            order_type = OrderType(order_type)
        if stp is not None:
            stp = StpMode(stp)
        seq = self._seq + 1
        reason = None
        if order_type is MARKET:
            if price is not None:
                reason = R_PRICE
            elif quote_budget is not None:
                if qty is not None or side is SELL or not _is_count(quote_budget):
                    reason = R_BUDGET
            elif not _is_count(qty):
                reason = R_QTY
        elif quote_budget is not None:
            reason = R_BUDGET
        elif type(price) is not int or price <= 0:  # noqa: E721
            reason = R_PRICE
        elif type(qty) is not int or qty <= 0:  # noqa: E721
            reason = R_QTY
        if reason is None and order_id in self._orders:
            reason = R_DUP
        if reason is not None:
            self._seq = seq
            return [(Rejected, seq, order_id, reason)]

        # Keys: a buy taker meets asks keyed by price, a sell taker bids keyed by -price.
        limit_key = None if price is None else (price if side is BUY else -price)
        if order_type is POST_ONLY:
            top = self._top(SELL if side is BUY else BUY)
            if top is not None and top <= limit_key:
                self._seq = seq
                return [(Rejected, seq, order_id, R_POST_ONLY)]
        elif order_type is FOK:
            taker_stp = self._stp_default if stp is None else stp
            if not self._fillable(side, owner, limit_key, qty, taker_stp):
                self._seq = seq
                return [(Rejected, seq, order_id, R_FOK)]

        events: list[Event] = [
            (Accepted, seq, order_id, owner, side, order_type, price, qty, quote_budget)
        ]
        if order_type is POST_ONLY:
            self._seq = self._rest(order_id, owner, side, price, qty, stp, True, events, seq)
            return events
        if quote_budget is not None:
            taker_stp = self._stp_default if stp is None else stp
            left, seq, stopped = self._match_budget(
                order_id, owner, quote_budget, taker_stp, events, seq
            )
            if left:
                seq += 1
                events.append(
                    (Cancelled, seq, order_id, 0, C_STP if stopped else C_UNFILLED)
                )
            self._seq = seq
            return events
        return self._take(order_id, owner, side, limit_key, price, qty, stp,
                          order_type is LIMIT, False, events, seq)

    def cancel(self, *, order_id: Hashable) -> list[Event]:
        """Remove a resting order; its open quantity is reported as cancelled by the user."""
        seq = self._seq + 1
        o = self._orders.pop(order_id, None)
        if o is None:
            self._seq = seq
            return [(Rejected, seq, order_id, R_UNKNOWN)]
        # _unlink inlined: cancel is a third of a typical command stream.
        qty = o[0]
        o[0] = 0
        lvl = o[7]
        total = lvl.total - qty
        lvl.total = total
        if total:
            dead = lvl.dead + 1
            if dead > _COMPACT_MIN_DEAD and dead + dead > len(lvl.queue):
                lvl.queue = deque([r for r in lvl.queue if r[0]])
                dead = 0
            lvl.dead = dead
        else:
            # Nothing open is left: drop the dead records now, keep the level for reuse.
            lvl.queue.clear()
            lvl.dead = 0
        self._seq = seq + 1
        return [
            (Cancelled, seq, order_id, qty, C_USER),
            (BookChanged, seq + 1, o[3], o[4], total),
        ]

    def reduce(self, *, order_id: Hashable, qty: int) -> list[Event]:
        """Lower a resting order's open quantity to ``qty`` (0 < qty < open), keeping priority."""
        seq = self._seq + 1
        o = self._orders.get(order_id)
        if o is None:
            self._seq = seq
            return [(Rejected, seq, order_id, R_UNKNOWN)]
        old = o[0]
        if type(qty) is not int or not 0 < qty < old:  # noqa: E721
            self._seq = seq
            return [(Rejected, seq, order_id, R_QTY)]
        o[0] = qty
        lvl = o[7]
        lvl.total -= old - qty
        self._seq = seq + 1
        return [
            (Reduced, seq, order_id, old - qty, qty),
            (BookChanged, seq + 1, o[3], o[4], lvl.total),
        ]

    def replace(self, *, order_id: Hashable, price: int) -> list[Event]:
        """Move a resting order to ``price`` at the back of its queue; it may match first."""
        seq = self._seq + 1
        orders = self._orders
        o = orders.get(order_id)
        reason = None
        if o is None:
            reason = R_UNKNOWN
        elif type(price) is not int or price <= 0:  # noqa: E721
            reason = R_PRICE
        else:
            side = o[3]
            limit_key = price if side is BUY else -price
            if o[6]:
                top = self._top(SELL if side is BUY else BUY)
                if top is not None and top <= limit_key:
                    reason = R_POST_ONLY
        if reason is not None:
            self._seq = seq
            return [(Rejected, seq, order_id, reason)]
        qty, _, owner, side, old_price, stp, post_only, _ = o
        del orders[order_id]
        total = self._unlink(o)
        events: list[Event] = [
            (Replaced, seq, order_id, old_price, price, qty),
            (BookChanged, seq + 1, side, old_price, total),
        ]
        return self._take(order_id, owner, side, limit_key, price, qty, stp, True, post_only,
                          events, seq + 1)

    # ------------------------------------------------------------------ internals

    def _take(
        self,
        order_id: Hashable,
        owner: Hashable,
        side: Side,
        limit_key: int | None,
        price: int | None,
        qty: int,
        stp: StpMode | None,
        rests: bool,
        post_only: bool,
        events: list[Event],
        seq: int,
    ) -> list[Event]:
        """Match a taker (``events`` hold its acceptance, numbered up to ``seq``), then
        cancel what is left if self-trade prevention stopped it, else rest it (``rests``:
        a limit order) or cancel it as unfilled. Sets the book's sequence."""
        taker_stp = self._stp_default if stp is None else stp
        left, seq, stopped = self._match(
            side, order_id, owner, limit_key, qty, taker_stp, events, seq
        )
        if left:
            if stopped:
                seq += 1
                events.append((Cancelled, seq, order_id, left, C_STP))
            elif rests:
                seq = self._rest(order_id, owner, side, price, left, stp, post_only, events, seq)
            else:
                seq += 1
                events.append((Cancelled, seq, order_id, left, C_UNFILLED))
        self._seq = seq
        return events

    def _unlink(self, o: list[Any]) -> int:
        """Mark an indexed-out order record dead and take it off its level; return the total."""
        qty = o[0]
        o[0] = 0
        lvl = o[7]
        total = lvl.total - qty
        lvl.total = total
        if not total:
            # Nothing open is left: drop the dead records now, keep the level for reuse.
            lvl.queue.clear()
            lvl.dead = 0
        else:
            dead = lvl.dead + 1
            queue = lvl.queue
            if dead > _COMPACT_MIN_DEAD and dead + dead > len(queue):
                lvl.queue = deque([r for r in queue if r[0]])
                dead = 0
            lvl.dead = dead
        return total

    def _top(self, side: Side) -> int | None:
        """Key of ``side``'s best non-empty level (dropping empty ones on the way), or None."""
        if side is BUY:
            heap, levels = self._bid_heap, self._bids
        else:
            heap, levels = self._ask_heap, self._asks
        while heap:
            key = heap[0]
            lvl = levels[key]
            if lvl.total:
                return key
            heappop(heap)
            lvl.listed = False
        return None

    def _rest(
        self,
        order_id: Hashable,
        owner: Hashable,
        side: Side,
        price: int,
        qty: int,
        stp: StpMode | None,
        post_only: bool,
        events: list[Event],
        seq: int,
    ) -> int:
        if side is BUY:
            levels = self._bids
            key = -price
        else:
            levels = self._asks
            key = price
        lvl = levels.get(key)
        if lvl is None or not lvl.listed:
            lvl = self._list_level(side, key, price, lvl)
        o = [qty, order_id, owner, side, price, stp, post_only, lvl]
        lvl.queue.append(o)
        total = lvl.total + qty
        lvl.total = total
        self._orders[order_id] = o
        seq += 1
        events.append((BookChanged, seq, side, price, total))
        return seq

    def _list_level(self, side: Side, key: int, price: int, lvl: _Level | None) -> _Level:
        """Put the (empty) level at ``key`` into its side's heap, creating it if ``None``."""
        if side is BUY:
            levels, heap = self._bids, self._bid_heap
            if lvl is None and len(levels) >= self._bid_sweep_at:
                self._bid_sweep_at = self._sweep(levels, heap)
        else:
            levels, heap = self._asks, self._ask_heap
            if lvl is None and len(levels) >= self._ask_sweep_at:
                self._ask_sweep_at = self._sweep(levels, heap)
        if lvl is None:
            lvl = _Level(price)
            levels[key] = lvl
        heappush(heap, key)
        lvl.listed = True
        return lvl

    @staticmethod
    def _sweep(levels: dict[int, _Level], heap: list[int]) -> int:
        """Drop empty levels of one side and rebuild its heap; return the next threshold.

        Every level left has open orders, so it is (and stays) listed.
        """
        live = [key for key, lvl in levels.items() if lvl.total]
        for key in [key for key, lvl in levels.items() if not lvl.total]:
            del levels[key]
        heap[:] = live
        heapify(heap)
        return max(_SWEEP_MIN_LEVELS, 2 * len(live))

    def _fillable(
        self, side: Side, owner: Hashable, limit_key: int, qty: int, stp: StpMode
    ) -> bool:
        """Would a taker of ``qty`` up to ``limit_key`` fill completely (STP included)?"""
        if side is BUY:
            heap, levels = self._ask_heap, self._asks
        else:
            heap, levels = self._bid_heap, self._bids
        need = qty
        for key in sorted(k for k in heap if k <= limit_key):
            lvl = levels[key]
            if not lvl.total:
                continue
            if stp is STP_NONE:
                need -= lvl.total
            else:
                for o in lvl.queue:
                    mq = o[0]
                    if not mq:
                        continue
                    if o[2] == owner:
                        if stp is CANCEL_MAKER:
                            continue
                        return False
                    need -= mq
                    if need <= 0:
                        return True
            if need <= 0:
                return True
        return False

    def _match(
        self,
        side: Side,
        order_id: Hashable,
        owner: Hashable,
        limit_key: int | None,
        qty: int,
        stp: StpMode,
        events: list[Event],
        seq: int,
    ) -> tuple[int, int, bool]:
        """Match a taker of ``qty`` lots; return (lots left, last seq, stopped by STP)."""
        if side is BUY:
            heap, levels, maker_side = self._ask_heap, self._asks, SELL
        else:
            heap, levels, maker_side = self._bid_heap, self._bids, BUY
        orders = self._orders
        append = events.append
        market_id = self._market_id
        stopped = False
        while heap:
            key = heap[0]
            if limit_key is not None and key > limit_key:
                break
            lvl = levels[key]
            total = lvl.total
            if not total:
                heappop(heap)
                lvl.listed = False
                continue
            price = lvl.price
            queue = lvl.queue
            start = total
            while True:
                o = queue[0]
                mq = o[0]
                if not mq:
                    queue.popleft()
                    lvl.dead -= 1
                    continue
                if stp and o[2] == owner:
                    if stp is not CANCEL_TAKER:
                        queue.popleft()
                        o[0] = 0
                        del orders[o[1]]
                        total -= mq
                        seq += 1
                        append((Cancelled, seq, o[1], mq, C_STP))
                        if stp is CANCEL_MAKER:
                            if total:
                                continue
                            break
                    stopped = True
                    break
                if mq <= qty:
                    queue.popleft()
                    del orders[o[1]]
                    qty -= mq
                    total -= mq
                    fill = mq
                else:
                    o[0] = mq - qty
                    total -= qty
                    fill = qty
                    qty = 0
                seq += 1
                append(
                    (Trade, seq, market_id, o[1], order_id, o[2], owner, maker_side, price, fill)
                )
                if not qty or not total:
                    break
            lvl.total = total
            if total != start:
                seq += 1
                append((BookChanged, seq, maker_side, price, total))
            if not total:
                # Emptied: unlisted but kept (with no records) for the next order at its price.
                heappop(heap)
                lvl.listed = False
                if lvl.dead:
                    queue.clear()
                    lvl.dead = 0
            if stopped or not qty:
                break
        return qty, seq, stopped

    def _match_budget(
        self,
        order_id: Hashable,
        owner: Hashable,
        budget: int,
        stp: StpMode,
        events: list[Event],
        seq: int,
    ) -> tuple[int, int, bool]:
        """Market buy by quote budget; return (budget left, last seq, stopped by STP)."""
        heap, levels = self._ask_heap, self._asks
        orders = self._orders
        append = events.append
        market_id = self._market_id
        stopped = False
        while heap:
            key = heap[0]
            lvl = levels[key]
            total = lvl.total
            if not total:
                heappop(heap)
                lvl.listed = False
                continue
            price = lvl.price
            if budget < price:
                break
            queue = lvl.queue
            start = total
            while True:
                o = queue[0]
                mq = o[0]
                if not mq:
                    queue.popleft()
                    lvl.dead -= 1
                    continue
                if stp and o[2] == owner:
                    if stp is not CANCEL_TAKER:
                        queue.popleft()
                        o[0] = 0
                        del orders[o[1]]
                        total -= mq
                        seq += 1
                        append((Cancelled, seq, o[1], mq, C_STP))
                        if stp is CANCEL_MAKER:
                            if total:
                                continue
                            break
                    stopped = True
                    break
                can = budget // price
                if mq <= can:
                    queue.popleft()
                    del orders[o[1]]
                    fill = mq
                else:
                    o[0] = mq - can
                    fill = can
                total -= fill
                budget -= fill * price
                seq += 1
                append(
                    (Trade, seq, market_id, o[1], order_id, o[2], owner, SELL, price, fill)
                )
                if budget < price or not total:
                    break
            lvl.total = total
            if total != start:
                seq += 1
                append((BookChanged, seq, SELL, price, total))
            if not total:
                # Emptied: unlisted but kept (with no records) for the next order at its price.
                heappop(heap)
                lvl.listed = False
                if lvl.dead:
                    queue.clear()
                    lvl.dead = 0
            if stopped or budget < price:
                break
        return budget, seq, stopped

    # ------------------------------------------------------------------ queries

    @property
    def spec(self) -> MarketSpec:
        return self._spec

    @property
    def seq(self) -> int:
        """Sequence number of the last event emitted (0 before the first)."""
        return self._seq

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def best_bid(self) -> int | None:
        key = self._top(BUY)
        return None if key is None else -key

    def best_ask(self) -> int | None:
        return self._top(SELL)

    def order(self, order_id: Hashable) -> OrderView | None:
        o = self._orders.get(order_id)
        if o is None:
            return None
        return OrderView(o[1], o[2], o[3], o[4], o[0], o[5], o[6])

    def _levels_best_first(self, side: Side, limit: int | None = None) -> list[_Level]:
        levels = self._bids if side is BUY else self._asks
        keys = [k for k, lvl in levels.items() if lvl.total]
        keys = sorted(keys) if limit is None else nsmallest(limit, keys)
        return [levels[k] for k in keys]

    def depth(self, *, levels: int = 10) -> DepthSnapshot:
        """Top ``levels`` price levels per side, best first, and their ``depth_checksum``."""
        if type(levels) is not int or levels <= 0:  # noqa: E721
            raise ValueError(f"levels must be a positive int, got {levels!r}")
        bids = tuple((lvl.price, lvl.total) for lvl in self._levels_best_first(BUY, levels))
        asks = tuple((lvl.price, lvl.total) for lvl in self._levels_best_first(SELL, levels))
        return DepthSnapshot(self._seq, bids, asks, depth_checksum(bids, asks))

    def open_orders(self) -> Iterator[RestingOrder]:
        """Every open order: bids best first, then asks best first, each level in queue order."""
        for side in (BUY, SELL):
            for lvl in self._levels_best_first(side):
                for o in lvl.queue:
                    if o[0]:
                        yield RestingOrder(o[1], o[2], o[3], o[4], o[0], o[5], o[6])

    def state_hash(self) -> str:
        """SHA-256 over the market, the sequence number and every open order in priority order.

        Two books with equal hashes behave identically for any future command sequence.
        """
        spec = self._spec
        h = hashlib.sha256()
        h.update(
            repr(
                (spec.market_id, str(spec.tick_size), str(spec.lot_size), int(spec.stp_default))
            ).encode()
        )
        h.update(repr(self._seq).encode())
        for o in self.open_orders():
            stp = None if o.stp is None else int(o.stp)
            h.update(
                repr((o.order_id, o.owner, int(o.side), o.price, o.qty, stp, o.post_only)).encode()
            )
        return h.hexdigest()

    def snapshot(self) -> dict[str, Any]:
        """Plain data (JSON-ready when ids and owners are) that ``restore`` turns back into
        a book with the same ``state_hash``."""
        spec = self._spec
        return {
            "market_id": spec.market_id,
            "tick_size": str(spec.tick_size),
            "lot_size": str(spec.lot_size),
            "stp_default": int(spec.stp_default),
            "seq": self._seq,
            "orders": [
                [o.order_id, o.owner, int(o.side), o.price, o.qty,
                 None if o.stp is None else int(o.stp), o.post_only]
                for o in self.open_orders()
            ],
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> OrderBook:
        spec = MarketSpec(
            market_id=snapshot["market_id"],
            tick_size=Decimal(snapshot["tick_size"]),
            lot_size=Decimal(snapshot["lot_size"]),
            stp_default=StpMode(snapshot["stp_default"]),
        )
        orders = [
            RestingOrder(oid, owner, Side(side), price, qty,
                         None if stp is None else StpMode(stp), bool(post_only))
            for oid, owner, side, price, qty, stp, post_only in snapshot["orders"]
        ]
        return cls.rebuild(spec=spec, orders=orders, seq=snapshot["seq"])

    @classmethod
    def rebuild(
        cls, *, spec: MarketSpec, orders: Iterable[RestingOrder], seq: int = 0
    ) -> OrderBook:
        """A book holding ``orders`` (given in time priority), emitting no events.

        Raises ``CrossedBookError`` if an order is malformed or duplicated, or if the result
        would be crossed: open orders from a store must never be able to match each other.
        """
        book = cls(spec, seq=seq)
        for entry in orders:
            o = RestingOrder(*entry)
            if o.side not in (BUY, SELL):
                raise CrossedBookError(f"order {o.order_id!r}: bad side {o.side!r}")
            if not _is_count(o.price) or not _is_count(o.qty):
                raise CrossedBookError(f"order {o.order_id!r}: price and qty must be > 0 ints")
            if o.order_id in book._orders:
                raise CrossedBookError(f"order {o.order_id!r} appears twice")
            stp = None if o.stp is None else StpMode(o.stp)
            book._rest(o.order_id, o.owner, Side(o.side), o.price, o.qty, stp,
                       bool(o.post_only), [], 0)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise CrossedBookError(f"crossed book: best bid {bid} >= best ask {ask}")
        return book

    def validate_internal_state(self) -> None:
        """Check every invariant of the module docstring; raise ``InternalStateError``."""
        def fail(msg: str) -> None:
            raise InternalStateError(f"{self._market_id}: {msg}")

        seen = 0
        for side, levels, heap in (
            (BUY, self._bids, self._bid_heap),
            (SELL, self._asks, self._ask_heap),
        ):
            listed = [key for key, lvl in levels.items() if lvl.listed]
            if sorted(heap) != sorted(listed) or len(set(heap)) != len(heap):
                fail(f"{side.name} heap and listed level keys differ")
            for i in range(1, len(heap)):
                if heap[(i - 1) // 2] > heap[i]:
                    fail(f"{side.name} heap order broken at {i}")
            for key, lvl in levels.items():
                if key != (-lvl.price if side is BUY else lvl.price):
                    fail(f"{side.name} level {lvl.price} under key {key}")
                if lvl.total and not lvl.listed:
                    fail(f"{side.name} level {lvl.price} has open orders but is not listed")
                if not lvl.listed and lvl.queue:
                    fail(f"{side.name} unlisted level {lvl.price} still holds records")
                live = [o for o in lvl.queue if o[0]]
                if sum(o[0] for o in live) != lvl.total:
                    fail(f"{side.name} level {lvl.price} total {lvl.total} != open sum")
                if len(lvl.queue) - len(live) != lvl.dead:
                    fail(f"{side.name} level {lvl.price} dead count {lvl.dead} is wrong")
                for o in live:
                    if o[0] < 0 or self._orders.get(o[1]) is not o:
                        fail(f"order {o[1]!r} at {lvl.price} is not indexed")
                    if o[3] is not side or o[4] != lvl.price or o[7] is not lvl:
                        fail(f"order {o[1]!r} is on the wrong level")
                seen += len(live)
        if seen != len(self._orders):
            fail(f"{len(self._orders)} indexed orders but {seen} in queues")
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            fail(f"crossed at rest: bid {bid} >= ask {ask}")
