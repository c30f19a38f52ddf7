"""OCO pairs and brackets on the ecosystem venue (the internal engine): exactly one leg of a
pair executes, whichever reaches the book first, and the pair's one hold ends once.

The book each test starts from: a trade at 10.00 (the last price) and a bid of 5 ABC at
9.40 (``deep``'s). ``owner`` places a sell OCO of 1 ABC: its LIMIT leg at 10.50 goes to
the engine, its STOP_MARKET leg at 9.50 waits PENDING in the core, both paid from one
hold of 1 ABC. A trade printed at or below 9.50 fires the stop (the engine's quote); a
buy at 10.50 fills the limit.

The table (``test_an_oco_on_the_engine``): what comes in, in which engine batches, and
what each leg ends as, with its reason, and what the hold does. The race the engine
decides: the stop fires in the core while a buy that fills the limit is already queued
ahead of the stop's command; the engine applies the buy first, so the stop's command (a
pair: cancel the limit, then place the stop, only if the limit still rests whole) is
dropped.
"""
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import override_settings

from apps.engine.models import EngineCommand
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.trading import services
from apps.trading.constants import OrderStatus
from apps.trading.models import Fill, Order, OrderList
from apps.wallets.models import Hold
from tests.ecosystem.test_apis import client_of
from tests.engine.helpers import SYMBOL, D, balance, drain, eco_market, place, runner, trader
from tests.trading.helpers import books_clean, fresh

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("currencies")]
S = OrderStatus


@pytest.fixture(autouse=True)
def eager():
    # The engine's quote runs the trigger in the runner's thread (the Celery task, eager).
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        yield


@pytest.fixture
def book():
    """The market, its runner, the last price 10.00 and a 9.40 bid of 5 ABC."""
    market = eco_market()
    r = runner(market)
    deep, taker = trader(), trader()
    place(deep, side="BUY", price="10.00", amount="0.1")
    place(taker, side="SELL", price="10.00", amount="0.1")
    place(deep, side="BUY", price="9.40", amount="5")
    drain(r)
    return r


def place_list(user, kind: str, side: str, amount: str = "1", **prices) -> OrderList:
    return services.order_list_place(
        user_id=user.pk, venue="ecosystem", symbol=SYMBOL, kind=kind, side=side,
        amount=D(amount), **{k: v if k == "entry_type" else D(v) for k, v in prices.items()})


def legs(group: OrderList) -> dict[str, Order]:
    return {o.role: o for o in Order.objects.filter(group=group)}


def hold_of(order: Order) -> Hold:
    return Hold.objects.get(key=order.hold_key)


def fire_stop_in_core(price: str) -> None:
    """What the quote of a print at ``price`` does, run before the engine's next batch:
    the core's trigger fires the stop and writes its command behind what is queued."""
    latest = latest_quote(venue="ecosystem", symbol=SYMBOL)
    quote = Quote(venue="ecosystem", symbol=SYMBOL, price=D(price), bid=latest.bid,
                  ask=latest.ask, timestamp=latest.timestamp + timedelta(milliseconds=1),
                  source="test")
    market = Order.objects.filter(venue="ecosystem").first().market
    assert services.conditional_trigger(market=market, quote=quote) == 1


def buy_limit(amount: str) -> Callable[[], None]:
    """A buyer's order at the limit leg's price."""
    def step() -> None:
        place(trader(), side="BUY", price="10.50", amount=amount)
    return step


def print_at(price: str) -> Callable[[], None]:
    """A seller's 0.1 ABC into the 9.40 bid: a trade printed at ``price``."""
    def step() -> None:
        place(trader(), side="SELL", price=price, amount="0.1")
    return step


def stop_fires_in_core() -> None:
    fire_stop_in_core("9.40")


