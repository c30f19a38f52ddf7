"""The trading core's services: placing (validation, holds, replays), cancelling, the
asynchronous venues' UNKNOWN orders and their reconciliation, batched fills of resting
orders, and the market registry's writes."""
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import KycRequired
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.trading import services, venues
from apps.trading.constants import OrderStatus, can_transition
from apps.trading.models import Fill, Market, Order
from apps.trading.venues import Execution, Submission
from apps.twelvedata.paper import PaperGateway
from apps.wallets import services as wallet_services
from apps.wallets.constants import SystemAccount
from apps.wallets.models import Hold, Journal
from apps.wallets.services import InsufficientFunds
from tests.factories import MarketFactory, OrderFactory, UserFactory
from tests.trading.helpers import (
    DEMO,
    D,
    books_clean,
    fresh,
    hold_of,
    holding,
    identity_reviewed,
    place,
    publish_quote,
    wallet,
)
from tests.wallets.test_concurrency import run_threads

pytestmark = pytest.mark.django_db
S = OrderStatus


def nothing_written(user) -> None:
    assert not Order.objects.filter(user=user).exists()
    assert not Hold.objects.filter(wallet__user=user).exists()
    assert wallet(user, "USD").held == 0 and wallet(user, "EUR").balance == 0


# --- placing: validation ------------------------------------------------------------------


def test_a_limit_order_that_does_not_cross_rests_holding_its_cost_and_the_higher_fee(market,
                                                                                     user):
    order = place(user, price="1.10000")
    assert (order.status, order.filled, order.remaining) == (S.OPEN, 0, D("1000"))
    # 1000 x 1.1 = 1100.00 plus the taker fee (the higher rate) of 1.10.
    assert hold_of(order).remaining == D("1101.10")
    usd = wallet(user, "USD")
    assert (usd.balance, usd.held) == (DEMO, D("1101.10"))
    assert (order.maker_fee_rate, order.taker_fee_rate) == (D("0.0008"), D("0.0010"))
    assert books_clean() == []


@pytest.mark.parametrize(("amount", "price", "field"), [
    ("1000.005", "1.10000", "amount"),    # not a whole lot (0.01)
    ("1000", "1.100001", "price"),        # not on the tick (0.00001)
    ("0", "1.10000", "amount"),
    ("-5", "1.10000", "amount"),
    ("1000", "0", "price"),
    ("1000", "-1.10000", "price"),
    ("NaN", "1.10000", "amount"),
    ("1000", "Infinity", "price"),
    ("1e-30", "1.10000", "amount"),       # finer than any column holds
    ("1e18", "1.10000", "amount"),        # larger than any column holds
    ("1000", "1000000000000000000", "price"),
])
def test_amounts_and_prices_off_the_markets_steps_are_refused_and_change_nothing(
        market, user, amount, price, field):
    with pytest.raises(InvalidInput) as refused:
        place(user, amount=amount, price=price)
    assert field in refused.value.fields
    nothing_written(user)


@pytest.fixture
def limited(currencies):
    return MarketFactory(min_amount=D("10"), max_amount=D("5000"), min_notional=D("20"),
                         max_notional=D("3000"))


