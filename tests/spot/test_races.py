"""Races on the spot venue against a real MariaDB (its default collation folds case; its
row locks are where deadlocks show): one client order id placed by several requests at
once, and ids differing only in case."""
from decimal import Decimal

import pytest

from apps.trading import services
from apps.trading.models import Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold
from tests.trading.helpers import wallet
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal


def place(user, client_order_id: str) -> Order:
    return services.order_place(user_id=user.pk, venue="spot", symbol="BTC/USDT", side="BUY",
                                type="LIMIT", amount=D("0.01"), price=D("50000"),
                                client_order_id=client_order_id)


def test_one_client_order_id_placed_by_six_requests_at_once_is_one_order(spot, trader):
    outcomes = run_threads(6, lambda i: place(trader, "race-1"))
    assert outcomes == {"ok": 6}  # the losers of the unique key are replays
    assert list(Order.objects.values_list("client_order_id", flat=True)) == ["race-1"]
    assert Hold.objects.filter(wallet__user=trader).count() == 1
    assert wallet(trader, "USDT", "SPOT").held > 0 and Hold.objects.get().remaining == wallet(
        trader, "USDT", "SPOT").held  # one hold, once
    assert wallet_selectors.reconcile() == []


def test_client_order_ids_differing_only_in_case_are_four_orders(spot, trader):
    ids = ["race-2", "RACE-2", "Race-2", "rAcE-2"]
    outcomes = run_threads(4, lambda i: place(trader, ids[i]))
    assert outcomes == {"ok": 4}
    assert sorted(Order.objects.values_list("client_order_id", flat=True)) == sorted(ids)
    assert Hold.objects.filter(wallet__user=trader).count() == 4
    assert wallet_selectors.reconcile() == []
