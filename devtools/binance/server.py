"""The emulator's asyncio server: Binance spot REST and WebSocket streams on one port.

One aiohttp application serves

* ``/api/v3/*`` (public and HMAC-SHA256 signed), ``/fapi/v1/exchangeInfo`` (USDT
  perpetuals), ``/dapi/v1/exchangeInfo`` (none) and the ``/sapi/v1`` calls ``load_markets``
  makes with a key (empty lists), in the shapes ``ccxt`` 4.5.90 parses;
* market streams on any path under ``/ws`` and ``/stream`` (``SUBSCRIBE`` / ``UNSUBSCRIBE``
  / ``LIST_SUBSCRIPTIONS``; payloads wrapped as ``{"stream", "data"}`` on the combined
  endpoint ``/stream?streams=a/b``, raw elsewhere; ``/ws/<listenKey>`` is the listen-key
  user data stream);
* the WebSocket API at ``/ws-api/v3`` for ccxt.pro's ``userDataStream.subscribe.signature``
  (``executionReport`` and ``outboundAccountPosition`` events);
* a control API under ``/_control/`` (loopback clients only, no key) for tests in another
  process and for ``make run``.

The same controls are coroutine methods of :class:`Emulator` for code on its loop;
:mod:`.runner` wraps them for other threads.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import WSCloseCode, WSMsgType, web

from . import wire
from .exchange import (
    BinanceError,
    Exchange,
    PublicTrade,
    as_decimal,
    int_param,
    parse_levels,
)
from .markets import Perpetual, SpotSymbol

logger = logging.getLogger(__name__)

MAX_RECV_WINDOW = 60000
BAN_MSG = ("Way too many requests; IP(127.0.0.1) banned until {until}. Please use the "
           "websocket for live updates to avoid bans.")
RATE_MSG = ("Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. "
            "Please use the websocket for live updates to avoid polling the API.")
STREAM_NAME = re.compile(
    r"^(?P<symbol>[a-z0-9]+)@(?P<kind>ticker|miniTicker|bookTicker|trade|"
    r"depth(?P<levels>5|10|20)?(@(?:100|1000)ms)?)$")
ALL_STREAMS = ("!miniTicker@arr", "!ticker@arr")


class Fault(enum.StrEnum):
    """What :meth:`Emulator.inject` can do to the next matching REST requests.

    * ``TIMEOUT``: the request is applied (an order IS placed), but the answer is held back
      for ``delay`` seconds (default 60), past any client timeout.
    * ``LOST``: the request never arrives: nothing is applied and no answer comes.
    * ``DUPLICATE``: the request is delivered twice (a retry that raced its original); the
      client gets the second answer, for a new order "Duplicate order sent." (-2010) although
      the first delivery placed it. Binance refuses a client id only while its order is
      open, so an order that closed at once (MARKET, IOC, FOK, filled) is placed twice
      unless ``EmulatorConfig(unique_client_ids="all")``, as a blind retry would be.
    * ``SERVER_ERROR``: HTTP ``status`` (default 503) with a gateway's HTML body; applied
      first when ``applied=True`` (Binance: a 5xx means "execution status unknown").
    * ``RATE_LIMIT``: HTTP 429, -1003, ``Retry-After``; nothing applied.
    * ``IP_BAN``: HTTP 418, -1003, ``Retry-After``; nothing applied.
    """

    TIMEOUT = "timeout"
    LOST = "lost"
    DUPLICATE = "duplicate"
    SERVER_ERROR = "5xx"
    RATE_LIMIT = "429"
    IP_BAN = "418"


@dataclass
class FaultRule:
    """One injected fault: which requests it hits and how many more times."""

    fault: Fault
    endpoint: str | None = None  # "POST /api/v3/order", "/api/v3/order" or None (any)
    count: int | None = 1  # None: until cleared
    probability: float | None = None  # each matching request, with the seeded generator
    delay: float = 60.0
    status: int = 503
    retry_after: int = 1
    applied: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.endpoint is None:
            return True
        if " " in self.endpoint:
            return self.endpoint == f"{method} {path}"
        return self.endpoint == path


@dataclass(frozen=True)
class EmulatorConfig:
    """How to run the emulator.

    ``port=0`` binds an ephemeral port. ``interval`` is the seconds between random-walk
    steps (``paused`` starts with the walk stopped: prices then move only through the
    control API, what tests want). ``push_interval`` is how often the ticker, mini ticker,
    book ticker and partial depth streams repeat their latest state, as Binance's do.
    ``unique_client_ids``: "open" (Binance's rule) or "all" (any reused id is a duplicate).
    ``check_timestamp``: refuse signed requests outside ``recvWindow`` (-1021).
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = "emulator-key"
    api_secret: str = "emulator-secret"
    seed: int = 42
    interval: float = 1.0
    paused: bool = False
    push_interval: float = 1.0
    spot: tuple[SpotSymbol, ...] | None = None
    perpetuals: tuple[Perpetual, ...] | None = None
    balances: Mapping[str, Decimal] | None = None
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    unique_client_ids: Literal["open", "all"] = "open"
    check_timestamp: bool = True
    clock: Callable[[], float] = time.time


@dataclass(eq=False)
class Subscriber:
    """One WebSocket connection: its market streams, or its user data subscription."""

    ws: web.WebSocketResponse
    wrap: bool
    streams: set[str] = field(default_factory=set)
    user_subscription: int | None = None  # ws-api: events go as {"subscriptionId", "event"}
    listen_key: str | None = None  # /ws/<listenKey>: raw events
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


Params = Mapping[str, str]
Handler = Callable[[Params, web.Request], Any]


class Emulator:
    """Binance spot on a loopback port, over an account and simulated outside liquidity."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.exchange = Exchange(
            spot=self.config.spot, perpetuals=self.config.perpetuals,
            balances=self.config.balances, maker_fee=self.config.maker_fee,
            taker_fee=self.config.taker_fee, unique_client_ids=self.config.unique_client_ids,
            clock=self.config.clock)
        self.random = random.Random(self.config.seed)  # noqa: S311 (a replayable walk)
        self.paused = self.config.paused
        self.subscribers: set[Subscriber] = set()
        self.faults: list[FaultRule] = []
        self.listen_keys: set[str] = set()
        self.requests: Counter[str] = Counter()
        self.faults_hit: Counter[str] = Counter()
        self.ws_restarts = 0
        self.ws_accepted = 0
        self._published: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        self._tape_published: dict[str, int] = {}
        self._user_ids = 0
        self._weight: tuple[int, int] = (0, 0)  # (minute, requests in it)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._port = 0
        self._seed_books()
        self.app = self._build_app()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:P``: replaces ``https://api.binance.com`` (and fapi, dapi)."""
        return f"http://{self.config.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """For ccxt.pro's ``urls["api"]["ws"]["spot"]`` (it appends ``/<n>``)."""
        return f"ws://{self.config.host}:{self._port}/stream/ws"

    @property
    def ws_api_url(self) -> str:
        """For ccxt.pro's ``urls["api"]["ws"]["ws-api"]["spot"]`` (user data stream)."""
        return f"ws://{self.config.host}:{self._port}/ws-api/v3"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._tasks = [asyncio.create_task(self._walk()), asyncio.create_task(self._pusher())]
        logger.info("Binance emulator on %s (streams %s, seed %s, walk every %ss%s)",
                    self.base_url, self.ws_url, self.config.seed, self.config.interval,
                    ", paused" if self.paused else "")

    async def stop(self) -> None:
        self._closing.set()  # releases withheld answers
        for task in self._tasks:
            task.cancel()
        await self.restart_ws()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _walk(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval)
            if not self.paused:
                await self.step()

    async def _pusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.push_interval)
            self._push_snapshots()

    # -- control API (run these on the emulator's loop) --------------------------------

    async def set_book(self, symbol: str, bids: Iterable[Iterable[object]],
                       asks: Iterable[Iterable[object]]) -> None:
        """Replaces a symbol's outside levels (``[[price, qty], ...]``); resting orders they
        cross fill against them at the orders' prices."""
        self.exchange.set_book(symbol, parse_levels(bids), parse_levels(asks))
        self._publish()

    async def set_price(self, symbol: str, price: Decimal | str,
                        qty: Decimal | str | None = None) -> None:
        """An outside trade at ``price`` (the ticker's last): stop orders at it trigger and
        resting orders at or through it fill, up to ``qty`` in all (None: entirely)."""
        self.exchange.print_trade(symbol, as_decimal(price),
                                  None if qty is None else as_decimal(qty))
        self._publish()

    async def step(self, count: int = 1) -> None:
        """Runs ``count`` random-walk steps now (also while paused): each symbol's mid moves,
        its book is rebuilt around it and a trade prints at the mid."""
        for _ in range(count):
            for symbol, book in self.exchange.books.items():
                spec = book.spec
                move = Decimal(self.random.randint(-20, 20)) / 10000
                mid = (book.last * (1 + move)).quantize(spec.tick_size, ROUND_HALF_EVEN)
                mid = max(mid, spec.tick_size * 20)
                bids, asks = self._levels_around(spec, mid)
                self.exchange.set_book(symbol, bids, asks)
                qty = spec.step_size * self.random.randint(1, 1000)
                self.exchange.print_trade(symbol, mid, qty)
            self._publish()

    def _levels_around(self, spec: SpotSymbol, mid: Decimal
                       ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Five synthetic levels a side, a few ticks apart, with seeded sizes."""
        gap = max(spec.tick_size, (mid / 10000).quantize(spec.tick_size))
        notional = spec.min_notional * 200
        size = max(spec.min_qty, (notional / mid).quantize(spec.step_size))
        bids, asks = [], []
        for k in range(1, 6):
            bids.append((mid - gap * k, size * self.random.randint(1, 10)))
            asks.append((mid + gap * k, size * self.random.randint(1, 10)))
        return bids, asks

    def _seed_books(self) -> None:
        for symbol, book in self.exchange.books.items():
            bids, asks = self._levels_around(book.spec, book.last)
            self.exchange.set_book(symbol, bids, asks)
        self._publish()

    async def pause(self) -> None:
        self.paused = True

    async def resume(self) -> None:
        self.paused = False

    async def set_balance(self, asset: str, free: Decimal | str) -> None:
        self.exchange.set_balance(asset, as_decimal(free))
        self._publish()

    async def inject(self, fault: Fault | str, count: int | None = 1, *,
                     endpoint: str | None = None, probability: float | None = None,
                     delay: float = 60.0, status: int = 503, retry_after: int = 1,
                     applied: bool = False) -> FaultRule:
        """Makes the next ``count`` REST requests matching ``endpoint`` fail with ``fault``
        (``count=None``: until :meth:`clear_faults`; ``probability``: each matching request
        with that chance, from the seeded generator). Rules apply in the order given."""
        rule = FaultRule(Fault(fault), endpoint, count, probability, delay, status,
                         retry_after, applied)
        self.faults.append(rule)
        return rule

    async def clear_faults(self) -> None:
        self.faults.clear()

    async def restart_ws(self) -> int:
        """Drops every WebSocket connection and its subscriptions, as a restart of Binance's
        stream servers does; the account, orders and books stay. Returns how many."""
        subscribers = list(self.subscribers)
        self.subscribers.clear()
        for subscriber in subscribers:
            subscriber.queue.put_nowait(None)
            await subscriber.ws.close(code=WSCloseCode.GOING_AWAY, message=b"restart")
        self.ws_restarts += 1
        return len(subscribers)

    async def stats(self) -> dict[str, Any]:
        """Counters for tests: requests per endpoint, faults hit, WS connections/streams."""
        streams: Counter[str] = Counter()
        for subscriber in self.subscribers:
            streams.update(subscriber.streams)
        return {"requests": dict(self.requests), "faults_hit": dict(self.faults_hit),
                "connections": len(self.subscribers), "streams": dict(streams),
                "user_streams": sum(1 for s in self.subscribers
                                    if s.user_subscription is not None or s.listen_key),
                "ws_restarts": self.ws_restarts, "ws_accepted": self.ws_accepted,
                "paused": self.paused}

    # -- publication -------------------------------------------------------------------

    def _publish(self) -> None:
        """Sends what the last exchange call changed: depth diffs (each numbered, so the
        REST snapshot's ``lastUpdateId`` always matches the streamed state), tickers, prints,
        and the user data events. Synchronous: it runs before any other request can."""
        exchange = self.exchange
        now = exchange.now_ms()
        for symbol in sorted(exchange.touched):
            book = exchange.books[symbol]
            bids = {p: q for p, q in book.bids}
            asks = {p: q for p, q in book.asks}
            old_bids, old_asks = self._published.get(symbol, ({}, {}))
            bid_diff = changed(old_bids, bids)
            ask_diff = changed(old_asks, asks)
            lower = symbol.lower()
            if bid_diff or ask_diff:
                book.update_id += 1
                self._published[symbol] = (bids, asks)
                event = wire.ws_depth_update(symbol, book.update_id, book.update_id, now,
                                             bid_diff, ask_diff)
                self._send_stream(f"{lower}@depth", event, prefix=True)
                self._send_stream(f"{lower}@bookTicker", wire.ws_book_ticker(book))
            seen = self._tape_published.get(symbol, 0)
            for trade in exchange.tape[symbol]:
                if trade.id > seen:
                    self._send_stream(f"{lower}@trade", wire.ws_trade(trade))
            if exchange.tape[symbol]:
                self._tape_published[symbol] = exchange.tape[symbol][-1].id
            self._send_stream(f"{lower}@ticker", wire.ws_ticker(book, now))
            self._send_stream(f"{lower}@miniTicker", wire.ws_mini_ticker(book, now))
        if exchange.touched:
            self._send_arrays(sorted(exchange.touched), now)
        exchange.touched.clear()
        for event in exchange.order_events:
            self._send_user(wire.ws_execution_report(event, now))
        exchange.order_events.clear()
        if exchange.balance_events:
            self._send_user(wire.ws_account_position(exchange, exchange.balance_events, now))
            exchange.balance_events.clear()

    def _push_snapshots(self) -> None:
        """The periodic repeats: tickers, book tickers and partial depths of every stream
        anyone follows (so each later ``watch_*`` call gets a new message)."""
        now = self.exchange.now_ms()
        symbols: set[str] = set()
        for subscriber in self.subscribers:
            for stream in subscriber.streams:
                match = STREAM_NAME.match(stream)
                if match:
                    symbols.add(match["symbol"].upper())
        for symbol in sorted(symbols):
            book = self.exchange.books[symbol]
            lower = symbol.lower()
            self._send_stream(f"{lower}@ticker", wire.ws_ticker(book, now))
            self._send_stream(f"{lower}@miniTicker", wire.ws_mini_ticker(book, now))
            self._send_stream(f"{lower}@bookTicker", wire.ws_book_ticker(book))
            for levels in (5, 10, 20):
                self._send_stream(f"{lower}@depth{levels}", wire.ws_partial_depth(book, levels),
                                  prefix=True)
        self._send_arrays(sorted(self.exchange.books), now)

    def _send_arrays(self, symbols: list[str], now: int) -> None:
        books = [self.exchange.books[s] for s in symbols]
        self._send_stream("!miniTicker@arr", [wire.ws_mini_ticker(b, now) for b in books])
        self._send_stream("!ticker@arr", [wire.ws_ticker(b, now) for b in books])

    def _send_stream(self, stream: str, payload: Any, *, prefix: bool = False) -> None:
        """Queues ``payload`` to the subscribers of ``stream`` (with ``prefix``, also of its
        rate variants: ``btcusdt@depth@100ms`` follows ``btcusdt@depth``)."""
        for subscriber in self.subscribers:
            names = [name for name in subscriber.streams
                     if name == stream or (prefix and name.startswith(stream + "@"))]
            for name in names:
                body = {"stream": name, "data": payload} if subscriber.wrap else payload
                subscriber.queue.put_nowait(json.dumps(body))

    def _send_user(self, event: dict[str, Any]) -> None:
        for subscriber in self.subscribers:
            if subscriber.user_subscription is not None:
                body = {"subscriptionId": subscriber.user_subscription, "event": event}
                subscriber.queue.put_nowait(json.dumps(body))
            elif subscriber.listen_key is not None:
                subscriber.queue.put_nowait(json.dumps(event))

    # -- REST plumbing -----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        public: dict[tuple[str, str], Handler] = {
            ("GET", "/api/v3/ping"): lambda p, r: {},
            ("GET", "/api/v3/time"): lambda p, r: {"serverTime": self.exchange.now_ms()},
            ("GET", "/api/v3/exchangeInfo"): self._exchange_info,
            ("GET", "/api/v3/depth"): self._depth,
            ("GET", "/api/v3/trades"): self._trades(wire.public_trade),
            ("GET", "/api/v3/aggTrades"): self._trades(wire.aggregate_trade),
            ("GET", "/api/v3/ticker/24hr"): self._tickers(wire.ticker_24hr),
            ("GET", "/api/v3/ticker"): self._tickers(wire.ticker_24hr),
            ("GET", "/api/v3/ticker/price"): self._tickers(wire.price_ticker),
            ("GET", "/api/v3/ticker/bookTicker"): self._tickers(wire.book_ticker),
            ("GET", "/api/v3/avgPrice"): self._avg_price,
            ("GET", "/fapi/v1/exchangeInfo"):
                lambda p, r: wire.futures_exchange_info(self.exchange),
            ("GET", "/dapi/v1/exchangeInfo"):
                lambda p, r: {"timezone": "UTC", "serverTime": self.exchange.now_ms(),
                              "rateLimits": [], "exchangeFilters": [], "symbols": []},
        }
        keyed: dict[tuple[str, str], Handler] = {
            ("POST", "/api/v3/userDataStream"): self._listen_key_new,
            ("PUT", "/api/v3/userDataStream"): self._listen_key_keep,
            ("DELETE", "/api/v3/userDataStream"): self._listen_key_close,
        }
        signed: dict[tuple[str, str], Handler] = {
            ("POST", "/api/v3/order"): self._order_new,
            ("GET", "/api/v3/order"): self._order_get,
            ("DELETE", "/api/v3/order"): self._order_cancel,
            ("GET", "/api/v3/openOrders"): self._open_orders,
            ("DELETE", "/api/v3/openOrders"): self._cancel_all,
            ("GET", "/api/v3/allOrders"): self._all_orders,
            ("GET", "/api/v3/myTrades"): self._my_trades,
            ("GET", "/api/v3/account"): self._account,
            ("GET", "/sapi/v1/capital/config/getall"): lambda p, r: [],
            ("GET", "/sapi/v1/margin/allPairs"): lambda p, r: [],
            ("GET", "/sapi/v1/margin/isolated/allPairs"): lambda p, r: [],
        }
        routes: dict[tuple[str, str], tuple[Handler, str]] = {}
        routes.update({key: (handler, "public") for key, handler in public.items()})
        routes.update({key: (handler, "keyed") for key, handler in keyed.items()})
        routes.update({key: (handler, "signed") for key, handler in signed.items()})
        self._routes = routes
        for method, path in routes:
            app.router.add_route(method, path, self._rest)
        for path in ("/ws", "/ws/{tail:.*}", "/stream", "/stream/{tail:.*}"):
            app.router.add_get(path, self._stream)
        app.router.add_get("/ws-api/v3", self._ws_api)
        control: dict[tuple[str, str], Callable[[dict[str, Any]], Awaitable[Any]]] = {
            ("POST", "book"): self._control_book,
            ("POST", "price"): self._control_price,
            ("POST", "step"): lambda body: self.step(int(body.get("count", 1))),
            ("POST", "pause"): lambda body: self.pause(),
            ("POST", "resume"): lambda body: self.resume(),
            ("POST", "balance"): lambda body: self.set_balance(str(body["asset"]),
                                                               body["free"]),
            ("POST", "fault"): self._control_fault,
            ("POST", "faults/clear"): lambda body: self.clear_faults(),
            ("POST", "restart_ws"): lambda body: self.restart_ws(),
            ("GET", "balances"): self._control_balances,
            ("GET", "orders"): self._control_orders,
            ("GET", "trades"): self._control_trades,
            ("GET", "stats"): lambda body: self.stats(),
        }
        for (method, name), action in control.items():
            app.router.add_route(method, f"/_control/{name}", self._control(action))
        return app

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        handler, access = self._routes[(request.method, request.path)]
        endpoint = f"{request.method} {request.path}"
        self.requests[endpoint] += 1
        body = await request.text() if request.can_read_body else ""
        rule = self._fault_for(request.method, request.path)
        if rule is not None:
            self.faults_hit[rule.fault.value] += 1
            early = await self._fault_before(rule)
            if early is not None:
                return early

        def apply() -> web.Response:
            try:
                params = self._authorise(request, body, access)
                reply = handler(params, request)
            except BinanceError as error:
                return error_response(error)
            finally:
                self._publish()
            return self._json(reply, request.path)

        response = apply()
        if rule is not None and rule.fault is Fault.DUPLICATE:
            response = apply()
        elif rule is not None and rule.fault is Fault.TIMEOUT:
            await self._withhold(rule.delay)
        elif rule is not None and rule.fault is Fault.SERVER_ERROR:
            return gateway_error(rule.status)
        return response

    def _fault_for(self, method: str, path: str) -> FaultRule | None:
        for rule in self.faults:
            if not rule.matches(method, path):
                continue
            if rule.probability is not None and self.random.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
            rule.hits += 1
            return rule
        return None

    async def _fault_before(self, rule: FaultRule) -> web.Response | None:
        """The answer of a fault that stops the request before it is applied, if any."""
        if rule.fault is Fault.LOST:
            await self._withhold(rule.delay)
            return gateway_error(504)
        if rule.fault is Fault.SERVER_ERROR and not rule.applied:
            return gateway_error(rule.status)
        if rule.fault in (Fault.RATE_LIMIT, Fault.IP_BAN):
            if rule.fault is Fault.RATE_LIMIT:
                status, msg = 429, RATE_MSG
            else:
                until = self.exchange.now_ms() + rule.retry_after * 1000
                status, msg = 418, BAN_MSG.format(until=until)
            return web.json_response({"code": -1003, "msg": msg}, status=status,
                                     headers={"Retry-After": str(rule.retry_after)})
        return None

    async def _withhold(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), delay)
        except TimeoutError:
            pass

    def _json(self, reply: Any, path: str) -> web.Response:
        minute = int(self.exchange.clock() // 60)
        used = self._weight[1] + 1 if self._weight[0] == minute else 1
        self._weight = (minute, used)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if path == "/api/v3/order":
            headers["X-MBX-ORDER-COUNT-10S"] = "1"
        return web.Response(text=json.dumps(reply), content_type="application/json",
                            headers=headers)

    def _authorise(self, request: web.Request, body: str, access: str) -> dict[str, str]:
        """The request's parameters (query and form body); for signed endpoints after
        checking the key (-2014/-2015), the HMAC-SHA256 signature over the exact bytes sent
        (-1022) and the timestamp against ``recvWindow`` (-1021)."""
        query = request.query_string
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        if access == "public":
            return params
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key, self.config.api_key):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if access == "keyed":
            return params
        signature = params.pop("signature", "")
        if not signature:
            raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent, was "
                               "empty/null, or malformed.")
        total = query + body if query and body else query or body
        payload = "&".join(part for part in total.split("&")
                           if not part.startswith("signature="))
        if not self._signature_ok(payload, signature):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        self._check_timestamp(params)
        params.pop("recvWindow", None)
        params.pop("timestamp", None)
        return params

    def _signature_ok(self, payload: str, signature: str) -> bool:
        expected = hmac.new(self.config.api_secret.encode(), payload.encode(),
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())

    def _check_timestamp(self, params: Params) -> None:
        timestamp = int_param(params, "timestamp")
        if timestamp is None:
            raise BinanceError(-1102, "Mandatory parameter 'timestamp' was not sent, was "
                               "empty/null, or malformed.")
        window = int_param(params, "recvWindow") or 5000
        if window > MAX_RECV_WINDOW:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        if not self.config.check_timestamp:
            return
        now = self.exchange.now_ms()
        if timestamp >= now + 1000:
            raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the "
                               "server's time.")
        if now - timestamp > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the "
                               "recvWindow.")

    # -- REST endpoints ----------------------------------------------------------------

    def _exchange_info(self, params: Params, request: web.Request) -> Any:
        wanted: list[str] | None = None
        if params.get("symbol"):
            wanted = [params["symbol"]]
        elif params.get("symbols"):
            wanted = json_list(params["symbols"], "symbols")
        for symbol in wanted or []:
            self.exchange.book(symbol)
        return wire.exchange_info(self.exchange, wanted)

    def _depth(self, params: Params, request: web.Request) -> Any:
        book = self.exchange.book(params.get("symbol"))
        limit = int_param(params, "limit") or 100
        return wire.depth(book, max(1, min(limit, 5000)))

    def _trades(self, render: Callable[[PublicTrade], dict[str, Any]]) -> Handler:
        """The latest prints of a symbol's tape (each its own aggregate trade here)."""

        def handler(params: Params, request: web.Request) -> Any:
            book = self.exchange.book(params.get("symbol"))
            limit = max(1, min(int_param(params, "limit") or 500, 1000))
            return [render(t) for t in self.exchange.tape[book.spec.symbol][-limit:]]

        return handler

    def _tickers(self, render: Callable[[Any], dict[str, Any]]) -> Handler:
        def handler(params: Params, request: web.Request) -> Any:
            if params.get("symbol"):
                return render(self.exchange.book(params["symbol"]))
            if params.get("symbols"):
                return [render(self.exchange.book(s))
                        for s in json_list(params["symbols"], "symbols")]
            return [render(book) for book in self.exchange.books.values()]

        return handler

    def _avg_price(self, params: Params, request: web.Request) -> Any:
        book = self.exchange.book(params.get("symbol"))
        return {"mins": 5, "price": wire.d8(book.last), "closeTime": book.close_time}

    def _order_new(self, params: Params, request: web.Request) -> Any:
        response_type = params.get("newOrderRespType") or (
            "FULL" if params.get("type") in ("LIMIT", "MARKET") else "ACK")
        if response_type not in ("ACK", "RESULT", "FULL"):
            raise BinanceError(-1100, "Illegal characters found in parameter "
                               "'newOrderRespType'.")
        order = self.exchange.place(params)
        return wire.new_order(order, response_type)

    def _order_get(self, params: Params, request: web.Request) -> Any:
        order = self.exchange.find_order(
            params, unknown=BinanceError(-2013, "Order does not exist."))
        return wire.order(order)

    def _order_cancel(self, params: Params, request: web.Request) -> Any:
        order, cancel_id = self.exchange.cancel(params)
        return wire.canceled_order(order, cancel_id, self.exchange.now_ms())

    def _open_orders(self, params: Params, request: web.Request) -> Any:
        return [wire.order(o) for o in self.exchange.open_orders(params.get("symbol") or None)]

    def _cancel_all(self, params: Params, request: web.Request) -> Any:
        symbol = self.exchange.book(params.get("symbol")).spec.symbol
        orders = self.exchange.open_orders(symbol)
        if not orders:
            raise BinanceError(-2011, "Unknown order sent.")
        now = self.exchange.now_ms()
        return [wire.canceled_order(*self.exchange.cancel(
                    {"symbol": symbol, "orderId": str(o.order_id)}), now) for o in orders]

    def _all_orders(self, params: Params, request: web.Request) -> Any:
        return [wire.order(o) for o in self.exchange.all_orders(params)]

    def _my_trades(self, params: Params, request: web.Request) -> Any:
        return [wire.my_trade(f) for f in self.exchange.my_trades(params)]

    def _account(self, params: Params, request: web.Request) -> Any:
        return wire.account(self.exchange, params.get("omitZeroBalances") == "true")

    def _listen_key_new(self, params: Params, request: web.Request) -> Any:
        key = secrets.token_urlsafe(45)[:60]
        self.listen_keys.add(key)
        return {"listenKey": key}

    def _listen_key_keep(self, params: Params, request: web.Request) -> Any:
        if params.get("listenKey") not in self.listen_keys:
            raise BinanceError(-1125, "This listenKey does not exist.")
        return {}

    def _listen_key_close(self, params: Params, request: web.Request) -> Any:
        self.listen_keys.discard(params.get("listenKey", ""))
        return {}

    # -- WebSocket ---------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        # Only Binance's combined endpoint wraps payloads in {"stream", "data"}; ccxt.pro's
        # URL here (/stream/ws/<n>) is a raw one, and ccxt cannot unwrap an array payload.
        subscriber = Subscriber(ws, wrap=request.path == "/stream")
        tail = request.match_info.get("tail", "")
        if tail in self.listen_keys:
            subscriber.listen_key = tail
        for name in [tail, *request.query.get("streams", "").split("/")]:
            if self._valid_stream(name):
                subscriber.streams.add(name)
        await self._serve_socket(subscriber, self._on_stream_message)
        return ws

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        await self._serve_socket(Subscriber(ws, wrap=False), self._on_api_message)
        return ws

    async def _serve_socket(self, subscriber: Subscriber,
                            on_message: Callable[[Subscriber, Any], dict[str, Any]]) -> None:
        self.subscribers.add(subscriber)
        self.ws_accepted += 1
        writer = asyncio.create_task(self._write(subscriber))
        try:
            async for message in subscriber.ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    request = json.loads(message.data)
                except ValueError:
                    request = None
                subscriber.queue.put_nowait(json.dumps(on_message(subscriber, request)))
        finally:
            self.subscribers.discard(subscriber)
            subscriber.queue.put_nowait(None)
            await writer

    async def _write(self, subscriber: Subscriber) -> None:
        while (text := await subscriber.queue.get()) is not None:
            if subscriber.ws.closed:
                return
            try:
                await subscriber.ws.send_str(text)
            except ConnectionError:
                return  # the peer vanished; its reader cleans up

    def _valid_stream(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        match = STREAM_NAME.match(name)
        return name in ALL_STREAMS or (match is not None
                                       and match["symbol"].upper() in self.exchange.books)

    def _on_stream_message(self, subscriber: Subscriber, request: Any) -> dict[str, Any]:
        """``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` as Binance answers them."""
        if not isinstance(request, dict) or "method" not in request:
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"},
                    "id": None}
        method, request_id = request.get("method"), request.get("id")
        names = request.get("params") or []
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(subscriber.streams), "id": request_id}
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(names, list):
            return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
                    "id": request_id}
        bad = [name for name in names if not self._valid_stream(name)]
        if bad:
            return {"error": {"code": 2, "msg": "Invalid request: invalid stream"},
                    "id": request_id}
        if method == "SUBSCRIBE":
            subscriber.streams.update(names)
        else:
            subscriber.streams.difference_update(names)
        return {"result": None, "id": request_id}

    def _on_api_message(self, subscriber: Subscriber, request: Any) -> dict[str, Any]:
        """The WebSocket API: ``ping`` and the signed user data stream subscription."""
        if not isinstance(request, dict):
            return {"id": None, "status": 400,
                    "error": {"code": -1100, "msg": "Illegal characters found in request."}}
        request_id = request.get("id")
        method = request.get("method")
        if method == "ping":
            return {"id": request_id, "status": 200, "result": {}}
        if method == "userDataStream.subscribe.signature":
            params = {str(k): str(v) for k, v in (request.get("params") or {}).items()}
            try:
                self._ws_authorise(params)
            except BinanceError as error:
                return {"id": request_id, "status": error.http_status,
                        "error": {"code": error.code, "msg": error.msg}}
            subscriber.user_subscription = self._user_ids
            self._user_ids += 1
            return {"id": request_id, "status": 200,
                    "result": {"subscriptionId": subscriber.user_subscription}}
        return {"id": request_id, "status": 400,
                "error": {"code": -1100, "msg": f"Unknown method '{method}'."}}

    def _ws_authorise(self, params: dict[str, str]) -> None:
        """A WebSocket API signature: HMAC over the other params sorted by name."""
        signature = params.pop("signature", "")
        if not hmac.compare_digest(params.get("apiKey", ""), self.config.api_key):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        if not self._signature_ok(payload, signature):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        self._check_timestamp(params)

    # -- control over HTTP -------------------------------------------------------------

    def _control(self, action: Callable[[dict[str, Any]], Awaitable[Any]]
                 ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if request.remote not in ("127.0.0.1", "::1"):
                return web.json_response({"error": "loopback only"}, status=403)
            try:
                body: dict[str, Any] = dict(request.query)
                if request.can_read_body:
                    body.update(json.loads(await request.text(), parse_float=Decimal))
                result = await action(body)
            except BinanceError as error:
                return web.json_response({"error": error.msg}, status=400)
            except (KeyError, TypeError, ValueError) as error:
                return web.json_response({"error": f"bad control request: {error}"},
                                         status=400)
            return web.Response(text=json.dumps(result if result is not None else {"ok": True},
                                                default=str),
                                content_type="application/json")

        return handler

    async def _control_book(self, body: dict[str, Any]) -> None:
        await self.set_book(str(body["symbol"]), body.get("bids", []), body.get("asks", []))

    async def _control_price(self, body: dict[str, Any]) -> None:
        await self.set_price(str(body["symbol"]), body["price"], body.get("qty"))

    async def _control_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        count = body.get("count", 1)
        probability = body.get("probability")
        rule = await self.inject(
            str(body["fault"]), None if count is None else int(count),
            endpoint=body.get("endpoint"),
            probability=None if probability is None else float(probability),
            delay=float(body.get("delay", 60.0)), status=int(body.get("status", 503)),
            retry_after=int(body.get("retry_after", 1)), applied=bool(body.get("applied")))
        return {"fault": rule.fault.value, "count": rule.count, "endpoint": rule.endpoint}

    async def _control_balances(self, body: dict[str, Any]) -> dict[str, Any]:
        return {asset: {"free": wire.d8(free), "locked": wire.d8(locked)}
                for asset, (free, locked) in self.exchange.balances().items()}

    async def _control_orders(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        symbol = body.get("symbol")
        return [wire.order(o) for o in self.exchange.orders.values()
                if symbol is None or o.symbol == symbol]

    async def _control_trades(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        symbol = body.get("symbol")
        return [wire.my_trade(f) for f in self.exchange.fills
                if symbol is None or f.symbol == symbol]


def changed(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]
            ) -> list[tuple[Decimal, Decimal]]:
    """The levels whose quantity differs (0 for a level that went away)."""
    prices = sorted(set(old) | set(new))
    return [(p, new.get(p, Decimal(0))) for p in prices if old.get(p) != new.get(p)]


def json_list(raw: str, name: str) -> list[str]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


def error_response(error: BinanceError) -> web.Response:
    return web.json_response({"code": error.code, "msg": error.msg}, status=error.http_status)


def gateway_error(status: int) -> web.Response:
    """What a load balancer in front of Binance answers: HTML, not Binance's JSON."""
    return web.Response(status=status, content_type="text/html",
                        text=f"<html><body><h1>{status} Gateway error</h1></body></html>")
