"""The portfolio: balances valued in one currency, holdings with average cost and P&L,
and orders with their fills across venues, filtered (selectors, then the page)."""
import datetime
from decimal import Decimal

import pytest

from apps.marketdata.services import publish
from apps.trade import selectors
from apps.trading import services as trading_services
from apps.trading.models import Fill
from apps.wallets.services import admin_adjust
from tests.factories import UserFactory
from tests.trade.test_views import rendered
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db


def market_order(user, side: str, amount: str):
    return trading_services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD",
                                        side=side, type="MARKET", amount=Decimal(amount))


@pytest.fixture
def traded(markets, user):
    """1,000 EUR bought at 1.10010, 400 sold at 1.19990, then EUR/USD at 1.25000; a GBP
    balance no enabled market prices; a resting limit order that filled nothing."""
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    market_order(user, "BUY", "1000")
    publish(quote=make_quote("EUR/USD", "1.20000", bid="1.19990", ask="1.20010"))
    market_order(user, "SELL", "400")
    trading_services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD", side="BUY",
                                 type="LIMIT", amount=Decimal("10"), price=Decimal("1.00000"))
    publish(quote=make_quote("EUR/USD", "1.25000", bid="1.24990", ask="1.25010"))
    admin_adjust(user_id=user.pk, wallet_type="PAPER", currency="GBP", amount=Decimal("50"),
                 reason="test", admin_id=UserFactory(is_staff=True).pk, key="portfolio-gbp")
    return user


def test_holdings_carry_average_cost_and_pnl_from_the_fills(traded):
    buy, sell = Fill.objects.filter(order__user=traded).order_by("id")
    paid = buy.quote_amount + buy.fee  # the fee is taken in USD
    [holding] = selectors.portfolio_holdings(user_id=traded.pk)
    assert holding.market.symbol == "EUR/USD" and holding.amount == Decimal("600")
    assert holding.average_cost == (paid / 1000).quantize(Decimal("0.00001"))
    cost_left = paid * 600 / 1000
    assert holding.realized_pnl == (sell.quote_amount - sell.fee - paid * 400 / 1000).quantize(
        Decimal("0.01"))
    assert holding.last_price == Decimal("1.25000")
    assert holding.unrealized_pnl == (Decimal("1.25") * 600 - cost_left).quantize(
        Decimal("0.01"))
    assert holding.unrealized_pnl > 0


def test_balances_are_valued_in_one_currency_and_an_unpriced_one_is_named(traded):
    [paper] = selectors.portfolio_balances(user_id=traded.pk)
    assert paper.type == "PAPER" and paper.label == "Paper trading"
    rows = {row.currency: row for row in paper.rows}
    assert set(rows) == {"EUR", "GBP", "USD"}
    assert (rows["EUR"].balance, rows["EUR"].price) == (Decimal("600"), Decimal("1.25"))
    assert rows["EUR"].value == Decimal("750.00")
    usd = rows["USD"]
    assert usd.price == 1 and usd.held > 0 and usd.available == usd.balance - usd.held
    # GBP/USD is listed but not enabled: no price, no value, left out of the total.
    assert (rows["GBP"].price, rows["GBP"].value, paper.unpriced) == (None, None, ["GBP"])
    assert paper.value == rows["EUR"].value + usd.value


def test_orders_are_filtered_by_venue_market_status_and_date(traded):
    def ids(**filters) -> list[str]:
        return [o.side + " " + o.status for o in
                selectors.portfolio_orders(user_id=traded.pk, **filters)]

    assert ids() == ["BUY OPEN", "SELL FILLED", "BUY FILLED"]  # newest first
    assert ids(status="FILLED", venue="paper", symbol="EUR/USD") == ["SELL FILLED",
                                                                      "BUY FILLED"]
    assert ids(venue="spot") == [] and ids(symbol="AAPL") == []
    today = datetime.datetime.now(datetime.UTC).date()
    assert len(ids(since=today, until=today)) == 3
    assert ids(since=today + datetime.timedelta(days=1)) == []
    assert ids(until=today - datetime.timedelta(days=1)) == []
    # The last day a date field takes (an edge a query string can name: was a 500).
    assert len(ids(since=datetime.date.min, until=datetime.date.max)) == 3
    other = UserFactory()
    assert selectors.portfolio_orders(user_id=other.pk).count() == 0


def test_portfolio_page_shows_it_and_a_bad_filter_is_an_error_not_a_500(client, traded):
    assert client.get("/portfolio").status_code == 302  # logged in only
    client.force_login(traded)
    for path in ("/portfolio", "/portfolio/"):
        assert client.get(path).status_code == 200
    page = rendered(client.get("/portfolio", {"status": "FILLED"}))
    assert "Values in USD" in page.find("p", data_testid="valuation-note").text
    balances = page.find("table", data_testid="balances", data_type="PAPER")
    assert balances.find("tr", data_currency="GBP").find("td", data_field="value").text == "—"
    assert page.find("tr", data_symbol="EUR/USD").find("td", data_field="last").text == (
        "1.25000")
    rows = page.find("table", data_testid="orders").find_all("tr", data_status="FILLED")
    assert len(rows) == 2
    assert "taker" in rows[0].find("td", data_field="fills").text
    bad = client.get("/portfolio", {"since": "yesterday", "status": "NOPE"})
    assert bad.status_code == 200
    page = rendered(bad)
    # No filter applied: every order is listed.
    assert len([row for row in page.find("table", data_testid="orders").find_all("tr")
                if "data-order" in row.attrs]) == 3
    errors = [e.text for e in page.find("form", data_testid="filters").find_all(
        "span", **{"class": "error"})]
    assert len(errors) == 2
