"""Rule 6 on MariaDB for paper trading: a look-alike symbol places nothing and two
client order ids differing only in case are two orders."""
from decimal import Decimal

import pytest

from apps.core.errors import NotFound
from apps.marketdata.services import publish
from apps.trading import selectors as trading_selectors
from apps.trading.models import Market, Order
from apps.twelvedata import services
from apps.wallets.models import Journal
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/twd/orders/"

# Each of these equals "EUR/USD" under utf8mb4_unicode_ci (and MariaDB's PAD SPACE).
LOOK_ALIKES = [
    "ＥＵＲ/ＵＳＤ",  # full-width letters
    "EUR／USD",  # full-width solidus
    "ÉUR/USD",  # accented
    "\u200fEUR/USD",  # right-to-left mark
    "\u200eEUR/USD",  # left-to-right mark
    "\u200bEUR/USD",  # zero-width space
    "EUR/USD ",  # trailing space
]


@pytest.fixture
def quoted(markets):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    return markets


@pytest.mark.mariadb
@pytest.mark.parametrize("symbol", LOOK_ALIKES)
def test_look_alike_symbol_places_no_order(api, quoted, symbol):
    response = api.post(ORDERS, {"symbol": symbol, "side": "BUY", "type": "LIMIT",
                                 "amount": "10", "price": "1.05"}, format="json")
    assert response.status_code == 400, response.content
    assert "symbol" in response.json()["error"]["fields"]
    assert not Order.objects.exists()
    assert not Journal.objects.exists()


@pytest.mark.parametrize("symbol", LOOK_ALIKES)
def test_look_alike_symbol_finds_no_market_in_the_trading_core(quoted, symbol):
    """Below the API's pattern check: the market lookup itself is byte-exact."""
    assert not Market.objects.filter(venue="paper", symbol=symbol).exists()
    with pytest.raises(NotFound):
        trading_selectors.market_for_trading(venue="paper", symbol=symbol)


@pytest.mark.mariadb
@pytest.mark.parametrize("symbol", LOOK_ALIKES)
def test_look_alike_symbol_query_params_are_refused(api, quoted, symbol):
    for url in ("/api/v1/twd/ticker/", ORDERS):
        response = api.get(url, {"symbol": symbol})
        assert response.status_code == 400, (url, response.content)
        assert "symbol" in response.json()["error"]["fields"]


@pytest.mark.mariadb
def test_client_order_ids_differing_in_case_are_two_orders(api, quoted):
    ids = []
    for client_id in ("buy-1", "BUY-1"):
        response = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                     "amount": "10", "price": "1.05",
                                     "client_order_id": client_id}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["client_order_id"] == client_id
        ids.append(response.json()["id"])
    assert len(set(ids)) == 2
    assert sorted(Order.objects.values_list("client_order_id", flat=True)) == [
        "BUY-1", "buy-1"]
    assert Order.objects.get(client_order_id="buy-1").amount == Decimal("10")


@pytest.mark.parametrize("entry", [
    {"symbol": "VOD", "currency": "GBp"},  # pence: not GBP
    {"symbol": "vod", "currency": "GBP"},
    {"symbol": "ＶＯＤ", "currency": "GBP"},
    {"symbol": "\u200bVOD", "currency": "GBP"},
    {"symbol": "VOD L", "currency": "GBP"},
    {"symbol": "VOD", "currency": "ＧＢＰ"},
], ids=repr)
def test_catalog_entries_with_non_canonical_codes_are_skipped(entry):
    assert services.parse_catalog_entry(kind="stocks", entry=entry) is None


def test_catalog_entries_keep_real_symbols():
    for kind, entry, base in [("stocks", {"symbol": "BRK.A", "currency": "USD"}, "BRK.A"),
                              ("forex", {"symbol": "EUR/USD"}, "EUR")]:
        market = services.parse_catalog_entry(kind=kind, entry=entry)
        assert (market.symbol, market.base_currency) == (entry["symbol"], base)
