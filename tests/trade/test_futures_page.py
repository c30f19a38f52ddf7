"""A futures contract's page, read from the HTML the server renders: the internal-market
page with the contract's leverage limits, funding and the futures API in its config, the
leverage and reduce-only fields in the form, and the positions table for a trader."""
import json

import pytest
from django.urls import reverse

from tests.engine.helpers import eco_market
from tests.factories import ContractFactory, MarketFactory, UserFactory
from tests.trade.test_views import rendered

pytestmark = pytest.mark.django_db
URL = "/market/futures/BTC/USDT/"


@pytest.fixture
def contract(currencies):
    return ContractFactory()


def config_of(page) -> dict:
    return json.loads(page.find("script", id="market-config").text)


def test_a_visitor_sees_the_contracts_header_and_is_asked_to_log_in(client, contract):
    page = rendered(client.get(URL))
    config = config_of(page)
    assert config["streams"] == {"depth": "depth@futures:BTC/USDT",
                                 "trades": "trades@futures:BTC/USDT",
                                 "mark": "mark@futures:BTC/USDT"}
    assert config["futures"]["maxLeverage"] == 125
    assert [t["maxLeverage"] for t in config["futures"]["tiers"]] == [125, 100, 75, 50]
    assert config["futures"]["api"]["funding"] == reverse("futures-funding")
    for testid in ("mark", "index", "funding-rate", "funding-countdown"):
        assert page.find(data_testid=testid) is not None
    assert page.find("a", data_testid="login-link") is not None
    assert page.find_all("form", id="order-form") == []
    assert page.find_all("tbody", id="positions") == []
    scripts = [s.attrs["src"].rsplit("/", 1)[-1] for s in page.find_all("script")
               if s.attrs.get("src")]
    assert scripts == ["stream.js", "platform.js", "depthbook.js", "futures.js", "market.js"]


def test_a_trader_gets_leverage_reduce_only_and_the_positions(client, contract):
    client.force_login(UserFactory())
    page = rendered(client.get(URL))
    config = config_of(page)
    assert config["api"]["orders"] == reverse("futures-orders")
    # A futures order holds margin in the quote currency of the FUTURES wallet.
    assert (config["walletType"], config["balanceCurrencies"]) == ("FUTURES", ["USDT"])
    assert config["futures"]["api"]["margin"] == reverse(
        "futures-position-margin", kwargs={"position_id": 0})
    assert config["futures"]["api"]["exits"] == reverse(
        "futures-position-exits", kwargs={"position_id": 0})
    form = page.find("form", id="order-form")
    slider = form.find("input", name="leverage")
    assert (slider.attrs["min"], slider.attrs["max"]) == ("1", "125")
    assert form.find("input", name="reduce_only") is not None
    assert page.find("tbody", id="positions") is not None


def test_an_ecosystem_page_stays_without_futures_parts(client, contract):
    eco_market()
    client.force_login(UserFactory())
    page = rendered(client.get("/market/ecosystem/ABC/USDT/"))
    config = config_of(page)
    assert "futures" not in config
    assert (config["walletType"], config["balanceCurrencies"]) == ("ECO", ["ABC", "USDT"])
    assert page.find_all("tbody", id="positions") == []


def test_a_futures_market_without_a_contract_has_no_page(client, currencies):
    MarketFactory(venue="futures", symbol="ETH/USDT", kind="perpetual")
    assert client.get("/market/futures/ETH/USDT/").status_code == 404


def test_no_market_by_total_on_futures(client, contract):
    """The futures order input inherits the core's quote_amount, but the venue does not
    fill a budget order (its gateway's quote_budget): the form does not offer one."""
    client.force_login(UserFactory())
    page = rendered(client.get(URL))
    assert config_of(page)["api"]["budget"] is False
    form = page.find("form", id="order-form")
    assert [i.attrs["value"] for i in form.find_all("input", name="type")] == [
        "LIMIT", "MARKET"]
