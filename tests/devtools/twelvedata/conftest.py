"""Fixtures: a paused emulator per test, the real SDK client, and a real SDK stream."""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twelvedata import TDClient
from twelvedata.websocket import TDWebSocket

from devtools.twelvedata import EmulatorHandle, running_emulator

APIKEY = "test-key"
# 2023-11-14 22:13:20 UTC, a Tuesday: 17:13:20 in New York.
START = 1_700_000_000


class FakeClock:
    """The emulator's clock, moved by hand so bars and timestamps are predictable."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[EmulatorHandle]:
    """Paused, so prices only move when a test says so."""
    with running_emulator(apikey=APIKEY, paused=True, seed=7, clock=clock) as handle:
        yield handle


@pytest.fixture
def td(emulator: EmulatorHandle) -> TDClient:
    # A short self-heal keeps the SDK's reconnect after a dropped stream quick.
    return TDClient(apikey=APIKEY, base_url=emulator.base_url, self_heal_time_s=0.05)


class Stream:
    """A real ``TDWebSocket`` pointed at the emulator, with its events in a queue."""

    def __init__(self, td: TDClient, url: str, symbols: str | list[str]) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log = _RecordingHandler()
        logger = logging.getLogger(f"tests.twelvedata.stream.{id(self)}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self.log)
        # ``logger`` replaces the SDK's default, which adds a stderr handler per instance.
        self.ws: TDWebSocket = td.websocket(symbols=symbols, on_event=self.events.put,
                                            logger=logger)
        # The SDK hard-codes wss://ws.twelvedata.com; the URL is only read on connect.
        self.ws.url = url
        self.subscribe_status: dict[str, Any] = {}

    def next_event(self, predicate: Callable[[dict[str, Any]], bool] = lambda e: True,
                   timeout: float = 5.0) -> dict[str, Any]:
        """The next event matching ``predicate``, skipping others; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching event arrived")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(event):
                return event

    def close(self) -> None:
        # If the receiver thread, not close(), reads the server's reply to our close frame,
        # websocket-client reports it through on_error and the SDK "self-heals" by
        # reconnecting, even though the client asked to close (disconnect() has the same
        # race). Disarm that first.
        self.ws.self_heal = lambda: None
        # disconnect() would also sleep a second. The receiver thread may sit in select()
        # for up to ping_timeout (10 s), so it is not joined; it is a daemon and now ends
        # without reconnecting.
        if self.ws.ws is not None:
            self.ws.ws.close()


class _RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def event_is(name: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == name and all(e.get(k) == v for k, v in fields.items())


@pytest.fixture
def stream(td: TDClient, emulator: EmulatorHandle) -> Iterator[Callable[..., Stream]]:
    """``stream("EUR/USD,AAPL")`` connects and waits for (and keeps) the subscribe reply."""
    opened: list[Stream] = []

    def connect(symbols: str | list[str]) -> Stream:
        s = Stream(td, emulator.ws_url, symbols)
        opened.append(s)
        s.ws.connect()
        s.subscribe_status = s.next_event(event_is("subscribe-status"))
        return s

    yield connect
    # Close the clients before the emulator stops: a server-side close would make the SDK
    # reconnect forever.
    for s in opened:
        s.close()
