"""A new user in Chromium, against `make run`: sign up, confirm the address by the link in
the e-mail, set up an authenticator app (TOTP), log out, log in with a code, place a paper
order. The platform is the one tests/trade/test_browser.py starts, with its mail written
to files (EMAIL_URL=filemail://...) where the test reads it; screenshots of each step go to
``artifacts/browser/``.
"""
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import expect

from tests.trade.test_browser import (
    CHROMIUM,
    STREAM_LIVE,
    SYMBOL,
    DemoPlatform,
    Shots,
    place,
    show_price,
    watch_csp,
)
from tests.trade.test_browser import browser as browser  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.make_run]

USERNAME = "newtrader"
EMAIL = "newtrader@example.test"
PASSWORD = "a-long-enough-pass-42"
TOTP_PERIOD = 30


class MailedPlatform(DemoPlatform):
    def __init__(self, workdir: Path) -> None:
        self.outbox = workdir / "mail"
        self.outbox.mkdir()
        with pytest.MonkeyPatch.context() as patch:
            # Four slashes: django-environ takes the path after "filemail:///" as relative.
            patch.setenv("EMAIL_URL", f"filemail:///{self.outbox}")
            super().__init__(workdir)

    def mails_to(self, address: str) -> list[str]:
        """The bodies of the mails sent to ``address``, oldest first (Django's file backend
        writes one file per connection, messages separated by a line of dashes)."""
        bodies = []
        for path in sorted(self.outbox.iterdir(), key=lambda p: p.stat().st_mtime):
            for raw in path.read_bytes().split(b"-" * 79):
                if not raw.strip():
                    continue
                message = message_from_bytes(raw.strip())
                if address in (message["To"] or ""):
                    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
                    bodies.append(part.get_payload(decode=True).decode())
        return bodies


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[MailedPlatform]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    demo = MailedPlatform(tmp_path_factory.mktemp("make-run-accounts"))
    try:
        demo.wait_ready()
        demo.control("pause")
        yield demo
    finally:
        demo.stop()


def code_for(secret: str, *, not_this: str | None = None) -> str:
    """The authenticator app's current code; a new period's if ``not_this`` is the current
    one (a code is accepted once)."""
    while True:
        code = format_hotp_value(hotp_value(secret, int(time.time()) // TOTP_PERIOD))
        if code != not_this:
            return code
        time.sleep(TOTP_PERIOD - time.time() % TOTP_PERIOD + 0.5)


def test_sign_up_verify_enable_totp_log_in_with_a_code_and_trade(platform, browser):  # noqa: F811
    context = browser.new_context(base_url=platform.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations = watch_csp(page)
    shot = Shots(page, "account")
    try:
        # Sign up.
        page.goto("/accounts/signup/")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=username]", USERNAME)
        page.fill("input[name=password1]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        shot("sign-up")
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
        shot("verification-sent")

        # Not before the address is confirmed.
        page.goto("/accounts/login/")
        page.fill("input[name=login]", USERNAME)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))

        # The link in the e-mail.
        deadline = time.monotonic() + 10
        while not (mails := platform.mails_to(EMAIL)) and time.monotonic() < deadline:
            time.sleep(0.2)
        link = re.search(r"https?://\S+/accounts/confirm-email/[^/\s]+/", mails[0]).group(0)
        page.goto(link)
        shot("confirm-email")
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/login/"))

        # Log in by e-mail address this time.
        page.fill("input[name=login]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/forex$"))
        page.goto("/account/")
        expect(page.get_by_test_id("kyc-level")).to_have_text("1")
        expect(page.get_by_test_id("mfa-state")).to_have_text("off")
        shot("account-page")

        # Set up the authenticator app: its code computed from the secret the page shows.
        # allauth asks for the password again before a security change.
        page.goto("/accounts/2fa/totp/activate/")
        page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))
        secret = page.locator("#authenticator_secret").input_value()
        assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
        setup_code = code_for(secret)
        page.fill("input[name=code]", setup_code)
        shot("totp-activate")
        page.click("main form button[type=submit]")
        page.wait_for_url(lambda url: "/totp/activate/" not in url)
        page.goto("/account/")
        expect(page.get_by_test_id("mfa-state")).to_have_text("on")
        shot("totp-on")

        # Log out; the password alone no longer logs in.
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r"/forex$"))
        page.goto(f"/trade/{SYMBOL}/")
        # The market is public; placing an order asks to log in.
        page.get_by_test_id("login-link").click()
        page.wait_for_url(re.compile(r"/accounts/login/"))
        page.fill("input[name=login]", USERNAME)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.fill("input[name=code]", "000000" if setup_code != "000000" else "111111")
        page.click("main form button[type=submit]")
        expect(page.locator("main")).to_contain_text("Incorrect code")
        shot("wrong-code")
        page.fill("input[name=code]", code_for(secret, not_this=setup_code))
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/trade/EUR/USD/$"))
        expect(page.get_by_test_id("username")).to_have_text(USERNAME)
        shot("logged-in-with-code")

        # A paper order (KYC level 0 is enough for paper trading).
        page.wait_for_function(STREAM_LIVE)
        show_price(platform, page, "1.25000", bid="1.24990", ask="1.25010")
        place(page, side="BUY", type_="LIMIT", amount="100", price="1.20000")
        page.wait_for_function("() => document.getElementById('order-ok').textContent"
                               " || document.getElementById('order-error').textContent")
        assert page.get_by_test_id("order-error").inner_text() == ""
        expect(page.get_by_test_id("order-ok")).to_contain_text("Open")
        expect(page.locator("#open-orders tr[data-status=OPEN]")).to_have_count(1)
        shot("paper-order")
        assert violations == []
    finally:
        context.close()
