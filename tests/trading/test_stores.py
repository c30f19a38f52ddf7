"""The ``OrderStore`` contract. Every store runs these tests: add a store (e.g. the
ScyllaDB one of the internal markets) to ``STORES`` and it must pass them unchanged."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.trading.constants import RESTING_STATUSES, OrderStatus, Venue
from apps.trading.models import Fill, Order, OrderList
from apps.trading.stores import SqlOrderStore, store_for
from tests.factories import MarketFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
S = OrderStatus

STORES = [pytest.param(SqlOrderStore, id="sql")]


@pytest.fixture(params=STORES)
def store(request):
    return request.param()


@pytest.fixture
def market(currencies):
    return MarketFactory()


def new_order(store, *, user, market, **fields) -> Order:
    return store.create(order=OrderFactory.build(user=user, market=market, **fields))


def fill(order: Order, n: int, amount: str = "1") -> Fill:
    return Fill(order=order, venue=order.venue, trade_id=f"{order.pk}-{n}", price=order.price,
                amount=D(amount), quote_amount=D(amount) * order.price, liquidity="MAKER",
                fee=D(0), fee_currency="USD", settlement_key=f"test:{order.pk}-{n}",
                executed_at=timezone.now())


def test_every_venue_has_a_store():
    assert all(store_for(venue) is not None for venue in Venue.values)


def test_a_created_order_is_read_back_by_its_owner_only(store, market, user):
    order = new_order(store, user=user, market=market, client_order_id="a")
    assert order.pk is not None
    got = store.get(order_id=order.pk)
    assert (got.client_order_id, got.amount, got.remaining, got.status) == (
        "a", D("10"), D("10"), S.OPEN)
    assert store.get(order_id=order.pk, user_id=user.pk).pk == order.pk
    assert store.get(order_id=order.pk, user_id=UserFactory().pk) is None
    assert store.get(order_id=order.pk + 1000) is None
    with transaction.atomic():
        assert store.get(order_id=order.pk, for_update=True).pk == order.pk


def test_a_client_order_id_is_unique_per_user_and_venue(store, market, user):
    new_order(store, user=user, market=market, client_order_id="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        new_order(store, user=user, market=market, client_order_id="same")
    new_order(store, user=UserFactory(), market=market, client_order_id="same")
    spot = MarketFactory(venue="spot")
    new_order(store, user=user, market=spot, client_order_id="same")
    assert Order.objects.filter(client_order_id="same").count() == 3


def test_lock_takes_the_orders_and_the_rest_of_their_lists_in_id_order(store, market,
                                                                        user):
    oco, other_list = (OrderList.objects.create(user=user, market=market, venue=market.venue,
                                                kind=kind, client_order_id=kind)
                       for kind in ("OCO", "BRACKET"))
    first = new_order(store, user=user, market=market, group=oco, role="STOP",
                      status=S.PENDING)
    plain = new_order(store, user=user, market=market)
    aside = new_order(store, user=user, market=market, settle_error="boom",
                      status=S.CANCELED)
    second = new_order(store, user=user, market=market, group=oco, role="LIMIT")
    new_order(store, user=user, market=market, group=other_list, role="ENTRY")
    with transaction.atomic():
        locked = store.lock(order_ids=[second.pk, aside.pk, plain.pk])
    # Whatever their status; the mate not asked for too; the other list not at all.
    assert [o.pk for o in locked] == [first.pk, plain.pk, aside.pk, second.pk]
    with transaction.atomic():
        assert [o.pk for o in store.lock(order_ids=[plain.pk])] == [plain.pk]
        assert store.lock(order_ids=[]) == []


def test_save_writes_the_new_state_and_the_fills(store, market, user):
    a = new_order(store, user=user, market=market)
    b = new_order(store, user=user, market=market)
    with transaction.atomic():
        a, b = store.lock(order_ids=[a.pk, b.pk])
        a.status, a.filled, a.remaining, a.cost = S.PARTIALLY_FILLED, D("3"), D("7"), D("3.3")
        b.status, b.closed_at = S.CANCELED, timezone.now()
        store.save(orders=[a, b], fills=[fill(a, 1, "1"), fill(a, 2, "2")])
    got = store.get(order_id=a.pk)
    assert (got.status, got.filled, got.remaining, got.cost) == (
        S.PARTIALLY_FILLED, D("3"), D("7"), D("3.3"))
    assert store.get(order_id=b.pk).status == S.CANCELED
    fills = store.fills_of(order_ids=[a.pk, b.pk])
    assert list(fills) == [a.pk]
    assert [f.trade_id for f in fills[a.pk]] == [f"{a.pk}-1", f"{a.pk}-2"]
    assert store.fills_of(order_ids=[]) == {}


def test_a_fill_reported_twice_is_refused_by_the_store(store, market, user):
    order = new_order(store, user=user, market=market)
    store.save(orders=[], fills=[fill(order, 1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        store.save(orders=[], fills=[fill(order, 1)])
    assert len(store.fills_of(order_ids=[order.pk])[order.pk]) == 1


rows = st.lists(st.tuples(
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=-5, max_value=5),          # price, ticks from 1.10000
    st.sampled_from(S.values),
    st.booleans(),                                   # placed before the quote
    st.booleans(),                                   # set aside
    st.booleans(),                                   # in the other market
), max_size=25)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, bid=st.integers(-3, 3), spread=st.integers(0, 3))
def test_crossing_ids_are_exactly_the_resting_orders_a_quote_crosses(store, market, user,
                                                                     rows, bid, spread):
    tick, mid = D("0.00001"), D("1.10000")
    quote_at = timezone.now()
    ask_price, bid_price = mid + (bid + spread) * tick, mid + bid * tick
    with transaction.atomic():
        other = MarketFactory(symbol="GBP/USD")
        expected = set()
        for side, offset, status, before, aside, elsewhere in rows:
            price = mid + offset * tick
            order = new_order(store, user=user, market=other if elsewhere else market,
                              side=side, price=price, status=status,
                              settle_error="boom" if aside else "")
            Order.objects.filter(pk=order.pk).update(
                created_at=quote_at + timedelta(seconds=-1 if before else 1))
            crossed = price >= ask_price if side == "BUY" else price <= bid_price
            if (crossed and before and not aside and not elsewhere
                    and status in RESTING_STATUSES):
                expected.add(order.pk)
        found = store.crossing_ids(market=market, buy_at_or_above=ask_price,
                                   sell_at_or_below=bid_price, placed_before=quote_at)
        assert found == sorted(expected)
        transaction.set_rollback(True)


triggers = st.lists(st.tuples(
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["RISE", "FALL"]),
    st.sampled_from(["LAST", "BID_ASK"]),
    st.integers(min_value=-5, max_value=5),          # stop price, ticks from 1.10000
    st.sampled_from([S.PENDING, S.OPEN, S.CANCELED]),
    st.booleans(),                                   # placed before the quote
    st.booleans(),                                   # set aside
    st.booleans(),                                   # in the other market
), max_size=25)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=triggers, last=st.integers(-3, 3), bid=st.integers(-3, 3),
       spread=st.integers(0, 3))
def test_triggered_ids_are_exactly_the_pending_orders_the_prices_fire(store, market, user,
                                                                      rows, last, bid,
                                                                      spread):
    tick, mid = D("0.00001"), D("1.10000")
    quote_at = timezone.now()
    prices = {("LAST", "BUY"): mid + last * tick, ("LAST", "SELL"): mid + last * tick,
              ("BID_ASK", "BUY"): mid + (bid + spread) * tick,
              ("BID_ASK", "SELL"): mid + bid * tick}
    with transaction.atomic():
        other = MarketFactory(symbol="GBP/USD")
        expected = set()
        for side, direction, source, offset, status, before, aside, elsewhere in rows:
            stop = mid + offset * tick
            order = new_order(store, user=user, market=other if elsewhere else market,
                              type="STOP_LIMIT", side=side, stop_price=stop,
                              trigger_direction=direction, trigger_source=source,
                              status=status, settle_error="boom" if aside else "")
            Order.objects.filter(pk=order.pk).update(
                created_at=quote_at + timedelta(seconds=-1 if before else 1))
            price = prices[(source, side)]
            fired = price >= stop if direction == "RISE" else price <= stop
            if fired and before and not aside and not elsewhere and status == S.PENDING:
                expected.add(order.pk)
        found = store.triggered_ids(market=market, prices=prices, placed_before=quote_at)
        assert found == sorted(expected)
        transaction.set_rollback(True)


def test_pending_says_whether_a_market_has_pending_orders_and_trailing_stops(store, market,
                                                                            user):
    other = MarketFactory(symbol="GBP/USD")
    new_order(store, user=user, market=market)  # resting, not pending
    new_order(store, user=user, market=other, type="TRAILING_STOP", price=None,
              status=S.PENDING)
    assert store.pending(market=market) == (False, False)
    new_order(store, user=user, market=market, type="STOP_MARKET", price=None,
              status=S.PENDING, stop_price=D("1.2"), trigger_direction="RISE")
    assert store.pending(market=market) == (True, False)
    new_order(store, user=user, market=market, type="TRAILING_STOP", price=None,
              status=S.CANCELED)
    assert store.pending(market=market) == (True, False)
    new_order(store, user=user, market=market, type="TRAILING_STOP", price=None,
              status=S.PENDING)
    assert store.pending(market=market) == (True, True)
    assert store.pending(market=other) == (True, True)