@pytest.mark.parametrize(("amount", "price", "message"), [
    ("9.99", "2.00000", "below the minimum of 10"),
    ("5000.01", "0.10000", "above the maximum of 5000"),
    ("15", "1.10000", "below the minimum of 20 USD"),       # 16.50
    ("2800", "1.10000", "above the maximum of 3000 USD"),   # 3080.00
])
def test_amount_and_notional_limits_are_enforced(limited, user, amount, price, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        place(user, amount=amount, price=price)
    assert refused.value.status == 400 and "amount" in refused.value.fields
    nothing_written(user)


def test_orders_at_exactly_the_limits_are_accepted(limited, user):
    assert place(user, amount="10", price="2.00000").status == S.OPEN            # notional 20
    assert place(user, amount="5000", price="0.60000").status == S.OPEN          # notional 3000
    assert place(user, amount="2727.27", price="1.10000").status == S.OPEN       # 2999.997


def test_an_order_worth_less_than_one_unit_of_the_quote_currency_is_refused(market, user):
    with pytest.raises(InvalidInput, match="below 1 unit of USD"):
        place(user, amount="0.01", price="0.00100")
    nothing_written(user)


def test_a_market_order_takes_no_price_and_cannot_be_post_only(market, user):
    with pytest.raises(InvalidInput):
        place(user, type="MARKET", price="1.10000")
    with pytest.raises(InvalidInput):
        place(user, type="MARKET", post_only=True)
    with pytest.raises(InvalidInput):
        place(user, type="LIMIT")  # no price
    with pytest.raises(InvalidInput):
        place(user, price="1.10000", time_in_force="GTD")
    with pytest.raises(InvalidInput):
        place(user, price="1.10000", side="buy")
    nothing_written(user)


@pytest.mark.parametrize(("status", "error", "code"), [
    ("halted", Conflict, "market_halted"),
    ("delisted", Conflict, "market_delisted"),
    ("disabled", NotFound, "unknown_market"),
])
def test_only_an_enabled_market_takes_orders(currencies, user, status, error, code):
    MarketFactory(status=status)
    with pytest.raises(error) as refused:
        place(user, price="1.10000")
    assert refused.value.code == code
    assert refused.value.status == (409 if error is Conflict else 404)
    nothing_written(user)


@pytest.mark.parametrize("symbol", ["GBP/USD", "eur/usd", "EUR/USD ", "ＥUR/USD"])
def test_an_unknown_market_or_a_look_alike_of_a_known_one_is_not_found(market, user, symbol):
    with pytest.raises(NotFound):
        place(user, price="1.10000", symbol=symbol)
    nothing_written(user)


def test_a_venue_without_a_gateway_is_refused_before_anything_is_written(currencies, user,
                                                                        monkeypatch):
    monkeypatch.delitem(venues._gateways, "futures")  # every venue has one now
    MarketFactory(venue="futures", symbol="EUR/USD")
    identity_reviewed(user)  # past the live venues' KYC check
    with pytest.raises(InvalidInput) as refused:
        place(user, price="1.10000", venue="futures")
    assert refused.value.code == "unknown_venue"
    assert not Order.objects.exists()


def test_the_first_accepted_order_opens_the_account_and_a_funded_one_does_not_ask_again(
        market, user, monkeypatch):
    asked = []
    opening = PaperGateway.before_place

    def before_place(self, *, user_id):
        asked.append(user_id)
        opening(self, user_id=user_id)

    monkeypatch.setattr(PaperGateway, "before_place", before_place)
    # Over before it began (nothing at its price): it held nothing, yet opened the account.
    first = place(user, side="SELL", price="2.00000", amount="10", time_in_force="IOC")
    assert not holding(first) and asked == [user.pk]
    assert wallet(user, "USD").balance == DEMO
    for _ in range(3):  # resting orders that held: the account was open
        assert holding(place(user, price="0.50000", amount="10"))
    assert asked == [user.pk]
    # A new user's first order finds no funds, opens the account and is placed once more.
    other = UserFactory()
    assert holding(place(other, price="0.50000", amount="10"))
    assert holding(place(other, price="0.50000", amount="10"))
    assert asked == [user.pk, other.pk]


def test_insufficient_funds_change_nothing(market, user):
    place(user, price="0.50000", amount="10")  # the demo balance is granted
    usd = wallet(user, "USD")
    journals = Journal.objects.count()
    with pytest.raises(InsufficientFunds) as refused:
        place(user, price="1.10000", amount="100000")
    assert refused.value.status == 409
    assert Order.objects.filter(user=user).count() == 1
    assert Hold.objects.filter(wallet__user=user).count() == 1
    after = wallet(user, "USD")
    assert (after.balance, after.held) == (usd.balance, usd.held)
    assert Journal.objects.count() == journals


def test_fee_rates_are_fixed_when_the_order_is_placed(market, user):
    order = place(user, price="1.10000")
    Market.objects.filter(pk=market.pk).update(maker_fee=D("0.5"), taker_fee=D("0.5"))
    assert (fresh(order).maker_fee_rate, fresh(order).taker_fee_rate) == (D("0.0008"),
                                                                          D("0.0010"))


# --- placing: client order ids ------------------------------------------------------------


def test_a_replay_with_the_same_client_order_id_returns_the_first_order(market, user):
    first = place(user, price="1.10000", client_order_id="mine-1")
    again = place(user, price="1.10000", client_order_id="mine-1")
    assert again.pk == first.pk
    assert Order.objects.count() == 1 and Hold.objects.filter(wallet__user=user).count() == 1
    assert wallet(user, "USD").held == D("1101.10")


@pytest.mark.parametrize("change", [{"amount": "999"}, {"price": "1.09999"}, {"side": "SELL"},
                                    {"type": "MARKET", "price": None}])
def test_the_same_client_order_id_for_another_order_is_a_conflict(market, user, change):
    publish_quote(bid="1.09990", ask="1.10010")
    place(user, price="1.10000", client_order_id="mine-1")
    with pytest.raises(Conflict) as refused:
        place(user, **{"price": "1.10000", "client_order_id": "mine-1", **change})
    assert refused.value.code == "duplicate_client_order_id"
    assert Order.objects.count() == 1 and wallet(user, "USD").held == D("1101.10")


def test_client_order_ids_are_per_user_and_exact(market, user):
    other = UserFactory()
    mine = place(user, price="1.10000", client_order_id="Abc")
    theirs = place(other, price="1.10000", client_order_id="Abc")
    upper = place(user, price="1.10000", client_order_id="ABC")
    assert len({mine.pk, theirs.pk, upper.pk}) == 3


# --- cancelling ---------------------------------------------------------------------------


def test_cancel_releases_the_hold_and_only_the_owner_can_cancel_a_live_order(market, user):
    order = place(user, price="1.10000")
    with pytest.raises(NotFound):
        services.order_cancel(user_id=UserFactory().pk, venue="paper", order_id=order.pk)
    with pytest.raises(NotFound):
        services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk + 1000)
    canceled = services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    assert canceled.status == S.CANCELED and canceled.closed_at is not None
    assert not holding(order)
    usd = wallet(user, "USD")
    assert (usd.balance, usd.held) == (DEMO, 0)
    with pytest.raises(Conflict) as again:
        services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    assert again.value.code == "order_not_open"
    assert books_clean() == []


