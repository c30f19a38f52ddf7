"""The demo futures contract in Chromium, as `make run` serves it: the mark from the spot
BTC/USDT (the Binance emulator's walk), the engine on a thread of the web process and a
market-maker bot quoting around the mark. The demo trader changes the leverage and sees
the liquidation price the order would have, buys at market against the bot, sees the
position with its liquidation price, adds margin (the liquidation price moves away), sets
a take-profit and a stop-loss on the mark and closes it. Screenshots of each step go to
``artifacts/browser/`` (test_browser.Shots)."""
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.trade.test_browser import Shots, log_in

pytestmark = [pytest.mark.browser, pytest.mark.make_run]
URL = "/market/futures/BTC/USDT/"


def preview_liquidation(page) -> Decimal:
    line = page.get_by_test_id("liquidation-preview")
    expect(line).to_have_attribute("data-liquidation-price", re.compile(r"^[0-9.]+$"))
    return Decimal(line.get_attribute("data-liquidation-price"))


def test_a_trader_opens_a_leveraged_position_adds_margin_and_closes_it(page):
    shots = Shots(page, "futures")
    page.goto(URL)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    # The bot quotes three levels a side once the contract has a mark (the spot index).
    expect(page.locator("#asks tr")).to_have_count(3, timeout=90_000)
    expect(page.get_by_test_id("mark")).not_to_have_text("—")
    expect(page.get_by_test_id("funding-rate")).to_have_text(re.compile(r"^-?\d+\.\d{4}%$"))
    expect(page.get_by_test_id("funding-countdown")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    shots("visitor")

    log_in(page, URL)
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    expect(page.locator("#positions tr")).to_have_text(["No open position in BTC/USDT."])

    # A market buy of 0.01 BTC: at 50x its liquidation price is near the entry, at 5x far.
    page.locator("input[name=type][value=MARKET]").check()
    page.get_by_test_id("amount").fill("0.01")
    page.get_by_test_id("leverage-50").click()
    expect(page.get_by_test_id("leverage-value")).to_have_text("50x")
    near = preview_liquidation(page)
    page.get_by_test_id("leverage-5").click()
    expect(page.get_by_test_id("leverage-value")).to_have_text("5x")
    expect(page.get_by_test_id("liquidation-preview")).not_to_have_attribute(
        "data-liquidation-price", str(near))
    far = preview_liquidation(page)
    assert 0 < far < near
    expect(page.get_by_test_id("order-preview")).to_contain_text("Margin")
    expect(page.get_by_test_id("leverage-tier")).to_contain_text("max 100x")
    shots("preview")

    # Exits given with the order, 6,000 either side of the mark: the position's once it fills.
    order_mark = Decimal(page.get_by_test_id("mark").inner_text())
    page.get_by_test_id("order-take-profit").fill(f"{order_mark + 6000}")
    page.get_by_test_id("order-stop-loss").fill(f"{order_mark - 6000}")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("order-ok")).to_contain_text("placed")
    position = page.locator("#positions tr[data-side=LONG]")
    expect(position).to_have_count(1, timeout=20_000)
    expect(position.get_by_test_id("position-size")).to_have_text("0.010")
    liquidation = position.get_by_test_id("position-liquidation")
    expect(liquidation).to_have_attribute("data-value", re.compile(r"^[0-9.]+$"))
    opened = Decimal(liquidation.get_attribute("data-value"))
    margin = position.get_by_test_id("position-margin").inner_text()
    expect(position.get_by_test_id("position-pnl")).to_contain_text("USDT")
    expect(page.locator("#history tr[data-status=FILLED]")).to_have_count(1)
    expect(position.get_by_test_id("position-exits")).to_have_text(
        f"TP {order_mark + 6000} · SL {order_mark - 6000}")
    # Its ADL lights come with the next mark tick (0-5: in profit or not).
    expect(position.get_by_test_id("position-adl")).to_have_attribute(
        "data-value", re.compile(r"^[0-5]$"), timeout=20_000)
    shots("position")

    # Its controls are the row under it.
    held = position.get_attribute("data-id")
    controls = page.locator(f"#positions tr.controls[data-for='{held}']")
    controls.get_by_test_id("margin-amount").fill("50")
    controls.get_by_test_id("margin-add").click()
    shown = position.get_by_test_id("position-margin")
    expect(shown).not_to_have_text(margin)
    assert Decimal(shown.inner_text()) == Decimal(margin) + 50
    expect(liquidation).not_to_have_attribute("data-value", str(opened))
    assert Decimal(liquidation.get_attribute("data-value")) < opened
    shots("margin-added")

    # Take-profit and stop-loss on the mark, 5,000 either side (the walk stays well within).
    mark = Decimal(position.get_by_test_id("position-mark").inner_text())
    controls.get_by_test_id("take-profit").fill(f"{mark + 5000}")
    controls.get_by_test_id("stop-loss").fill(f"{mark - 5000}")
    controls.get_by_test_id("exits-set").click()
    expect(position.get_by_test_id("position-exits")).to_have_text(
        f"TP {mark + 5000} · SL {mark - 5000}")
    expect(page.get_by_test_id("position-error")).to_have_text("")
    # The exits are the position's pending orders, cancellable like any open order.
    expect(page.locator("#open-orders tr[data-status=PENDING]")).to_have_count(2)
    shots("exits")

    position.get_by_test_id("close-position").click()
    expect(page.locator("#positions tr")).to_have_text(["No open position in BTC/USDT."],
                                                       timeout=20_000)
    expect(page.locator("#history tr[data-status=FILLED]")).to_have_count(2)
    # Closing the position cancelled its exits (and setting them replaced the order's two).
    expect(page.locator("#open-orders tr")).to_have_count(0)
    expect(page.locator("#history tr[data-status=CANCELED]")).to_have_count(4)
    shots("closed")

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    shots("phone")
    assert page.csp_violations == []
