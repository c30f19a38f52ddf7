"""Settlement races on a real MariaDB: threads with their own connections settle at once."""
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from apps.wallets import selectors, services
from apps.wallets.constants import SystemAccount
from apps.wallets.models import Entry, Journal, Wallet
from apps.wallets.services import TradeParty, TradeSettlement
from tests.factories import UserFactory

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal
MARKET = TradeParty(system=SystemAccount.PAPER_MARKET)


def trader():
    user = UserFactory()
    for currency in ("USD", "EUR"):
        services.grant_paper_funds(user_id=user.pk, currency=currency, amount=D("1000"),
                                   key=f"g:{user.pk}:{currency}")
    return user


def buy(key, user):
    """``user`` buys 10 EUR for 11 USD from the paper market, paying 0.01 USD to FEES."""
    return TradeSettlement(key=key, wallet_type="PAPER", base="EUR", quote="USD",
                           quantity=D("10"), quote_amount=D("11"), seller=MARKET,
                           buyer=TradeParty(user_id=user.pk, fee=D("0.01")))


def in_thread(work) -> threading.Thread:
    def target():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_settlements_of_disjoint_users_never_wait_on_the_system_accounts(currencies):
    alice, bob = trader(), trader()
    services.settle_trade(**vars(buy("warm-a", alice)))  # FEES and PAPER_MARKET exist
    settled, release = threading.Event(), threading.Event()
    errors = []

    def alice_settles_and_stays_open():
        try:
            with transaction.atomic():
                services.settle_trade(**vars(buy("a", alice)))
                settled.set()
                release.wait(20)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = in_thread(alice_settles_and_stays_open)
    try:
        assert settled.wait(20)
        with connection.cursor() as cursor:  # a wait on a row lock fails within a second
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        started = time.monotonic()
        services.settle_trade(**vars(buy("b", bob)))  # pays FEES, trades with PAPER_MARKET
        waited = time.monotonic() - started
        assert not release.is_set() and thread.is_alive()  # alice's transaction still open
    finally:
        release.set()
        thread.join(20)
    assert errors == [] and waited < 1
    assert selectors.system_balance(system=SystemAccount.FEES, wallet_type="PAPER",
                                    currency="USD") == D("0.03")
    assert selectors.reconcile() == []


def test_overlapping_batches_in_two_connections_settle_each_trade_once(currencies):
    users = [trader() for _ in range(6)]
    trades = [buy(f"t{n}", users[n % 6]) for n in range(30)]
    batches = [trades[:20], list(reversed(trades[10:]))]  # t10-t19 in both
    barrier, errors = threading.Barrier(2), []

    def settle(batch):
        def work():
            try:
                barrier.wait()
                services.settle_trades(trades=batch)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
        return work

    threads = [in_thread(settle(batch)) for batch in batches]
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert Journal.objects.filter(kind="TRADE").count() == 30
    assert Entry.objects.filter(journal__kind="TRADE").count() == 30 * 5
    for user in users:  # five purchases each
        eur = Wallet.objects.get(user=user, type="PAPER", currency_id="EUR")
        assert eur.balance == D("1050")
    assert selectors.reconcile() == []


def test_a_replayed_batch_racing_itself_writes_once(currencies):
    users = [trader() for _ in range(4)]
    batch = [buy(f"t{n}", users[n % 4]) for n in range(12)]
    barrier, results, errors = threading.Barrier(4), [], []

    def work():
        try:
            barrier.wait()
            results.append([j.pk for j in services.settle_trades(trades=batch)])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    for thread in [in_thread(work) for _ in range(4)]:
        thread.join(30)
    assert errors == [] and len(results) == 4
    assert all(pks == results[0] for pks in results)
    assert Journal.objects.filter(kind="TRADE").count() == 12
    assert selectors.reconcile() == []
