"""A position's take-profit and stop-loss, triggered by the mark price (docs/FUTURES.md
"Take-profit and stop-loss"): set, replaced and cleared through the positions API, fired
by mark ticks through the trading core's conditional machinery, filled by the engine,
exactly once under duplicated ticks and concurrent executors (MariaDB)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.futures import selectors, services
from apps.futures.models import OrderTerms, Position
from apps.marketdata import streams
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.trading.constants import OrderStatus, OrderType, TriggerSource
from apps.trading.models import Order
from apps.trading.services import conditional
from tests.futures import test_engine_orders, test_insurance
from tests.futures.helpers import SYSTEMS, index_quote, system, wallet
from tests.futures.test_engine_orders import SYMBOL, drain, place, trader
from tests.trading.helpers import books_clean
from tests.wallets.test_concurrency import run_threads

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
# The engine tests' contract and runner; the mark is the index (no premium from the book).
contract, engine = test_engine_orders.contract, test_engine_orders.engine
no_premium = test_insurance.no_premium


def mark(contract, price: str) -> Quote:
    """A mark tick at ``price`` (the index's one source at it, no premium) and what its
    quote-bus listener does: the exits' trigger."""
    now = datetime.now(UTC)
    index_quote(price, now=now)
    services.mark_refresh(contract=contract, now=now)
    quote = selectors.latest_mark(contract=contract)
    services.mark_trigger(quote=quote)
    return quote


def position(user) -> Position:
    return Position.objects.get(user_id=user.pk)


def exits_of(user) -> dict[str, Order]:
    return {o.type: o for o in Order.objects.filter(user_id=user.pk, close_position=True)}


@pytest.fixture
def book(engine, contract):
    """a LONG 1 BTC at 60000 and b SHORT 1 (10x), a market maker quoting around, the
    mark at 60000."""
    a, b, mm = trader(), trader(), trader("1000000")
    place(b, "SELL", "1", "60000")
    place(a, "BUY", "1", "60000")
    drain(engine)
    mark(contract, "60000")
    return a, b, mm


def test_a_table_of_mark_ticks_fires_each_exit_once_at_the_mark_for_the_positions_size(
        book, engine, contract):
    a, b, mm = book
    services.position_exits_set(user_id=a.pk, position_id=position(a).pk,
                                take_profit_price=D("62000"), stop_loss_price=D("58000"))
    services.position_exits_set(user_id=b.pk, position_id=position(b).pk,
                                take_profit_price=D("58500"), stop_loss_price=D("61500"))
    # a long's exits SELL, a short's BUY; take-profit on a rise for a long, stop on a fall
    assert {(t, o.side, o.stop_price, o.trigger_source, o.amount, o.status)
            for t, o in exits_of(a).items()} == {
        (OrderType.TAKE_PROFIT_MARKET, "SELL", D(62000), TriggerSource.MARK, D(1), "PENDING"),
        (OrderType.STOP_MARKET, "SELL", D(58000), TriggerSource.MARK, D(1), "PENDING")}
    assert all(OrderTerms.objects.get(order=o).reduce_only for o in exits_of(b).values())
    # liquidity for the exits' market children
    place(mm, "SELL", "5", "61500")
    place(mm, "BUY", "5", "60500")
    drain(engine)

    table = [
        # mark, then which exits are PENDING / fired (NEW for the engine) after it
        ("61000", {(a, "TAKE_PROFIT_MARKET"): "PENDING", (a, "STOP_MARKET"): "PENDING",
                   (b, "TAKE_PROFIT_MARKET"): "PENDING", (b, "STOP_MARKET"): "PENDING"}),
        # b's stop (a BUY, fires on a rise to 61500): placed for b's size, 1
        ("61500", {(a, "TAKE_PROFIT_MARKET"): "PENDING", (a, "STOP_MARKET"): "PENDING",
                   (b, "TAKE_PROFIT_MARKET"): "PENDING", (b, "STOP_MARKET"): "NEW"}),
        ("61500", {(b, "STOP_MARKET"): "NEW"}),  # a duplicated tick fires nothing again
    ]
    for price, expected in table:
        mark(contract, price)
        for (user, type), status in expected.items():
            assert exits_of(user)[type].status == status, (price, user, type)
    fired = exits_of(b)[OrderType.STOP_MARKET]
    assert fired.triggered_at is not None
    assert fired.trigger_evidence["quote"]["venue"] == "mark"
    assert D(fired.trigger_evidence["quote"]["price"]) == D(61500)

    drain(engine)
    fired.refresh_from_db()
    assert (fired.status, fired.filled, fired.cost) == (OrderStatus.FILLED, D(1), D(61500))
    assert position(b).status == "FLAT"
    assert books_clean() == []

    # a's take-profit at 62000 (the market maker's bids are at 60500: it closes there)
    place(mm, "SELL", "1", "62500")  # nothing for a's SELL: it takes the bids
    drain(engine)
    mark(contract, "62000")
    tp = exits_of(a)[OrderType.TAKE_PROFIT_MARKET]
    assert tp.status == OrderStatus.NEW
    assert exits_of(a)[OrderType.STOP_MARKET].status == OrderStatus.PENDING
    drain(engine)
    tp.refresh_from_db()
    assert (tp.status, tp.filled) == (OrderStatus.FILLED, D(1))
    assert position(a).status == "FLAT"
    assert books_clean() == []


def test_an_exit_closes_the_position_it_finds_when_it_fires(book, engine, contract):
    a, b, mm = book
    services.position_exits_set(user_id=a.pk, position_id=position(a).pk,
                                stop_loss_price=D("59000"))
    stop = exits_of(a)[OrderType.STOP_MARKET]
    assert stop.amount == D(1)
    place(b, "SELL", "0.5", "60000")
    place(a, "BUY", "0.5", "60000")  # the long grows to 1.5 after the stop was set
    drain(engine)
    assert position(a).size == D("1.5")
    place(mm, "BUY", "5", "59000")
    drain(engine)
    mark(contract, "59000")
    stop.refresh_from_db()
    assert (stop.status, stop.amount) == (OrderStatus.NEW, D("1.5"))
    drain(engine)
    stop.refresh_from_db()
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, D("1.5"))
    assert position(a).status == "FLAT"
    assert books_clean() == []


