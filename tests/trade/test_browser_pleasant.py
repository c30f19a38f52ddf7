"""Issue #19 "pleasant to use", in Chromium against `make run` (test_browser's fixtures):
the public market page, the list pages and the symbol switcher, the order form's preview,
error clearing and status names, the portfolio, and the admin (lists that fit 1366 px,
cancelling an order with a reason, an import's progress moving while the page is open).

Every page is shot at desktop (1366x768) and phone (390x844) width; each shot asserts the
page does not overflow sideways (a full-page screenshot is as wide as the page's content,
so its PNG width is checked too). The shots go to ``artifacts/browser/pleasant-*.png``.
"""
import json
import re
import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.trade.test_browser import (
    ARTIFACTS,
    STREAM_LIVE,
    SYMBOL,
    log_in,
    show_price,
    watch_csp,
)

pytestmark = [pytest.mark.browser, pytest.mark.make_run]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
CENT = Decimal("0.01")


def png_width(path: Path) -> int:
    # The IHDR chunk follows the 8-byte signature and its 8-byte header: width, height.
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


def snap(page, name: str) -> Path:
    """A full-page shot of ``page`` at its viewport, asserted not wider than the viewport."""
    width = page.viewport_size["width"]
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= width, f"{name}: the page is {overflow} px wide at {width} px"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"pleasant-{name}-{width}.png"
    page.screenshot(path=path, full_page=True)
    assert png_width(path) == width, f"{name}: the shot is wider than {width} px"
    return path


def at_both_widths(page, name: str) -> None:
    """Shoots the page at desktop then phone width (the same page, resized)."""
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # the chart and grid re-lay out on resize
        snap(page, name)
    page.set_viewport_size(DESKTOP)


@contextmanager
def own_page(browser, platform) -> Iterator:
    """A desktop page in a context of its own (its own session), which must end with no
    Content-Security-Policy violation."""
    context = browser.new_context(base_url=platform.url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.csp_violations = watch_csp(page)
    yield page
    assert page.csp_violations == []
    context.close()


@pytest.fixture
def visitor(browser, platform):
    with own_page(browser, platform) as page:
        yield page


@pytest.fixture
def trader(visitor):
    log_in(visitor)
    visitor.wait_for_url(re.compile(r"/trade/EUR/USD/$"))
    visitor.wait_for_function(STREAM_LIVE)
    return visitor


def config(page) -> dict:
    return json.loads(page.locator("#trade-config").text_content())


def percent(price: str, base: str) -> str:
    change = (Decimal(price) - Decimal(base)) * 100 / Decimal(base)
    return f"{change.quantize(CENT, rounding=ROUND_HALF_UP)}%"


def test_a_visitor_sees_a_markets_chart_and_live_prices_and_is_asked_to_log_in(
        platform, visitor):
    page = visitor
    page.goto(f"/trade/{SYMBOL}/")
    page.wait_for_function(STREAM_LIVE)
    show_price(platform, page, "1.25000", bid="1.24990", ask="1.25010")
    page.locator("#chart canvas").first.wait_for()  # the chart drew its candles
    day_open = config(page)["dayOpen"]
    assert day_open
    # The change since the day's open follows the ticks.
    expect(page.get_by_test_id("change")).to_have_text(percent("1.25000", day_open))
    show_price(platform, page, "1.26000", bid="1.25990", ask="1.26010")
    expect(page.get_by_test_id("change")).to_have_text(percent("1.26000", day_open))
    # No order form: a way to log in that comes back here.
    assert page.locator("#order-form").count() == 0
    expect(page.get_by_test_id("login-to-trade")).to_contain_text("Log in to place orders")
    assert page.get_by_test_id("login-link").get_attribute("href") == (
        "/login/?next=/trade/EUR/USD/")
    at_both_widths(page, "visitor-trade")


def test_list_pages_with_or_without_a_slash_and_the_symbol_switcher(platform, visitor):
    page = visitor
    for path, title, symbols in (("/etf", "ETF", {"SPY", "QQQ"}),
                                 ("/crypto/", "Crypto", {"BTC/USD", "ETH/USD"})):
        page.goto(path)
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator("nav a.active")).to_have_text(title)
        listed = {row.get_attribute("data-symbol")
                  for row in page.locator("tr[data-symbol]").all()}
        assert listed == symbols
        at_both_widths(page, f"list-{title.lower()}")
    # Prices with the market's decimals, and the change since the open, live.
    page.goto("/forex")
    row = page.locator(f"tr[data-symbol='{SYMBOL}']")
    day_open = row.get_attribute("data-open")
    # Sent again until it arrives: a tick before the list's WebSocket subscribed is lost.
    for _ in range(20):
        platform.set_price("1.3", bid="1.29990", ask="1.30010")
        if row.locator("[data-field=last]").inner_text() == "1.30000":
            break
        page.wait_for_timeout(500)
    expect(row.locator("[data-field=last]")).to_have_text("1.30000")
    expect(row.locator("[data-field=change]")).to_have_text(percent("1.3", day_open))

    # The switcher: a symbol typed goes to its page; an unknown one says so.
    page.get_by_test_id("switch-symbol").fill("BTC/USD")
    page.get_by_test_id("switch-symbol").press("Enter")
    page.wait_for_url(re.compile(r"/trade/BTC/USD/$"))
    expect(page.locator("h1")).to_contain_text("BTC/USD")
    page.get_by_test_id("switch-symbol").fill("NOPE/USD")
    page.get_by_test_id("switch-symbol").press("Enter")
    expect(page.get_by_test_id("not-found")).to_contain_text("NOPE/USD")
    at_both_widths(page, "switcher-unknown")


