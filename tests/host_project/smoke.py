"""The host project's smoke test (run by .ci/host.sh inside the host's own virtualenv,
after `manage.py migrate`): a member places and cancels a paper order through the API and
sees it on the host's page, and the apps' trade page comes wrapped in the host's layout.

Usage: python smoke.py <currencies fixture>. Exits non-zero on the first failed step."""
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from apps.marketdata.quotes import Quote  # noqa: E402
from apps.marketdata.services import publish  # noqa: E402
from apps.trading.constants import MarketStatus, Venue  # noqa: E402
from apps.trading.models import Market  # noqa: E402
from apps.twelvedata.models import TwdMarket  # noqa: E402


def step(what: str, ok: bool, detail: object = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if not ok else ""))  # noqa: T201
    if not ok:
        sys.exit(1)


def main(currencies: str) -> None:
    import apps

    step("the apps come from the installed wheel, not the repository",
         "site-packages" in apps.__path__[0], apps.__path__[0])
    User = get_user_model()
    step("the user model is the host's", User._meta.label == "members.Member", User)

    call_command("loaddata", currencies, verbosity=0)
    market = Market.objects.create(
        venue=Venue.PAPER, symbol="EUR/USD", base_currency="EUR", quote_currency="USD",
        tick_size=Decimal("0.00001"), lot_size=Decimal("0.01"), status=MarketStatus.ENABLED)
    TwdMarket.objects.create(market=market, symbol="EUR/USD", type=TwdMarket.Type.FOREX,
                             name="Euro / US Dollar")
    publish(quote=Quote(venue="paper", symbol="EUR/USD", price=Decimal("1.10000"),
                        bid=Decimal("1.09990"), ask=Decimal("1.10010"),
                        timestamp=datetime.now(UTC), source="host-smoke"))

    User.objects.create_user(username="hostmember", email="member@host.example",
                             password="a-long-host-password-1")
    api = Client()
    token = api.post("/exchange/api/v1/auth/token/",
                     {"username": "hostmember", "password": "a-long-host-password-1"},
                     content_type="application/json")
    step("the member gets an API token", token.status_code == 200, token.content)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.json()['token']}"}

    placed = api.post("/exchange/api/v1/twd/orders/",
                      {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT", "amount": "100",
                       "price": "1.05"}, content_type="application/json", **auth)
    step("a paper LIMIT order is placed", placed.status_code == 201, placed.content)
    order = placed.json()
    step("it rests OPEN", order["status"] == "OPEN", order)
    canceled = api.post(f"/exchange/api/v1/twd/orders/{order['id']}/cancel/", **auth)
    step("it is cancelled", canceled.status_code == 200
         and canceled.json()["status"] == "CANCELED", canceled.content)

    browser = Client()
    browser.force_login(User.objects.get(username="hostmember"))
    page = browser.get("/my-orders/")
    html = page.content.decode()
    step("the host's page shows the cancelled order",
         page.status_code == 200 and f'data-order="{order["id"]}"' in html
         and "CANCELED" in html and "EUR/USD" in html, html)
    trade = browser.get("/exchange/trade/EUR/USD/")
    html = trade.content.decode()
    step("the apps' trade page is wrapped in the host's layout",
         trade.status_code == 200 and "data-host-layout" in html
         and "Host Exchange — hostmember" in html and 'id="chart"' in html, html[:2000])
    step("the trade page brings its stylesheet", "trade/trade.css" in html, html[:2000])
    live = browser.get("/health/live", HTTP_ACCEPT="application/json")
    step("liveness answers", live.status_code == 200, live.content)
    ready = browser.get("/health/ready", HTTP_ACCEPT="application/json")
    step("readiness passes (database, cache, the paper feed)", ready.status_code == 200,
         ready.content)


if __name__ == "__main__":
    main(sys.argv[1])
