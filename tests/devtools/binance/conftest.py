"""Fixtures: a paused emulator per test and the real ``ccxt.binance`` pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import pytest

from devtools.binance import EmulatorHandle, running_emulator, sync_exchange

BTC = "BTC/USDT"


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """Paused, so the book and prices only move when a test says so; streams repeat fast."""
    with running_emulator(paused=True, seed=7, push_interval=0.05) as handle:
        yield handle


@pytest.fixture
def ex(emulator: EmulatorHandle) -> ccxt.binance:
    exchange = sync_exchange(emulator, timeout=3000)
    exchange.load_markets()
    return exchange


@pytest.fixture
def btc_book(emulator: EmulatorHandle) -> None:
    """A small known BTCUSDT book: 0.2 and 0.3 offered, 0.1 and 0.4 bid."""
    emulator.set_book("BTCUSDT", bids=[["59990", "0.1"], ["59980", "0.4"]],
                      asks=[["60010", "0.2"], ["60020", "0.3"]])
