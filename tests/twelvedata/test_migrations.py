from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from apps.trading import services as trading_services
from apps.trading.models import Fill, Market, Order
from apps.twelvedata.models import TwdMarket, TwdProvider
from apps.wallets import services as wallet_services
from apps.wallets.models import Hold
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
BEFORE_CORE = [("twelvedata", "0004_order_fee_rates_and_settle_error")]
FILLED_AT = datetime(2026, 11, 30, 9, 15, 1, tzinfo=UTC)
QUOTED_AT = datetime(2026, 11, 30, 9, 15, 0, tzinfo=UTC)


def test_provider_row_starts_disabled_and_the_sweep_is_scheduled(settings):
    provider = TwdProvider.objects.get(name="twelvedata")
    assert not provider.status and not provider.api_key_encrypted
    sweep = PeriodicTask.objects.get(task="twelvedata.sweep")
    assert sweep.enabled
    assert (sweep.interval.every, sweep.interval.period) == (settings.PAPER_SWEEP_SECONDS,
                                                             "seconds")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_leaves() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_orders_placed_before_fee_rates_were_fixed_take_their_markets_rates(user):
    try:
        old = migrate([("twelvedata", "0003_exact_identifiers")])
        market = old.get_model("twelvedata", "TwdMarket").objects.create(
            symbol="EUR/USD", type="forex", name="Euro", base_currency="EUR",
            quote_currency="USD", maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0007"))
        old.get_model("twelvedata", "TwdOrder").objects.create(
            user_id=user.pk, market_id=market.pk, client_order_id="before", type="LIMIT",
            side="BUY", price=Decimal("1.1"), amount=Decimal("1"), remaining=Decimal("1"))
    finally:
        migrate_to_leaves()
    order = Order.objects.get(client_order_id="before")
    assert (order.maker_fee_rate, order.taker_fee_rate) == (Decimal("0.0002"), Decimal("0.0007"))
    assert (order.settle_error, order.settle_error_at) == ("", None)


# --- 0005: paper trading onto the trading core --------------------------------------------


def old_paper_book(old, users) -> dict[str, int]:
    """Markets and orders as the paper venue kept them before the trading core: returns
    the order ids by name."""
    TwdMarket, TwdOrder = old.get_model("twelvedata", "TwdMarket"), old.get_model(
        "twelvedata", "TwdOrder")
    eur = TwdMarket.objects.create(
        symbol="EUR/USD", type="forex", name="Euro / US Dollar", base_currency="EUR",
        quote_currency="USD", price_precision=5, amount_precision=2, status=True,
        is_trending=True, maker_fee=D("0.0002"), taker_fee=D("0.0007"))
    TwdMarket.objects.create(
        symbol="AAPL", type="stocks", name="Apple Inc", base_currency="AAPL",
        quote_currency="USD", exchange="NASDAQ", price_precision=2, amount_precision=0,
        status=False, is_hot=True)
    rates = {"maker_fee_rate": D("0.0002"), "taker_fee_rate": D("0.0007")}
    opened = TwdOrder.objects.create(
        user_id=users[0].pk, market_id=eur.pk, client_order_id="open-1", type="LIMIT",
        side="BUY", price=D("1.10000"), amount=D("10"), remaining=D("10"), **rates)
    filled = TwdOrder.objects.create(
        user_id=users[0].pk, market_id=eur.pk, client_order_id="filled-1", type="MARKET",
        side="BUY", status="CLOSED", amount=D("5"), filled=D("5"), remaining=D("0"),
        cost=D("5.51"), fee=D("0.01"), fee_currency="USD", liquidity="TAKER",
        fill_price=D("1.10100"), quote_price=D("1.10050"), quote_bid=D("1.10000"),
        quote_ask=D("1.10100"), quote_timestamp=QUOTED_AT, quote_source="twelvedata",
        filled_at=FILLED_AT, **rates)
    canceled = TwdOrder.objects.create(
        user_id=users[1].pk, market_id=eur.pk, client_order_id="open-1", type="LIMIT",
        side="SELL", status="CANCELED", price=D("1.20000"), amount=D("3"), remaining=D("3"),
        **rates)
    return {"open": opened.pk, "filled": filled.pk, "canceled": canceled.pk}


@pytest.fixture
def migrated(currencies):
    """The paper book written before 0005, the open order's hold as the old venue made it,
    then every migration applied. Yields (users, order ids)."""
    users = [UserFactory(), UserFactory()]
    try:
        ids = old_paper_book(migrate(BEFORE_CORE), users)
        wallet_services.grant_paper_funds(user_id=users[0].pk, currency="USD",
                                          amount=D("1000"), key="paper:grant:test")
        wallet_services.hold_create(user_id=users[0].pk, wallet_type="PAPER", currency="USD",
                                    amount=D("11.01"), key=f"twd:order:{ids['open']}")
    finally:
        migrate_to_leaves()
    return users, ids


@pytest.mark.django_db(transaction=True)
def test_0005_moves_paper_markets_onto_the_trading_core_without_reimporting(migrated):
    assert Market.objects.count() == 2 and TwdMarket.objects.count() == 2
    eur, aapl = Market.objects.get(symbol="EUR/USD"), Market.objects.get(symbol="AAPL")
    assert (eur.venue, eur.base_currency, eur.quote_currency, eur.kind) == (
        "paper", "EUR", "USD", "spot")
    assert (eur.tick_size, eur.lot_size, aapl.tick_size, aapl.lot_size) == (
        D("0.00001"), D("0.01"), D("0.01"), D("1"))
    assert (eur.maker_fee, eur.taker_fee) == (D("0.0002"), D("0.0007"))
    assert (aapl.maker_fee, aapl.taker_fee) == (D("0.0008"), D("0.0010"))
    assert (eur.status, eur.is_trending, eur.is_hot) == ("enabled", True, False)
    assert (aapl.status, aapl.is_trending, aapl.is_hot) == ("disabled", False, True)
    assert TwdMarket.objects.get(symbol="AAPL").market == aapl
    assert TwdMarket.objects.get(symbol="AAPL").exchange == "NASDAQ"


@pytest.mark.django_db(transaction=True)
def test_0005_keeps_every_paper_order_its_id_hold_and_history(migrated):
    users, ids = migrated
    assert Order.objects.count() == 3
    opened, filled, canceled = (Order.objects.get(pk=ids[k]) for k in ("open", "filled",
                                                                       "canceled"))
    assert {o.venue for o in (opened, filled, canceled)} == {"paper"}
    assert (opened.status, opened.user_id, opened.client_order_id, opened.amount,
            opened.remaining, opened.price, opened.time_in_force) == (
        "OPEN", users[0].pk, "open-1", D("10"), D("10"), D("1.10000"), "GTC")
    assert (filled.status, filled.filled, filled.remaining, filled.cost, filled.fee,
            filled.closed_at) == ("FILLED", D("5"), 0, D("5.51"), D("0.01"), FILLED_AT)
    assert (canceled.status, canceled.user_id, canceled.side) == ("CANCELED", users[1].pk,
                                                                 "SELL")
    for order in (opened, filled, canceled):
        assert order.hold_key == f"twd:order:{order.pk}"
        assert (order.maker_fee_rate, order.taker_fee_rate) == (D("0.0002"), D("0.0007"))
    fill = Fill.objects.get()
    assert (fill.order_id, fill.trade_id, fill.settlement_key) == (
        filled.pk, f"{filled.pk}-1", f"twd:fill:{filled.pk}")
    assert (fill.price, fill.amount, fill.quote_amount, fill.fee, fill.liquidity,
            fill.executed_at) == (D("1.10100"), D("5"), D("5.51"), D("0.01"), "TAKER",
                                  FILLED_AT)
    quote = fill.evidence["quote"]
    assert {k: D(quote[k]) for k in ("price", "bid", "ask")} == {
        "price": D("1.10050"), "bid": D("1.10000"), "ask": D("1.10100")}
    assert {k: quote[k] for k in ("venue", "symbol", "timestamp", "source")} == {
        "venue": "paper", "symbol": "EUR/USD", "timestamp": QUOTED_AT.isoformat(),
        "source": "twelvedata"}


@pytest.mark.django_db(transaction=True)
def test_after_0005_a_trader_sees_and_cancels_the_orders_they_had(migrated):
    users, ids = migrated
    client = APIClient()
    client.force_authenticate(users[0])
    listed = {o["id"]: o for o in client.get("/api/v1/twd/orders/").json()["results"]}
    assert set(listed) == {ids["open"], ids["filled"]}
    evidence = listed[ids["filled"]]["fill"]
    assert (evidence["price"], evidence["quote_ask"], evidence["quote_source"]) == (
        "1.101", "1.101", "twelvedata")
    # The open order's hold, made by the old venue under its old key, is released.
    response = client.post(f"/api/v1/twd/orders/{ids['open']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "CANCELED"
    assert Hold.objects.get(key=f"twd:order:{ids['open']}").status == Hold.Status.CLOSED
    # New orders number on from the migrated ones.
    order = trading_services.order_place(
        user_id=users[0].pk, venue="paper", symbol="EUR/USD", side="BUY", type="LIMIT",
        amount=D("1"), price=D("1.00000"))
    assert order.pk > max(ids.values())


@pytest.mark.django_db(transaction=True)
def test_0005_reversed_gives_the_old_tables_back(migrated):
    users, ids = migrated
    try:
        old = migrate(BEFORE_CORE)
        TwdMarket, TwdOrder = (old.get_model("twelvedata", "TwdMarket"),
                               old.get_model("twelvedata", "TwdOrder"))
        eur = TwdMarket.objects.get(symbol="EUR/USD")
        assert (eur.price_precision, eur.amount_precision, eur.status, eur.is_trending,
                eur.maker_fee, eur.taker_fee) == (5, 2, True, True, D("0.0002"), D("0.0007"))
        assert TwdMarket.objects.get(symbol="AAPL").status is False
        orders = {o.pk: o for o in TwdOrder.objects.all()}
        assert set(orders) == set(ids.values())
        assert {k: orders[pk].status for k, pk in ids.items()} == {
            "open": "OPEN", "filled": "CLOSED", "canceled": "CANCELED"}
        filled = orders[ids["filled"]]
        assert (filled.fill_price, filled.quote_ask, filled.quote_timestamp, filled.filled_at,
                filled.liquidity, filled.cost) == (D("1.10100"), D("1.10100"), QUOTED_AT,
                                                   FILLED_AT, "TAKER", D("5.51"))
        # The trading core's tables stay (other venues use them), empty of paper rows.
        assert not Market.objects.filter(venue="paper").exists()
        assert not Order.objects.exists() and not Fill.objects.exists()
    finally:
        migrate_to_leaves()
    # And forward again: the same book.
    assert set(Order.objects.values_list("pk", flat=True)) == set(ids.values())
    assert Fill.objects.get().settlement_key == f"twd:fill:{ids['filled']}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("history", ["two fills", "an expired order"])
def test_0005_is_not_reversed_over_history_the_old_tables_cannot_hold(migrated, history):
    users, ids = migrated
    if history == "two fills":
        first = Fill.objects.get()
        Fill.objects.create(order_id=first.order_id, venue="paper",
                            trade_id=f"{first.order_id}-2", price=first.price,
                            amount=first.amount, quote_amount=first.quote_amount,
                            liquidity="MAKER", fee_currency="USD",
                            settlement_key=f"fill:paper:{first.order_id}-2",
                            executed_at=FILLED_AT)
    else:
        Order.objects.filter(pk=ids["canceled"]).update(status="EXPIRED")
    try:
        with pytest.raises(RuntimeError, match="cannot be reversed"):
            migrate(BEFORE_CORE)
    finally:
        migrate_to_leaves()
    # Nothing was lost, and the core still works.
    assert set(Order.objects.values_list("pk", flat=True)) == set(ids.values())
    assert Market.objects.filter(venue="paper").count() == 2
    order = trading_services.order_place(
        user_id=users[0].pk, venue="paper", symbol="EUR/USD", side="BUY", type="LIMIT",
        amount=D("1"), price=D("1.00000"))
    assert order.status == "OPEN"
