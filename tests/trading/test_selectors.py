"""Reads of the trading core: which markets take orders, and a user's orders."""
import pytest

from apps.core.errors import Conflict, NotFound
from apps.trading import selectors
from tests.factories import MarketFactory, UserFactory
from tests.trading.helpers import place

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("status", "error"), [("disabled", NotFound), ("halted", Conflict),
                                               ("delisted", Conflict)])
def test_market_for_trading_says_why_a_market_takes_no_orders(currencies, status, error):
    MarketFactory(status=status)
    with pytest.raises(error):
        selectors.market_for_trading(venue="paper", symbol="EUR/USD")
    with pytest.raises(NotFound):
        selectors.market_get_enabled(venue="paper", symbol="EUR/USD")


def test_markets_are_found_by_venue_and_exact_symbol(currencies):
    paper, spot = MarketFactory(), MarketFactory(venue="spot")
    assert selectors.market_for_trading(venue="paper", symbol="EUR/USD") == paper
    assert selectors.market_get_enabled(venue="spot", symbol="EUR/USD") == spot
    for symbol in ("eur/usd", "EUR/USD ", "EUR-USD"):
        with pytest.raises(NotFound):
            selectors.market_for_trading(venue="paper", symbol=symbol)
        with pytest.raises(NotFound):
            selectors.market_get_enabled(venue="paper", symbol=symbol)
    with pytest.raises(NotFound):
        selectors.market_for_trading(venue="futures", symbol="EUR/USD")


def test_enabled_markets_of_a_venue_hot_and_trending_first(currencies):
    MarketFactory(symbol="AUD/USD")
    MarketFactory(symbol="GBP/USD", is_trending=True)
    MarketFactory(symbol="CHF/USD", is_hot=True)
    MarketFactory(symbol="CAD/USD", status="disabled", is_hot=True)
    MarketFactory(symbol="JPY/USD", venue="spot", is_hot=True)
    listed = [m.symbol for m in selectors.markets_enabled(venue="paper")]
    assert listed == ["CHF/USD", "GBP/USD", "AUD/USD"]
    assert selectors.enabled_symbols_in(venue="paper", symbols=[
        "CHF/USD", "CAD/USD", "JPY/USD", "chf/usd", "XXX/USD"]) == {"CHF/USD"}
    assert selectors.enabled_symbols_in(venue="spot", symbols=["JPY/USD"]) == {"JPY/USD"}


def test_order_list_shows_the_users_own_orders_of_one_venue_newest_first(currencies, user):
    MarketFactory()
    MarketFactory(symbol="GBP/USD")
    first = place(user, price="1.10000", amount="10")
    second = place(user, price="1.20000", amount="10", symbol="GBP/USD")
    place(UserFactory(), price="1.10000", amount="10")
    assert [o.pk for o in selectors.order_list(user_id=user.pk, venue="paper")] == [
        second.pk, first.pk]
    assert [o.pk for o in selectors.order_list(user_id=user.pk, venue="paper",
                                               symbol="GBP/USD")] == [second.pk]
    assert list(selectors.order_list(user_id=user.pk, venue="paper", status="FILLED")) == []
    assert list(selectors.order_list(user_id=user.pk, venue="spot")) == []