# --- an asynchronous venue ----------------------------------------------------------------


class FakeExchange:
    """An external venue as the core sees it: answers after commit, or not at all."""

    venue = "spot"
    synchronous = False
    counterparty = SystemAccount.EXCHANGE_OMNIBUS

    def __init__(self) -> None:
        self.on_submit: Submission | Exception = TimeoutError("no answer in 10 s")
        self.on_cancel: Submission | Exception = Submission(status=S.CANCELED)
        self.on_fetch: Submission | Exception = Submission(status=S.UNKNOWN)
        self.submitted: list[int] = []

    @staticmethod
    def _answer(answer: Submission | Exception) -> Submission:
        if isinstance(answer, Exception):
            raise answer
        return answer

    def reference_price(self, *, market, side):
        return D("1.10010")

    def before_place(self, *, user_id):
        pass

    def submit(self, *, order, market):
        self.submitted.append(order.pk)
        return self._answer(self.on_submit)

    def cancel(self, *, order, market):
        return self._answer(self.on_cancel)

    def fetch(self, *, order, market):
        return self._answer(self.on_fetch)


def execution(trade_id: str, amount: str, price: str = "1.09990") -> Execution:
    return Execution(price=D(price), amount=D(amount), liquidity="TAKER",
                     executed_at=datetime.now(UTC), trade_id=trade_id,
                     evidence={"trade": {"id": trade_id, "amount": amount}})


@pytest.fixture
def exchange(monkeypatch, currencies, user):
    """The spot venue served by a FakeExchange (the registry is restored afterwards), its
    EUR/USD market, and 10,000 USD in the user's SPOT wallet."""
    fake = FakeExchange()
    monkeypatch.setitem(venues._gateways, "spot", fake)
    MarketFactory(venue="spot")
    identity_reviewed(user)  # a live venue needs KYC level 2 (TRADE_LIVE)
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                            amount=D("10000"), key=f"test:deposit:{user.pk}")
    return fake


