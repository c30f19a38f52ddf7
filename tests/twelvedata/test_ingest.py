import pytest
from django.db import OperationalError
from websocket import WebSocketConnectionClosedException

from apps.marketdata.selectors import latest_quote
from apps.trading.models import Market
from apps.twelvedata.ingest import enabled_symbols, quote_from_event
from tests.twelvedata.stream import running_stream, wait_for


def set_status(symbol: str, status: str) -> None:
    Market.objects.filter(venue="paper", symbol=symbol).update(status=status)


def test_price_event_becomes_an_exact_quote():
    quote = quote_from_event({"event": "price", "symbol": "EUR/USD", "price": 1.10012,
                              "bid": 1.10005, "ask": 1.1002, "timestamp": 1700000000})
    assert (str(quote.price), str(quote.bid), str(quote.ask)) == ("1.10012", "1.10005", "1.1002")
    assert quote.timestamp.timestamp() == 1700000000
    assert quote.venue == "paper" and quote.bid_size is quote.ask_size is None


@pytest.mark.parametrize("event", [
    {"event": "heartbeat", "status": "ok"},
    {"event": "price", "symbol": "X", "price": "nan", "timestamp": 1},
    {"event": "price", "symbol": "X", "price": -1, "timestamp": 1},
    {"event": "price", "symbol": "X", "price": 1.0, "timestamp": "yesterday"},
    {"event": "price", "symbol": "X", "price": True, "timestamp": 1},
    {"event": "price", "price": 1.0, "timestamp": 1},
])
def test_other_or_malformed_events_are_ignored(event):
    assert quote_from_event(event) is None


@pytest.mark.django_db(transaction=True)
def test_enabling_a_market_streams_it_and_a_dropped_socket_reconnects(markets, emulator):
    url = emulator.ws_url.split("?")[0]
    with running_stream(apikey=emulator.apikey, ws_url=url, refresh_seconds=0.5):
        wait_for(lambda: emulator.stats()["subscribers"].get("AAPL"), what="AAPL subscribed")
        assert "GBP/USD" not in emulator.stats()["subscribers"]
        set_status("GBP/USD", "enabled")
        wait_for(lambda: emulator.stats()["subscribers"].get("GBP/USD"), what="GBP/USD")
        emulator.set_price("GBP/USD", "1.25000", bid="1.24990", ask="1.25010")
        wait_for(lambda: (q := latest_quote(venue="paper", symbol="GBP/USD"))
                 and str(q.ask) == "1.2501", what="GBP/USD tick")

        dropped = emulator.stats()["dropped"]
        assert emulator.drop_websockets() == 1
        wait_for(lambda: emulator.stats()["dropped"] > dropped
                 and emulator.stats()["connections"] == 1, what="reconnect")
        wait_for(lambda: emulator.stats()["subscribers"].get("GBP/USD"), what="resubscribe")
        emulator.set_price("GBP/USD", "1.26000", bid="1.25990", ask="1.26010")
        wait_for(lambda: str(latest_quote(venue="paper", symbol="GBP/USD").ask) == "1.2601",
                 what="tick after reconnect")

        set_status("GBP/USD", "disabled")
        wait_for(lambda: not emulator.stats()["subscribers"].get("GBP/USD"),
                 what="GBP/USD unsubscribed")


@pytest.mark.django_db(transaction=True)
def test_a_failed_heartbeat_does_not_end_the_stream(markets, emulator):
    url = emulator.ws_url.split("?")[0]
    with running_stream(apikey=emulator.apikey, ws_url=url, refresh_seconds=0.5) as stream:
        wait_for(lambda: emulator.stats()["subscribers"].get("AAPL"), what="AAPL subscribed")
        heartbeat, calls = stream.ws.heartbeat, []

        def heartbeat_failing_once():
            calls.append(1)
            if len(calls) == 1:
                raise WebSocketConnectionClosedException("socket is already closed.")
            return heartbeat()

        stream.ws.heartbeat = heartbeat_failing_once
        wait_for(lambda: len(calls) >= 2, what="a heartbeat after the failed one")
        set_status("GBP/USD", "enabled")
        wait_for(lambda: emulator.stats()["subscribers"].get("GBP/USD"), what="resync")


@pytest.mark.django_db(transaction=True)
def test_a_database_error_during_resync_does_not_end_the_stream(markets, emulator):
    reads = []

    def symbols_failing_once() -> set[str]:
        reads.append(1)
        if len(reads) == 2:  # the first resync; the first read was the connect's
            raise OperationalError(2006, "Server has gone away")
        return enabled_symbols()

    url = emulator.ws_url.split("?")[0]
    with running_stream(apikey=emulator.apikey, ws_url=url, refresh_seconds=0.5,
                        symbols=symbols_failing_once):
        wait_for(lambda: len(reads) >= 2, what="the failing resync")
        set_status("GBP/USD", "enabled")
        wait_for(lambda: emulator.stats()["subscribers"].get("GBP/USD"),
                 what="a resync after the failed one")
