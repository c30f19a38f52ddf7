"""depth@ and trades@ streams through the /ws/ consumer: the in-process one on the
in-memory layer, and a real server over Redis pub/sub (live tests need REDIS_URL)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from apps.marketdata import books
from apps.matching.book import OrderBook
from apps.matching.types import MarketSpec, Side
from apps.trading.constants import Venue
from tests.marketdata.test_books import Client as BookClient
from tests.streaming.conftest import make_market
from tests.streaming.live import ws_client

SYMBOL = "ABC/USDT"
DEPTH, TRADES = f"depth@ecosystem:{SYMBOL}", f"trades@ecosystem:{SYMBOL}"
SPEC = MarketSpec(market_id=f"ecosystem:{SYMBOL}", tick_size=Decimal("0.01"),
                  lot_size=Decimal("0.0001"))


@pytest.fixture(autouse=True)
def ecosystem_books(monkeypatch):
    monkeypatch.setattr(books, "_book_venues", {Venue.ECOSYSTEM.value})


class Engine:
    """A book publishing as the engine runner does after each batch."""

    def __init__(self) -> None:
        self.book = OrderBook(SPEC)
        self.next_id = 0

    def load(self) -> None:
        books.depth_snapshot_set(venue="ecosystem", symbol=SYMBOL, spec=SPEC,
                                 depth=self.book.depth(levels=books.DEPTH_LEVELS))

    def batch(self, *orders: tuple[Side, int, int]) -> list:
        events = []
        for side, price, qty in orders:
            self.next_id += 1
            events += self.book.place(order_id=self.next_id, owner=self.next_id,
                                      side=side, qty=qty, price=price)
        depth = self.book.depth(levels=books.DEPTH_LEVELS)
        books.depth_publish(venue="ecosystem", symbol=SYMBOL, spec=SPEC, depth=depth,
                            changes=events)
        books.trades_publish(venue="ecosystem", symbol=SYMBOL, spec=SPEC, trades=events,
                             executed_at=datetime.now(UTC))
        return events


class TestInProcess:
    pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

    async def test_snapshot_then_numbered_updates_rebuild_the_book(self, connect):
        await database_sync_to_async(make_market)(SYMBOL, venue=Venue.ECOSYSTEM)
        engine = Engine()
        await sync_to_async(engine.load)()
        await sync_to_async(engine.batch)((Side.BUY, 10_000, 50_000), (Side.SELL, 10_100, 20_000))
        client = await connect()
        ack = await client.request({"op": "subscribe", "id": 1, "streams": [DEPTH, TRADES]})
        assert ack == {"op": "subscribed", "id": 1, "streams": [DEPTH, TRADES]}
        snapshot = await client.recv()
        assert (snapshot["stream"], snapshot["snapshot"]) == (DEPTH, True)
        assert snapshot["data"]["bids"] == [["100", "5"]]
        assert snapshot["data"]["asks"] == [["101", "2"]]
        book = BookClient(snapshot["seq"], snapshot["data"])
        assert await client.nothing()  # no trades yet: no trades snapshot

        await sync_to_async(engine.batch)((Side.SELL, 10_000, 10_000), (Side.BUY, 9_900, 1))
        update, trades = await client.recv(), await client.recv()
        assert (update["stream"], update["data"]["type"]) == (DEPTH, "update")
        book.receive(update["seq"], update["data"])
        assert book.computed_checksum() == book.checksum
        assert book.bids == {Decimal("100"): Decimal("4"), Decimal("99"): Decimal("0.0001")}
        assert trades["stream"] == TRADES
        assert [(t["price"], t["amount"], t["side"]) for t in trades["data"]["trades"]] == [
            ("100", "1", "sell")]

        # A later subscriber starts from the book as it is now, and the recent trades.
        late = await connect()
        await late.request({"op": "subscribe", "id": 2, "streams": [DEPTH, TRADES]})
        depth_now, trades_now = await late.recv(), await late.recv()
        assert depth_now["seq"] == update["seq"] and depth_now["data"]["type"] == "snapshot"
        assert BookClient(depth_now["seq"], depth_now["data"]).bids == book.bids
        assert trades_now["snapshot"] and trades_now["data"]["trades"] == trades["data"][
            "trades"]

    async def test_book_streams_need_a_venue_with_books_and_a_qualified_name(self, connect):
        await database_sync_to_async(make_market)("EUR/USD")  # paper: no books
        await database_sync_to_async(make_market)(SYMBOL, venue=Venue.ECOSYSTEM,
                                                  enabled=False)
        client = await connect()
        for name in ("depth@paper:EUR/USD", f"depth@ecosystem:{SYMBOL}",
                     f"trades@ecosystem:{SYMBOL}"):
            error = await client.request({"op": "subscribe", "id": 1, "streams": [name]})
            assert (error["code"], error["message"]) == (
                "unknown_stream", f"No enabled market: {name}."), name
        for name in (f"depth@{SYMBOL}", "depth@ECO:ABC/USDT", "depth@ecosystem:abc/usdt",
                     "depths@ecosystem:ABC/USDT"):
            error = await client.request({"op": "subscribe", "id": 1, "streams": [name]})
            assert error["code"] == "unknown_stream", name
            assert "depth@VENUE:SYMBOL" in error["message"]


@pytest.mark.django_db(transaction=True)
def test_depth_and_trades_through_redis(server_url):
    """Published from the test (as a runner process would), received by a real server's
    subscriber over Redis pub/sub: the snapshot, then every update in order, and a client
    that rebuilds the engine's book."""
    make_market(SYMBOL, venue=Venue.ECOSYSTEM)
    engine = Engine()
    engine.load()
    with ws_client(server_url) as client:
        ack = client.request({"op": "subscribe", "id": 1, "streams": [DEPTH, TRADES]})
        assert ack["op"] == "subscribed"
        snapshot = client.recv()
        book = BookClient(snapshot["seq"], snapshot["data"])
        traded = 0
        for n in range(20):
            events = engine.batch((Side.BUY, 9_990 + n, 1_000), (Side.SELL, 10_010 - n, 700))
            traded += any(e[0].__name__ == "Trade" for e in events)
        frames = [client.recv() for _ in range(20 + traded)]
        updates = [f for f in frames if f["stream"] == DEPTH]
        assert len(updates) == 20
        for frame in updates:
            book.receive(frame["seq"], frame["data"])
            assert book.computed_checksum() == frame["data"]["checksum"]
        assert book.checksum == engine.book.depth(levels=books.DEPTH_LEVELS).checksum
        assert len([f for f in frames if f["stream"] == TRADES]) == traded > 0
        assert client.quiet()
