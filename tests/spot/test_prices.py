"""The spot venue's prices: the exchange's ticker stream (ccxt.pro ``watch_tickers``
against the emulator's WebSocket) published to the quote bus under the spot venue, its
order book as depth@ snapshots, and the market's page that shows them."""
import threading
from decimal import Decimal

import pytest

from apps.marketdata import books, streams
from apps.marketdata.quotes import Quote
from apps.spot.prices import PriceStream

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_stream_publishes_the_enabled_markets_bid_ask_and_last(spot, binance):
    binance.set_book("BTCUSDT", bids=[["59990", "1"]], asks=[["60010", "2"]])
    binance.set_price("BTCUSDT", "60000")
    got: list[Quote] = []
    stop = threading.Event()

    def publish(quote: Quote) -> None:
        got.append(quote)
        if books.book_state(kind=streams.DEPTH, venue="spot", symbol="BTC/USDT"):
            stop.set()

    runner = threading.Thread(target=lambda: PriceStream(
        publish=publish, refresh_seconds=5).run(stop=stop))
    runner.start()
    runner.join(timeout=30)
    stop.set()
    runner.join(timeout=10)
    quote = got[0]
    assert (quote.venue, quote.symbol, quote.source) == ("spot", "BTC/USDT", "binance:ws")
    assert (quote.bid, quote.ask, quote.price) == (Decimal("59990"), Decimal("60010"),
                                                   Decimal("60000"))
    # The exchange's book, as the market page's depth@ stream gives it.
    _, depth = books.book_state(kind=streams.DEPTH, venue="spot", symbol="BTC/USDT")
    assert (depth["type"], depth["bids"], depth["asks"]) == (
        "snapshot", [["59990", "1"]], [["60010", "2"]])


def test_a_spot_market_has_its_trade_page(client, spot):
    page = client.get("/market/spot/BTC/USDT/")
    assert page.status_code == 200
    assert page.context["config"]["api"]["orders"] == "/api/v1/spot/orders/"
