"""The ``/_control`` HTTP API (for tests in another process) and the timed random walk."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
import requests
import websocket
from twelvedata import TDClient

from devtools.twelvedata import EmulatorHandle, running_emulator

from .conftest import APIKEY, Stream, event_is

StreamFactory = Callable[..., Stream]


def control(emulator: EmulatorHandle, action: str, **body: object) -> requests.Response:
    return requests.post(f"{emulator.base_url}/_control/{action}", json=body or None,
                         timeout=5)


def test_set_price_over_http_is_exact_and_pushed(emulator: EmulatorHandle, td: TDClient,
                                                 stream: StreamFactory) -> None:
    s = stream("GBP/USD")

    # A JSON number is read as written, not through float.
    response = control(emulator, "price", symbol="GBP/USD", price=1.26789, bid="1.26780",
                       ask="1.26800")

    assert response.json() == {"symbol": "GBP/USD", "price": "1.26789", "bid": "1.26780",
                               "ask": "1.26800", "day_volume": 0,
                               "timestamp": response.json()["timestamp"]}
    assert s.next_event(event_is("price"))["bid"] == 1.2678
    assert td.price(symbol="GBP/USD").as_json() == {"price": "1.26789"}
    read_back = requests.get(f"{emulator.base_url}/_control/price",
                             params={"symbol": "gbp/usd"}, timeout=5)
    assert read_back.json()["ask"] == "1.26800"


def test_control_errors(emulator: EmulatorHandle) -> None:
    assert control(emulator, "price", symbol="NOPE", price="1").status_code == 404
    assert control(emulator, "price", symbol="AAPL", price="-3").status_code == 400
    assert control(emulator, "price", symbol="AAPL", price="10", bid="11",
                   ask="10.5").status_code == 400
    assert control(emulator, "price", symbol="AAPL").status_code == 400
    assert control(emulator, "step", count=0).status_code == 400


def test_step_stats_and_drop_over_http(emulator: EmulatorHandle,
                                       stream: StreamFactory) -> None:
    s = stream("AAPL")

    assert control(emulator, "step", count=3).json() == {"steps": 3}
    last = [s.next_event(event_is("price")) for _ in range(3)][-1]
    stats = requests.get(f"{emulator.base_url}/_control/stats", timeout=5).json()

    assert Decimal(str(last["price"])) == emulator.tick("AAPL").price_decimal
    assert stats["steps"] == 3
    assert stats["connections"] == 1
    assert stats["subscribers"] == {"AAPL": 1}
    assert stats["events_sent"] == {"price": 3, "subscribe-status": 1}
    assert stats["messages_received"] == 1
    assert stats["paused"] is True
    assert control(emulator, "drop").json() == {"dropped": 1}


def test_the_walk_runs_and_pushes_on_its_own_until_paused() -> None:
    with running_emulator(apikey=APIKEY, interval=0.02) as emulator:
        conn = websocket.create_connection(emulator.ws_url, timeout=5)
        try:
            conn.send(json.dumps({"action": "subscribe", "params": {"symbols": "EUR/USD"}}))
            assert json.loads(conn.recv())["event"] == "subscribe-status"
            # No control call: the timed walk alone produces these.
            events = [json.loads(conn.recv()) for _ in range(3)]
        finally:
            conn.close()
        assert [e["symbol"] for e in events] == ["EUR/USD"] * 3

        assert control(emulator, "pause").json() == {"paused": True}
        paused_at = emulator.stats()["steps"]
        time.sleep(0.1)
        assert emulator.stats()["steps"] == paused_at
        assert control(emulator, "resume").json() == {"paused": False}
        deadline = time.monotonic() + 5
        while emulator.stats()["steps"] == paused_at:
            assert time.monotonic() < deadline, "the walk did not resume"
            time.sleep(0.01)


def test_a_busy_port_fails_the_start(emulator: EmulatorHandle) -> None:
    with pytest.raises(OSError), running_emulator(port=emulator.port):
        pass
