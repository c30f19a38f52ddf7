"""The emulator's asyncio server: TwelveData's REST API and price WebSocket on one port.

One aiohttp application serves

* the REST endpoints the ``twelvedata`` SDK calls (all ``GET``, errors as HTTP 200 with
  ``{"code", "message", "status": "error"}`` like the real API),
* the price stream at ``/v1/quotes/price`` (subscribe, unsubscribe, reset, heartbeat; price
  events for subscribed symbols on every walk step and every forced price),
* a control API under ``/_control/`` so tests in another process can steer prices and
  connections. It is not part of TwelveData and needs no API key.

The same controls are coroutine methods of :class:`Emulator` for code on its event loop;
:mod:`.runner` wraps them for other threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import wire
from .catalog import Catalog, Instrument, Kind
from .market import Market, Tick
from .wire import ApiError

logger = logging.getLogger(__name__)

WS_PATH = "/v1/quotes/price"


@dataclass(frozen=True)
class EmulatorConfig:
    """How to run the emulator.

    ``port=0`` binds an ephemeral port (read it back from :attr:`Emulator.port`).
    ``interval`` is the seconds between random-walk steps; ``paused`` starts with the walk
    stopped, so prices only move through the control API (what tests usually want).
    ``credits_per_minute`` enables the real per-minute credit limit (429 errors).
    ``clock`` gives Unix seconds; timestamps and bar labels follow it.
    """

    host: str = "127.0.0.1"
    port: int = 0
    apikey: str = "demo"
    interval: float = 1.0
    seed: int = 42
    paused: bool = False
    credits_per_minute: int | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("interval must be positive")


@dataclass(eq=False)
class Subscriber:
    """One WebSocket client and the symbols it is subscribed to."""

    ws: web.WebSocketResponse
    symbols: set[str] = field(default_factory=set)


Params = Mapping[str, str]
RestHandler = Callable[[Params], Any]


class Emulator:
    """TwelveData REST + WebSocket on a loopback port, over a seeded random-walk market."""

    def __init__(self, config: EmulatorConfig | None = None,
                 catalog: Catalog | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.catalog = catalog or Catalog()
        self.market = Market(self.catalog, self.config.seed, self.config.clock)
        self.paused = self.config.paused
        self.subscribers: set[Subscriber] = set()
        self.requests: Counter[str] = Counter()
        self.events_sent: Counter[str] = Counter()
        self.messages_received = 0
        self.dropped = 0
        self._credits: tuple[int, int] = (0, 0)  # (minute, credits used in it)
        self._runner: web.AppRunner | None = None
        self._walker: asyncio.Task[None] | None = None
        self._port = 0
        self.app = self._build_app()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """What to pass as ``TDClient(base_url=...)``."""
        return f"http://{self.config.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """The price stream URL with the configured key, for ``TDWebSocket.url``."""
        return f"ws://{self.config.host}:{self._port}{WS_PATH}?apikey={self.config.apikey}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._walker = asyncio.create_task(self._walk())
        logger.info("TwelveData emulator on %s (stream %s, seed %s, walk every %ss%s)",
                    self.base_url, self.ws_url, self.config.seed, self.config.interval,
                    ", paused" if self.paused else "")

    async def stop(self) -> None:
        if self._walker is not None:
            self._walker.cancel()
        await self.drop_websockets(WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _walk(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval)
            if not self.paused:
                await self.step()

    # -- control API (run these on the emulator's loop) --------------------------------

    async def set_price(self, symbol: str, price: Decimal | str,
                        bid: Decimal | str | None = None, ask: Decimal | str | None = None,
                        day_volume: int | None = None) -> Tick:
        """Forces a symbol's price and pushes it to its subscribers at once."""
        tick = self.market.set_price(symbol, price, bid=bid, ask=ask, day_volume=day_volume)
        await self._publish([tick])
        return tick

    async def step(self, count: int = 1) -> list[Tick]:
        """Runs ``count`` walk steps (also while paused), publishing each."""
        ticks: list[Tick] = []
        for _ in range(count):
            ticks = self.market.step()
            await self._publish(ticks)
        return ticks

    async def pause(self) -> None:
        """Stops the timed walk; prices then only move through the control API."""
        self.paused = True

    async def resume(self) -> None:
        self.paused = False

    async def drop_websockets(self, code: int = WSCloseCode.GOING_AWAY) -> int:
        """Closes every stream connection, as a server restart would; returns how many."""
        subscribers = list(self.subscribers)
        self.subscribers.clear()
        for subscriber in subscribers:
            await subscriber.ws.close(code=code, message=b"server going away")
        self.dropped += len(subscribers)
        return len(subscribers)

    async def stats(self) -> dict[str, Any]:
        """Counters for tests: connections, subscribers per symbol, messages, requests."""
        per_symbol: Counter[str] = Counter()
        for subscriber in self.subscribers:
            per_symbol.update(subscriber.symbols)
        return {
            "connections": len(self.subscribers),
            "subscribers": dict(sorted(per_symbol.items())),
            "messages_received": self.messages_received,
            "events_sent": dict(sorted(self.events_sent.items())),
            "requests": dict(sorted(self.requests.items())),
            "steps": self.market.steps,
            "paused": self.paused,
            "dropped": self.dropped,
        }

    # -- price fan-out ---------------------------------------------------------------------

    async def _publish(self, ticks: list[Tick]) -> None:
        for tick in ticks:
            listeners = [s for s in self.subscribers if tick.symbol in s.symbols]
            if not listeners:
                continue
            instrument = self.catalog.get(tick.symbol)
            assert instrument is not None
            text = wire.encode_event(wire.price_event(instrument, tick))
            for subscriber in listeners:
                await self._send(subscriber, "price", text)

    async def _send(self, subscriber: Subscriber, event: str, text: str) -> None:
        if subscriber.ws.closed:
            return
        try:
            await subscriber.ws.send_str(text)
        except ConnectionError:
            # The peer vanished between the check and the write; its handler cleans up.
            return
        self.events_sent[event] += 1

    # -- HTTP plumbing ---------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        rest: dict[str, tuple[RestHandler, bool]] = {
            # path: (handler, costs one credit per symbol rather than per request)
            "/technical_indicators": (self._technical_indicators, False),
            "/forex_pairs": (self._forex_pairs, False),
            "/cryptocurrencies": (self._cryptocurrencies, False),
            "/stocks": (self._listed(Kind.STOCK), False),
            # SDK 1.4.0 calls /etfs, older clients /etf.
            "/etfs": (self._listed(Kind.ETF), False),
            "/etf": (self._listed(Kind.ETF), False),
            "/indices": (self._listed(Kind.INDEX), False),
            "/quote": (self._quote, True),
            "/price": (self._price, True),
            "/time_series": (self._time_series, True),
        }
        for path, (handler, per_symbol) in rest.items():
            app.router.add_get(path, self._rest(path, handler, per_symbol))
        app.router.add_get(WS_PATH, self._stream)
        app.router.add_get("/_control/stats", self._control(self._control_stats))
        app.router.add_get("/_control/price", self._control(self._control_tick))
        app.router.add_post("/_control/price", self._control(self._control_set_price))
        app.router.add_post("/_control/step", self._control(self._control_step))
        app.router.add_post("/_control/drop", self._control(self._control_drop))
        app.router.add_post("/_control/pause", self._control(self._control_pause))
        app.router.add_post("/_control/resume", self._control(self._control_resume))
        return app

    def _apikey_ok(self, request: web.Request) -> bool:
        """The key comes as ``apikey=`` (what the SDK sends) or ``Authorization: apikey K``."""
        key = request.query.get("apikey")
        header = request.headers.get("Authorization", "")
        if key is None and header.lower().startswith("apikey "):
            key = header[len("apikey "):].strip()
        return key == self.config.apikey

    def _charge(self, credits: int) -> dict[str, str]:
        """Books credits against the current minute; raises the real 429 past the limit."""
        minute = int(self.config.clock() // 60)
        used = self._credits[1] if self._credits[0] == minute else 0
        limit = self.config.credits_per_minute
        if limit is not None and used + credits > limit:
            raise ApiError(
                429,
                f"You have run out of API credits for the current minute. {used + credits} API "
                f"credits were used, with the current limit being {limit}. Wait for the next "
                "minute or consider switching to a higher tier plan at "
                "https://twelvedata.com/pricing",
            )
        used += credits
        self._credits = (minute, used)
        headers = {"api-credits-used": str(used)}
        if limit is not None:
            headers["api-credits-left"] = str(limit - used)
        return headers

    def _rest(self, path: str, handler: RestHandler,
              per_symbol: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            self.requests[path] += 1
            params = request.query
            headers: dict[str, str] = {}
            try:
                # The SDK constructor fetches /technical_indicators once per process; it is
                # served without a key so a wrong key surfaces on the first data call, the
                # same one whichever client the process happened to build first.
                if path != "/technical_indicators" and not self._apikey_ok(request):
                    raise ApiError(401, wire.INVALID_APIKEY_MESSAGE)
                cost = len(wire.parse_symbols(params.get("symbol"))) if per_symbol else 1
                headers = self._charge(cost)
                body = handler(params)
            except ApiError as error:
                # Like the real API: HTTP 200, the error code only in the body.
                body = error.body()
            return web.json_response(body, headers=headers)

        return endpoint

    # -- reference data --------------------------------------------------------------------

    def _technical_indicators(self, params: Params) -> dict[str, Any]:
        # The SDK only reads optional styling fields from it; an empty catalog is valid.
        return {"data": {}, "status": "ok"}

    def _list_body(self, instruments: list[Instrument], params: Params) -> dict[str, Any]:
        show_plan = params.get("show_plan", "").lower() == "true"
        data = [wire.catalog_entry(i, show_plan) for i in instruments]
        return {"data": data, "count": len(data), "status": "ok"}

    def _forex_pairs(self, params: Params) -> dict[str, Any]:
        found = self.catalog.forex_pairs(
            params.get("symbol"), params.get("currency_base"), params.get("currency_quote")
        )
        return self._list_body(found, params)

    def _cryptocurrencies(self, params: Params) -> dict[str, Any]:
        found = self.catalog.cryptocurrencies(
            params.get("symbol"), params.get("exchange"), params.get("currency_base"),
            params.get("currency_quote"),
        )
        return self._list_body(found, params)

    def _listed(self, kind: Kind) -> RestHandler:
        def handler(params: Params) -> dict[str, Any]:
            return self._list_body(self.catalog.listed(kind, params), params)

        return handler

    # -- market data -----------------------------------------------------------------------

    def _resolve(self, symbol: str, params: Params) -> Instrument:
        """A symbol plus the optional exchange/mic_code/country/type narrowing params."""
        instrument = self.catalog.get(symbol)
        narrowing = {f: params[f] for f in ("exchange", "mic_code", "country", "type")
                     if f in params}
        if instrument is None or any(
            getattr(instrument, f).casefold() != v.casefold() for f, v in narrowing.items()
        ):
            raise wire.symbol_not_found(symbol)
        return instrument

    def _per_symbol(self, params: Params,
                    render: Callable[[Instrument, Tick], dict[str, Any]]) -> dict[str, Any]:
        """Single symbol: its body or a top-level error. Batch: bodies keyed by the asked
        symbol string, each failure as its own error body (code 400, as the API sends)."""
        symbols = wire.parse_symbols(params.get("symbol"))
        if len(symbols) == 1:
            instrument = self._resolve(symbols[0], params)
            return render(instrument, self.market.tick(instrument.symbol))
        batch: dict[str, Any] = {}
        for symbol in symbols:
            try:
                instrument = self._resolve(symbol, params)
                batch[symbol] = render(instrument, self.market.tick(instrument.symbol))
            except ApiError as error:
                batch[symbol] = ApiError(400, error.message).body()
        return batch

    def _series_request(self, params: Params, instrument: Instrument, interval: str,
                        dp: int) -> wire.SeriesRequest:
        zone = wire.display_zone(params.get("timezone"), instrument)
        return wire.SeriesRequest(
            interval=interval,
            zone=zone,
            dp=dp,
            now=wire.local_now(self.config.clock(), zone),
            seed=self.config.seed,
        )

    def _quote(self, params: Params) -> dict[str, Any]:
        interval = wire.parse_interval(params.get("interval"), required=False)
        dp = wire.parse_dp(params.get("dp"), default=5)
        raw_period = params.get("volume_time_period", "9")
        if not raw_period.isdigit() or not 1 <= int(raw_period) <= wire.MAX_OUTPUTSIZE:
            raise ApiError(400, f"Invalid **volume_time_period** provided: {raw_period}")

        def render(instrument: Instrument, tick: Tick) -> dict[str, Any]:
            request = self._series_request(params, instrument, interval, dp)
            return wire.quote_body(instrument, tick, request, int(raw_period))

        return self._per_symbol(params, render)

    def _price(self, params: Params) -> dict[str, Any]:
        dp = wire.parse_dp(params.get("dp"), default=5)
        return self._per_symbol(params, lambda i, tick: wire.price_body(i, tick, dp))

    def _time_series(self, params: Params) -> dict[str, Any]:
        interval = wire.parse_interval(params.get("interval"), required=True)
        outputsize = wire.parse_outputsize(params.get("outputsize"))
        order = wire.parse_order(params.get("order"))
        dp = wire.parse_dp(params.get("dp"), default=wire.AUTO_DP, allow_auto=True)

        def render(instrument: Instrument, tick: Tick) -> dict[str, Any]:
            request = self._series_request(params, instrument, interval, dp)
            start, end = wire.parse_window(params, request.now)
            return wire.time_series_body(instrument, tick, request, outputsize, order,
                                         start, end)

        return self._per_symbol(params, render)

    # -- WebSocket ---------------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        # autoping answers the SDK's control pings (every 15 s, 10 s timeout): without a pong
        # the client reports an error and reconnects. The server itself never pings.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        subscriber = Subscriber(ws)
        if not self._apikey_ok(request):
            await self._send(subscriber, "error", json.dumps(
                {"status": "error", "code": 401, "message": wire.INVALID_APIKEY_MESSAGE}
            ))
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"invalid apikey")
            return ws
        self.subscribers.add(subscriber)
        logger.info("stream client %s connected (%d open)", request.remote,
                    len(self.subscribers))
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.messages_received += 1
                    await self._on_client_message(subscriber, message.data)
        finally:
            self.subscribers.discard(subscriber)
            logger.info("stream client %s closed (%d open)", request.remote,
                        len(self.subscribers))
        return ws

    async def _on_client_message(self, subscriber: Subscriber, data: str | bytes) -> None:
        try:
            message = json.loads(data)
            action = message["action"]
        except (ValueError, TypeError, KeyError):
            action = None
        if action in ("subscribe", "unsubscribe"):
            params = message.get("params")
            symbols = params.get("symbols") if isinstance(params, dict) else None
            if isinstance(symbols, str | list):
                await self._change_subscription(subscriber, action, symbols)
                return
        elif action == "reset":
            subscriber.symbols.clear()
            await self._reply(subscriber, {"event": "reset-status", "status": "ok"})
            return
        elif action == "heartbeat":
            await self._reply(subscriber, {"event": "heartbeat", "status": "ok"})
            return
        await self._reply(subscriber, {"event": "subscribe-status", "status": "error",
                                       "messages": ["Cant parse message"]})

    async def _change_subscription(self, subscriber: Subscriber, action: str,
                                   symbols: str | list[Any]) -> None:
        """Subscribe/unsubscribe: ``"AAPL,RY:TSX"`` or ``[{"symbol", "exchange"...}]``."""
        success: list[dict[str, str]] = []
        fails: list[dict[str, str]] = []
        for wanted in _requested_symbols(symbols):
            instrument = self.catalog.get(wanted)
            if instrument is None:
                fails.append({"symbol": wanted, "message": "Symbol not found"})
                continue
            success.append(wire.subscription_entry(instrument))
            if action == "subscribe":
                subscriber.symbols.add(instrument.symbol)
            else:
                subscriber.symbols.discard(instrument.symbol)
        status = "error" if not success else "warning" if fails else "ok"
        await self._reply(subscriber, {"event": f"{action}-status", "status": status,
                                       "success": success, "fails": fails})

    async def _reply(self, subscriber: Subscriber, event: dict[str, Any]) -> None:
        await self._send(subscriber, event["event"], json.dumps(event))

    # -- control endpoints -----------------------------------------------------------------

    def _control(self, handler: Callable[[web.Request], Awaitable[Any]]
                 ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            try:
                return web.json_response(await handler(request))
            except KeyError as error:
                return web.json_response({"error": f"unknown symbol {error}"}, status=404)
            except (ValueError, TypeError) as error:
                return web.json_response({"error": str(error)}, status=400)

        return endpoint

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        # Decimal keeps a price sent as a JSON number exactly as written.
        body = json.loads(await request.text(), parse_float=Decimal)
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    async def _control_stats(self, request: web.Request) -> dict[str, Any]:
        return await self.stats()

    async def _control_tick(self, request: web.Request) -> dict[str, Any]:
        instrument = self.catalog.get(request.query.get("symbol", ""))
        if instrument is None:
            raise KeyError(request.query.get("symbol", ""))
        return _tick_json(self.market.tick(instrument.symbol))

    async def _control_set_price(self, request: web.Request) -> dict[str, Any]:
        body = await self._json_body(request)
        if "symbol" not in body or "price" not in body:
            raise ValueError("symbol and price are required")
        tick = await self.set_price(
            str(body["symbol"]), _decimal_text(body["price"]),
            bid=None if body.get("bid") is None else _decimal_text(body["bid"]),
            ask=None if body.get("ask") is None else _decimal_text(body["ask"]),
            day_volume=None if body.get("day_volume") is None else int(body["day_volume"]),
        )
        return _tick_json(tick)

    async def _control_step(self, request: web.Request) -> dict[str, Any]:
        count = int((await self._json_body(request)).get("count", 1))
        if count < 1:
            raise ValueError("count must be at least 1")
        await self.step(count)
        return {"steps": self.market.steps}

    async def _control_drop(self, request: web.Request) -> dict[str, Any]:
        return {"dropped": await self.drop_websockets()}

    async def _control_pause(self, request: web.Request) -> dict[str, Any]:
        await self.pause()
        return {"paused": True}

    async def _control_resume(self, request: web.Request) -> dict[str, Any]:
        await self.resume()
        return {"paused": False}


def _requested_symbols(symbols: str | list[Any]) -> list[str]:
    """Flattens both subscription forms to ``SYM`` / ``SYM:EXCH`` strings."""
    if isinstance(symbols, str):
        return [s.strip() for s in symbols.split(",") if s.strip()]
    wanted = []
    for item in symbols:
        if isinstance(item, dict):
            venue = item.get("exchange") or item.get("mic_code")
            symbol = str(item.get("symbol", ""))
            wanted.append(f"{symbol}:{venue}" if venue else symbol)
        else:
            wanted.append(str(item))
    return wanted


def _decimal_text(value: Any) -> str:
    """Control prices arrive as JSON strings or numbers, both read exactly."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"not a price: {value!r}")
    return str(value)


def _tick_json(tick: Tick) -> dict[str, Any]:
    return {
        "symbol": tick.symbol,
        "price": f"{tick.price_decimal:f}",
        "bid": f"{tick.bid_decimal:f}",
        "ask": f"{tick.ask_decimal:f}",
        "day_volume": tick.day_volume,
        "timestamp": tick.timestamp,
    }
