"""``python -m devtools.binance`` (``make run``'s exchange) and its ``/_control`` HTTP API."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import ccxt
import pytest
import requests

from devtools.binance import sync_exchange

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def served() -> Iterator[SimpleNamespace]:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.binance", "--port", "0", "--api-key", "k",
         "--api-secret", "s", "--interval", "0.05", "--seed", "3", "--paused"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+) ", banner)
        assert match, banner
        yield SimpleNamespace(url=match.group(1), api_key="k", api_secret="s")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def control(served: SimpleNamespace, action: str, **body: object) -> requests.Response:
    return requests.post(f"{served.url}/_control/{action}", json=body, timeout=5)


def test_control_over_http_steers_the_book_fills_and_faults(served: SimpleNamespace) -> None:
    ex = sync_exchange(served)
    ex.load_markets()
    assert control(served, "book", symbol="ETHUSDT", bids=[["2999", "1"]],
                   asks=[["3001", "0.5"]]).ok
    order = ex.create_order("ETH/USDT", "limit", "buy", 1, 3001, {"clientOrderId": "cli-1"})
    assert order["filled"] == 0.5

    # A JSON number is read exactly, not through float.
    assert control(served, "price", symbol="ETHUSDT", price=3000.1, qty="0.2").ok
    assert ex.fetch_order(order["id"], "ETH/USDT")["filled"] == 0.7
    assert ex.fetch_ticker("ETH/USDT")["last"] == 3000.1
    orders = requests.get(f"{served.url}/_control/orders", params={"symbol": "ETHUSDT"},
                          timeout=5).json()
    assert [(o["clientOrderId"], o["executedQty"]) for o in orders] == [("cli-1", "0.70000000")]
    trades = requests.get(f"{served.url}/_control/trades", timeout=5).json()
    assert [t["qty"] for t in trades] == ["0.50000000", "0.20000000"]
    balances = requests.get(f"{served.url}/_control/balances", timeout=5).json()
    assert balances["USDT"]["locked"] == "900.30000000"

    assert control(served, "fault", fault="429", count=1, retry_after=3).ok
    with pytest.raises(ccxt.DDoSProtection):
        ex.fetch_ticker("ETH/USDT")
    stats = requests.get(f"{served.url}/_control/stats", timeout=5).json()
    assert stats["faults_hit"] == {"429": 1}


def ticker(served: SimpleNamespace, symbol: str) -> dict:
    return requests.get(f"{served.url}/api/v3/ticker/24hr", params={"symbol": symbol},
                        timeout=5).json()


def test_control_refuses_bad_requests_without_changing_anything(
        served: SimpleNamespace) -> None:
    before = ticker(served, "BTCUSDT")
    assert control(served, "book", symbol="NOPE", bids=[], asks=[]).status_code == 400
    assert control(served, "book", symbol="BTCUSDT", bids=[["-1", "1"]]).status_code == 400
    assert control(served, "fault", fault="gremlins").status_code == 400
    assert control(served, "price", symbol="BTCUSDT").status_code == 400
    assert requests.get(f"{served.url}/_control/nothing", timeout=5).status_code == 404
    after = ticker(served, "BTCUSDT")
    assert {**after, "closeTime": 0} == {**before, "closeTime": 0}


def test_steps_of_the_walk_print_trades_and_keep_the_book_uncrossed(
        served: SimpleNamespace) -> None:
    before = ticker(served, "BTCUSDT")
    assert control(served, "step", count=3).ok
    stepped = ticker(served, "BTCUSDT")
    assert stepped["count"] == before["count"] + 3
    assert Decimal(stepped["bidPrice"]) < Decimal(stepped["askPrice"])
