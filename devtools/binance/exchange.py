"""The emulated exchange's state: one account, its orders and trades, and each symbol's
simulated outside liquidity. Synchronous and I/O-free; the server calls it on one loop.

Matching rules (what tests can rely on):

* An incoming order takes only the **outside book** (the levels set by :meth:`set_book` or
  the random walk), best price first, at each level's price; a level smaller than the order
  fills it partially and is used up. The account's own resting orders are not in the depth
  and never match each other.
* A resting LIMIT order fills later, as maker at its own price, when :meth:`set_book` puts
  outside liquidity through it (up to that liquidity) or :meth:`print_trade` prints a trade
  at or through its price (up to the printed quantity, all of it when none is given).
* LIMIT ``GTC`` rests what it could not fill, ``IOC`` expires it, ``FOK`` expires entirely
  unless the whole quantity fills at once; MARKET expires what the book could not fill;
  LIMIT_MAKER is rejected when it would take. STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT wait
  (status NEW) until a print reaches ``stopPrice``, then act as a GTC LIMIT.
* Funds: a BUY locks ``price * quantity`` of the quote (a MARKET order what its fills cost),
  a SELL its quantity of the base; a price better than the limit refunds the difference.
  The commission is taken from what the order receives (base for a BUY, quote for a SELL).
* ``newClientOrderId`` must be unique among the account's **open** orders (Binance's rule):
  reusing the id of an open order is "Duplicate order sent."; with
  ``unique_client_ids="all"`` every id ever used is refused the same way.
"""

from __future__ import annotations

import copy
import itertools
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from .markets import Perpetual, SpotSymbol, default_balances, default_perpetuals, default_spot

EIGHT = Decimal("0.00000001")
CLIENT_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
DECIMAL_PARAM = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
OPEN = ("NEW", "PARTIALLY_FILLED")

Level = tuple[Decimal, Decimal]


class BinanceError(Exception):
    """A Binance error reply: ``{"code": code, "msg": msg}`` with ``http_status``."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
DUPLICATE_ORDER = "Duplicate order sent."
WOULD_TAKE = "Order would immediately match and take."


def _mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def decimal_param(params: Mapping[str, str], name: str, *, required: bool = False
                  ) -> Decimal | None:
    """A decimal request parameter, checked against Binance's pattern (-1100 otherwise)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise _mandatory(name)
        return None
    if not DECIMAL_PARAM.match(raw):
        raise BinanceError(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is "
            "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    return Decimal(raw)


def int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal "
                           "range is '^[0-9]{1,20}$'.")
    return int(raw)


@dataclass
class Fill:
    """One of the account's trades (Binance's ``myTrades`` entry, and ``fills`` in FULL)."""

    id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass
class Order:
    """One order of the account, in Binance's terms."""

    order_id: int
    symbol: str
    client_order_id: str
    side: Literal["BUY", "SELL"]
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    stop_price: Decimal
    time: int
    status: str = "NEW"
    executed_qty: Decimal = Decimal(0)
    cumm_quote_qty: Decimal = Decimal(0)
    update_time: int = 0
    working_time: int = -1
    # What is still locked for this order, in the quote (BUY) or base (SELL) asset.
    hold: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass(frozen=True)
class OrderEvent:
    """One change of an order: the order as it was then, Binance's execution type (NEW,
    TRADE, CANCELED, EXPIRED), the fill of a TRADE, the cancel's client id of a CANCELED."""

    order: Order
    exec_type: str
    fill: Fill | None
    cancel_id: str | None


@dataclass
class Book:
    """A symbol's outside liquidity and its 24-hour statistics (since start, here)."""

    spec: SpotSymbol
    bids: list[list[Decimal]] = field(default_factory=list)  # [price, qty], best first
    asks: list[list[Decimal]] = field(default_factory=list)
    update_id: int = 1
    last: Decimal = Decimal(0)
    last_qty: Decimal = Decimal(0)
    open: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    low: Decimal = Decimal(0)
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    count: int = 0
    first_trade_id: int = -1
    last_trade_id: int = -1
    open_time: int = 0
    close_time: int = 0

    def side(self, side: str) -> list[list[Decimal]]:
        """The levels an order of ``side`` takes (asks for a BUY)."""
        return self.asks if side == "BUY" else self.bids

    def best_bid(self) -> Level | None:
        return (self.bids[0][0], self.bids[0][1]) if self.bids else None

    def best_ask(self) -> Level | None:
        return (self.asks[0][0], self.asks[0][1]) if self.asks else None