# Each row: what comes in, in order (all queued before the engine runs them, in batches
# of ``batch`` commands), then what each leg ends as (status, filled, reason) and what is
# left held of the pair's hold.
FILLED_LIMIT = (S.FILLED, "1", "")
TABLE = {
    "a buy fills the limit: the stop is cancelled in that settlement": (
        [buy_limit("1")], 500,
        FILLED_LIMIT, (S.CANCELED, "0", "OCO: the other leg filled.")),
    "a buy fills part of the limit: the stop is cancelled, the limit rests": (
        [buy_limit("0.4")], 500,
        (S.PARTIALLY_FILLED, "0.4", ""), (S.CANCELED, "0", "OCO: the other leg filled.")),
    "a print fires the stop: its command cancels the limit and sells": (
        [print_at("9.40")], 1,
        (S.CANCELED, "0", "OCO: the other leg triggered."), (S.FILLED, "1", "")),
    "one batch crosses both legs (the limit's buy, then a print below the stop)": (
        [buy_limit("1"), print_at("9.40")], 500,
        FILLED_LIMIT, (S.CANCELED, "0", "OCO: the other leg filled.")),
    "one batch crosses both legs (a print below the stop, then the limit's buy)": (
        [print_at("9.40"), buy_limit("1")], 500,
        FILLED_LIMIT, (S.CANCELED, "0", "OCO: the other leg filled.")),
    "both legs crossed one command at a time (the quote of the print fires the stop behind "
    "the buy already queued)": (
        [print_at("9.40"), buy_limit("1")], 1,
        FILLED_LIMIT, (S.CANCELED, "0", "OCO: the other leg filled first.")),
    "race: the stop fires in the core while the limit's buy is queued ahead (one batch)": (
        [buy_limit("1"), stop_fires_in_core], 500,
        FILLED_LIMIT, (S.CANCELED, "0", "OCO: the other leg filled first.")),
    "race: the same, the engine taking one command per batch": (
        [buy_limit("1"), stop_fires_in_core], 1,
        FILLED_LIMIT, (S.CANCELED, "0", "OCO: the other leg filled first.")),
    "race: the limit partly filled ahead of the fired stop: the stop is dropped": (
        [buy_limit("0.4"), stop_fires_in_core], 1,
        (S.PARTIALLY_FILLED, "0.4", ""), (S.CANCELED, "0", "OCO: the other leg filled first.")),
    "the stop fires first, a buy at the limit comes after its command: it finds no limit": (
        [stop_fires_in_core, buy_limit("1")], 1,
        (S.CANCELED, "0", "OCO: the other leg triggered."), (S.FILLED, "1", "")),
}


@pytest.mark.parametrize("name", list(TABLE))
def test_an_oco_on_the_engine(book, settings, name):
    steps, batch, (limit_status, limit_filled, limit_reason), \
        (stop_status, stop_filled, stop_reason) = TABLE[name]
    owner = trader()
    group = place_list(owner, "OCO", "SELL", price="10.50", stop_price="9.50")
    pair = legs(group)
    assert (pair["LIMIT"].status, pair["STOP"].status) == (S.NEW, S.PENDING)
    assert balance(owner, "ABC") == (D(1000), D(1))  # one hold for the pair
    drain(book)
    assert fresh(pair["LIMIT"]).status == S.OPEN

    settings.ENGINE_BATCH = batch
    for step in steps:
        step()
    drain(book)

    limit, stop = fresh(pair["LIMIT"]), fresh(pair["STOP"])
    assert (limit.status, limit.filled, limit.reason) == (limit_status, D(limit_filled),
                                                          limit_reason)
    assert (stop.status, stop.filled, stop.reason) == (stop_status, D(stop_filled),
                                                       stop_reason)
    # Exactly one leg executed, and the fills are the engine's (one per trade side).
    assert not (limit.filled and stop.filled)
    assert Fill.objects.filter(order__in=[limit, stop]).count() == (
        limit.fills.count() + stop.fills.count())
    sold = limit.filled + stop.filled
    hold = hold_of(limit)
    if limit.status == S.PARTIALLY_FILLED:
        # The resting rest of the limit keeps its part of the hold.
        assert (hold.status, hold.remaining) == (Hold.Status.OPEN, D(1) - sold)
        assert balance(owner, "ABC") == (D(1000) - sold, D(1) - sold)
        services.order_cancel(user_id=owner.pk, venue="ecosystem", order_id=limit.pk)
        drain(book)
        hold.refresh_from_db()
    # Spent by the leg that executed (closed by its last fill, or by the dropped stop
    # that ended after it, with nothing left to release).
    assert (hold.status, hold.remaining) == (Hold.Status.CLOSED, D(0))
    assert balance(owner, "ABC") == (D(1000) - sold, D(0))
    if stop.triggered_at is not None:
        assert stop.trigger_evidence["quote"]["price"] == "9.40"
    assert books_clean() == []