def test_order_form_previews_hides_the_market_price_clears_errors_and_says_filled(
        platform, trader):
    page = trader
    show_price(platform, page, "1.25000", bid="1.24990", ask="1.25010")
    cfg = config(page)
    taker, maker = Decimal(cfg["takerFee"]), Decimal(cfg["makerFee"])
    preview = page.get_by_test_id("order-preview")

    # A limit buy below the ask rests: its total at the limit, the maker fee.
    page.check("input[name=type][value=LIMIT]")
    page.fill("input[name=amount]", "1000")
    page.fill("input[name=price]", "1.20000")
    fee = (Decimal("1200.00") * maker).quantize(CENT, rounding=ROUND_HALF_UP)
    expect(preview).to_contain_text(f"Total 1200.00 USD, fee {fee} USD (maker")
    at_both_widths(page, "form-limit-preview")

    # A market order has no price field; its total is at the ask, with the taker fee.
    page.check("input[name=type][value=MARKET]")
    expect(page.locator("#price-field")).to_be_hidden()
    fee = (Decimal("1250.10") * taker).quantize(CENT, rounding=ROUND_HALF_UP)
    expect(preview).to_contain_text(f"Total ≈ 1250.10 USD, fee {fee} USD (taker")

    # An error stays until the next action, which clears it.
    page.fill("input[name=amount]", "-5")
    page.get_by_test_id("submit").click()
    error = page.get_by_test_id("order-error")
    expect(error).to_contain_text("Amount must be a positive number")
    at_both_widths(page, "form-error")
    page.fill("input[name=amount]", "1000")
    expect(error).to_have_text("")

    # A market buy fills at once: "Filled", in the message and in the history.
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("order-ok")).to_contain_text("Filled")
    filled = page.locator("#history tr[data-status=FILLED]").first
    filled.wait_for()
    assert filled.locator("td").nth(2).inner_text() == "Filled"
    at_both_widths(page, "form-filled")


def test_portfolio_values_balances_and_lists_orders_with_filters(platform, trader):
    page = trader
    show_price(platform, page, "1.25000", bid="1.24990", ask="1.25010")
    page.check("input[name=type][value=MARKET]")
    page.fill("input[name=amount]", "100")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("order-ok")).to_contain_text("Filled")

    page.goto("/portfolio")
    expect(page.locator("nav a.active")).to_have_text("Portfolio")
    expect(page.get_by_test_id("valuation-note")).to_contain_text("Values in USD")
    paper = page.locator("table[data-type=PAPER]")
    eur = paper.locator("tr[data-currency=EUR]")
    eur_balance = Decimal(eur.locator("td").nth(1).inner_text())
    assert eur_balance >= 100
    # EUR is valued at EUR/USD's last price (1.25).
    assert Decimal(eur.locator("[data-field=value]").inner_text()) == (
        eur_balance * Decimal("1.25")).quantize(CENT)
    holding = page.locator(f"table[data-testid=holdings] tr[data-symbol='{SYMBOL}']")
    expect(holding.locator("[data-field=last]")).to_have_text("1.25000")
    assert re.fullmatch(r"1\.\d{5}", holding.locator("[data-field=average]").inner_text())
    at_both_widths(page, "portfolio")

    # Filtered to filled orders of the paper venue: no other status is listed.
    page.select_option("select[name=status]", "FILLED")
    page.select_option("select[name=venue]", "paper")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=FILLED"))
    statuses = {row.get_attribute("data-status")
                for row in page.locator("table[data-testid=orders] tr[data-order]").all()}
    assert statuses == {"FILLED"}
    at_both_widths(page, "portfolio-filtered")


@pytest.fixture
def admin(browser, platform):
    """A page of its own, logged in to the admin as the demo admin."""
    with own_page(browser, platform) as page:
        page.goto("/admin/")
        page.fill("input[name=login]", "admin")
        page.fill("input[name=password]", "admin-demo-pass")
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))
        yield page


