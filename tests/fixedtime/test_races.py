"""Races against a real MariaDB: settlement exactly once whoever runs it, the open-trade
limit under concurrent opens. Threads with their own connections hit the same rows."""
import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.fixedtime import services
from apps.fixedtime.models import Trade
from apps.fixedtime.tasks import settle_task
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Journal, Wallet
from tests.factories import UserFactory
from tests.fixedtime.helpers import fund, make_instrument, open_trade, quote
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def _expired_trades(count_per_user: int, users: int) -> list[Trade]:
    """Open trades, then move them into the past (as if their expiry had passed), with an
    exit quote recorded at each expiry: half rise, half fall."""
    make_instrument(max_open_trades=count_per_user)
    quote("1.10000")
    trades = []
    for _ in range(users):
        user = UserFactory()
        fund(user)
        trades += [open_trade(user, direction=random.choice(["UP", "DOWN"]))
                   for _ in range(count_per_user)]
    past = timezone.now() - timedelta(minutes=5)
    for number, trade in enumerate(trades):
        expires = past + timedelta(milliseconds=number)
        Trade.objects.filter(pk=trade.pk).update(opened_at=expires - timedelta(seconds=60),
                                                 expires_at=expires)
        quote("1.10010" if number % 2 else "1.09990", at=expires)
    return list(Trade.objects.order_by("pk"))


@pytest.mark.parametrize(("users", "per_user", "rounds"), [
    (5, 4, 1),
    pytest.param(30, 10, 3, marks=pytest.mark.slow),  # 300 trades, 18 threads
])
def test_settlement_is_exactly_once_with_the_task_twice_late_and_the_sweep_at_once(
        currencies, users, per_user, rounds):
    random.seed(17)
    trades = _expired_trades(count_per_user=per_user, users=users)
    ids = [trade.pk for trade in trades]
    late = timezone.now() + timedelta(hours=1)

    def work(i: int) -> None:
        order = ids[::-1] if i % 2 else ids  # opposite orders: the most contention
        if i % 6 in (0, 1):  # the scheduled task, delivered twice
            for trade_id in order:
                settle_task(trade_id)
        elif i % 6 in (2, 3):  # delivered late
            for trade_id in order:
                services.trade_settle(trade_id=trade_id, now=late)
        else:  # the beat sweep, twice at once
            services.trades_settle_due()

    assert run_threads(6 * rounds, work) == Counter({"ok": 6 * rounds})
    assert Journal.objects.filter(kind="FIXED_TIME").count() == len(trades)
    settled = {t.pk: t for t in Trade.objects.all()}
    assert all(t.status in ("WON", "LOST") for t in settled.values())
    for trade in trades:
        final = settled[trade.pk]
        rose = final.exit_price > final.entry_price
        assert final.status == ("WON" if rose == (trade.direction == "UP") else "LOST")
    for user_id in {t.user_id for t in trades}:
        wallet = Wallet.objects.get(user_id=user_id, type="SPOT", currency_id="USD")
        paid = sum((t.payout for t in settled.values() if t.user_id == user_id), D(0))
        assert (wallet.balance, wallet.held) == (D("1000") - D(10 * per_user) + paid, 0)
    call_command("wallets_reconcile")  # raises CommandError naming any violation


def test_concurrent_opens_never_pass_the_open_trade_limit(currencies):
    make_instrument(max_open_trades=3)
    user = UserFactory()
    fund(user)
    quote("1.10000")
    outcomes = run_threads(10, lambda i: open_trade(user))
    assert outcomes == Counter({"ok": 3, "Conflict": 7})
    assert Trade.objects.filter(user=user, status="OPEN").count() == 3
    assert Wallet.objects.get(user=user, type="SPOT").held == D("30")
    assert wallet_selectors.reconcile() == []