def test_replacing_and_clearing_leave_one_exit_of_each_kind_and_release_the_holds(
        book, engine, contract, monkeypatch):
    a, _, _ = book
    sent = []
    monkeypatch.setattr(streams, "send_to_groups", lambda messages: sent.extend(
        message["data"] for _, message in messages if message["stream"] == "positions")
        or True)
    held = wallet(a)[1]
    pid = position(a).pk
    services.position_exits_set(user_id=a.pk, position_id=pid, take_profit_price=D("61000"))
    first = exits_of(a)[OrderType.TAKE_PROFIT_MARKET]
    services.position_exits_set(user_id=a.pk, position_id=pid, take_profit_price=D("63000"),
                                stop_loss_price=D("59000"))
    first.refresh_from_db()
    assert (first.status, first.reason) == (OrderStatus.CANCELED, "Replaced.")
    live = Order.objects.filter(user_id=a.pk, close_position=True, status="PENDING")
    assert sorted(o.stop_price for o in live.all()) == [D(59000), D(63000)]
    # each change sends the position with its exits (and a subscriber's snapshot has them)
    assert [(item["take_profit_price"], item["stop_loss_price"]) for item in sent] == [
        ("61000", None), ("63000", "59000")]
    [snapshot] = selectors.positions_data(user_id=a.pk)
    assert (snapshot["take_profit_price"], snapshot["stop_loss_price"]) == ("63000", "59000")
    services.position_exits_set(user_id=a.pk, position_id=pid, take_profit_price=None,
                                stop_loss_price=None)
    assert not live.all().exists()
    assert (sent[-1]["take_profit_price"], sent[-1]["stop_loss_price"]) == (None, None)
    assert wallet(a)[1] == held  # only the position's margin is held again
    assert books_clean() == []


@pytest.fixture
def api(book):
    a = book[0]
    client = APIClient()
    client.force_authenticate(a)
    return client, a


