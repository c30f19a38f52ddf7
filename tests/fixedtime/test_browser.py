"""The up/down page in Debian's Chromium against `make run` (its fixture, the emulator as
the feed): a demo trade's countdown, its settlement on the price at expiry and the result
shown; a refusal shown as the API words it. Screenshots go to ``artifacts/browser/``."""
import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.trade import test_browser as trade_browser
from tests.trade.test_browser import ROOT, STREAM_LIVE, Shots, log_in

# The trade page's fixtures: `make run` (one per module), Chromium, a fresh page.
platform = trade_browser.platform
browser = trade_browser.browser
page = trade_browser.page
pytestmark = [pytest.mark.browser, pytest.mark.make_run]
URL = "/fixedtime/paper/EUR/USD/"


def configure(platform, *args: str) -> None:
    """Change the demo's EUR/USD fixed-time settings in `make run`'s database."""
    env = {**os.environ, "DJANGO_DEBUG": "1",
           "DATABASE_URL": f"sqlite:///{platform.log_path.parent / 'db.sqlite3'}"}
    for name in [k for k in env if k.startswith(("REDIS_", "CELERY_"))]:
        del env[name]
    subprocess.run([sys.executable, "manage.py", "fixedtime_instrument", "paper", "EUR/USD",
                    *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)


def show_price(platform, page, price: str) -> None:
    """Move the emulator's price until the page shows it (a tick sent before the page
    subscribed is not replayed)."""
    deadline = time.monotonic() + 20
    while True:
        platform.set_price(price, bid=price, ask=price)
        try:
            page.wait_for_function("([el, want]) => el.textContent.trim() === want",
                                   arg=[page.get_by_test_id("last").element_handle(), price],
                                   timeout=3000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise


def test_a_demo_up_trade_counts_down_and_settles_on_the_price_at_expiry(platform, page):
    configure(platform, "--expiries", "5,60")
    shot = Shots(page, "fixedtime")
    log_in(page)
    page.goto(URL)
    page.wait_for_function(STREAM_LIVE)
    show_price(platform, page, "1.10000")
    page.check("input[name=mode][value=DEMO]")
    page.fill("[data-testid=stake]", "10")
    page.select_option("[data-testid=expiry]", "5")
    page.get_by_test_id("up").click()
    countdown = page.locator("#open-trades [data-testid=countdown]")
    expect(countdown).to_have_text(re.compile(r"^[1-5] s$"))
    shot("opened")
    platform.set_price("1.10050", bid="1.10050", ask="1.10050")  # before the expiry
    result = page.get_by_test_id("result")
    expect(result).to_have_attribute("data-status", "WON", timeout=20_000)
    assert "entry 1.10000, exit 1.10050, paid 18.5 USD" in result.inner_text()
    expect(page.locator("#open-trades tr")).to_have_count(0)
    expect(page.locator("#trade-history tr[data-status=WON]")).to_have_count(1)
    shot("settled")

    # A live trade without live funds: refused, the API's words on the page.
    page.check("input[name=mode][value=LIVE]")
    page.get_by_test_id("down").click()
    expect(page.get_by_test_id("trade-error")).to_contain_text("Insufficient USD")
    expect(page.locator("#open-trades tr")).to_have_count(0)
    shot("refused")
    assert page.csp_violations == []
