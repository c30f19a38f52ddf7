"""Book streams: a client that takes the cached snapshot and applies the published updates
holds the engine's book (its checksum agrees after every item), and the recent trades are
the newest first."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.marketdata import books, streams
from apps.matching.book import OrderBook, depth_checksum
from apps.matching.types import MarketSpec, OrderType, Side, Trade, trade_id

SPEC = MarketSpec(market_id="ecosystem:ABC/USDT", tick_size=Decimal("0.01"),
                  lot_size=Decimal("0.001"))
VENUE, SYMBOL = "ecosystem", "ABC/USDT"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Client:
    """What docs/STREAMING.md tells a depth@ client to do, in Decimal: a snapshot replaces
    the book, an update sets each level's total (0 removes it), and the checksum over the
    top ``levels`` per side, in integer ticks and lots, must match."""

    def __init__(self, seq: int, data: dict) -> None:
        self.seq = seq
        self.apply(data)

    def apply(self, data: dict) -> None:
        if data["type"] == "snapshot":
            self.tick, self.lot = Decimal(data["tick_size"]), Decimal(data["lot_size"])
            self.bids: dict[Decimal, Decimal] = {}
            self.asks: dict[Decimal, Decimal] = {}
        for side, book in (("bids", self.bids), ("asks", self.asks)):
            for price, amount in data[side]:
                if Decimal(amount) == 0:
                    book.pop(Decimal(price), None)
                else:
                    book[Decimal(price)] = Decimal(amount)
        self.levels = data["levels"]
        self.checksum = data["checksum"]

    def receive(self, seq: int, data: dict) -> None:
        assert seq == self.seq + 1, "a gap"
        self.seq = seq
        self.apply(data)

    def top(self, book: dict, *, best_first_reverse: bool) -> list[tuple[int, int]]:
        prices = sorted(book, reverse=best_first_reverse)[:self.levels]
        return [(int(p / self.tick), int(book[p] / self.lot)) for p in prices]

    def computed_checksum(self) -> int:
        return depth_checksum(self.top(self.bids, best_first_reverse=True),
                              self.top(self.asks, best_first_reverse=False))


def depth(book: OrderBook):
    return book.depth(levels=books.DEPTH_LEVELS)


def test_a_snapshot_then_updates_rebuild_the_book(sent):
    book = OrderBook(SPEC)
    book.place(order_id=1, owner="a", side=Side.BUY, qty=5000, price=10_000)
    books.depth_snapshot_set(venue=VENUE, symbol=SYMBOL, spec=SPEC, depth=depth(book))
    [(group, message)] = sent
    assert group == "depth.ecosystem.ABC_2FUSDT"
    assert message["stream"] == "depth@ecosystem:ABC/USDT"
    assert message["data"]["bids"] == [["100", "5"]] and message["data"]["asks"] == []
    client = Client(*books.book_state(kind="depth", venue=VENUE, symbol=SYMBOL))
    assert client.seq == message["seq"]

    events = book.place(order_id=2, owner="b", side=Side.SELL, qty=2000, price=10_000)
    events += book.place(order_id=3, owner="b", side=Side.SELL, qty=1000, price=10_050)
    books.depth_publish(venue=VENUE, symbol=SYMBOL, spec=SPEC, depth=depth(book),
                        changes=events)
    update = sent[-1][1]
    assert update["data"]["type"] == "update"
    assert update["data"]["bids"] == [["100", "3"]]
    assert update["data"]["asks"] == [["100.5", "1"]]
    client.receive(update["seq"], update["data"])
    assert client.computed_checksum() == client.checksum == book.depth(levels=50).checksum
    # A new subscriber's snapshot is the book after that update, numbered as it.
    seq, state = books.book_state(kind="depth", venue=VENUE, symbol=SYMBOL)
    assert seq == update["seq"] and state["type"] == "snapshot"
    assert state["bids"] == [["100", "3"]] and state["asks"] == [["100.5", "1"]]


def test_a_batch_that_moves_no_level_sends_nothing(sent):
    book = OrderBook(SPEC)
    events = book.place(order_id=1, owner="a", side=Side.SELL, qty=1000,
                        order_type=OrderType.MARKET)  # nothing to match: cancelled
    books.depth_publish(venue=VENUE, symbol=SYMBOL, spec=SPEC, depth=depth(book),
                        changes=events)
    assert sent == []


def test_a_deeper_depth_than_the_checksum_covers_is_refused(sent):
    book = OrderBook(SPEC)
    for i in range(books.DEPTH_LEVELS + 1):
        book.place(order_id=i, owner="a", side=Side.BUY, qty=1, price=100 + i)
    with pytest.raises(ValueError, match="at most"):
        books.depth_snapshot_set(venue=VENUE, symbol=SYMBOL, spec=SPEC,
                                 depth=book.depth(levels=books.DEPTH_LEVELS + 1))
    assert sent == [] and books.book_state(kind="depth", venue=VENUE, symbol=SYMBOL) is None


commands = st.lists(st.tuples(
    st.sampled_from(["limit", "limit", "limit", "ioc", "market", "cancel"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=95, max_value=105),
    st.integers(min_value=1, max_value=20)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands, st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=8))
def test_the_client_book_agrees_with_the_engine_after_every_batch(
        sent, monkeypatch, script, batch, levels):
    """Whatever the orders and however they are batched, the client's checksum over its
    book equals the engine's after every update; with few levels under the checksum, a
    level deeper than the snapshot rising into the top is what tells a client to resync
    (it then takes the cached snapshot, which is the engine's book)."""
    monkeypatch.setattr(books, "DEPTH_LEVELS", levels)
    sent.clear()
    book = OrderBook(SPEC)
    books.depth_snapshot_set(venue=VENUE, symbol=SYMBOL, spec=SPEC,
                             depth=book.depth(levels=levels))
    client = Client(*books.book_state(kind="depth", venue=VENUE, symbol=SYMBOL))
    sent.clear()
    pending: list = []
    for n, (kind, side, price, qty) in enumerate(script):
        if kind == "cancel":
            pending += book.cancel(order_id=n - 1)
        else:
            order_type = {"limit": OrderType.LIMIT, "ioc": OrderType.IOC,
                          "market": OrderType.MARKET}[kind]
            pending += book.place(order_id=n, owner=n % 3, side=side, order_type=order_type,
                                  qty=qty, price=None if kind == "market" else price)
        if n % batch == batch - 1 or n == len(script) - 1:
            books.depth_publish(venue=VENUE, symbol=SYMBOL, spec=SPEC,
                                depth=book.depth(levels=levels), changes=pending)
            pending = []
            for _, message in sent:
                client.receive(message["seq"], message["data"])
                assert client.checksum == book.depth(levels=levels).checksum
                if client.computed_checksum() != client.checksum:
                    client = Client(*books.book_state(kind="depth", venue=VENUE,
                                                      symbol=SYMBOL))
                assert client.computed_checksum() == client.checksum
            sent.clear()


def test_trades_go_out_per_batch_and_the_recent_ones_are_kept(sent, monkeypatch):
    monkeypatch.setattr(books, "RECENT_TRADES", 3)
    book = OrderBook(SPEC)
    book.place(order_id=1, owner="a", side=Side.SELL, qty=5000, price=10_000)
    book.place(order_id=2, owner="a", side=Side.SELL, qty=5000, price=10_100)
    first = book.place(order_id=3, owner="b", side=Side.BUY, qty=6000, price=10_100)
    books.trades_publish(venue=VENUE, symbol=SYMBOL, spec=SPEC, trades=first, executed_at=AT)
    [(group, message)] = sent
    assert group == "trades.ecosystem.ABC_2FUSDT"
    assert message["stream"] == "trades@ecosystem:ABC/USDT"
    older, newer = [trade_id(event) for event in first if event[0] is Trade]
    assert message["data"]["trades"] == [
        {"id": newer, "price": "101", "amount": "1", "side": "buy", "time": AT.isoformat()},
        {"id": older, "price": "100", "amount": "5", "side": "buy", "time": AT.isoformat()}]
    book.place(order_id=4, owner="c", side=Side.BUY, qty=1000, price=9_000)
    second = book.place(order_id=5, owner="a", side=Side.SELL, qty=1000, price=9_000)
    books.trades_publish(venue=VENUE, symbol=SYMBOL, spec=SPEC, trades=second, executed_at=AT)
    assert sent[1][1]["seq"] == message["seq"] + 1
    assert [t["price"] for t in sent[1][1]["data"]["trades"]] == ["90"]
    assert sent[1][1]["data"]["trades"][0]["side"] == "sell"
    seq, state = books.book_state(kind="trades", venue=VENUE, symbol=SYMBOL)
    assert seq == sent[1][1]["seq"]
    assert [t["price"] for t in state["trades"]] == ["90", "101", "100"]
    # A batch without trades sends nothing and keeps the state.
    books.trades_publish(venue=VENUE, symbol=SYMBOL, spec=SPEC, trades=[], executed_at=AT)
    assert len(sent) == 2


def test_a_channel_failure_still_caches_the_book(monkeypatch):
    monkeypatch.setattr(streams, "send_to_group", lambda group, message: False)
    book = OrderBook(SPEC)
    book.place(order_id=1, owner="a", side=Side.BUY, qty=5000, price=10_000)
    books.depth_snapshot_set(venue=VENUE, symbol=SYMBOL, spec=SPEC, depth=depth(book))
    assert books.book_state(kind="depth", venue=VENUE, symbol=SYMBOL)[1]["bids"] == [
        ["100", "5"]]


names = st.tuples(st.sampled_from(["ticker", "depth", "trades"]),
                  st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True), st.text(max_size=90))