# (The import jobs' list is shot by the import test, which gives it a row.)
CHANGELISTS = ["wallets/wallet", "wallets/hold", "trading/order", "trading/fill",
               "trading/market", "twelvedata/twdmarket"]


def test_admin_lists_fit_1366_px_and_name_models_plainly(platform, trader, admin):
    # Orders and fills to list: the trader's own (this module's earlier tests add more).
    show_price(platform, trader, "1.25000", bid="1.24990", ask="1.25010")
    trader.check("input[name=type][value=LIMIT]")
    trader.fill("input[name=amount]", "10")
    trader.fill("input[name=price]", "1.10000")
    trader.get_by_test_id("submit").click()
    expect(trader.get_by_test_id("order-ok")).to_contain_text("Open")

    page = admin
    index = page.locator("#content-main").inner_text()
    assert "Paper markets" in index and "Twd markets" not in index
    for changelist in CHANGELISTS:
        page.goto(f"/admin/{changelist}/")
        page.locator("#result_list").wait_for()
        # No column clipped: the list is no wider than its scrolling box.
        widths = page.evaluate("""() => {
            const box = document.querySelector('#changelist .results');
            return [box.scrollWidth, box.clientWidth];
        }""")
        assert widths[0] <= widths[1], f"{changelist}: {widths}"
        assert "000000000" not in page.locator("#result_list").inner_text(), changelist
        snap(page, "admin-" + changelist.replace("/", "-"))
    page.goto("/admin/wallets/wallet/")
    expect(page.locator("th.column-available")).to_be_visible()


def test_admin_cancels_an_open_order_with_a_reason_the_trader_sees(platform, trader, admin):
    show_price(platform, trader, "1.25000", bid="1.24990", ask="1.25010")
    trader.check("input[name=type][value=LIMIT]")
    trader.fill("input[name=amount]", "10")
    trader.fill("input[name=price]", "1.01000")
    trader.get_by_test_id("submit").click()
    expect(trader.get_by_test_id("order-ok")).to_contain_text("Open")
    order_id = re.search(r"#(\d+)", trader.get_by_test_id("order-ok").inner_text())[1]

    page = admin
    page.goto("/admin/trading/order/?status__exact=OPEN")
    page.check(f"input.action-select[value='{order_id}']")
    page.select_option("select[name=action]", "cancel_orders")
    page.click("button[name=index]")
    page.fill("textarea[name=reason]", "Quote feed incident")
    snap(page, "admin-cancel-reason")
    page.click("input[type=submit][value=Apply]")
    expect(page.locator(".messagelist")).to_contain_text(f"Order {order_id}: cancelled.")
    snap(page, "admin-cancelled")
    page.goto("/admin/accounts/auditevent/?q=Quote+feed+incident")
    expect(page.locator("#result_list")).to_contain_text("order_cancelled_by_admin")

    # The trader's page hears it: the order in the history, cancelled, with the reason.
    row = trader.locator(f"#history tr[data-order='{order_id}']")
    row.wait_for()
    assert row.locator("td").nth(2).inner_text() == "Canceled"
    expect(row.get_by_test_id("note")).to_contain_text(
        "Canceled by an administrator: Quote feed incident")
    at_both_widths(trader, "trader-sees-admin-cancel")


def test_an_imports_progress_moves_on_the_open_admin_page(platform, admin):
    # The worker is another process: it writes the job's row; the page polls it.
    database = platform.log_path.parent / "db.sqlite3"
    with sqlite3.connect(database) as db:
        job_id = db.execute(
            "INSERT INTO twelvedata_twdimportjob (kind, status, progress, created, updated,"
            " message, created_at, updated_at) VALUES ('etf', 'RUNNING', 10, 3, 0, '',"
            " datetime('now'), datetime('now'))").lastrowid
    page = admin
    page.goto("/admin/twelvedata/twdimportjob/")
    progress = page.locator(f"[data-job='{job_id}'][data-field=progress]")
    expect(progress).to_have_text("10%")
    snap(page, "admin-import-running")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE twelvedata_twdimportjob SET progress = 60, created = 40"
                   " WHERE id = ?", (job_id,))
    expect(progress).to_have_text("60%")  # no reload: the page asked for it
    assert page.locator(f"progress[data-job='{job_id}']").get_attribute("value") == "60"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE twelvedata_twdimportjob SET progress = 100, status = 'DONE',"
                   " message = '52 created, 0 updated' WHERE id = ?", (job_id,))
    expect(page.locator(f"[data-job='{job_id}'][data-field=status]")).to_have_text("DONE")
    expect(page.locator(f"[data-job='{job_id}'][data-field=message]")).to_have_text(
        "52 created, 0 updated")
    at_both_widths(page, "admin-import-done")
