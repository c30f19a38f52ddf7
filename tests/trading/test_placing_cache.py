"""Placing an order with this process's cached market (``selectors.market_for_placing``):
an edit made elsewhere (a queryset update, as another process's admin would make: no
signal reaches this process) is seen by the re-read under the insert's lock, and the
order is then checked and placed as the market is now, never as the cache had it."""
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.errors import InvalidInput, NotFound
from apps.trading import selectors
from apps.trading.models import Market, Order
from apps.wallets.models import Currency, Journal
from tests.factories import UserFactory
from tests.trading.helpers import DEMO, D, hold_of, place, wallet


@pytest.fixture
def cached(market, user):
    """``market`` in this process's cache, through orders of ``user`` (the second one
    finds the demo balance granted and remembers it, as every later order will)."""
    selectors.market_forget()
    place(user, price="1.10000", amount="10")
    place(user, price="1.10000", amount="10")
    assert ("paper", "EUR/USD") in selectors._placing
    return market


def test_a_market_disabled_elsewhere_is_refused_through_the_cache_and_costs_nothing(cached):
    Market.objects.filter(pk=cached.pk).update(status="disabled")
    newcomer = UserFactory()
    orders, journals = Order.objects.count(), Journal.objects.count()
    with pytest.raises(NotFound) as refused:
        place(newcomer, price="1.10000", amount="10")
    assert refused.value.code == "unknown_market"
    # Not even the demo balance a newcomer's first accepted order would bring.
    assert (Order.objects.count(), Journal.objects.count()) == (orders, journals)
    assert wallet(newcomer, "USD").balance == 0


def test_fees_changed_elsewhere_are_the_next_orders_fees(cached, user):
    Market.objects.filter(pk=cached.pk).update(maker_fee=D("0.002"), taker_fee=D("0.003"))
    order = place(user, price="1.10000", amount="10")
    assert (order.maker_fee_rate, order.taker_fee_rate) == (D("0.002"), D("0.003"))
    # 10 x 1.1 = 11.00 plus the taker fee of 0.033, rounded up to the cent.
    assert hold_of(order).remaining == D("11.04")


def test_a_lot_size_changed_elsewhere_refuses_an_amount_off_the_new_lot(cached, user):
    Market.objects.filter(pk=cached.pk).update(lot_size=D("100"))
    with pytest.raises(InvalidInput) as refused:
        place(user, price="1.10000", amount="10")
    assert "amount" in refused.value.fields
    assert Order.objects.filter(user=user).count() == 2


def test_the_quote_currencys_decimals_are_checked_with_the_market(cached, user):
    # Not editable once created (the admin makes them read-only): a row recreated, as in
    # a test database, must not be held at the old precision.
    Currency.objects.filter(pk="USD").update(decimals=0)
    order = place(user, price="1.10000", amount="10")
    assert hold_of(order).remaining == D("12")  # 11 plus a fee of 0.011, each rounded up


def test_a_save_in_this_process_forgets_the_cached_markets(cached):
    cached.taker_fee = D("0.002")
    cached.save()
    assert selectors._placing == {}


def test_a_first_order_short_of_funds_gets_the_demo_balance_and_is_placed(market):
    newcomer = UserFactory()
    order = place(newcomer, price="1.10000", amount="10")
    assert hold_of(order).remaining == D("11.02")
    assert wallet(newcomer, "USD").balance == DEMO


def test_an_order_with_the_market_cached_runs_only_the_statements_it_needs(cached, user):
    with CaptureQueriesContext(connection) as queries:
        place(user, price="1.10000", amount="10")
    statements = [q["sql"].split()[0].upper() + " " + _table(q["sql"])
                  for q in queries.captured_queries
                  if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))]
    # No market read before the insert, no currency read, no hold-key lookup, no read of
    # the wallet before its lock: the market is re-read (with the decimals) under the
    # insert's lock, the wallet locked by its cached id.
    assert statements == ["INSERT trading_order", "SELECT trading_market",
                          "SELECT wallets_wallet", "INSERT wallets_hold",
                          "UPDATE wallets_wallet"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks: MariaDB")
def test_an_edit_not_yet_committed_holds_the_order_back_and_its_terms_apply(market, user):
    """An admin's edit of the market, uncommitted while an order is inserted through the
    cached copy: the insert's foreign-key lock waits for it to commit, the re-read sees
    the new fees, and the order is placed once more on the new terms."""
    selectors.market_forget()
    place(user, price="1.10000", amount="10")  # the market cached, the account opened
    editing, done = threading.Event(), threading.Event()

    def edit():
        try:
            with transaction.atomic():
                Market.objects.filter(pk=market.pk).update(taker_fee=D("0.003"))
                editing.set()
                time.sleep(0.5)
        finally:
            connections.close_all()
            done.set()

    threading.Thread(target=edit).start()
    assert editing.wait(10)
    order = place(user, price="1.10000", amount="10")
    assert done.wait(10)
    assert order.taker_fee_rate == D("0.003")
    assert Order.objects.filter(user=user, taker_fee_rate=D("0.001")).count() == 1


def _table(sql: str) -> str:
    """The statement's own table (not a subquery's)."""
    words = sql.replace('"', " ").replace("`", " ").replace("(", " ( ").replace(
        ")", " ) ").split()
    if words[0].upper() == "UPDATE":
        return words[1]
    depth = 0
    for word, following in zip(words, words[1:], strict=False):
        depth += (word == "(") - (word == ")")
        if depth == 0 and word.upper() in ("FROM", "INTO"):
            return following
    raise AssertionError(sql)
