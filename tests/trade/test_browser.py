"""The trade page in Debian's Chromium, against the platform exactly as `make run` serves it.

The fixture runs `make run` itself (a fresh SQLite file, the in-memory channel layer, the
TwelveData emulator as the feed, the demo trader), on free ports, so these tests are also
the proof that `make run` works with no configuration. The test moves prices through the
emulator's control API and watches the page; screenshots of each step go to
``artifacts/browser/``.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from tests.streaming.live import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The Chromium switches a headless run in a container needs, and the ones that stop it
# phoning home (nothing outside loopback is reachable here).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SYMBOL = "EUR/USD"
# Page predicates are functions, not expressions: Playwright evaluates an expression with
# eval(), which the Content-Security-Policy (rightly) refuses.
STREAM_LIVE = "() => document.getElementById('stream-state').textContent === 'live'"

pytestmark = [pytest.mark.browser, pytest.mark.make_run]


class DemoPlatform:
    """`make run` in its own process group, and the emulator it started."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.emulator_port = free_port()
        self.log_path = workdir / "make-run.log"
        self.log_file = self.log_path.open("w")
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DATABASE_", "REDIS_", "CELERY_", "MAKE", "MFLAGS"))}
        # Every emulator on a free port: another `make run` on this machine (a developer's,
        # another test run's) holds the defaults.
        env.update(DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
                   EMULATOR_PORT=str(self.emulator_port), PAYCHAIN_PORT=str(free_port()),
                   BINANCE_PORT=str(free_port()), RUNSERVER_ARGS="--noreload")
        env.pop("SECRET_KEY", None)
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", "HOST=127.0.0.1", f"PORT={self.port}"],
            cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make run exited {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"make run did not serve within {timeout}s:\n{self.log()}")

    def control(self, action: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.emulator_port}/_control/{action}",
            data=json.dumps(body or {}).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def set_price(self, price: str, *, bid: str, ask: str) -> None:
        self.control("price", {"symbol": SYMBOL, "price": price, "bid": bid, "ask": ask})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log_file.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[DemoPlatform]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Chromium at {CHROMIUM} (.ci/services.sh installs it)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    demo = DemoPlatform(tmp_path_factory.mktemp("make-run"))
    try:
        demo.wait_ready()
        # The seeded walk would move prices under the test's feet; prices now move only
        # when the test says so.
        demo.control("pause")
        yield demo
    finally:
        demo.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def watch_csp(page) -> list[str]:
    """The Content-Security-Policy violations Chromium reports on ``page`` (console errors
    "Refused to ..."), collected as they happen."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)
    return violations


@pytest.fixture
def page(browser, platform):
    context = browser.new_context(base_url=platform.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.csp_violations = watch_csp(page)
    yield page
    context.close()


class Shots:
    def __init__(self, page, prefix: str) -> None:
        self.page, self.prefix, self.count = page, prefix, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=ARTIFACTS / f"{self.prefix}-{self.count:02d}-{name}.png",
                             full_page=True)


def log_in(page, path: str = f"/trade/{SYMBOL}/") -> None:
    """The demo trader logs in from the market page at ``path`` and is sent back to it."""
    page.goto(path)
    # A visitor sees the market; placing an order asks to log in first.
    page.get_by_test_id("login-link").click()
    page.wait_for_url(re.compile(r"/login/"))
    page.fill("input[name=login]", "trader")  # the accounts' login: username or e-mail
    page.fill("input[name=password]", "trader-demo-pass")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(path) + "$"))


def number(text: str) -> Decimal:
    return Decimal(text.split()[0].replace(",", ""))


def wallet(page, currency: str) -> Decimal:
    row = page.locator(f"#balances tr[data-currency='{currency}']")
    if row.count() == 0:
        return Decimal(0)
    return number(row.locator("td").nth(1).inner_text())


def show_price(platform: DemoPlatform, page, price: str, *, bid: str, ask: str) -> None:
    """Moves the emulator's price and waits until the page shows it. The first tick is sent
    again until it arrives: the page subscribes when its WebSocket opens, and a tick sent
    before that is (rightly) not replayed."""
    last = page.get_by_test_id("last")
    deadline = time.monotonic() + 20
    while True:
        platform.set_price(price, bid=bid, ask=ask)
        try:
            page.wait_for_function(
                "([el, want]) => el.textContent.trim() === want",
                arg=[last.element_handle(), price], timeout=3000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
    assert page.get_by_test_id("bid").inner_text() == bid
    assert page.get_by_test_id("ask").inner_text() == ask


def place(page, *, side: str, type_: str, amount: str, price: str | None = None) -> None:
    page.check(f"input[name=side][value={side}]")
    page.check(f"input[name=type][value={type_}]")
    page.fill("input[name=amount]", amount)
    if price is not None:
        page.fill("input[name=price]", price)
    page.get_by_test_id("submit").click()


def test_trader_places_fills_and_cancels_limit_orders(platform, page):
    shot = Shots(page, "trade")
    log_in(page)
    page.wait_for_function(STREAM_LIVE)
    assert "PAPER" in page.locator("body").inner_text()
    shot("logged-in")

    show_price(platform, page, "1.25000", bid="1.24990", ask="1.25010")
    show_price(platform, page, "1.24000", bid="1.23990", ask="1.24010")
    shot("price-moved")

    # A limit buy below the ask rests; a second one, further down, is the one to cancel.
    place(page, side="BUY", type_="LIMIT", amount="1000", price="1.23000")
    page.get_by_test_id("order-ok").filter(has_text="open").wait_for()
    place(page, side="BUY", type_="LIMIT", amount="500", price="1.10000")
    open_rows = page.locator("#open-orders tr[data-status=OPEN]")
    open_rows.nth(1).wait_for()
    placed = time.time()
    assert open_rows.count() == 2
    assert page.locator("#history tr").count() == 0
    # Both orders hold quote currency (1,000 x 1.23 and 500 x 1.10, plus fees).
    expect(page.locator("#balances tr[data-currency=USD] td").nth(2)).to_contain_text("held 178")
    assert wallet(page, "EUR") == 0
    shot("limit-orders-open")
    first_id = open_rows.nth(0).get_attribute("data-order")
    second_id = open_rows.nth(1).get_attribute("data-order")
    filled_id, other_id = sorted([first_id, second_id], key=int)

    # The ask falls through 1.23000: the first order fills at its limit, the other rests.
    # Only a quote taken after an order fills it, and the feed stamps whole seconds: the
    # tick must come in a later second than the orders.
    time.sleep(max(0.0, int(placed) + 1 - time.time()))
    show_price(platform, page, "1.22900", bid="1.22890", ask="1.22910")
    filled = page.locator(f"#history tr[data-order='{filled_id}']")
    filled.wait_for()
    assert filled.get_attribute("data-status") == "FILLED"
    cells = filled.locator("td")
    assert number(cells.nth(3).inner_text()) == Decimal("1.23")  # fill price = the limit
    assert number(cells.nth(4).inner_text()) == Decimal("1000")
    assert "1.22910" in cells.nth(7).inner_text()  # the evidence: the ask that crossed
    expect(page.locator("#balances tr[data-currency=EUR] td").nth(1)).to_have_text("1000")
    assert page.locator("#open-orders tr[data-status=OPEN]").count() == 1
    shot("limit-order-filled")

    # Cancel the resting one: it leaves the open orders, its hold comes back.
    page.locator(f"#open-orders tr[data-order='{other_id}'] [data-testid=cancel]").click()
    cancelled = page.locator(f"#history tr[data-order='{other_id}']")
    cancelled.wait_for()
    assert cancelled.get_attribute("data-status") == "CANCELED"
    assert page.locator("#open-orders tr").count() == 0
    # Orders and balances are fetched separately: wait for the balance without the hold.
    expect(page.locator("#balances tr[data-currency=USD] td").nth(2)).to_have_text("")
    usd_after = wallet(page, "USD")
    # 100,000 USD less what 1,000 EUR at 1.23 cost, fee included: nothing held any more.
    spent = Decimal("100000") - usd_after
    assert Decimal("1230") <= spent < Decimal("1240")
    shot("other-order-cancelled")

    # Logged out, the market lists stay public; the trade page asks for a login again.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/forex$"))
    assert page.get_by_role("button", name="Log out").count() == 0
    page.goto(f"/trade/{SYMBOL}/")
    expect(page.get_by_test_id("login-link")).to_be_visible()
    assert page.locator("#order-form").count() == 0
    shot("logged-out")
    assert page.csp_violations == []  # all of it ran under the Content-Security-Policy


def test_admin_and_api_docs_work_under_the_csp(platform, page):
    shot = Shots(page, "csp")
    page.goto("/admin/")  # to the accounts' login (a second factor where one is set up)
    page.fill("input[name=login]", "admin")
    page.fill("input[name=password]", "admin-demo-pass")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto("/admin/twelvedata/twdmarket/")
    page.locator("#result_list").wait_for()
    page.locator("#changelist-filter").wait_for()
    shot("admin-changelist")
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()  # rendered by its scripts
    page.locator(".opblock").first.wait_for()
    shot("api-docs")
    assert page.csp_violations == []


def test_order_form_shows_client_and_server_errors(platform, page):
    shot = Shots(page, "errors")
    log_in(page)
    show_price(platform, page, "1.20000", bid="1.19990", ask="1.20010")
    error = page.get_by_test_id("order-error")

    place(page, side="BUY", type_="LIMIT", amount="-5", price="1.20000")
    assert "Amount must be a positive number" in error.inner_text()
    shot("client-check")

    # Far more than the demo balance: the server refuses and the page says why.
    place(page, side="BUY", type_="LIMIT", amount="10000000", price="1.10000")
    page.wait_for_function("() => document.getElementById('order-error').textContent.length > 0")
    assert re.search(r"insufficient|funds|balance", error.inner_text(), re.I)
    assert page.locator("#open-orders tr[data-status=OPEN]").count() == 0
    shot("server-error")


def test_pages_fit_a_phone(platform, browser):
    context = browser.new_context(base_url=platform.url, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        shot = Shots(page, "phone")
        log_in(page)
        page.wait_for_function(STREAM_LIVE)
        shot("trade")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto("/forex")
        assert page.locator("text=EUR/USD").first.is_visible()
        shot("forex")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