@pytest.mark.parametrize("body, field", [
    ({"take_profit_price": "59999"}, "take_profit_price"),  # a long's TP below the mark
    ({"take_profit_price": "60000"}, "take_profit_price"),  # at it
    ({"stop_loss_price": "60000"}, "stop_loss_price"),  # a long's SL at the mark
    ({"stop_loss_price": "61000"}, "stop_loss_price"),  # above it
    ({"stop_loss_price": "58000.005"}, "stop_loss_price"),  # off the tick
    ({"stop_loss_price": "-1"}, "stop_loss_price"),
    ({"stop_loss_price": "NaN"}, "stop_loss_price"),
    ({"stop_loss_price": "Infinity"}, "stop_loss_price"),
    ({"stop_loss_price": "1e400"}, "stop_loss_price"),
    ({"stop_loss_price": True}, "stop_loss_price"),
    ({"stop_loss_price": ["58000"]}, "stop_loss_price"),
    ({"take_profit_price": "62000", "stop_loss_price": "61000"}, "stop_loss_price"),
])
def test_hostile_exits_are_refused_with_a_400_and_change_nothing(api, body, field):
    client, a = api
    before = wallet(a)
    response = client.post(f"/api/v1/futures/positions/{position(a).pk}/exits/", body,
                           format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Order.objects.filter(user_id=a.pk, close_position=True).exists()
    assert wallet(a) == before


def test_an_empty_body_another_users_position_and_a_closed_one_are_refused(api, book):
    client, a = api
    b = book[1]
    url = f"/api/v1/futures/positions/{position(a).pk}/exits/"
    assert client.post(url, {}, format="json").status_code == 400
    other = client.post(f"/api/v1/futures/positions/{position(b).pk}/exits/",
                        {"take_profit_price": "50000"}, format="json")
    assert other.status_code == 404
    ok = client.post(url, {"take_profit_price": "62000", "stop_loss_price": "58000"},
                     format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json() == {"position_id": position(a).pk, "take_profit_price": "62000",
                         "stop_loss_price": "58000"}
    cleared = client.post(url, {"take_profit_price": None}, format="json")
    assert cleared.json()["take_profit_price"] is None
    assert cleared.json()["stop_loss_price"] == "58000"


def test_a_mark_trigger_is_refused_on_the_other_venues(currencies):
    from apps.core.errors import InvalidInput
    from apps.trading import services as trading
    from tests.streaming.conftest import make_market

    make_market("EUR/USD")
    user = trader()
    with pytest.raises(InvalidInput) as refused:
        trading.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD", side="SELL",
                            type="STOP_MARKET", amount=D(1), stop_price=D("1.00000"),
                            trigger_source=TriggerSource.MARK)
    assert "trigger_source" in refused.value.fields


def test_a_trade_does_not_fire_a_mark_exit_nor_a_mark_tick_a_last_one(book, engine,
                                                                       contract):
    a, _, _ = book
    services.position_exits_set(user_id=a.pk, position_id=position(a).pk,
                                stop_loss_price=D("59000"))
    stop = exits_of(a)[OrderType.STOP_MARKET]
    # The futures venue's own quote (its last trade) far through the stop: not the mark.
    trade = Quote(venue="futures", symbol=SYMBOL, price=D("50000"), bid=D("50000"),
                  ask=D("50000"), timestamp=datetime.now(UTC), source="test")
    publish(quote=trade)
    assert conditional.conditional_trigger(market=contract.market, quote=trade) == 0
    stop.refresh_from_db()
    assert stop.status == OrderStatus.PENDING


@pytest.mark.skipif(connection.vendor != "mysql", reason="a row-lock race: MariaDB")
def test_duplicated_mark_ticks_on_two_executors_fire_each_exit_once(engine, contract):
    users = [trader() for _ in range(6)]
    maker = trader("1000000")
    for user in users:
        place(maker, "SELL", "0.1", "60000")
        place(user, "BUY", "0.1", "60000")
    drain(engine)
    mark(contract, "60000")
    for n, user in enumerate(users):
        services.position_exits_set(user_id=user.pk, position_id=position(user).pk,
                                    stop_loss_price=D(59000 + 10 * n),
                                    take_profit_price=D(62000))
    place(maker, "BUY", "5", "58000")
    drain(engine)
    now = datetime.now(UTC)
    index_quote("58500", now=now)
    services.mark_refresh(contract=contract, now=now)
    tick = selectors.latest_mark(contract=contract)

    outcomes = run_threads(4, lambda i: services.mark_trigger(quote=tick))
    assert outcomes == {"ok": 4}
    stops = Order.objects.filter(close_position=True, type=OrderType.STOP_MARKET)
    assert sorted(stops.values_list("status", flat=True)) == [OrderStatus.NEW] * 6
    from apps.engine.models import EngineCommand

    placed = EngineCommand.objects.filter(order_id__in=stops.values_list("pk", flat=True),
                                          kind=EngineCommand.Kind.PLACE)
    assert placed.count() == 6  # one command each: no child placed twice
    drain(engine)
    assert sorted(stops.values_list("status", flat=True)) == [OrderStatus.FILLED] * 6
    assert all(position(u).status == "FLAT" for u in users)
    assert books_clean() == []
    assert sum(system(s) for s in SYSTEMS) + sum(wallet(u)[0] for u in [*users, maker]) \
        == D(100000) * 6 + D(1000000)


def test_a_partial_close_keeps_both_exits_and_the_one_that_closes_cancels_the_other(
        book, engine, contract):
    a, b, mm = book
    services.position_exits_set(user_id=a.pk, position_id=position(a).pk,
                                take_profit_price=D("62000"), stop_loss_price=D("58000"))
    place(mm, "BUY", "0.4", "60000")
    place(a, "SELL", "0.4", "60000", reduce_only=True)  # a partial close: 0.6 left
    drain(engine)
    assert position(a).size == D("0.6")
    # Sized when they fire, the exits count against nothing: both still guard the rest.
    assert {t: o.status for t, o in exits_of(a).items()} == {
        OrderType.TAKE_PROFIT_MARKET: OrderStatus.PENDING,
        OrderType.STOP_MARKET: OrderStatus.PENDING}
    place(mm, "BUY", "5", "58000")
    drain(engine)
    mark(contract, "58000")
    drain(engine)
    stop, take_profit = (exits_of(a)[t] for t in (OrderType.STOP_MARKET,
                                                  OrderType.TAKE_PROFIT_MARKET))
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, D("0.6"))
    assert position(a).status == "FLAT"
    assert take_profit.status == OrderStatus.CANCELED
    assert books_clean() == []
