"""OCO pairs and brackets on the demo ecosystem market's page (DEMO/USDT) in Chromium, as
`make run` serves it (the engine and the market-maker bot in the web process: the
fixtures of test_browser.py). A bad OCO shows the API's message and places nothing; an
OCO placed from the form shows both legs among the open orders; the trader's own buys
sweep the bot's asks until the last trade crosses the stop, and the page shows the stop
leg executed and the limit leg cancelled; a bracket placed from the form shows its entry
and waiting exits, and cancelling the bracket cancels all its legs. The page is shot at
desktop and phone width, neither overflowing sideways."""
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.trade.test_browser import log_in
from tests.trade.test_browser_conditional import place
from tests.trade.test_browser_pleasant import at_both_widths

pytestmark = [pytest.mark.browser, pytest.mark.make_run]
URL = "/market/ecosystem/DEMO/USDT/"
TICK = Decimal("0.001")  # DEMO/USDT's (eco_demo_setup)


def prices(page, side: str) -> list[Decimal]:
    """The prices of the page's book on ``side`` (asks listed highest first), once the
    bot quotes it (after a sweep took them, it quotes again at its next refresh)."""
    rows = page.locator(f"#{side} tr")
    rows.first.wait_for(timeout=60_000)
    return [Decimal(p) for p in rows.evaluate_all("rows => rows.map(r => r.dataset.price)")]


def clear(page, *names: str) -> None:
    for name in names:
        page.fill(f"input[name={name}]", "")


def test_oco_and_bracket_from_the_market_page(page):
    log_in(page, URL)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    ok, error = page.get_by_test_id("order-ok"), page.get_by_test_id("order-error")
    open_orders, lists = page.locator("#open-orders tr"), page.locator("#order-lists tr")
    expect(page.locator("#asks tr")).to_have_count(3, timeout=60_000)  # the bot's levels
    ask, bid = prices(page, "asks")[-1], prices(page, "bids")[0]

    # The form shows the fields a type takes.
    page.check("input[name=type][value=OCO]")
    assert page.locator("input[name=stop_limit_price]").is_visible()
    assert not page.locator("input[name=take_profit_price]").is_visible()
    expect(page.get_by_test_id("type-help")).to_contain_text("the other is cancelled")

    # A buy OCO whose limit leg is above the ask: the API's message, nothing placed.
    place(page, type_="OCO", amount="1", price=f"{ask + 30 * TICK}",
          stop_price=f"{ask + 60 * TICK}")
    expect(error).to_contain_text("An OCO's buy limit must be below the market price")
    expect(ok).to_have_text("")
    page.wait_for_timeout(1000)  # a refresh the failure might have caused
    expect(open_orders).to_have_count(0)
    expect(lists).to_have_count(0)

    # A buy OCO: a limit leg under the bids, a stop(-limit) leg above the asks.
    stop = ask + 8 * TICK
    place(page, type_="OCO", amount="1", price=f"{bid - 30 * TICK}", stop_price=f"{stop}",
          stop_limit_price=f"{stop + 30 * TICK}")
    expect(ok).to_contain_text("OCO #")
    expect(ok).to_contain_text("stop leg pending")  # the limit leg NEW until the engine
    expect(lists).to_have_count(1)
    list_id = lists.first.get_attribute("data-list")
    oco = page.locator(f"#order-lists tr[data-list='{list_id}']")
    expect(oco.get_by_test_id("list-result")).to_contain_text("live")
    legs = page.locator(f"#open-orders tr[data-list='{list_id}']")
    expect(legs).to_have_count(2)
    limit_leg = legs.and_(page.locator("[data-role=LIMIT]"))
    stop_leg = legs.and_(page.locator("[data-role=STOP]"))
    expect(limit_leg).to_have_attribute("data-status", "OPEN")
    expect(stop_leg).to_have_attribute("data-status", "PENDING")
    expect(stop_leg.get_by_test_id("trigger")).to_have_text(f"≥ {stop}")
    expect(stop_leg).to_contain_text(f"OCO #{list_id} stop leg")
    limit_id = limit_leg.get_attribute("data-id")
    at_both_widths(page, "market-oco-placed")

    # The trader's immediate-or-cancel buys take the bot's asks; the last trade (the
    # engine's quote) rises with each sweep (the bot re-centres on it) until it crosses
    # the stop: the stop leg fires and its sibling is cancelled.
    clear(page, "price", "stop_price", "stop_limit_price")
    page.check("input[name=type][value=LIMIT]")
    page.select_option("select[name=time_in_force]", "IOC")
    for _ in range(6):
        top = prices(page, "asks")[0]
        place(page, type_="LIMIT", amount="3", price=f"{top}")
        expect(ok).to_contain_text("placed")
        try:
            expect(oco).to_have_attribute("data-executed", "STOP", timeout=5000)
            break
        except AssertionError:
            continue
    expect(oco).to_have_attribute("data-executed", "STOP")
    # (The list stays live, cancellable, while the fired stop leg's limit child rests.)
    expect(oco.get_by_test_id("list-result")).to_contain_text(
        "stop leg executed; limit leg canceled")
    cancelled = page.locator(f"#history tr[data-id='{limit_id}']")
    expect(cancelled).to_have_attribute("data-status", "CANCELED")
    expect(cancelled.get_by_test_id("note")).to_contain_text(f"OCO #{list_id} limit leg")
    expect(page.locator(f"#open-orders tr[data-list='{list_id}'][data-status=PENDING]")
           ).to_have_count(0)
    at_both_widths(page, "market-oco-executed")

    # A bracket: a limit entry under the bids whose take-profit and stop-loss wait for
    # its fill; cancelling the bracket cancels the three.
    bid = prices(page, "bids")[0]
    entry = bid - 20 * TICK
    place(page, type_="BRACKET", amount="1", price=f"{entry}",
          stop_price=f"{entry - 50 * TICK}", take_profit_price=f"{entry + 50 * TICK}")
    expect(ok).to_contain_text("BRACKET #")
    expect(lists).to_have_count(2)
    bracket = lists.filter(has_text="BRACKET")
    bracket_id = bracket.get_attribute("data-list")
    legs = page.locator(f"#open-orders tr[data-list='{bracket_id}']")
    expect(legs).to_have_count(3)
    expect(legs.and_(page.locator("[data-role=ENTRY]"))).to_have_attribute("data-status",
                                                                           "OPEN")
    expect(legs.and_(page.locator("[data-status=WAITING]"))).to_have_count(2)
    bracket.get_by_test_id("cancel").click()
    expect(legs).to_have_count(0)
    expect(page.locator(f"#history tr[data-list='{bracket_id}'][data-status=CANCELED]")
           ).to_have_count(3)
    expect(bracket.get_by_test_id("list-result")).to_contain_text("ended")
    assert page.csp_violations == []