def test_the_fired_legs_command_carries_its_sibling_and_a_replay_of_the_log_agrees(book):
    """The pair's decision is the book's state at the command: a restore (snapshot-free
    replay of every command) ends in the same book, with the limit gone and the dropped
    stop never placed."""
    owner = trader()
    group = place_list(owner, "OCO", "SELL", price="10.50", stop_price="9.50")
    drain(book)
    pair = legs(group)
    place(trader(), side="BUY", price="10.50", amount="1")
    stop_fires_in_core()
    command = EngineCommand.objects.get(order_id=pair["STOP"].pk)
    assert command.payload["sibling"] == [pair["LIMIT"].pk, 1000]  # 1 ABC in 0.001 lots
    drain(book)
    restored = book.restore(book.markets[0])
    assert restored.book.state_hash() == book.states[book.markets[0].pk].book.state_hash()
    assert pair["STOP"].pk not in restored.book and pair["LIMIT"].pk not in restored.book


def test_cancelling_an_oco_on_the_engine_cancels_both_legs_with_one_release(book):
    owner = trader()
    group = place_list(owner, "OCO", "SELL", price="10.50", stop_price="9.50")
    drain(book)
    services.order_list_cancel(user_id=owner.pk, venue="ecosystem", list_id=group.pk)
    pair = legs(group)
    # The stop never reached the engine: cancelled at once; the limit is the engine's.
    assert (pair["STOP"].status, pair["LIMIT"].status) == (S.CANCELED, S.OPEN)
    assert balance(owner, "ABC") == (D(1000), D(1))
    drain(book)
    assert fresh(pair["LIMIT"]).status == S.CANCELED
    assert hold_of(pair["LIMIT"]).status == Hold.Status.CLOSED
    assert balance(owner, "ABC") == (D(1000), D(0))
    assert books_clean() == []


def test_a_bracket_on_the_engine_places_its_take_profit_there_once_the_entry_fills(book):
    """A buy entry at 10.00 fills in the engine; its exits become an OCO for what it
    bought (the take-profit at 11.00 is sent to the engine in that settlement, the stop
    at 9.50 waits); a buy at 11.00 fills the take-profit, which cancels the stop."""
    owner = trader()
    group = place_list(owner, "BRACKET", "BUY", price="10.00", take_profit_price="11.00",
                       stop_price="9.50")
    entry = legs(group)["ENTRY"]
    usdt_before = balance(owner, "USDT")[0]
    drain(book)
    exits = legs(group)
    assert (exits["LIMIT"].status, exits["STOP"].status) == (S.WAITING, S.WAITING)
    place(trader(), side="SELL", price="10.00", amount="1")
    drain(book)
    exits = legs(group)
    assert fresh(entry).status == S.FILLED
    assert (exits["LIMIT"].status, exits["STOP"].status) == (S.OPEN, S.PENDING)
    assert exits["LIMIT"].amount == D(1)
    assert balance(owner, "ABC") == (D(1001), D(1))  # the exits hold what it bought
    place(trader(), side="BUY", price="11.00", amount="1")
    drain(book)
    exits = legs(group)
    assert (exits["LIMIT"].status, exits["STOP"].status) == (S.FILLED, S.CANCELED)
    assert balance(owner, "ABC") == (D(1000), D(0))
    # Bought 1 at 10.00 as a maker (0.1 %), sold 1 at 11.00 as a maker.
    assert balance(owner, "USDT") == (usdt_before - D("10.01") + D("10.989"), D(0))
    assert books_clean() == []


