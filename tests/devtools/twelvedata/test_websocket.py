"""The price stream through the SDK's own ``TDWebSocket`` (and raw frames where it hides them)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal

import websocket

from devtools.twelvedata import EmulatorHandle

from .conftest import START, Stream, event_is

StreamFactory = Callable[..., Stream]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_subscribe_reports_each_symbol(stream: StreamFactory,
                                       emulator: EmulatorHandle) -> None:
    s = stream("EUR/USD,AAPL")
    status = s.subscribe_status

    assert status["status"] == "ok"
    assert status["fails"] == []
    assert sorted(status["success"], key=lambda e: e["symbol"]) == [
        {"symbol": "AAPL", "exchange": "NASDAQ", "mic_code": "XNGS",
         "country": "United States", "type": "Common Stock"},
        {"symbol": "EUR/USD", "exchange": "FOREX", "country": "", "type": "Physical Currency"},
    ]
    assert emulator.stats()["subscribers"] == {"AAPL": 1, "EUR/USD": 1}


def test_set_price_pushes_a_forex_price_event(stream: StreamFactory,
                                              emulator: EmulatorHandle) -> None:
    s = stream("EUR/USD")

    emulator.set_price("EUR/USD", Decimal("1.1000"), bid=Decimal("1.09995"),
                       ask=Decimal("1.10005"))
    event = s.next_event(event_is("price"))

    assert event == {"event": "price", "symbol": "EUR/USD", "currency_base": "Euro",
                     "currency_quote": "US Dollar", "exchange": "PHYSICAL CURRENCY",
                     "type": "Physical Currency", "timestamp": START, "price": 1.1,
                     "bid": 1.09995, "ask": 1.10005}


def test_stock_events_carry_day_volume_not_bid_ask(stream: StreamFactory,
                                                   emulator: EmulatorHandle) -> None:
    s = stream("AAPL")

    emulator.set_price("AAPL", "190.25", day_volume=1234)
    event = s.next_event(event_is("price"))

    assert event == {"event": "price", "symbol": "AAPL", "currency": "USD",
                     "exchange": "NASDAQ", "mic_code": "XNGS", "type": "Common Stock",
                     "timestamp": START, "price": 190.25, "day_volume": 1234}


def test_walk_steps_push_every_subscribed_symbol(stream: StreamFactory,
                                                 emulator: EmulatorHandle) -> None:
    s = stream(["btc/usd", "SPX"])  # the SDK upper-cases symbols

    ticks = {t.symbol: t for t in emulator.step()}
    events = {e["symbol"]: e for e in (s.next_event(event_is("price")) for _ in range(2))}

    assert set(events) == {"BTC/USD", "SPX"}
    assert Decimal(str(events["BTC/USD"]["price"])) == ticks["BTC/USD"].price_decimal
    assert events["BTC/USD"]["day_volume"] == ticks["BTC/USD"].day_volume
    assert events["BTC/USD"]["exchange"] == "Binance"
    assert Decimal(str(events["SPX"]["price"])) == ticks["SPX"].price_decimal


def test_unknown_symbols_fail(stream: StreamFactory) -> None:
    s = stream("EUR/USD,NOPE")

    assert s.subscribe_status["status"] == "warning"
    assert s.subscribe_status["fails"] == [{"symbol": "NOPE", "message": "Symbol not found"}]
    s.ws.subscribe("ALSO/NOPE")
    assert s.next_event(event_is("subscribe-status"))["status"] == "error"


def test_unsubscribe_stops_the_symbol(stream: StreamFactory,
                                      emulator: EmulatorHandle) -> None:
    # A list: the SDK keeps a comma string as one set element, so unsubscribing a single
    # symbol from it would send nothing.
    s = stream(["EUR/USD", "AAPL"])

    s.ws.unsubscribe("AAPL")
    status = s.next_event(event_is("unsubscribe-status"))
    emulator.set_price("AAPL", "150")
    emulator.set_price("EUR/USD", "1.2")

    assert status["status"] == "ok"
    assert [e["symbol"] for e in status["success"]] == ["AAPL"]
    # Events arrive in order, so an AAPL event would have come first.
    assert s.next_event(event_is("price"))["symbol"] == "EUR/USD"
    assert emulator.stats()["subscribers"] == {"EUR/USD": 1}


def test_heartbeat(stream: StreamFactory) -> None:
    s = stream("EUR/USD")

    s.ws.heartbeat()

    assert s.next_event(lambda e: e.get("event") != "price") == {
        "event": "heartbeat", "status": "ok"}


def test_reset_clears_subscriptions(stream: StreamFactory, emulator: EmulatorHandle) -> None:
    s = stream("EUR/USD,AAPL")

    s.ws.reset()

    assert s.next_event(event_is("reset-status")) == {"event": "reset-status", "status": "ok"}
    assert emulator.stats()["subscribers"] == {}


def test_dropped_stream_is_seen_and_the_sdk_resubscribes(stream: StreamFactory,
                                                         emulator: EmulatorHandle) -> None:
    s = stream("EUR/USD")

    assert emulator.drop_websockets() == 1

    # The SDK logs the close, treats it as an error, reconnects and subscribes again.
    resubscribed = s.next_event(event_is("subscribe-status"))
    assert any(m.startswith("TDWebSocket closed!") for m in s.log.messages)
    assert any("Connection closed (code 1001)" in m for m in s.log.messages)
    assert [e["symbol"] for e in resubscribed["success"]] == ["EUR/USD"]
    emulator.set_price("EUR/USD", "1.05")
    assert s.next_event(event_is("price"))["price"] == 1.05
    stats = emulator.stats()
    assert (stats["connections"], stats["dropped"]) == (1, 1)


def test_control_pings_are_answered(emulator: EmulatorHandle) -> None:
    # The SDK pings every 15 s and reconnects without a pong; check the pong directly.
    conn = websocket.create_connection(emulator.ws_url, timeout=5)
    try:
        conn.ping("ping")
        opcode, frame = conn.recv_data_frame(True)
    finally:
        conn.close()

    assert (opcode, frame.data) == (websocket.ABNF.OPCODE_PONG, b"ping")


def test_list_form_and_unparseable_messages(emulator: EmulatorHandle) -> None:
    conn = websocket.create_connection(emulator.ws_url, timeout=5)
    try:
        conn.send(json.dumps({"action": "subscribe", "params": {"symbols": [
            {"symbol": "AAPL", "exchange": "NASDAQ"}, {"symbol": "AAPL", "mic_code": "XNYS"},
        ]}}))
        listed = json.loads(conn.recv())
        conn.send("not json")
        garbage = json.loads(conn.recv())
    finally:
        conn.close()

    assert listed["status"] == "warning"
    assert [e["symbol"] for e in listed["success"]] == ["AAPL"]
    assert [f["symbol"] for f in listed["fails"]] == ["AAPL:XNYS"]
    assert garbage == {"event": "subscribe-status", "status": "error",
                       "messages": ["Cant parse message"]}


def test_wrong_apikey_gets_an_error_and_a_close(emulator: EmulatorHandle) -> None:
    url = emulator.ws_url.replace(f"apikey={emulator.apikey}", "apikey=wrong")
    conn = websocket.create_connection(url, timeout=5)
    try:
        error = json.loads(conn.recv())
        opcode, _ = conn.recv_data_frame(True)
    finally:
        conn.close()

    assert (error["status"], error["code"]) == ("error", 401)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert emulator.stats()["connections"] == 0
