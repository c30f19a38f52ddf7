"""The book venues' market lists (ecosystem, spot, futures): in every page's navigation,
each enabled market linked to its internal market page."""
import pytest

from apps.trading.constants import MarketStatus
from tests.engine.helpers import eco_market
from tests.factories import MarketFactory
from tests.trade.test_views import rendered

pytestmark = pytest.mark.django_db


@pytest.fixture
def markets(currencies):
    eco = eco_market()
    spot = MarketFactory(venue="spot", symbol="BTC/USDT", tick_size="0.01",
                         lot_size="0.00001")
    MarketFactory(venue="spot", symbol="ETH/USDT", status=MarketStatus.DISABLED)
    return eco, spot


def _links(page) -> dict[str, str]:
    table = page.find("table", data_testid="venue-markets")
    return {a.text: a.attrs["href"] for a in table.find_all("a") if a.text != "Trade"}


@pytest.mark.parametrize("path", ["/markets/ecosystem", "/markets/ecosystem/"])
def test_the_ecosystem_list_links_its_market_pages_with_and_without_a_slash(client, markets,
                                                                             path):
    response = client.get(path)
    assert response.status_code == 200
    page = rendered(response)
    assert _links(page) == {"ABC/USDT": "/market/ecosystem/ABC/USDT/"}
    nav = {a.text: a.attrs for a in page.find("nav").find_all("a")}
    assert nav["Ecosystem"] == {"href": "/markets/ecosystem", "class": "active"}
    assert client.get(_links(page)["ABC/USDT"]).status_code == 200


@pytest.mark.parametrize("path", ["/markets/spot", "/markets/spot/"])
def test_the_spot_list_shows_only_its_enabled_markets(client, markets, path):
    page = rendered(client.get(path))
    assert _links(page) == {"BTC/USDT": "/market/spot/BTC/USDT/"}
    assert page.find("h1").text == "Spot markets"


def test_every_page_offers_the_book_venues_and_the_market_page_marks_its_own(client, markets):
    page = rendered(client.get("/market/ecosystem/ABC/USDT/"))
    nav = {a.text: a.attrs for a in page.find("nav").find_all("a")}
    assert {name: attrs["href"] for name, attrs in nav.items()
            if attrs["href"].startswith("/markets/")} == {
        "Spot": "/markets/spot", "Ecosystem": "/markets/ecosystem",
        "Futures": "/markets/futures"}
    assert [name for name, attrs in nav.items() if attrs.get("class") == "active"] == [
        "Ecosystem"]


def test_an_empty_venue_says_so(client, currencies):
    page = rendered(client.get("/markets/futures"))
    assert page.find_all("table", data_testid="venue-markets") == []
    assert "No futures market is enabled yet." in page.find("section").text


@pytest.mark.parametrize("path", ["/markets/paper", "/markets/nope/", "/markets/SPOT"])
def test_a_venue_without_books_has_no_list(client, path):
    assert client.get(path).status_code == 404