def test_a_brackets_stop_loss_fires_on_the_engine_and_cancels_its_take_profit(book):
    owner = trader()
    group = place_list(owner, "BRACKET", "BUY", price="10.00", take_profit_price="11.00",
                       stop_price="9.50")
    drain(book)
    place(trader(), side="SELL", price="10.00", amount="1")
    drain(book)
    place(trader(), side="SELL", price="9.40", amount="0.1")  # prints 9.40
    drain(book)
    exits = legs(group)
    assert (exits["LIMIT"].status, exits["LIMIT"].reason) == (
        S.CANCELED, "OCO: the other leg triggered.")
    assert (exits["STOP"].status, exits["STOP"].filled) == (S.FILLED, D(1))
    assert exits["STOP"].fills.get().price == D("9.40")
    assert balance(owner, "ABC") == (D(1000), D(0))
    assert books_clean() == []


# --- the API -------------------------------------------------------------------------------

URL = "/api/v1/ecosystem/order-lists/"


def test_the_api_places_lists_an_oco_and_shows_which_leg_executed(book):
    owner = trader()
    client = client_of(owner)
    made = client.post(URL, {"symbol": SYMBOL, "kind": "OCO", "side": "SELL", "amount": "1",
                             "price": "10.50", "stop_price": "9.50"}, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["kind"], body["live"], body["executed_role"]) == ("OCO", True, None)
    assert {o["role"]: o["status"] for o in body["orders"]} == {"LIMIT": "NEW",
                                                                "STOP": "PENDING"}
    drain(book)
    print_at("9.40")()
    drain(book)
    shown = client.get(f"{URL}{body['id']}/").json()
    assert (shown["live"], shown["executed_role"]) == (False, "STOP")
    assert [g["id"] for g in client.get(URL).json()["results"]] == [body["id"]]
    # Nobody else sees it or cancels it.
    other = client_of(trader())
    assert other.get(f"{URL}{body['id']}/").status_code == 404
    assert other.post(f"{URL}{body['id']}/cancel/").status_code == 404


def test_the_api_cancels_an_oco_on_the_engine(book):
    owner = trader()
    client = client_of(owner)
    made = client.post(URL, {"symbol": SYMBOL, "kind": "OCO", "side": "SELL", "amount": "1",
                             "price": "10.50", "stop_price": "9.50"}, format="json").json()
    drain(book)
    cancelled = client.post(f"{URL}{made['id']}/cancel/")
    assert cancelled.status_code == 200
    drain(book)
    shown = client.get(f"{URL}{made['id']}/").json()
    assert {o["role"]: o["status"] for o in shown["orders"]} == {"LIMIT": "CANCELED",
                                                                 "STOP": "CANCELED"}
    assert balance(owner, "ABC") == (D(1000), D(0))
    assert client.post(f"{URL}{made['id']}/cancel/").status_code == 409


@pytest.mark.parametrize("body, field", [
    ({"price": "9.30", "stop_price": "9.50"}, "price"),      # a sell limit below the bid
    ({"price": "10.50", "stop_price": "10.20"}, "stop_price"),  # a sell stop above the last
    ({"price": "10.50", "stop_price": "9.505"}, "stop_price"),  # off the tick
    ({"price": "10.50", "stop_price": "9.50", "amount": "0.0001"}, "amount"),  # off the lot
])
def test_an_oco_the_engine_cannot_work_is_refused_and_nothing_is_written(book, body, field):
    owner = trader()
    got = client_of(owner).post(URL, {"symbol": SYMBOL, "kind": "OCO", "side": "SELL",
                                      "amount": "1", **body}, format="json")
    assert got.status_code == 400, got.json()
    assert field in str(got.json()), got.json()
    assert not OrderList.objects.exists()
    assert balance(owner, "ABC") == (D(1000), D(0))
