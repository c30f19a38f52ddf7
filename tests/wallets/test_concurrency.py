"""Races against a real MariaDB: threads with their own connections hit the same rows."""
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from apps.core.errors import DomainError
from apps.wallets import selectors, services
from apps.wallets.models import Entry, Journal, Wallet
from tests.factories import UserFactory

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def run_threads(count: int, work) -> Counter:
    """Start ``count`` threads at once; each runs ``work(i)`` on its own connection.
    Returns a tally of outcomes ("ok" or the exception's class name)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@max_connections")
        (limit,) = cursor.fetchone()
    if limit < count + 20:
        pytest.fail(f"this race needs {count} connections at once but the server allows "
                    f"{limit}: start MariaDB with --max-connections=600 (.ci/services.sh does)")
    barrier = threading.Barrier(count)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def target(i: int) -> None:
        try:
            barrier.wait()
            work(i)
            result = "ok"
        except DomainError as exc:
            result = type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - any other error is what we count
            result = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.fixture
def trader(currencies):
    user = UserFactory()
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                     amount=Decimal("1000"), key="seed")
    return user


def test_200_concurrent_holds_exactly_100_succeed(trader):
    outcomes = run_threads(200, lambda i: services.hold_create(
        user_id=trader.pk, wallet_type="SPOT", currency="USDT", amount=Decimal("10"),
        key=f"hold:{i}"))
    assert outcomes == Counter({"ok": 100, "InsufficientFunds": 100})
    wallet = Wallet.objects.get(user=trader, type="SPOT", currency_id="USDT")
    assert wallet.held == Decimal("1000")
    assert wallet.available == 0
    assert selectors.reconcile() == []


def test_circular_transfers_keep_totals(trader):
    cycle = ["SPOT", "FUTURES", "ECO"]
    for wallet_type in cycle[1:]:
        services.transfer(user_id=trader.pk, currency="USDT", amount=Decimal("300"),
                          from_type="SPOT", to_type=wallet_type, key=f"init:{wallet_type}")

    # What each thread saw succeed: the books must show exactly these moves.
    expected = {"SPOT": Decimal("400"), "FUTURES": Decimal("300"), "ECO": Decimal("300")}
    done: Counter = Counter()
    tally = threading.Lock()

    def work(i: int) -> None:
        for n in range(100):
            src = cycle[(i + n) % 3]
            dst = cycle[(i + n + 1) % 3]
            try:
                services.transfer(user_id=trader.pk, currency="USDT", amount=Decimal("7"),
                                  from_type=src, to_type=dst, key=f"c:{i}:{n}")
            except services.InsufficientFunds:
                result = "refused"  # a wallet momentarily short, never a negative balance
            else:
                result = "ok"
                with tally:
                    expected[src] -= 7
                    expected[dst] += 7
            with tally:
                done[result] += 1

    outcomes = run_threads(50, work)
    assert outcomes == Counter({"ok": 50})
    assert done["ok"] + done["refused"] == 5000 and done["ok"] > 0
    balances = dict(Wallet.objects.filter(user=trader).values_list("type", "balance"))
    assert balances == expected
    transfers = Journal.objects.filter(kind="TRANSFER")
    assert transfers.count() == 2 + done["ok"]
    assert Entry.objects.filter(journal__in=transfers).count() == 2 * transfers.count()
    assert selectors.reconcile() == []


def test_replayed_key_makes_one_journal(trader):
    outcomes = run_threads(20, lambda i: services.withdraw(
        user_id=trader.pk, wallet_type="SPOT", currency="USDT", amount=Decimal("100"),
        key="withdrawal:42"))
    assert outcomes == Counter({"ok": 20})
    assert Journal.objects.filter(key="withdrawal:42").count() == 1
    assert Wallet.objects.get(user=trader, type="SPOT").balance == Decimal("900")
    assert selectors.reconcile() == []