def _group(kind: str, venue: str, symbol: str) -> str:
    if kind == "ticker":
        return streams.ticker_group(venue=venue, symbol=symbol)
    return streams.book_group(kind=kind, venue=venue, symbol=symbol)


@given(names, names)
def test_distinct_streams_of_any_kind_never_share_a_group_or_a_counter(a, b):
    assert (_group(*a) == _group(*b)) == (a == b)
    assert (streams._seq_key(kind=a[0], venue=a[1], symbol=a[2])
            == streams._seq_key(kind=b[0], venue=b[1], symbol=b[2])) == (a == b)
    if a[0] != "ticker" and b[0] != "ticker":
        assert (streams.book_stream(kind=a[0], venue=a[1], symbol=a[2])
                == streams.book_stream(kind=b[0], venue=b[1], symbol=b[2])) == (a == b)


def test_book_streams_are_named_with_their_venue():
    assert streams.book_stream(kind="depth", venue="paper", symbol="X") == "depth@paper:X"
    assert streams.book_group(kind="trades", venue="ecosystem", symbol="A/B") == (
        "trades.ecosystem.A_2FB")
    with pytest.raises(ValueError):
        streams.book_stream(kind="ticker", venue="ecosystem", symbol="A/B")


def test_the_checksums_in_docs_streaming_are_the_book_checksums():
    """docs/STREAMING.md's two depth items: a snapshot, then an update applied to it."""
    assert depth_checksum([(10050, 3000), (10000, 12500)], [(10100, 2000)]) == 921856633
    assert depth_checksum([(10000, 12500)], [(10100, 1500), (10150, 4000)]) == 3909940466
