"""Exactly-once execution on MariaDB: two executors and duplicated ticks race for the same
1,000 resting orders."""
from decimal import Decimal

import pytest

from apps.marketdata.services import publish
from apps.twelvedata import services
from apps.twelvedata.models import TwdOrder
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Journal, Wallet
from tests.twelvedata.fixtures import make_quote
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def test_two_executors_and_duplicate_ticks_fill_each_order_once(markets, user):
    publish(quote=make_quote("EUR/USD", "1.20000", bid="1.19990", ask="1.20010"))
    prices = [Decimal("1.00000") + Decimal("0.00010") * i for i in range(1000)]
    for price in prices:
        services.order_place(user_id=user.pk, symbol="EUR/USD", side="BUY", type="LIMIT",
                             amount=Decimal("5"), price=price)
    tick = make_quote("EUR/USD", "1.04990", bid="1.04980", ask="1.05000")
    crossing = {p for p in prices if p >= Decimal("1.05000")}

    filled_by = run_threads(4, lambda i: services.fill_crossing(quote=tick))  # 2 x 2 ticks
    assert filled_by == {"ok": 4}

    orders = {o.price: o for o in TwdOrder.objects.all()}
    assert {p for p, o in orders.items() if o.status == "CLOSED"} == crossing
    assert all(o.status == "OPEN" and o.filled == 0 for p, o in orders.items()
               if p not in crossing)
    assert Journal.objects.filter(kind="TRADE").count() == len(crossing)
    eur = Wallet.objects.get(user=user, type="PAPER", currency_id="EUR")
    assert eur.balance == Decimal("5") * len(crossing)
    assert wallet_selectors.reconcile() == []
