"""Own fills on the private stream: an ecosystem trade settled by the engine runner tells
each side on its `orders` stream (after the commit), as the paper venue's fills do."""
import pytest

from apps.marketdata import streams
from tests.engine.helpers import drain, eco_market, place, runner, trader

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_side_hears_of_its_fill_on_its_orders_stream(currencies, sent):
    market = eco_market()
    r = runner(market)
    seller, buyer = trader(), trader()
    ask = place(seller, side="SELL", price="10.00", amount="2")
    bid = place(buyer, side="BUY", price="10.50", amount="0.5")
    sent.clear()
    drain(r)
    events = {(group, message["data"]["id"]): message["data"] for group, message in sent
              if message["stream"] == streams.ORDERS}
    maker = events[(streams.user_group(seller.pk), ask.pk)]
    taker = events[(streams.user_group(buyer.pk), bid.pk)]
    assert (maker["status"], maker["filled"], maker["amount"]) == ("PARTIALLY_FILLED", "0.5",
                                                                     "2")
    assert (maker["fill_price"], maker["liquidity"]) == ("10", "MAKER")
    assert (taker["status"], taker["filled"], taker["fill_price"], taker["liquidity"]) == (
        "FILLED", "0.5", "10", "TAKER")
    assert maker["venue"] == taker["venue"] == "ecosystem"
    # Nobody hears of another's order.
    assert {group for group, _ in events} == {streams.user_group(seller.pk),
                                              streams.user_group(buyer.pk)}
