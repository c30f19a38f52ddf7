"""Conditional orders on the trade page in Debian's Chromium, against `make run` (the
fixtures of tests/trade/test_browser.py, through conftest.py): a stop-limit, a trailing
stop and an OCO placed from the form, shown among the open orders with their trigger and
status, one cancelled, then quotes pushed through the emulator that trigger the stop-limit
and one leg of the OCO, and the page showing which leg executed and that the other was
cancelled."""
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.trade.test_browser import STREAM_LIVE, Shots, log_in, number, show_price

pytestmark = [pytest.mark.browser, pytest.mark.make_run]


def place(page, *, type_: str, side: str = "BUY", **fields: str) -> None:
    """Fill the order form for ``type_`` (a radio of the form) and submit it."""
    page.check(f"input[name=side][value={side}]")
    page.check(f"input[name=type][value={type_}]")
    for name, value in fields.items():
        page.fill(f"input[name={name}]", value)
    page.get_by_test_id("submit").click()


def next_second(since: float) -> None:
    """The feed stamps whole seconds, and only a quote taken after an order may trigger
    it: wait for a later second than ``since``."""
    time.sleep(max(0.0, int(since) + 1.1 - time.time()))


def test_stop_limit_trailing_and_oco_from_the_form_to_their_triggers(platform, page):
    shot = Shots(page, "conditional")
    log_in(page)
    page.wait_for_function(STREAM_LIVE)
    show_price(platform, page, "1.25000", bid="1.24990", ask="1.25010")
    ok, error = page.get_by_test_id("order-ok"), page.get_by_test_id("order-error")

    # The form shows only the fields a type takes.
    page.check("input[name=type][value=STOP]")
    assert page.locator("input[name=stop_price]").is_visible()
    assert not page.locator("input[name=take_profit_price]").is_visible()
    assert "trigger" in page.get_by_test_id("type-help").inner_text()
    page.check("input[name=type][value=LIMIT]")
    assert not page.locator("input[name=stop_price]").is_visible()

    # A buy stop below the market is refused by the server, with its reason.
    place(page, type_="STOP", amount="100", stop_price="1.24000")
    expect(error).to_contain_text("must be above the market price 1.25")

    # A buy stop-limit above the market: pending, its trigger shown.
    page.fill("input[name=price]", "")
    place(page, type_="STOP", amount="1000", stop_price="1.25500", price="1.25600")
    expect(ok).to_contain_text("Pending")
    stop_row = page.locator("#open-orders tr[data-status=PENDING]").first
    stop_row.wait_for()
    stop_id = stop_row.get_attribute("data-order")
    cells = stop_row.locator("td")
    assert cells.nth(2).inner_text() == "STOP_LIMIT"
    assert number(cells.nth(3).inner_text()) == Decimal("1.256")
    expect(stop_row.get_by_test_id("trigger")).to_have_text("≥ 1.25500")

    # A trailing stop, then cancelled from the open orders: its hold comes back.
    for name in ("stop_price", "price"):
        page.fill(f"input[name={name}]", "")
    place(page, type_="TRAILING_STOP", amount="100", trailing_delta="0.01000")
    expect(ok).to_contain_text("Pending")
    trailing = page.locator("#open-orders tr", has_text="TRAILING_STOP")
    expect(trailing.get_by_test_id("trigger")).to_have_text("≥ 1.26000")
    trailing_id = trailing.get_attribute("data-order")
    trailing.get_by_test_id("cancel").click()
    cancelled = page.locator(f"#history tr[data-order='{trailing_id}']")
    cancelled.wait_for()
    assert cancelled.get_attribute("data-status") == "CANCELED"

    # An OCO: a buy limit below the market and a buy stop(-market) above it.
    page.fill("input[name=trailing_delta]", "")
    place(page, type_="OCO", amount="500", price="1.24000", stop_price="1.26000")
    expect(ok).to_contain_text("OCO #")
    oco = page.locator("#order-lists tr").first
    oco.wait_for()
    list_id = oco.get_attribute("data-list")
    expect(oco.get_by_test_id("list-result")).to_contain_text("live")
    legs = page.locator(f"#open-orders tr[data-list='{list_id}']")
    expect(legs).to_have_count(2)
    limit_leg = page.locator(f"#open-orders tr[data-list='{list_id}'][data-role=LIMIT]")
    stop_leg = page.locator(f"#open-orders tr[data-list='{list_id}'][data-role=STOP]")
    assert limit_leg.get_attribute("data-status") == "OPEN"
    assert stop_leg.get_attribute("data-status") == "PENDING"
    expect(stop_leg.get_by_test_id("trigger")).to_have_text("≥ 1.26000")
    assert f"OCO #{list_id} stop leg" in stop_leg.inner_text()
    placed = time.time()
    shot("placed")

    # Through the stop-limit's trigger with the ask under its limit: it fires and fills;
    # the OCO's stop is further up and waits.
    next_second(placed)
    show_price(platform, page, "1.25550", bid="1.25540", ask="1.25560")
    fired = page.locator(f"#history tr[data-order='{stop_id}']")
    fired.wait_for()
    assert fired.get_attribute("data-status") == "FILLED"
    assert number(fired.locator("td").nth(3).inner_text()) == Decimal("1.2556")
    expect(fired.get_by_test_id("note")).to_contain_text("STOP_LIMIT")
    expect(fired.get_by_test_id("note")).to_contain_text("quote 1.25550")
    expect(stop_leg).to_have_attribute("data-status", "PENDING")
    shot("stop-limit-triggered")

    # Up through the OCO's stop: its stop leg executes, the limit leg is cancelled.
    show_price(platform, page, "1.26100", bid="1.26090", ask="1.26110")
    expect(page.locator(f"#order-lists tr[data-list='{list_id}']")).to_have_attribute(
        "data-executed", "STOP")
    result = page.locator(f"#order-lists tr[data-list='{list_id}']").get_by_test_id(
        "list-result")
    expect(result).to_have_text("stop leg executed; limit leg canceled")
    expect(page.locator(f"#open-orders tr[data-list='{list_id}']")).to_have_count(0)
    history = page.locator(f"#history tr[data-list='{list_id}']")
    expect(history.and_(page.locator("[data-role=STOP]"))).to_have_attribute(
        "data-status", "FILLED")
    limit_done = history.and_(page.locator("[data-role=LIMIT]"))
    expect(limit_done).to_have_attribute("data-status", "CANCELED")
    expect(limit_done.get_by_test_id("note")).to_contain_text("OCO: the other leg triggered.")
    shot("oco-leg-executed")
    assert page.csp_violations == []
