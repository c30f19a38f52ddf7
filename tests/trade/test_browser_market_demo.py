"""The demo ecosystem market in Chromium, as `make run` serves it: the engine on a thread of
the web process, the market-maker bot quoting DEMO/USDT, the page live. A visitor sees the
bot's book; the demo trader takes more than the best ask holds, sees the partial fill in
the open orders and the trade, cancels the rest, and finds it in the history; then buys
by total (a quote budget) and sees it filled with what it bought. Screenshots
at desktop and phone width go to the test's tmp dir."""
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.trade.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.make_run]
URL = "/market/ecosystem/DEMO/USDT/"
TICK = Decimal("0.001")  # DEMO/USDT's (eco_demo_setup)


def levels(page, side: str) -> list[tuple[str, str]]:
    return page.locator(f"#{side} tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.price, r.children[1].textContent])")


def test_the_bot_makes_a_book_and_a_trader_fills_part_of_an_order(page, tmp_path):
    page.goto(URL)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    # The bot quotes three levels a side within a few refreshes of the engine starting.
    expect(page.locator("#asks tr")).to_have_count(3, timeout=60_000)
    expect(page.locator("#bids tr")).to_have_count(3)
    page.screenshot(path=tmp_path / "demo-book-visitor.png", full_page=True)

    log_in(page, URL)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    expect(page.locator("#asks tr")).to_have_count(3)

    # Buy more than the bot's three asks hold, above them all (the bot's random walk moves
    # them a few ticks a refresh): they fill and the rest rests, a partial fill.
    best_ask = Decimal(levels(page, "asks")[-1][0])
    price = best_ask + 20 * TICK
    page.get_by_test_id("amount").fill("3.5")
    page.get_by_test_id("price").fill(f"{price}")
    expect(page.get_by_test_id("order-preview")).to_contain_text("Total")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("order-ok")).to_contain_text("placed")
    row = page.locator("#open-orders tr").first
    expect(row).to_have_attribute("data-status", "PARTIALLY_FILLED", timeout=20_000)
    filled_text = row.locator("td").nth(4).inner_text()
    filled, amount = (Decimal(part) for part in filled_text.split(" / "))
    assert amount == Decimal("3.5") and 0 < filled < amount
    expect(page.locator("#trades tr").first).to_be_visible()
    page.screenshot(path=tmp_path / "demo-partial-fill.png", full_page=True)

    row.get_by_test_id("cancel").click()
    expect(page.locator("#open-orders tr")).to_have_count(0, timeout=20_000)
    done = page.locator("#history tr").first
    expect(done).to_have_attribute("data-status", "CANCELED")
    expect(done).to_contain_text(filled_text)

    # A market buy by total: it spends at most what is asked at the bot's asks and ends
    # FILLED with the amount it bought (once the bot quotes asks again: the first order
    # took them all).
    expect(page.locator("#asks tr")).to_have_count(3, timeout=60_000)
    page.locator("input[name=type][value=BUDGET]").check()
    expect(page.get_by_test_id("amount")).to_be_hidden()
    page.get_by_test_id("quote_amount").fill("1.5")
    expect(page.get_by_test_id("order-preview")).to_contain_text("until the total is spent")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("order-ok")).to_contain_text("placed")
    expect(page.locator("#history tr").first).to_have_attribute("data-status", "FILLED",
                                                                timeout=20_000)
    cells = page.locator("#history tr").first.locator("td")
    bought, amount = (Decimal(part) for part in cells.nth(4).inner_text().split(" / "))
    assert bought == amount > 0 and 0 < Decimal(cells.nth(5).inner_text()) <= Decimal("1.5")
    page.screenshot(path=tmp_path / "demo-market-by-total.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=tmp_path / "demo-phone.png", full_page=True)
    assert page.csp_violations == []
