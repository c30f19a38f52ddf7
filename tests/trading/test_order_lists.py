"""OCO pairs and brackets on the paper venue: one hold for an OCO's pair, exactly one leg
executes (even when one quote crosses both), cancelling a leg cancels the list, and a
bracket's exits start from what its entry filled."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.trading import selectors, services
from apps.trading.constants import OrderStatus
from apps.trading.models import Fill, Market, Order, OrderList
from apps.twelvedata import paper
from apps.wallets import services as wallet_services
from apps.wallets.models import Hold
from tests.factories import UserFactory
from tests.trading.helpers import DEMO, D, after, books_clean, fresh, place, wallet
from tests.trading.test_conditional import EUR0, MAKER, TAKER, buy_spent, sell_got, tick
from tests.wallets.test_concurrency import run_threads

pytestmark = pytest.mark.django_db
S = OrderStatus


@pytest.fixture
def book(market, quiet_bus, user):
    """EUR/USD quoted 1.09990 / 1.10010; the user has 100,000 USD and 10,000 EUR."""
    publish(quote=Quote(venue="paper", symbol="EUR/USD", bid=D("1.09990"), ask=D("1.10010"),
                        price=D("1.10000"), timestamp=datetime.now(UTC), source="test"))
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    paper.paper_account_ensure(user_id=user.pk)
    return market


def place_list(user, kind: str, side: str, amount: str = "1000", **prices) -> OrderList:
    return services.order_list_place(
        user_id=user.pk, venue="paper", symbol="EUR/USD", kind=kind, side=side,
        amount=D(amount), **{k: (D(v) if k != "entry_type" and k != "client_order_id"
                                 else v) for k, v in prices.items()})


def legs(group: OrderList) -> dict[str, Order]:
    return {o.role: o for o in Order.objects.filter(group=group)}


def tick_list(group: OrderList, bid: str, ask: str, **kwargs) -> int:
    """``tick`` with a quote newer than every order of ``group``."""
    return tick(Order.objects.filter(group=group).latest("updated_at"), bid, ask, **kwargs)


def holds_of(user) -> list[Hold]:
    return list(Hold.objects.filter(wallet__user=user).order_by("pk"))


# --- OCO ----------------------------------------------------------------------------------


def sell_oco(user, **kwargs) -> OrderList:
    # Take profit at 1.10200, stop-loss at 1.09800.
    return place_list(user, "OCO", "SELL", price="1.10200", stop_price="1.09800", **kwargs)


def test_an_oco_holds_once_for_its_pair(book, user):
    group = sell_oco(user)
    pair = legs(group)
    assert (pair["LIMIT"].type, pair["LIMIT"].status) == ("LIMIT", S.OPEN)
    assert (pair["STOP"].type, pair["STOP"].status) == ("STOP_MARKET", S.PENDING)
    assert pair["LIMIT"].hold_key == pair["STOP"].hold_key
    (hold,) = holds_of(user)
    assert (hold.key, hold.amount) == (pair["LIMIT"].hold_key, D("1000"))
    assert wallet(user, "EUR").held == D("1000")


def test_a_buy_oco_holds_the_larger_of_its_legs_needs(book, user):
    # The limit leg needs 1,098.00 + 1.10; the stop leg (a market child at 1.10200 + 5%:
    # 1.15710) 1,157.10 + 1.16: it decides.
    group = place_list(user, "OCO", "BUY", price="1.09800", stop_price="1.10200")
    (hold,) = holds_of(user)
    assert hold.amount == D("1158.26") == wallet(user, "USD").held
    tick_list(group, "1.09780", "1.09800")
    pair = legs(group)
    assert (pair["LIMIT"].status, pair["STOP"].status) == (S.FILLED, S.CANCELED)
    usd = wallet(user, "USD")
    assert (usd.balance, usd.held) == (DEMO - buy_spent("1.09800", "1000", MAKER), 0)
    assert books_clean() == []


def test_when_the_limit_leg_fills_the_stop_leg_is_cancelled_and_the_hold_closes_once(book,
                                                                                     user):
    group = sell_oco(user)
    tick_list(group, "1.10200", "1.10220")
    pair = legs(group)
    assert (pair["LIMIT"].status, pair["STOP"].status) == (S.FILLED, S.CANCELED)
    assert pair["STOP"].reason == "OCO: the other leg filled."
    (hold,) = holds_of(user)
    assert (hold.status, hold.remaining) == (Hold.Status.CLOSED, 0)
    eur, usd = wallet(user, "EUR"), wallet(user, "USD")
    assert (eur.balance, eur.held) == (EUR0 - 1000, 0)
    assert usd.balance == DEMO + sell_got("1.10200", "1000", MAKER)
    # The stop's price comes later: nothing fires.
    assert tick_list(group, "1.09000", "1.09020") == 0
    assert wallet(user, "EUR").balance == EUR0 - 1000
    assert books_clean() == []


def test_when_the_stop_leg_triggers_the_limit_leg_is_cancelled(book, user):
    group = sell_oco(user)
    tick_list(group, "1.09780", "1.09800")
    pair = legs(group)
    assert (pair["STOP"].status, pair["LIMIT"].status) == (S.FILLED, S.CANCELED)
    assert pair["LIMIT"].reason == "OCO: the other leg triggered."
    assert pair["STOP"].fills.get().price == D("1.09780")
    assert wallet(user, "USD").balance == DEMO + sell_got("1.09780", "1000", TAKER)
    assert (wallet(user, "EUR").balance, wallet(user, "EUR").held) == (EUR0 - 1000, 0)
    # The limit's price comes back: nothing fills twice.
    tick_list(group, "1.10300", "1.10320")
    assert wallet(user, "EUR").balance == EUR0 - 1000
    assert books_clean() == []


def test_one_quote_crossing_both_legs_executes_exactly_one(book, user):
    # A buy OCO: limit 1.09800 below the market, stop 1.10200 above. A quote whose last
    # trade (1.10250) is above the stop while its book (ask 1.09750) is below the limit
    # crosses both.
    group = place_list(user, "OCO", "BUY", price="1.09800", stop_price="1.10200")
    newest = Order.objects.filter(group=group).latest("updated_at")
    q = Quote(venue="paper", symbol="EUR/USD", bid=D("1.09700"), ask=D("1.09750"),
              price=D("1.10250"), timestamp=after(newest), source="test")
    publish(quote=q)
    assert paper.fill_crossing(quote=q) == 1
    paper.fill_crossing(quote=q)  # and again: nothing more
    pair = legs(group)
    executed = [o for o in pair.values() if o.filled]
    assert len(executed) == 1
    # The trigger runs first: the stop leg fired and bought at the ask.
    assert (pair["STOP"].status, pair["LIMIT"].status) == (S.FILLED, S.CANCELED)
    assert wallet(user, "USD").balance == DEMO - buy_spent("1.09750", "1000", TAKER)
    assert (wallet(user, "USD").held, wallet(user, "EUR").balance) == (0, EUR0 + 1000)
    assert books_clean() == []


@pytest.mark.parametrize("which", ["LIMIT", "STOP"])
def test_cancelling_either_leg_cancels_the_pair_with_one_release(book, user, which):
    group = sell_oco(user)
    pair = legs(group)
    services.order_cancel(user_id=user.pk, venue="paper", order_id=pair[which].pk)
    pair = legs(group)
    assert {o.status for o in pair.values()} == {S.CANCELED}
    (hold,) = holds_of(user)
    assert (hold.status, hold.remaining) == (Hold.Status.CLOSED, 0)
    assert (wallet(user, "EUR").balance, wallet(user, "EUR").held) == (EUR0, 0)
    for order in pair.values():
        with pytest.raises(Conflict):
            services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    assert books_clean() == []


def test_a_stop_limit_leg_that_triggers_rests_on_the_shared_hold(book, user):
    group = sell_oco(user, stop_limit_price="1.09750")
    tick_list(group, "1.09700", "1.09720")  # gapped below the stop's limit
    pair = legs(group)
    assert (pair["STOP"].type, pair["STOP"].status) == ("STOP_LIMIT", S.OPEN)
    assert pair["LIMIT"].status == S.CANCELED
    assert wallet(user, "EUR").held == D("1000")  # still held: the stop's child rests
    tick_list(group, "1.09750", "1.09770")
    assert fresh(pair["STOP"]).status == S.FILLED
    assert (wallet(user, "EUR").held, wallet(user, "EUR").balance) == (0, EUR0 - 1000)
    assert wallet(user, "USD").balance == DEMO + sell_got("1.09750", "1000", MAKER)
    assert books_clean() == []


@pytest.mark.parametrize(("side", "prices", "field"), [
    ("SELL", {"price": "1.09900", "stop_price": "1.09800"}, "price"),   # limit crosses
    ("BUY", {"price": "1.10100", "stop_price": "1.10200"}, "price"),
    ("SELL", {"price": "1.10200", "stop_price": "1.10100"}, "stop_price"),  # stop above
    ("SELL", {"stop_price": "1.09800"}, "price"),
    ("SELL", {"price": "1.10200"}, "stop_price"),
    ("SELL", {"price": "1.10200", "stop_price": "1.09800", "take_profit_price": "1.2"},
     "take_profit_price"),
])
def test_an_oco_that_could_not_work_is_refused_and_nothing_is_written(book, user, side,
                                                                     prices, field):
    with pytest.raises(InvalidInput) as refused:
        place_list(user, "OCO", side, **prices)
    assert field in refused.value.fields
    assert not OrderList.objects.exists() and not Order.objects.exists()
    assert (wallet(user, "EUR").held, wallet(user, "USD").held) == (0, 0)


def test_a_list_replay_must_match(book, user):
    first = sell_oco(user, client_order_id="pair-1")
    assert sell_oco(user, client_order_id="pair-1").pk == first.pk
    with pytest.raises(Conflict) as refused:
        place_list(user, "OCO", "SELL", price="1.10300", stop_price="1.09800",
                   client_order_id="pair-1")
    assert refused.value.code == "duplicate_client_order_id"
    assert OrderList.objects.count() == 1 and Order.objects.count() == 2
    assert wallet(user, "EUR").held == D("1000")


# --- brackets -----------------------------------------------------------------------------


def buy_bracket(user, **kwargs) -> OrderList:
    # Buy 1,000 at 1.10000, then take profit at 1.10500 or stop out at 1.09500.
    return place_list(user, "BRACKET", "BUY", price="1.10000", take_profit_price="1.10500",
                      stop_price="1.09500", **kwargs)


def test_a_brackets_exits_wait_holding_nothing_until_the_entry_fills(book, user):
    group = buy_bracket(user)
    parts = legs(group)
    assert (parts["ENTRY"].status, parts["LIMIT"].status, parts["STOP"].status) == (
        S.OPEN, S.WAITING, S.WAITING)
    assert (parts["LIMIT"].side, parts["STOP"].side) == ("SELL", "SELL")
    # Only the entry holds: 1,100.00 + 1.10.
    assert [h.amount for h in holds_of(user)] == [D("1101.10")]
    assert wallet(user, "EUR").held == 0
    # A quote at the stop-loss's price fires nothing while the exits wait.
    tick_list(group, "1.09480", "1.09500")
    parts = legs(group)
    assert parts["ENTRY"].status == S.FILLED and parts["STOP"].triggered_at is None


def test_a_filled_entry_starts_its_exits_as_an_oco_and_the_take_profit_closes_it(book, user):
    group = buy_bracket(user)
    tick_list(group, "1.09980", "1.10000")
    parts = legs(group)
    assert parts["ENTRY"].status == S.FILLED
    assert (parts["LIMIT"].status, parts["STOP"].status) == (S.OPEN, S.PENDING)
    assert parts["LIMIT"].amount == parts["STOP"].amount == D("1000")
    # The exits hold the 1,000 EUR the entry bought, once.
    assert wallet(user, "EUR").held == D("1000")
    assert Hold.objects.get(key=parts["LIMIT"].hold_key).amount == D("1000")
    tick_list(group, "1.10500", "1.10520")
    parts = legs(group)
    assert (parts["LIMIT"].status, parts["STOP"].status) == (S.FILLED, S.CANCELED)
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    assert (eur.balance, eur.held, usd.held) == (EUR0, 0, 0)
    assert usd.balance == (DEMO - buy_spent("1.10000", "1000", MAKER)
                           + sell_got("1.10500", "1000", MAKER))
    assert books_clean() == []


def test_a_market_entry_fills_at_once_and_the_stop_loss_sells_on_the_way_down(book, user):
    group = place_list(user, "BRACKET", "BUY", entry_type="MARKET",
                       take_profit_price="1.10500", stop_price="1.09500")
    parts = legs(group)
    assert parts["ENTRY"].status == S.FILLED
    assert (parts["LIMIT"].status, parts["STOP"].status) == (S.OPEN, S.PENDING)
    tick_list(group, "1.09480", "1.09500")
    parts = legs(group)
    assert (parts["STOP"].status, parts["LIMIT"].status) == (S.FILLED, S.CANCELED)
    assert wallet(user, "USD").balance == (DEMO - buy_spent("1.10010", "1000", TAKER)
                                           + sell_got("1.09480", "1000", TAKER))
    assert (wallet(user, "EUR").balance, wallet(user, "EUR").held) == (EUR0, 0)
    assert books_clean() == []


def test_a_partly_filled_entry_cancelled_starts_its_exits_for_what_it_filled(book, user):
    group = buy_bracket(user)
    tick_list(group, "1.09980", "1.10000", ask_size="400")
    parts = legs(group)
    assert (parts["ENTRY"].status, parts["ENTRY"].filled) == (S.PARTIALLY_FILLED, D("400"))
    assert parts["LIMIT"].status == S.WAITING
    services.order_cancel(user_id=user.pk, venue="paper", order_id=parts["ENTRY"].pk)
    parts = legs(group)
    assert parts["ENTRY"].status == S.CANCELED
    assert (parts["LIMIT"].status, parts["STOP"].status) == (S.OPEN, S.PENDING)
    assert parts["LIMIT"].amount == parts["STOP"].amount == D("400")
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    assert (usd.held, eur.held) == (0, D("400"))
    assert usd.balance == DEMO - buy_spent("1.10000", "400", MAKER)
    assert books_clean() == []


def test_an_entry_cancelled_unfilled_cancels_its_exits(book, user):
    group = buy_bracket(user)
    services.order_cancel(user_id=user.pk, venue="paper", order_id=legs(group)["ENTRY"].pk)
    parts = legs(group)
    assert {o.status for o in parts.values()} == {S.CANCELED}
    assert parts["LIMIT"].reason == "The entry ended unfilled."
    assert [h.status for h in holds_of(user)] == [Hold.Status.CLOSED]
    assert (wallet(user, "USD").balance, wallet(user, "USD").held) == (DEMO, 0)
    assert books_clean() == []


@pytest.mark.parametrize("which", ["LIMIT", "STOP"])
def test_cancelling_an_exit_cancels_the_whole_bracket(book, user, which):
    group = buy_bracket(user)
    services.order_cancel(user_id=user.pk, venue="paper", order_id=legs(group)[which].pk)
    assert {o.status for o in legs(group).values()} == {S.CANCELED}
    assert (wallet(user, "USD").held, wallet(user, "EUR").held) == (0, 0)
    assert books_clean() == []


def test_exits_the_entry_cannot_fund_are_rejected_and_hold_nothing(book, user):
    # Most of the USD is held by another order: a SELL entry's proceeds (about 1,099)
    # cannot hold its buy-back stop (1,000 at 1.10500 + 5%, about 1,161).
    place(user, price="1.00000", amount="99880")
    group = place_list(user, "BRACKET", "SELL", entry_type="MARKET",
                       take_profit_price="1.09500", stop_price="1.10500")
    parts = legs(group)
    assert parts["ENTRY"].status == S.FILLED
    assert (parts["LIMIT"].status, parts["STOP"].status) == (S.REJECTED, S.REJECTED)
    assert "too little" in parts["STOP"].reason
    assert not Hold.objects.filter(key=parts["LIMIT"].hold_key).exists()
    assert books_clean() == []


@pytest.mark.parametrize(("side", "prices", "field"), [
    ("BUY", {"price": "1.10000", "take_profit_price": "1.09900", "stop_price": "1.09500"},
     "take_profit_price"),
    ("BUY", {"price": "1.09000", "take_profit_price": "1.10500", "stop_price": "1.09500"},
     "stop_price"),
    ("SELL", {"price": "1.10000", "take_profit_price": "1.10500", "stop_price": "1.10600"},
     "take_profit_price"),
    ("BUY", {"price": "1.10000", "stop_price": "1.09500"}, "take_profit_price"),
    ("BUY", {"price": "1.10000", "take_profit_price": "1.10500", "stop_price": "1.09500",
             "entry_type": "STOP_MARKET"}, "entry_type"),
])
def test_a_bracket_that_could_not_work_is_refused_and_nothing_is_written(book, user, side,
                                                                        prices, field):
    with pytest.raises(InvalidInput) as refused:
        place_list(user, "BRACKET", side, **prices)
    assert field in refused.value.fields
    assert not OrderList.objects.exists() and not Order.objects.exists()
    assert (wallet(user, "EUR").held, wallet(user, "USD").held) == (0, 0)


def test_an_unknown_list_kind_is_refused(book, user):
    with pytest.raises(InvalidInput) as refused:
        place_list(user, "oco", "SELL", price="1.10200", stop_price="1.09800")
    assert "kind" in refused.value.fields
    assert Decimal(0) == wallet(user, "EUR").held


# --- races (MariaDB) ----------------------------------------------------------------------


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_executors_duplicated_ticks_and_cancels_at_once_execute_at_most_one_leg_per_pair(
        market, quiet_bus):
    """Four executors get the same tick, which crosses both legs of every pair (its last
    price fires the stops, its bid reaches the limits), while two owners cancel their
    pairs: each pair ends with one leg executed or none, its hold closed once."""
    publish(quote=Quote(venue="paper", symbol="EUR/USD", bid=D("1.09990"), ask=D("1.10010"),
                        price=D("1.10000"), timestamp=datetime.now(UTC), source="test"))
    users = [UserFactory() for _ in range(6)]
    groups = []
    for user in users:
        wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                          key=f"test:eur:{user.pk}")
        groups += [sell_oco(user, amount="100") for _ in range(5)]
    newest = Order.objects.latest("updated_at")
    q = Quote(venue="paper", symbol="EUR/USD", bid=D("1.10250"), ask=D("1.10300"),
              price=D("1.09750"), timestamp=after(newest), source="test")
    cancellers = users[:2]

    def work(i: int) -> None:
        if i < 4:
            paper.fill_crossing(quote=q)
            return
        for order in Order.objects.filter(user=cancellers[i - 4], role="STOP"):
            try:
                services.order_cancel(user_id=order.user_id, venue="paper",
                                      order_id=order.pk)
            except Conflict:
                pass  # an executor got there first

    assert run_threads(6, work) == {"ok": 6}
    for group in groups:
        pair = legs(group)
        executed = [o for o in pair.values() if o.filled]
        assert len(executed) <= 1, group.pk
        assert {o.status for o in pair.values()} <= {S.FILLED, S.CANCELED}
        if not executed:
            assert group.user in cancellers
        hold = Hold.objects.get(key=pair["LIMIT"].hold_key)
        assert (hold.status, hold.remaining) == (Hold.Status.CLOSED, 0)
    for user in users:
        filled = Order.objects.filter(user=user, status=S.FILLED).count()
        assert wallet(user, "EUR").balance == EUR0 - 100 * filled
        assert wallet(user, "EUR").held == 0
    assert books_clean() == []


# --- cancelling and reading a list -------------------------------------------------------


def test_cancelling_a_list_cancels_its_live_orders_once_and_only_for_its_owner(book, user):
    group = buy_bracket(user)
    stranger = UserFactory()
    with pytest.raises(NotFound):
        services.order_list_cancel(user_id=stranger.pk, venue="paper", list_id=group.pk)
    with pytest.raises(NotFound):  # another venue's list is not told apart from none
        services.order_list_cancel(user_id=user.pk, venue="spot", list_id=group.pk)
    assert {o.status for o in legs(group).values()} == {S.OPEN, S.WAITING}

    after_cancel = services.order_list_cancel(user_id=user.pk, venue="paper",
                                              list_id=group.pk)

    assert {o.status for o in after_cancel.orders.all()} == {S.CANCELED}
    assert [h.status for h in holds_of(user)] == [Hold.Status.CLOSED]
    assert (wallet(user, "USD").balance, wallet(user, "USD").held) == (DEMO, 0)
    with pytest.raises(Conflict) as again:
        services.order_list_cancel(user_id=user.pk, venue="paper", list_id=group.pk)
    assert again.value.code == "order_list_not_live"
    assert books_clean() == []


def test_cancelling_a_started_bracket_cancels_its_exits_not_its_filled_entry(book, user):
    group = buy_bracket(user)
    tick_list(group, "1.09980", "1.10000")
    services.order_list_cancel(user_id=user.pk, venue="paper", list_id=group.pk)
    parts = legs(group)
    assert (parts["ENTRY"].status, parts["LIMIT"].status, parts["STOP"].status) == (
        S.FILLED, S.CANCELED, S.CANCELED)
    assert (wallet(user, "EUR").balance, wallet(user, "EUR").held) == (EUR0 + D("1000"), 0)
    assert books_clean() == []


def test_a_users_lists_are_read_with_their_orders_and_nobody_elses(book, user,
                                                                   django_assert_num_queries):
    mine = [sell_oco(user), buy_bracket(user)]
    other = UserFactory()
    paper.paper_account_ensure(user_id=other.pk)
    place_list(other, "BRACKET", "BUY", price="1.10000", take_profit_price="1.10500",
               stop_price="1.09500")
    with django_assert_num_queries(3):  # lists with markets, orders with markets, fills
        lists = list(selectors.order_lists(user_id=user.pk, venue="paper"))
        legs_read = [[o.role for o in g.orders.all()] for g in lists]
    assert [g.pk for g in lists] == [g.pk for g in reversed(mine)]
    assert legs_read == [["ENTRY", "LIMIT", "STOP"], ["LIMIT", "STOP"]]
    assert [g.pk for g in selectors.order_lists(user_id=user.pk, venue="paper",
                                                kind="OCO")] == [mine[0].pk]
    assert selectors.order_list_get(user_id=user.pk, venue="paper",
                                    list_id=mine[0].pk).kind == "OCO"
    with pytest.raises(NotFound):
        selectors.order_list_get(user_id=other.pk, venue="paper", list_id=mine[0].pk)


# --- a tick delivered late -----------------------------------------------------------------


def test_a_tick_older_than_the_entrys_fill_does_not_fill_the_exit_it_started(book, user):
    """The exits of a bracket exist from the quote that filled its entry: an older tick run
    late (another executor) does not fill the take-profit at a price from before it, as
    it fills no order placed after it and no child after the quote that fired it."""
    group = buy_bracket(user)
    start = max(o.updated_at for o in Order.objects.filter(group=group))
    older = Quote(venue="paper", symbol="EUR/USD", bid=D("1.10500"), ask=D("1.10520"),
                  price=D("1.10510"), timestamp=start + timedelta(milliseconds=1),
                  source="test")
    filling = Quote(venue="paper", symbol="EUR/USD", bid=D("1.09980"), ask=D("1.10000"),
                    price=D("1.09990"), timestamp=start + timedelta(milliseconds=2),
                    source="test")
    publish(quote=filling)
    paper.fill_crossing(quote=filling)
    assert (legs(group)["ENTRY"].status, legs(group)["LIMIT"].status) == (S.FILLED, S.OPEN)

    paper.fill_crossing(quote=older)  # the late executor

    parts = legs(group)
    assert (parts["LIMIT"].status, parts["LIMIT"].filled) == (S.OPEN, 0)
    assert (parts["STOP"].status, wallet(user, "EUR").held) == (S.PENDING, D("1000"))
    # A newer tick at the same price fills it.
    newer = Quote(venue="paper", symbol="EUR/USD", bid=D("1.10500"), ask=D("1.10520"),
                  price=D("1.10510"), timestamp=start + timedelta(milliseconds=3),
                  source="test")
    publish(quote=newer)
    paper.fill_crossing(quote=newer)
    assert (legs(group)["LIMIT"].status, legs(group)["STOP"].status) == (S.FILLED,
                                                                        S.CANCELED)
    assert books_clean() == []


# --- a bracket's exits when they start ---------------------------------------------------


def test_exits_below_the_markets_minimum_are_rejected_and_hold_nothing(book, user):
    Market.objects.filter(pk=book.pk).update(min_amount=D("500"))
    group = buy_bracket(user)
    tick_list(group, "1.09980", "1.10000", ask_size="400")
    services.order_cancel(user_id=user.pk, venue="paper", order_id=legs(group)["ENTRY"].pk)
    parts = legs(group)
    assert (parts["ENTRY"].status, parts["ENTRY"].filled) == (S.CANCELED, D("400"))
    assert (parts["LIMIT"].status, parts["STOP"].status) == (S.REJECTED, S.REJECTED)
    assert parts["STOP"].reason == ("The entry filled 400, too little for its exits: Amount "
                                    "is below the minimum of 500.")
    assert not Hold.objects.filter(key=parts["LIMIT"].hold_key).exists()
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    assert (usd.held, eur.held, eur.balance) == (0, 0, EUR0 + D("400"))
    assert usd.balance == DEMO - buy_spent("1.10000", "400", MAKER)
    assert books_clean() == []


def test_a_take_profit_the_market_already_crosses_when_it_starts_fills_at_once(book, user):
    group = buy_bracket(user)
    tick_list(group, "1.09980", "1.10000", ask_size="400")
    # The market rises beyond the take-profit before the partly filled entry is cancelled.
    tick_list(group, "1.10600", "1.10620")
    services.order_cancel(user_id=user.pk, venue="paper", order_id=legs(group)["ENTRY"].pk)
    parts = legs(group)
    assert (parts["LIMIT"].status, parts["LIMIT"].filled) == (S.FILLED, D("400"))
    assert parts["STOP"].status == S.CANCELED
    (fill,) = Fill.objects.filter(order=parts["LIMIT"])
    assert (fill.price, fill.liquidity) == (D("1.10600"), "TAKER")
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    assert (usd.held, eur.held, eur.balance) == (0, 0, EUR0)
    assert usd.balance == (DEMO - buy_spent("1.10000", "400", MAKER)
                           + sell_got("1.10600", "400", TAKER))
    assert [h.status for h in holds_of(user)] == [Hold.Status.CLOSED] * 2
    assert books_clean() == []