@dataclass(frozen=True)
class PublicTrade:
    """A print on a symbol's tape (the account's fills and outside trades alike)."""

    id: int
    symbol: str
    price: Decimal
    qty: Decimal
    time: int
    buyer_is_maker: bool


def crosses(side: str, limit: Decimal | None, level_price: Decimal) -> bool:
    """Whether an order of ``side`` with ``limit`` (None: market) takes a level's price."""
    if limit is None:
        return True
    return level_price <= limit if side == "BUY" else level_price >= limit


class Exchange:
    """The account, its orders, and the symbols' books. All amounts are ``Decimal``.

    Every mutating method leaves the affected symbols in :attr:`touched`, the orders'
    changes in :attr:`order_events` and the assets it moved in :attr:`balance_events`, for
    the server to publish; the server drains them right after each call.
    """

    def __init__(self, *, spot: Iterable[SpotSymbol] | None = None,
                 perpetuals: Iterable[Perpetual] | None = None,
                 balances: Mapping[str, Decimal] | None = None,
                 maker_fee: Decimal = Decimal("0.001"), taker_fee: Decimal = Decimal("0.001"),
                 unique_client_ids: Literal["open", "all"] = "open",
                 clock: Callable[[], float] = time.time, first_order_id: int = 1000) -> None:
        self.clock = clock
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.unique_client_ids = unique_client_ids
        self.perpetuals = tuple(perpetuals if perpetuals is not None else default_perpetuals())
        now = self.now_ms()
        self.books: dict[str, Book] = {}
        for spec in spot if spot is not None else default_spot():
            self.books[spec.symbol] = Book(spec, last=spec.initial_price,
                                           open=spec.initial_price, high=spec.initial_price,
                                           low=spec.initial_price, open_time=now,
                                           close_time=now)
        self.free: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}
        for asset, amount in (balances if balances is not None else default_balances()).items():
            self.free[asset] = Decimal(amount)
            self.locked[asset] = Decimal(0)
        self.orders: dict[int, Order] = {}
        self.fills: list[Fill] = []
        self.tape: dict[str, list[PublicTrade]] = {symbol: [] for symbol in self.books}
        self._order_ids = itertools.count(first_order_id)
        self._trade_ids = itertools.count(1)
        self._random_ids = itertools.count(1)
        self.touched: set[str] = set()
        self.order_events: list[OrderEvent] = []
        self.balance_events: set[str] = set()

    # -- reading ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def book(self, symbol: str | None) -> Book:
        """The symbol's book; -1121 for an unknown symbol, -1102 for none."""
        if not symbol:
            raise _mandatory("symbol")
        book = self.books.get(symbol)
        if book is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return book

    def find_order(self, params: Mapping[str, str], *, unknown: BinanceError) -> Order:
        """The order named by ``orderId`` or ``origClientOrderId`` (the latest with it)."""
        book = self.book(params.get("symbol"))
        order_id = int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                               "but both were empty/null!")
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None or order.symbol != book.spec.symbol or (
                    client_id is not None and order.client_order_id != client_id):
                raise unknown
            return order
        for order in reversed(self.orders.values()):
            if order.symbol == book.spec.symbol and order.client_order_id == client_id:
                return order
        raise unknown

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Each asset's (free, locked)."""
        return {asset: (self.free[asset], self.locked[asset]) for asset in sorted(self.free)}

    # -- account control -------------------------------------------------------------------

    def set_balance(self, asset: str, free: Decimal) -> None:
        """Sets an asset's free amount (locked amounts stay with their orders)."""
        self.free[asset] = Decimal(free)
        self.locked.setdefault(asset, Decimal(0))
        self.balance_events.add(asset)

    def _credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, Decimal(0)) + amount
        self.locked.setdefault(asset, Decimal(0))
        self.balance_events.add(asset)

    def _lock(self, asset: str, amount: Decimal) -> None:
        self.free[asset] -= amount
        self.locked[asset] += amount
        self.balance_events.add(asset)

    def _unlock(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount
        self.free[asset] += amount
        self.balance_events.add(asset)

    # -- outside market --------------------------------------------------------------------

    def set_book(self, symbol: str, bids: Iterable[tuple[Decimal, Decimal]],
                 asks: Iterable[tuple[Decimal, Decimal]]) -> None:
        """Replaces the outside levels, then lets them fill the resting orders they cross."""
        book = self.book(symbol)
        book.bids = sorted(([Decimal(p), Decimal(q)] for p, q in bids if Decimal(q) > 0),
                           key=lambda level: -level[0])
        book.asks = sorted(([Decimal(p), Decimal(q)] for p, q in asks if Decimal(q) > 0),
                           key=lambda level: level[0])
        self.touched.add(book.spec.symbol)
        for order in self._resting(book.spec.symbol):
            levels = book.side(order.side)
            while order.is_open and levels and crosses(order.side, order.price, levels[0][0]):
                qty = min(order.remaining, levels[0][1])
                self._fill(order, book, order.price, qty, maker=True)
                levels[0][1] -= qty
                if levels[0][1] == 0:
                    levels.pop(0)

    def print_trade(self, symbol: str, price: Decimal, qty: Decimal | None = None) -> None:
        """An outside trade at ``price``: it triggers stop orders and fills resting orders
        at or through it (maker, at their own price), up to ``qty`` in all (None: all)."""
        book = self.book(symbol)
        price = Decimal(price)
        left = None if qty is None else Decimal(qty)
        self._trigger_stops(book, price)
        for order in self._resting(book.spec.symbol):
            if left is not None and left <= 0:
                break
            if not crosses(order.side, order.price, price):
                continue
            fill_qty = order.remaining if left is None else min(order.remaining, left)
            self._fill(order, book, order.price, fill_qty, maker=True)
            if left is not None:
                left -= fill_qty
        outside_qty = qty if qty is not None else Decimal(0)
        self._record_print(book, price, Decimal(outside_qty), buyer_is_maker=False)

    def _trigger_stops(self, book: Book, price: Decimal) -> None:
        for order in list(self.orders.values()):
            if (order.symbol != book.spec.symbol or order.status != "NEW"
                    or order.working_time != -1):
                continue
            below = price <= order.stop_price
            # A stop-loss triggers when the price falls to (sell) / rises to (buy) its stop;
            # a take-profit the other way round.
            falling = order.side == "SELL" if order.type == "STOP_LOSS_LIMIT" else \
                order.side == "BUY"
            if (falling and below) or (not falling and price >= order.stop_price):
                order.working_time = self.now_ms()
                order.update_time = order.working_time
                # Now a LIMIT order: it takes what the book offers within its price first.
                self._take(order, book, self._plan(book, order, triggered=True))

    def _resting(self, symbol: str) -> list[Order]:
        """Working open orders of a symbol in price-time priority per side."""
        working = [o for o in self.orders.values()
                   if o.symbol == symbol and o.is_open and o.working_time != -1
                   and o.type in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT",
                                  "TAKE_PROFIT_LIMIT")]
        buys = sorted((o for o in working if o.side == "BUY"),
                      key=lambda o: (-o.price, o.order_id))
        sells = sorted((o for o in working if o.side == "SELL"),
                       key=lambda o: (o.price, o.order_id))
        return buys + sells

    def _record_print(self, book: Book, price: Decimal, qty: Decimal,
                      buyer_is_maker: bool) -> PublicTrade:
        trade = PublicTrade(next(self._trade_ids), book.spec.symbol, price, qty, self.now_ms(),
                            buyer_is_maker)
        book.last = price
        book.last_qty = qty
        book.high = max(book.high, price)
        book.low = min(book.low, price)
        book.volume += qty
        book.quote_volume += price * qty
        book.count += 1
        if book.first_trade_id == -1:
            book.first_trade_id = trade.id
        book.last_trade_id = trade.id
        book.close_time = trade.time
        tape = self.tape[book.spec.symbol]
        tape.append(trade)
        del tape[:-1000]
        self.touched.add(book.spec.symbol)
        return trade

    # -- orders ----------------------------------------------------------------------------

    def new_client_id(self, prefix: str = "emu") -> str:
        return f"{prefix}{next(self._random_ids):020d}"

    def place(self, params: Mapping[str, str]) -> Order:
        """``POST /api/v3/order``: validates like Binance, then matches. Raises
        :class:`BinanceError` with nothing changed when the order is refused."""
        book = self.book(params.get("symbol"))
        spec = book.spec
        side = params.get("side") or ""
        if not side:
            raise _mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        order_type = params.get("type") or ""
        if not order_type:
            raise _mandatory("type")
        if order_type not in ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "TAKE_PROFIT",
                              "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        if order_type not in spec.order_types:
            raise BinanceError(-2010, "Unsupported order combination")
        client_id = params.get("newClientOrderId") or self.new_client_id()
        if not CLIENT_ID.match(client_id):
            raise BinanceError(-1100, "Illegal characters found in parameter "
                               "'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.")
        quantity = decimal_param(params, "quantity")
        quote_qty = decimal_param(params, "quoteOrderQty")
        price = decimal_param(params, "price")
        stop_price = decimal_param(params, "stopPrice")
        tif = params.get("timeInForce") or ""
        limit_like = order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
        if order_type == "MARKET":
            if (quantity is None) == (quote_qty is None):
                raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, "
                                   "but both were empty/null!")
            if tif:
                raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
        else:
            if quantity is None:
                raise _mandatory("quantity")
            if price is None:
                raise _mandatory("price")
            if limit_like and not tif:
                raise _mandatory("timeInForce")
            if tif and tif not in ("GTC", "IOC", "FOK"):
                raise BinanceError(-1115, "Invalid timeInForce.")
            if order_type == "LIMIT_MAKER" and tif:
                raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
            if order_type.endswith("_LIMIT") and stop_price is None:
                raise _mandatory("stopPrice")
        self._check_filters(book, price, quantity, quote_qty)
        if self._client_id_taken(spec.symbol, client_id):
            raise BinanceError(-2010, DUPLICATE_ORDER)

        now = self.now_ms()
        order = Order(
            order_id=0, symbol=spec.symbol, client_order_id=client_id, side=side,  # type: ignore[arg-type]
            type=order_type, time_in_force=tif or "GTC", price=price or Decimal(0),
            orig_qty=quantity or Decimal(0), orig_quote_qty=quote_qty or Decimal(0),
            stop_price=stop_price or Decimal(0), time=now, update_time=now, working_time=now)
        plan = self._plan(book, order)
        hold_asset = spec.quote if side == "BUY" else spec.base
        hold = self._hold_for(order, plan)
        if self.free.get(hold_asset, Decimal(0)) < hold:
            raise BinanceError(-2010, INSUFFICIENT_BALANCE)
        if order_type == "LIMIT_MAKER" and plan:
            raise BinanceError(-2010, WOULD_TAKE)

        order.order_id = next(self._order_ids)
        self.orders[order.order_id] = order
        order.hold = hold
        self._lock(hold_asset, hold)
        if order_type.endswith("_LIMIT"):
            order.working_time = -1  # waits for its stop price
        self._event(order, "NEW")
        if order_type == "LIMIT" and tif == "FOK" and sum(q for _, q in plan) < order.orig_qty:
            self._expire(order)
            return order
        self._take(order, book, plan)
        if order_type == "MARKET":
            if order.orig_qty == 0:  # quoteOrderQty: the quantity is what it bought
                order.orig_qty = order.executed_qty
            if order.executed_qty == 0 or self._market_ran_dry(book, order):
                self._expire(order)
            elif order.is_open:
                self._close(order, "FILLED")
        elif order.is_open and order.time_in_force == "IOC":
            self._expire(order)
        return order

    def _take(self, order: Order, book: Book, plan: list[Level]) -> None:
        """Fills ``order`` as taker against the outside levels ``plan`` names."""
        levels = book.side(order.side)
        for level_price, qty in plan:
            self._fill(order, book, level_price, qty, maker=False)
            levels[0][1] -= qty
            if levels[0][1] == 0:
                levels.pop(0)

    def _event(self, order: Order, exec_type: str, fill: Fill | None = None,
               cancel_id: str | None = None) -> None:
        """Records the order as it is now, for the user data stream's executionReport."""
        self.order_events.append(OrderEvent(copy.copy(order), exec_type, fill, cancel_id))

    def _expire(self, order: Order) -> None:
        self._close(order, "EXPIRED")
        self._event(order, "EXPIRED")

    def _client_id_taken(self, symbol: str, client_id: str) -> bool:
        for order in self.orders.values():
            if order.client_order_id == client_id and (
                    order.is_open or self.unique_client_ids == "all"):
                return True
        return False

    def _check_filters(self, book: Book, price: Decimal | None, quantity: Decimal | None,
                       quote_qty: Decimal | None) -> None:
        spec = book.spec
        if price is not None:
            if price < spec.min_price or price > spec.max_price or price % spec.tick_size:
                raise BinanceError(-1013, "Filter failure: PRICE_FILTER")
        if quantity is not None:
            if quantity < spec.min_qty or quantity > spec.max_qty or quantity % spec.step_size:
                raise BinanceError(-1013, "Filter failure: LOT_SIZE")
        reference = price if price is not None else book.last
        notional = quote_qty if quote_qty is not None else (quantity or 0) * reference
        if notional < spec.min_notional or (price is not None and notional > spec.max_notional):
            raise BinanceError(-1013, "Filter failure: NOTIONAL")

    def _plan(self, book: Book, order: Order, *, triggered: bool = False) -> list[Level]:
        """The outside levels an incoming (or just triggered) order would take now, as
        (price, qty); a stop order waiting for its stop takes nothing."""
        if order.type in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and not triggered:
            return []
        limit = None if order.type == "MARKET" else order.price
        step = book.spec.step_size
        plan: list[Level] = []
        want = order.orig_qty - order.executed_qty
        budget = order.orig_quote_qty
        for level_price, level_qty in book.side(order.side):
            if not crosses(order.side, limit, level_price):
                break
            if order.orig_qty:
                qty = min(want, level_qty)
                want -= qty
            else:
                affordable = (budget / level_price).quantize(step, ROUND_DOWN)
                qty = min(affordable, level_qty)
                budget -= qty * level_price
            if qty <= 0:
                break
            plan.append((level_price, qty))
            if order.orig_qty and want == 0:
                break
            if not order.orig_qty and qty < level_qty:
                break
        return plan

    def _hold_for(self, order: Order, plan: list[Level]) -> Decimal:
        if order.side == "SELL":
            return order.orig_qty if order.orig_qty else sum(q for _, q in plan)
        if order.type == "MARKET":
            return sum(p * q for p, q in plan)
        return order.price * order.orig_qty

    def _market_ran_dry(self, book: Book, order: Order) -> bool:
        if order.orig_quote_qty:
            # Whatever quote is left could still buy a step at the next level: none left.
            return not book.side(order.side) and \
                order.orig_quote_qty - order.cumm_quote_qty >= book.last * book.spec.step_size
        return order.executed_qty < order.orig_qty

    def _fill(self, order: Order, book: Book, price: Decimal, qty: Decimal, *,
              maker: bool) -> Fill:
        spec = book.spec
        quote = price * qty
        rate = self.maker_fee if maker else self.taker_fee
        if order.side == "BUY":
            commission_asset = spec.base
            commission = (qty * rate).quantize(EIGHT, ROUND_HALF_UP)
            reserved = quote if order.type == "MARKET" else order.price * qty
            self.locked[spec.quote] -= reserved
            self.free[spec.quote] += reserved - quote
            self._credit(spec.base, qty - commission)
        else:
            commission_asset = spec.quote
            commission = (quote * rate).quantize(EIGHT, ROUND_HALF_UP)
            reserved = qty
            self.locked[spec.base] -= qty
            self._credit(spec.quote, quote - commission)
        order.hold -= reserved
        trade = self._record_print(book, price, qty, buyer_is_maker=(order.side == "BUY") == maker)
        fill = Fill(trade.id, order.order_id, spec.symbol, price, qty, quote, commission,
                    commission_asset, trade.time, order.side == "BUY", maker)
        order.fills.append(fill)
        self.fills.append(fill)
        order.executed_qty += qty
        order.cumm_quote_qty += quote
        order.update_time = trade.time
        if order.orig_qty and order.executed_qty == order.orig_qty:
            self._close(order, "FILLED")
        else:
            order.status = "PARTIALLY_FILLED"
        self.balance_events.update((spec.base, spec.quote))
        self._event(order, "TRADE", fill)
        return fill

    def _close(self, order: Order, status: str) -> None:
        """Ends an order, releasing what it still holds."""
        spec = self.books[order.symbol].spec
        if order.hold:
            self._unlock(spec.quote if order.side == "BUY" else spec.base, order.hold)
            order.hold = Decimal(0)
        order.status = status
        order.update_time = self.now_ms()

    def cancel(self, params: Mapping[str, str]) -> tuple[Order, str]:
        """``DELETE /api/v3/order``: -2011 unless the order is open. Returns the order and
        the cancel's own client id (``newClientOrderId``, or one made up)."""
        unknown = BinanceError(-2011, "Unknown order sent.")
        order = self.find_order(params, unknown=unknown)
        if not order.is_open:
            raise unknown
        cancel_id = params.get("newClientOrderId") or self.new_client_id("cancel")
        self._close(order, "CANCELED")
        self._event(order, "CANCELED", cancel_id=cancel_id)
        return order, cancel_id

    def open_orders(self, symbol: str | None) -> list[Order]:
        if symbol is not None:
            self.book(symbol)
        return [o for o in self.orders.values()
                if o.is_open and (symbol is None or o.symbol == symbol)]

    def all_orders(self, params: Mapping[str, str]) -> list[Order]:
        symbol = self.book(params.get("symbol")).spec.symbol
        from_id = int_param(params, "orderId")
        start = int_param(params, "startTime")
        end = int_param(params, "endTime")
        limit = min(int_param(params, "limit") or 500, 1000)
        found = [o for o in self.orders.values() if o.symbol == symbol
                 and (from_id is None or o.order_id >= from_id)
                 and (start is None or o.time >= start) and (end is None or o.time <= end)]
        return found[:limit] if from_id is not None or start is not None else found[-limit:]

    def my_trades(self, params: Mapping[str, str]) -> list[Fill]:
        symbol = self.book(params.get("symbol")).spec.symbol
        order_id = int_param(params, "orderId")
        from_id = int_param(params, "fromId")
        start = int_param(params, "startTime")
        end = int_param(params, "endTime")
        limit = min(int_param(params, "limit") or 500, 1000)
        found = [f for f in self.fills if f.symbol == symbol
                 and (order_id is None or f.order_id == order_id)
                 and (from_id is None or f.id >= from_id)
                 and (start is None or f.time >= start) and (end is None or f.time <= end)]
        ascending = from_id is not None or start is not None
        return found[:limit] if ascending else found[-limit:]


def parse_levels(levels: Iterable[Iterable[object]]) -> list[Level]:
    """``[[price, qty], ...]`` from JSON or Python into Decimals (ValueError when bad)."""
    parsed: list[Level] = []
    for level in levels:
        price, qty = (Decimal(str(value)) for value in level)
        if not price.is_finite() or not qty.is_finite() or price <= 0 or qty < 0:
            raise ValueError(f"bad level {level!r}")
        parsed.append((price, qty))
    return parsed


def as_decimal(value: object) -> Decimal:
    """A control API number (str, int or Decimal; JSON floats come in as str) as Decimal."""
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result
