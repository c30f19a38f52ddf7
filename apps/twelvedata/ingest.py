"""The TwelveData price stream: the official ``TDWebSocket`` feeding the quote bus.

The library connects, answers pings and re-subscribes after an error, but it does not
reconnect after a clean close, never heartbeats by itself and has its URL hard-coded. The
``PriceStream`` supervisor adds those: it points the socket at ``TWELVEDATA_WS_URL``,
reconnects whenever the receiver thread ends, sends heartbeats, and re-reads the enabled
markets every ``refresh_seconds`` to subscribe/unsubscribe the difference (no symbol comes
from the environment). No error ends the supervisor: a failed connect, heartbeat or resync
(a socket error, the database gone) is logged and retried with exponential backoff.
"""
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from apps.core import conf
from apps.core.money import positive_decimal
from apps.marketdata.quotes import Quote
from apps.trading.constants import Venue
from apps.twelvedata import gateway

log = structlog.get_logger(__name__)


def quote_from_event(event: dict) -> Quote | None:
    """A TwelveData ``price`` event as a Quote; None for any other or malformed event."""
    if event.get("event") != "price" or not isinstance(event.get("symbol"), str):
        return None
    price = positive_decimal(event.get("price"))
    timestamp = event.get("timestamp")
    if price is None or not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return None
    # TwelveData prices the paper venue; its events carry no bid or ask size.
    return Quote(venue=Venue.PAPER, symbol=event["symbol"], price=price,
                 bid=positive_decimal(event.get("bid")), ask=positive_decimal(event.get("ask")),
                 source="twelvedata", timestamp=datetime.fromtimestamp(timestamp, UTC))


class PriceStream:
    """Supervises one TDWebSocket. ``run`` blocks until ``stop`` is set."""

    def __init__(self, *, apikey: str, ws_url: str, symbols: Callable[[], set[str]],
                 publish: Callable[[Quote], None], refresh_seconds: float = 60,
                 heartbeat_seconds: float = 10, max_backoff_seconds: float = 30) -> None:
        self.apikey = apikey
        self.ws_url = ws_url
        self.symbols = symbols
        self.publish = publish
        self.refresh_seconds = refresh_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.ws = None
        self.connects = 0
        self._next_refresh = self._next_heartbeat = 0.0

    def _on_event(self, event: dict) -> None:
        quote = quote_from_event(event)
        if quote is not None:
            self.publish(quote)
        elif event.get("event") in ("subscribe-status", "unsubscribe-status"):
            log.info("twd_stream_subscription", kind=event.get("event"),
                     status=event.get("status"), fails=event.get("fails"))

    def _connect(self, symbols: set[str]) -> None:
        if self.ws is None:
            # One TDWebSocket for the stream's life: each instance starts a handler thread
            # that never ends, so reconnecting reuses it (connect() replaces the socket).
            td = gateway.client(apikey=self.apikey)
            # Our own logger: by default the library adds a stderr handler per instance.
            self.ws = td.websocket(symbols=sorted(symbols), on_event=self._on_event,
                                   logger=logging.getLogger("twelvedata.websocket"))
            self.ws.url = f"{self.ws_url}?apikey={self.apikey}"
        else:
            self.ws.symbols = {s.upper() for s in symbols}
        self.ws.connect()
        self.connects += 1
        log.info("twd_stream_connecting", url=self.ws_url, symbols=len(symbols),
                 attempt=self.connects)

    def _alive(self) -> bool:
        receiver = self.ws.event_receiver if self.ws else None
        return bool(receiver and receiver.is_alive())

    def run(self, *, stop: threading.Event) -> None:
        """Supervise the socket until ``stop`` is set. A pass that raises is logged and the
        next one waits a backoff that doubles up to ``max_backoff_seconds`` and resets after
        a pass that succeeds."""
        backoff = 1.0
        while not stop.is_set():
            try:
                self._step()
            except Exception as exc:  # whatever failed, the stream must go on
                log.warning("twd_stream_error", error=repr(exc), retry_in=backoff,
                            exc_info=True)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
                continue
            backoff = 1.0
            stop.wait(0.2)
        if self.ws is not None:
            # The library would otherwise reconnect forever from its receiver thread.
            self.ws.self_heal = lambda: None
            self.ws.disconnect()
        log.info("twd_stream_stopped")

    def _step(self) -> None:
        """(Re)connect if the receiver has ended, else resync when due; heartbeat when due.
        A step that raises is tried again: its deadline has not moved."""
        now = time.monotonic()
        if not self._alive():
            self._connect(self.symbols())
            self._next_refresh = now + self.refresh_seconds
        elif now >= self._next_refresh:
            self._resync()
            self._next_refresh = now + self.refresh_seconds
        if now >= self._next_heartbeat:
            self.ws.heartbeat()
            self._next_heartbeat = now + self.heartbeat_seconds

    def _resync(self) -> None:
        wanted = {s.upper() for s in self.symbols()}
        current = set(self.ws.symbols)
        added, removed = wanted - current, current - wanted
        if added:
            self.ws.subscribe(sorted(added))
        if removed:
            self.ws.unsubscribe(sorted(removed))
        if added or removed:
            log.info("twd_stream_resync", added=sorted(added), removed=sorted(removed))


def enabled_symbols() -> set[str]:
    """The symbols to stream, read on a connection closed again at once: the stream reads
    rarely, and a connection broken by a database error must not fail every later read."""
    from django.db import connection

    from apps.trading import selectors
    from apps.trading.constants import Venue

    try:
        return set(selectors.markets_enabled(venue=Venue.PAPER).values_list("symbol",
                                                                             flat=True))
    finally:
        connection.close()


def start_in_background() -> threading.Event:
    """Run the stream on a daemon thread of this process (the embedded ``make run`` mode,
    where the in-memory channel layer and cache exist only in the web process). Returns
    the event that stops it."""
    from django.db import connection

    from apps.marketdata.services import publish
    from apps.twelvedata import selectors

    def run() -> None:
        stream = PriceStream(apikey=selectors.provider_api_key(),
                             ws_url=conf.TWELVEDATA_WS_URL, symbols=enabled_symbols,
                             publish=lambda quote: publish(quote=quote))
        connection.close()
        stream.run(stop=stop)

    stop = threading.Event()
    threading.Thread(target=run, name="twelvedata-stream", daemon=True).start()
    return stop
