"""The internal-market page, read from the HTML the server renders: what a visitor and a
trader get, and which markets have one."""
import json

import pytest
from django.urls import reverse

from apps.trading.constants import MarketStatus
from tests.engine.helpers import eco_market
from tests.factories import UserFactory
from tests.trade.test_views import rendered
from tests.twelvedata.fixtures import paper_market

pytestmark = pytest.mark.django_db
URL = "/market/ecosystem/ABC/USDT/"


@pytest.fixture
def market(currencies):
    return eco_market()


def test_a_visitor_sees_the_book_and_trades_and_is_asked_to_log_in(client, market):
    response = client.get(URL)
    assert response.status_code == 200
    page = rendered(response)
    config = json.loads(page.find("script", id="market-config").text)
    assert config["streams"] == {"depth": "depth@ecosystem:ABC/USDT",
                                 "trades": "trades@ecosystem:ABC/USDT"}
    assert (config["tickSize"], config["lotSize"], config["loggedIn"]) == ("0.01", "0.001",
                                                                            False)
    for table in ("asks", "bids", "trades"):
        assert page.find("tbody", id=table) is not None
    assert page.find("a", data_testid="login-link") is not None
    assert page.find_all("form", id="order-form") == []
    scripts = [s.attrs["src"].rsplit("/", 1)[-1] for s in page.find_all("script")
               if s.attrs.get("src")]
    assert scripts == ["stream.js", "platform.js", "depthbook.js", "market.js"]


def test_a_trader_gets_the_order_form_with_the_engines_types(client, market):
    client.force_login(UserFactory())
    page = rendered(client.get(URL))
    config = json.loads(page.find("script", id="market-config").text)
    assert config["api"]["orders"] == reverse("eco-orders")
    assert config["api"]["cancel"] == reverse("eco-order-cancel", kwargs={"order_id": 0})
    form = page.find("form", id="order-form")
    # A market buy by total: the ecosystem's order API takes a quote budget.
    assert config["api"]["budget"] is True
    # The conditional types, OCO pairs and brackets: the ecosystem's API takes them.
    assert (config["api"]["conditional"], config["api"]["orderLists"],
            config["api"]["listCancel"]) == (
        True, reverse("eco-order-lists"),
        reverse("eco-order-list-cancel", kwargs={"list_id": 0}))
    assert [i.attrs["value"] for i in form.find_all("input", name="type")] == [
        "LIMIT", "MARKET", "BUDGET", "STOP", "TAKE_PROFIT", "TRAILING_STOP", "OCO", "BRACKET"]
    assert [o.attrs["value"] for o in form.find("select", name="time_in_force").find_all(
        "option")] == ["GTC", "IOC", "FOK"]
    for name in ("post_only", "stop_price", "stop_limit_price", "take_profit_price",
                 "trailing_delta", "trailing_rate", "activation_price"):
        assert form.find("input", name=name) is not None, name
    assert [o.attrs["value"] for o in form.find("select", name="trigger_source").find_all(
        "option")] == ["LAST", "BID_ASK"]
    for table in ("open-orders", "order-lists"):
        assert page.find("tbody", id=table) is not None


@pytest.mark.parametrize("url", [
    "/market/paper/EUR/USD/",          # a venue without books
    "/market/ecosystem/XYZ/USDT/",     # no such market
    "/market/ecosystem/abc/usdt/",     # not the market's symbol
    "/market/ECOSYSTEM/ABC/USDT/",     # not a venue name
])
def test_no_page_without_an_internal_market(client, market, url):
    paper_market("EUR/USD")
    assert client.get(url).status_code == 404


def test_a_disabled_market_has_no_page(client, market):
    market.status = MarketStatus.DISABLED
    market.save(update_fields=["status"])
    assert client.get(URL).status_code == 404
