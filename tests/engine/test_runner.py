"""The runner applies committed commands in order and settles what the book did."""
import pytest

from apps.trading.constants import OrderStatus
from tests.engine.helpers import (
    CLEARING,
    FEES,
    D,
    balance,
    drain,
    eco_market,
    place,
    runner,
    system_total,
    trader,
)
from tests.trading.helpers import books_clean, fresh

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(currencies):
    return eco_market()


def test_a_crossing_order_trades_with_the_resting_one_and_both_settle(market):
    seller, buyer = trader(), trader()
    r = runner(market)
    ask = place(seller, side="SELL", price="10.00", amount="2")
    assert ask.status == OrderStatus.NEW  # the engine has not seen it yet
    bid = place(buyer, side="BUY", price="11.00", amount="1.5")
    assert drain(r) == 2
    ask, bid = fresh(ask), fresh(bid)
    assert (ask.status, ask.filled) == (OrderStatus.PARTIALLY_FILLED, D("1.5"))
    assert (bid.status, bid.filled, bid.cost) == (OrderStatus.FILLED, D("1.5"), D("15"))
    # The maker's price; the maker fee (0.1%) from the seller, the taker fee (0.2%) from
    # the buyer, whose hold at 11.00 is released beyond what it paid.
    assert balance(buyer, "ABC") == (D("1001.5"), D(0))
    assert balance(buyer, "USDT") == (D("100000") - D("15") - D("0.03"), D(0))
    assert balance(seller, "USDT") == (D("100000") + D("15") - D("0.015"), D(0))
    assert balance(seller, "ABC") == (D("998.5"), D("0.5"))
    assert system_total(FEES, "USDT") == D("0.045")
    assert system_total(CLEARING, "USDT") == 0 and system_total(CLEARING, "ABC") == 0
    assert books_clean() == []


def test_cancel_is_a_command_too_and_releases_the_hold(market):
    buyer = trader()
    r = runner(market)
    bid = place(buyer, side="BUY", price="9.00", amount="1")
    drain(r)
    assert fresh(bid).status == OrderStatus.OPEN
    from apps.trading import services
    services.order_cancel(user_id=buyer.pk, venue="ecosystem", order_id=bid.pk)
    assert fresh(bid).status == OrderStatus.OPEN  # until the engine applies it
    drain(r)
    assert fresh(bid).status == OrderStatus.CANCELED
    assert balance(buyer, "USDT") == (D("100000"), D(0))


def test_orders_ending_unfilled_in_one_batch_release_their_holds_once(market):
    users = [trader() for _ in range(3)]
    r = runner(market)
    bids = [place(u, side="BUY", price="9.00", amount="1", time_in_force="IOC") for u in users]
    bids.append(place(users[0], side="BUY", price="9.50", amount="1"))
    from apps.trading import services
    services.order_cancel(user_id=users[0].pk, venue="ecosystem", order_id=bids[-1].pk)
    assert drain(r) == 5
    assert [fresh(b).status for b in bids] == [OrderStatus.EXPIRED] * 3 + [
        OrderStatus.CANCELED]
    assert [balance(u, "USDT") for u in users] == [(D("100000"), D(0))] * 3
    assert books_clean() == []