def test_a_live_venue_refuses_an_account_below_its_kyc_level_before_anything_is_written(
        exchange, django_capture_on_commit_callbacks):
    unverified = UserFactory(email_verified=False)
    wallet_services.deposit(user_id=unverified.pk, wallet_type="SPOT", currency="USD",
                            amount=D("10000"), key=f"test:deposit:{unverified.pk}")
    journals = Journal.objects.count()
    with pytest.raises(KycRequired) as refused:
        place_spot(unverified, django_capture_on_commit_callbacks)
    assert (refused.value.status, refused.value.code) == (403, "kyc_required")
    assert refused.value.fields == {"required_level": 2, "level": 0}
    assert exchange.submitted == []
    assert not Order.objects.filter(user=unverified).exists()
    assert not Hold.objects.filter(wallet__user=unverified).exists()
    assert wallet(unverified, "USD", "SPOT").held == 0 and Journal.objects.count() == journals
    # The paper venue asks for level 0: the same account trades there.
    MarketFactory()
    assert place(unverified, price="1.10000").status == S.OPEN


def place_spot(user, capture, **kwargs) -> Order:
    with capture(execute=True):
        order = place(user, venue="spot", price="1.10000", **kwargs)
    return fresh(order)


def test_an_order_the_venue_does_not_answer_is_unknown_and_keeps_its_hold(
        exchange, user, django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    assert exchange.submitted == [order.pk]  # sent after the placing transaction committed
    assert order.status == S.UNKNOWN and "no answer" in order.reason
    assert holding(order)
    assert wallet(user, "USD", "SPOT").held == D("1101.10")


def test_an_unknown_order_is_decided_only_by_the_venue(exchange, user,
                                                       django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    # Not by its owner: cancelling an order the venue may have filled would be a guess.
    with pytest.raises(Conflict):
        services.order_cancel(user_id=user.pk, venue="spot", order_id=order.pk)
    # Not by a fill of resting orders either.
    assert services.fill_resting(market=order.market, order_ids=[order.pk], matcher=lambda: (
        lambda o: Submission(status=S.FILLED, executions=(execution("X", "1000"),)))) == 0
    # Reconciliation that still hears nothing changes nothing.
    assert services.order_reconcile(order_id=order.pk).status == S.UNKNOWN
    exchange.on_fetch = TimeoutError("still nothing")
    with pytest.raises(TimeoutError):
        services.order_reconcile(order_id=order.pk)
    assert fresh(order).status == S.UNKNOWN and not Fill.objects.exists()


def test_reconciliation_settles_what_the_venue_filled_once_and_closes_the_hold(
        exchange, user, django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    exchange.on_fetch = Submission(status=S.FILLED, executions=(execution("T-1", "1000"),),
                                   external_id="X-77")
    done = services.order_reconcile(order_id=order.pk)
    assert (done.status, done.filled, done.remaining, done.external_id) == (
        S.FILLED, D("1000"), 0, "X-77")
    # Price improvement at 1.09990: 1099.90 plus the taker fee 1.10 (rounded up).
    assert (done.cost, done.fee, done.fee_currency) == (D("1099.90"), D("1.10"), "USD")
    fill = Fill.objects.get(order=order)
    assert (fill.trade_id, fill.settlement_key, fill.liquidity) == ("T-1", "fill:spot:T-1",
                                                                    "TAKER")
    assert fill.evidence == {"trade": {"id": "T-1", "amount": "1000"}}
    assert not holding(order)
    usd, eur = wallet(user, "USD", "SPOT"), wallet(user, "EUR", "SPOT")
    assert (usd.balance, usd.held, eur.balance) == (D("10000") - D("1101.00"), 0, D("1000"))
    # Asked again, the venue reports the same execution: nothing is settled twice.
    journals = Journal.objects.count()
    assert services.order_reconcile(order_id=order.pk).status == S.FILLED
    services.order_apply(order_id=order.pk, submission=exchange.on_fetch)
    assert Journal.objects.count() == journals and Fill.objects.count() == 1
    assert wallet(user, "USD", "SPOT").balance == D("8899.00")
    assert books_clean() == []


def test_executions_reported_again_in_later_answers_settle_once(
        exchange, user, django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    first = execution("T-1", "400")
    services.order_apply(order_id=order.pk,
                         submission=Submission(status=S.OPEN, executions=(first,)))
    assert fresh(order).status == S.PARTIALLY_FILLED
    services.order_apply(order_id=order.pk, submission=Submission(
        status=S.FILLED, executions=(first, execution("T-2", "600"))))
    done = fresh(order)
    assert (done.status, done.filled) == (S.FILLED, D("1000"))
    assert sorted(Fill.objects.values_list("trade_id", flat=True)) == ["T-1", "T-2"]
    assert Journal.objects.filter(key__startswith="fill:spot:").count() == 2
    assert wallet(user, "EUR", "SPOT").balance == D("1000")
    assert wallet(user, "USD", "SPOT").held == 0
    assert books_clean() == []


def test_an_execution_listed_twice_in_one_answer_settles_once(
        exchange, user, django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    twice = execution("T-1", "400")
    done = services.order_apply(order_id=order.pk, submission=Submission(
        status=S.PARTIALLY_FILLED, executions=(twice, twice)))
    assert (done.status, done.filled) == (S.PARTIALLY_FILLED, D("400"))
    assert Fill.objects.filter(order=order).count() == 1
    assert wallet(user, "EUR", "SPOT").balance == D("400")
    assert books_clean() == []


def test_a_venue_answer_the_state_machine_forbids_is_a_conflict_and_changes_nothing(
        exchange, user, django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    exchange.on_fetch = Submission(status=S.CANCELED)
    assert services.order_reconcile(order_id=order.pk).status == S.CANCELED
    assert wallet(user, "USD", "SPOT").held == 0
    with pytest.raises(Conflict) as refused:
        services.order_apply(order_id=order.pk, submission=Submission(
            status=S.FILLED, executions=(execution("late", "1000"),)))
    assert refused.value.code == "invalid_transition"
    assert fresh(order).status == S.CANCELED and not Fill.objects.exists()


def test_a_venue_cannot_fill_more_than_the_order_nor_call_it_filled_early(
        exchange, user, django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    for answer in (Submission(status=S.OPEN, executions=(execution("T-1", "1000.01"),)),
                   Submission(status=S.FILLED, executions=(execution("T-1", "10"),))):
        with pytest.raises(Conflict) as refused:
            services.order_apply(order_id=order.pk, submission=answer)
        assert refused.value.code == "overfill"
    assert fresh(order).status == S.UNKNOWN and not Fill.objects.exists()


def test_a_submitted_order_the_venue_rejects_releases_its_hold(
        exchange, user, django_capture_on_commit_callbacks):
    exchange.on_submit = Submission(status=S.REJECTED, reason="Insufficient margin")
    order = place_spot(user, django_capture_on_commit_callbacks)
    assert (order.status, order.reason) == (S.REJECTED, "Insufficient margin")
    assert not holding(order)
    assert wallet(user, "USD", "SPOT").held == 0


def test_cancelling_on_an_asynchronous_venue_asks_it_after_commit(
        exchange, user, django_capture_on_commit_callbacks):
    exchange.on_submit = Submission(status=S.OPEN, external_id="X-1")
    order = place_spot(user, django_capture_on_commit_callbacks)
    assert (order.status, order.external_id) == (S.OPEN, "X-1")
    with django_capture_on_commit_callbacks(execute=True):
        pending = services.order_cancel(user_id=user.pk, venue="spot", order_id=order.pk)
        assert pending.status == S.OPEN  # until the venue confirms
    assert fresh(order).status == S.CANCELED
    assert wallet(user, "USD", "SPOT").held == 0
    # A cancel the venue does not answer leaves the next order UNKNOWN, hold kept.
    second = place_spot(user, django_capture_on_commit_callbacks, client_order_id="two")
    exchange.on_cancel = TimeoutError("no answer")
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(user_id=user.pk, venue="spot", order_id=second.pk)
    assert fresh(second).status == S.UNKNOWN
    assert holding(second)


def test_the_same_client_order_id_may_be_used_on_two_venues(
        exchange, market, user, django_capture_on_commit_callbacks):
    spot = place_spot(user, django_capture_on_commit_callbacks, client_order_id="same")
    paper = place(user, price="1.10000", client_order_id="same")
    assert spot.pk != paper.pk and (spot.venue, paper.venue) == ("spot", "paper")
    assert place(user, price="1.10000", client_order_id="same").pk == paper.pk


# --- fills of resting orders --------------------------------------------------------------


def fill_all(price: str = "1.10000"):
    def matcher():
        def match(order):
            return Submission(status=S.FILLED, executions=(Execution(
                price=D(price), amount=order.remaining, liquidity="MAKER",
                executed_at=datetime.now(UTC)),))
        return match
    return matcher


def test_fill_resting_settles_a_batch_in_one_ledger_transaction(market, user):
    orders = [place(user, price="1.10000", amount="10") for _ in range(5)]
    with CaptureQueriesContext(connection) as batch:
        assert services.fill_resting(market=market, order_ids=[o.pk for o in orders],
                                     matcher=fill_all()) == 5
    assert all(fresh(o).status == S.FILLED for o in orders)
    assert [f.trade_id for f in Fill.objects.order_by("order_id")] == [
        f"{o.pk}-1" for o in orders]
    assert wallet(user, "EUR").balance == D("50") and wallet(user, "USD").held == 0
    # Five fills cost about what one does: not five times as many queries.
    assert len(batch) < 40, [q["sql"] for q in batch]
    assert books_clean() == []


def test_the_orders_of_a_batch_are_written_at_one_time(market, user):
    orders = [place(user, price="1.10000", amount="10") for _ in range(3)]
    services.fill_resting(market=market, order_ids=[o.pk for o in orders], matcher=fill_all())
    # One transaction, one time: its orders' UPDATE sets it once, not once per row.
    assert len({(fresh(o).updated_at, fresh(o).closed_at) for o in orders}) == 1
    assert fresh(orders[0]).closed_at == fresh(orders[0]).updated_at


def test_a_fill_batch_replayed_settles_nothing_twice(market, user):
    order = place(user, price="1.10000", amount="10")
    services.fill_resting(market=market, order_ids=[order.pk], matcher=fill_all())
    journals = Journal.objects.count()
    assert services.fill_resting(market=market, order_ids=[order.pk], matcher=fill_all()) == 0
    assert Journal.objects.count() == journals


def test_an_order_that_cannot_settle_is_set_aside_and_the_others_fill(market, user):
    orders = [place(user, price="1.10000", amount="10") for _ in range(3)]
    bad = orders[1]
    wallet_services.hold_release(key=bad.hold_key)  # nothing left to pay with
    assert services.fill_resting(market=market, order_ids=[o.pk for o in orders],
                                 matcher=fill_all()) == 2
    assert [fresh(o).status for o in orders] == [S.FILLED, S.OPEN, S.FILLED]
    aside = fresh(bad)
    assert aside.settle_error and aside.settle_error_at is not None and aside.filled == 0
    # Skipped from now on, until an admin asks for a retry.
    assert services.fill_resting(market=market, order_ids=[bad.pk], matcher=fill_all()) == 0
    assert services.orders_retry_settlement(order_ids=[o.pk for o in orders]) == 1
    assert fresh(bad).settle_error == "" and fresh(bad).settle_error_at is None
    assert books_clean() == []


def test_a_passing_database_error_defers_the_batch_without_setting_anything_aside(
        market, user, monkeypatch):
    from django.db import OperationalError
    order = place(user, price="1.10000", amount="10")

    def down(**kwargs):
        raise OperationalError(1205, "Lock wait timeout exceeded")

    monkeypatch.setattr(wallet_services, "settle_trades", down)
    assert services.fill_resting(market=market, order_ids=[order.pk], matcher=fill_all()) == 0
    assert fresh(order).status == S.OPEN and fresh(order).settle_error == ""


# --- markets ------------------------------------------------------------------------------


def catalog(*symbols: str, tick: str = "0.00001") -> list[Market]:
    return [Market(venue="paper", symbol=s, base_currency=s.split("/")[0],
                   quote_currency=s.split("/")[1], tick_size=D(tick), lot_size=D("0.01"))
            for s in symbols]


def test_markets_import_creates_disabled_markets_and_updates_only_the_venues_facts(
        currencies):
    ids = services.markets_import(venue="paper", markets=catalog("EUR/USD", "GBP/USD"))
    assert set(ids) == {"EUR/USD", "GBP/USD"}
    assert set(Market.objects.values_list("status", flat=True)) == {"disabled"}
    services.markets_set_flags(market_ids=[ids["EUR/USD"]], status="enabled", is_hot=True)
    Market.objects.filter(pk=ids["EUR/USD"]).update(maker_fee=D("0.0001"))
    again = services.markets_import(venue="paper",
                                    markets=catalog("EUR/USD", "USD/JPY", tick="0.001"))
    assert again["EUR/USD"] == ids["EUR/USD"] and Market.objects.count() == 3
    eur = Market.objects.get(pk=ids["EUR/USD"])
    assert eur.tick_size == D("0.001")  # the venue's fact
    assert (eur.status, eur.is_hot, eur.maker_fee) == ("enabled", True, D("0.0001"))  # ours


def test_markets_import_only_imports_its_own_venues_markets(currencies):
    with pytest.raises(ValueError):
        services.markets_import(venue="spot", markets=catalog("EUR/USD"))
    assert not Market.objects.exists()


def test_the_same_symbol_on_two_venues_is_two_markets(currencies):
    paper = services.markets_import(venue="paper", markets=catalog("EUR/USD"))
    spot_rows = catalog("EUR/USD")
    spot_rows[0].venue = "spot"
    spot = services.markets_import(venue="spot", markets=spot_rows)
    assert paper["EUR/USD"] != spot["EUR/USD"]


def test_markets_set_flags_sets_only_status_and_display_flags(currencies):
    a, b = MarketFactory(), MarketFactory(symbol="GBP/USD", status="disabled")
    assert services.markets_set_flags(market_ids=[a.pk, b.pk], status="halted",
                                      is_trending=True) == 2
    assert set(Market.objects.values_list("status", "is_trending")) == {("halted", True)}
    for bad in ({"status": "paused"}, {"maker_fee": D("0")}, {}):
        with pytest.raises(InvalidInput):
            services.markets_set_flags(market_ids=[a.pk], **bad)
    assert Market.objects.get(pk=a.pk).maker_fee == D("0.0008")


def test_retry_settlement_clears_only_set_aside_resting_orders(currencies):
    aside = OrderFactory(settle_error="boom")
    closed = OrderFactory(market=aside.market, status="FILLED", settle_error="boom",
                          filled=D("10"))
    clean = OrderFactory(market=aside.market)
    assert services.orders_retry_settlement(order_ids=[aside.pk, closed.pk, clean.pk]) == 1
    assert fresh(aside).settle_error == "" and fresh(closed).settle_error == "boom"


FORBIDDEN = [(now, new) for now in S.values for new in S.values
             if now != new and not can_transition(now, new)]


@pytest.mark.parametrize(("now", "new"), FORBIDDEN)
def test_every_transition_the_machine_forbids_is_refused_by_order_apply(market, now, new):
    order = OrderFactory(market=market, status=now)
    with pytest.raises(Conflict) as refused:
        services.order_apply(order_id=order.pk, submission=Submission(status=new))
    assert refused.value.code == "invalid_transition" and refused.value.status == 409
    assert fresh(order).status == now


def test_an_order_is_sent_to_an_asynchronous_venue_once(exchange, user,
                                                        django_capture_on_commit_callbacks):
    order = place_spot(user, django_capture_on_commit_callbacks)
    # The task ran again (a retry, a duplicate delivery): the order is no longer NEW.
    assert services.order_submit(order_id=order.pk).status == S.UNKNOWN
    assert exchange.submitted == [order.pk]


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_the_same_order_placed_at_once_from_many_connections_is_placed_once(market, user):
    place(user, price="1.00000", amount="1")  # the demo balance is granted
    placed: dict[int, int] = {}
    outcomes = run_threads(8, lambda i: placed.__setitem__(
        i, place(user, price="1.10000", client_order_id="once").pk))
    assert outcomes == {"ok": 8}
    assert len(set(placed.values())) == 1
    assert Order.objects.filter(client_order_id="once").count() == 1
    assert wallet(user, "USD").held == D("1.01") + D("1101.10")
    assert books_clean() == []


@pytest.mark.parametrize("venue", ["spot", "futures"])
def test_a_market_buy_by_quote_amount_is_refused_where_the_venue_cannot_fill_one(venue):
    market = Market(venue=venue, symbol="BTC/USDT", tick_size=D("0.01"), lot_size=D("0.001"))
    with pytest.raises(InvalidInput) as refused:
        services.orders.order_spec(market=market, gateway=venues.gateway_for(venue),
                                   side="BUY", type="MARKET", amount=None, price=None,
                                   time_in_force="GTC", post_only=False,
                                   quote_amount=D("100"))
    assert refused.value.fields == {"quote_amount": [
        f"A market buy by quote_amount is not supported on {venue}."]}
