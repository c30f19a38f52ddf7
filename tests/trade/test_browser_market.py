"""The internal-market page's order book in Chromium, fed by published depth@ and trades@
items: a real server (uvicorn on a thread, Redis pub/sub between the publisher and it),
the page's own scripts. The book follows the updates, and a lost item or a wrong checksum
makes the page resubscribe and end with the engine's book. Screenshots at desktop and
phone width go to the test's tmp dir."""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from apps.marketdata import books, streams
from apps.matching.types import Side
from tests.engine.helpers import eco_market
from tests.streaming.test_book_streams import Engine
from tests.trade.test_browser import CHROMIUM, CHROMIUM_ARGS, watch_csp

STATIC = Path(__file__).resolve().parents[2] / "apps/trade/static"
SYMBOL = "ABC/USDT"
URL = f"/market/ecosystem/{SYMBOL}/"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server():
    """uvicorn on a thread of this process (it sees the test database), the Redis layer
    carrying what the test publishes."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (the Redis pub/sub channel layer)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from tests.streaming.live import ServerThread

    thread = ServerThread()
    ws_url = thread.start()
    yield ws_url.replace("ws://", "http://").removesuffix("/ws/")
    thread.stop()


@pytest.fixture
def market(currencies):
    """Made before Chromium starts: Playwright's sync API runs an event loop on this
    thread, where Django refuses database calls (the test publishes off it: ``off_loop``)."""
    return eco_market()


def off_loop(function, /, *args, **kwargs):
    """``function(...)`` on another thread: from Playwright's loop, marketdata's sends
    refuse to block (they would stall the loop) and Django refuses the database."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result(timeout=30)


@pytest.fixture
def page(market, server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server,
                                      viewport={"width": 1280, "height": 900})
        yield _page(context)
        browser.close()


def _page(context):
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.csp_violations = watch_csp(page)

    # The server runs without runserver's static files: serve the apps' own from disk.
    def static(route):
        path = STATIC / route.request.url.split("/static/", 1)[1].split("?", 1)[0]
        if not path.is_file():
            return route.fulfill(status=404)
        return route.fulfill(body=path.read_bytes(),
                             content_type=CONTENT_TYPES.get(path.suffix, "text/plain"))

    page.route(re.compile(r".*/static/.*"), static)
    return page


def prices(page, side: str) -> list[str]:
    return page.locator(f"#{side} tr").evaluate_all(
        "rows => rows.map(r => r.dataset.price)")


def test_the_book_follows_the_stream_and_resyncs_on_a_gap_or_a_bad_checksum(
        settings, page, tmp_path):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    engine = Engine()
    off_loop(engine.load)
    off_loop(engine.batch, (Side.BUY, 999, 2_000), (Side.BUY, 995, 1_000),
             (Side.SELL, 1_005, 1_500))

    page.goto(URL)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    expect(page.locator("#bids tr")).to_have_count(2)
    assert prices(page, "bids") == ["9.99", "9.95"] and prices(page, "asks") == ["10.05"]
    expect(page.get_by_test_id("spread")).to_have_text("0.06")

    # A taker crosses the best ask: the level goes, the trade shows, the last price moves.
    off_loop(engine.batch, (Side.BUY, 1_005, 1_500), (Side.SELL, 1_010, 500),
             (Side.SELL, 1_020, 700))
    expect(page.locator("#asks tr")).to_have_count(2)
    assert prices(page, "asks") == ["10.2", "10.1"]  # highest first, above the bids
    expect(page.locator("#trades tr")).to_have_count(1)
    expect(page.get_by_test_id("last")).to_have_text("10.05")
    expect(page.get_by_test_id("book-resyncs")).to_have_text("0")

    # An item lost on the way (a number taken, nothing sent): the next one is a gap, the
    # page subscribes again and shows the engine's book from the new snapshot.
    off_loop(streams.next_book_seq, kind="depth", venue="ecosystem", symbol=SYMBOL)
    off_loop(engine.batch, (Side.BUY, 1_000, 3_000))
    expect(page.get_by_test_id("book-resyncs")).to_have_text("1")
    expect(page.locator("#bids tr")).to_have_count(3)
    assert prices(page, "bids") == ["10", "9.99", "9.95"]

    # An item whose checksum is not the book's: resync again, and the right book.
    depth = engine.book.depth(levels=books.DEPTH_LEVELS)
    seq = off_loop(streams.next_book_seq, kind="depth", venue="ecosystem", symbol=SYMBOL)
    off_loop(streams.send_book, kind="depth", venue="ecosystem", symbol=SYMBOL, seq=seq, data={
        "type": "update", "venue": "ecosystem", "symbol": SYMBOL, "sequence": depth.seq,
        "tick_size": "0.01", "lot_size": "0.0001", "levels": books.DEPTH_LEVELS,
        "bids": [["9.5", "1"]], "asks": [], "checksum": depth.checksum})
    expect(page.get_by_test_id("book-resyncs")).to_have_text("2")
    expect(page.locator("#bids tr")).to_have_count(3)
    assert prices(page, "bids") == ["10", "9.99", "9.95"]
    page.screenshot(path=tmp_path / "market-desktop.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a phone"
    page.screenshot(path=tmp_path / "market-phone.png", full_page=True)
    assert page.csp_violations == []
