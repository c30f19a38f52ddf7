import json

import pytest

from apps.marketdata.services import publish
from apps.twelvedata.models import TwdMarket
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db


def test_market_lists_show_enabled_markets_with_price_change_and_marks(client, markets):
    TwdMarket.objects.filter(symbol="EUR/USD").update(is_trending=True)
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    page = client.get("/forex")
    assert page.status_code == 200
    html = page.content.decode()
    assert "PAPER TRADING" in html and "EUR/USD" in html and "GBP/USD" not in html
    assert "trending" in html and "1.1" in html
    row = page.context["rows"][0]
    assert row.previous_close is not None and row.change_pct is not None
    assert "AAPL" in client.get("/stocks").content.decode()
    assert client.get("/indices").status_code == 200


def test_market_list_survives_an_unreachable_provider(client, markets, settings):
    settings.TWELVEDATA_BASE_URL = "http://127.0.0.1:9"
    page = client.get("/forex")
    assert page.status_code == 200 and page.context["rows"][0].change_pct is None


def test_trade_page_needs_login_and_an_enabled_market(client, markets, user):
    assert client.get("/trade/EUR/USD/").status_code == 302
    client.force_login(user)
    page = client.get("/trade/EUR/USD/")
    assert page.status_code == 200
    config = json.loads(page.context["config"] and json.dumps(page.context["config"]))
    assert config["symbol"] == "EUR/USD" and config["pricePrecision"] == 5
    assert "lightweight-charts.standalone.production.js" in page.content.decode()
    assert client.get("/trade/GBP/USD/").status_code == 404
    assert client.get("/trade/NOPE/").status_code == 404


def test_login_and_logout(client, user):
    page = client.post("/login/", {"username": user.username, "password": "pw-for-tests-only"})
    assert page.status_code == 302 and page.url == "/"
    assert client.post("/logout/").status_code == 302
    bad = client.post("/login/", {"username": user.username, "password": "nope"})
    assert "didn't match" in bad.content.decode()
