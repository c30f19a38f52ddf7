"""depthbook.js, the trade page's depth@ client, run in Node on the very file the page
loads: fed what marketdata.books publishes for random order flow, it holds the engine's
book and agrees with its checksum after every item; a gap or a wrong checksum asks for a
resync."""
import json
import shutil
import subprocess
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.marketdata import books
from apps.matching.book import OrderBook
from apps.matching.types import MarketSpec, OrderType, Side

SCRIPT = Path(__file__).resolve().parents[2] / "apps/trade/static/trade/depthbook.js"
NODE = shutil.which("node")
SPEC = MarketSpec(market_id="ecosystem:DEMO/USDT", tick_size=Decimal("0.001"),
                  lot_size=Decimal("0.01"))

pytestmark = pytest.mark.skipif(NODE is None, reason="no node")

# Feeds the frames (one JSON list on stdin) to one DepthBook; prints each answer and the
# book at the end.
HARNESS = """
const {DepthBook, crc32} = require(process.argv[1]);
const frames = JSON.parse(require("fs").readFileSync(0, "utf8"));
const book = new DepthBook();
const answers = frames.map((frame) => book.apply(frame));
console.log(JSON.stringify({answers, bids: book.levels("bids"), asks: book.levels("asks"),
                            resyncs: book.resyncs, crc: crc32("b:10050:3000")}));
"""


def run(frames: list[dict]) -> dict:
    done = subprocess.run([NODE, "-e", HARNESS, str(SCRIPT)], capture_output=True, text=True,
                          input=json.dumps(frames), timeout=30, check=True)
    return json.loads(done.stdout)


def frame(message: dict, *, snapshot: bool = False) -> dict:
    out = {"seq": message["seq"], "data": message["data"]}
    if snapshot:
        out["snapshot"] = True
    return out


def levels(book: OrderBook, side: Side) -> list[list[str]]:
    depth = book.depth(levels=books.DEPTH_LEVELS)
    return [[f"{SPEC.price(p).normalize():f}", f"{SPEC.qty(q).normalize():f}"]
            for p, q in (depth.bids if side == Side.BUY else depth.asks)]


orders = st.lists(st.tuples(st.sampled_from(["limit", "limit", "ioc", "cancel"]),
                            st.sampled_from([Side.BUY, Side.SELL]),
                            st.integers(9_990, 10_010), st.integers(1, 500)),
                  min_size=1, max_size=40)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders)
def test_the_page_book_is_the_engines_after_every_item(sent, script):
    sent.clear()
    book = OrderBook(SPEC)
    books.depth_snapshot_set(venue="ecosystem", symbol="DEMO/USDT", spec=SPEC,
                             depth=book.depth(levels=books.DEPTH_LEVELS))
    for n, (kind, side, price, qty) in enumerate(script):
        if kind == "cancel":
            events = book.cancel(order_id=n - 1)
        else:
            events = book.place(order_id=n, owner=n, side=side, qty=qty, price=price,
                                order_type=OrderType.IOC if kind == "ioc" else OrderType.LIMIT)
        books.depth_publish(venue="ecosystem", symbol="DEMO/USDT", spec=SPEC,
                            depth=book.depth(levels=books.DEPTH_LEVELS), changes=events)
    frames = [frame(sent[0][1], snapshot=True)] + [frame(m) for _, m in sent[1:]]
    result = run(frames)
    assert result["answers"] == ["applied"] * len(frames)
    assert result["bids"] == levels(book, Side.BUY)
    assert result["asks"] == levels(book, Side.SELL)


def test_a_gap_a_bad_checksum_and_a_repeat(sent):
    book = OrderBook(SPEC)
    book.place(order_id=1, owner=1, side=Side.BUY, qty=300, price=10_000)
    books.depth_snapshot_set(venue="ecosystem", symbol="DEMO/USDT", spec=SPEC,
                             depth=book.depth(levels=books.DEPTH_LEVELS))
    for n in range(2, 5):
        events = book.place(order_id=n, owner=n, side=Side.SELL, qty=100, price=10_000 + n)
        books.depth_publish(venue="ecosystem", symbol="DEMO/USDT", spec=SPEC,
                            depth=book.depth(levels=books.DEPTH_LEVELS), changes=events)
    snapshot, first, second, third = (m for _, m in sent)
    bad = {**frame(second), "data": {**second["data"], "checksum": 1}}
    result = run([frame(snapshot, snapshot=True), frame(snapshot), frame(first), bad,
                  frame(snapshot, snapshot=True), frame(first), frame(third)])
    # A repeat of the snapshot's item is dropped; a wrong checksum clears the book; a new
    # snapshot restarts it; a skipped item is a gap.
    assert result["answers"] == ["applied", "stale", "applied", "resync", "applied",
                                 "applied", "resync"]
    assert result["resyncs"] == 2 and result["bids"] == [] and result["asks"] == []
    assert result["crc"] == zlib.crc32(b"b:10050:3000")
