"""``wallets_lock``: a service's whole wallet lock set, taken at once in pk order."""
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from apps.core.errors import InvalidInput
from apps.wallets import services
from apps.wallets.models import Wallet
from tests.factories import UserFactory


def owners(user_id: int) -> list[services.WalletOwner]:
    return [(None, "FEES", "PAPER", "USD"), (user_id, None, "PAPER", "EUR"),
            (user_id, None, "PAPER", "USD"), (None, "PAPER_MARKET", "PAPER", "USD")]


@pytest.mark.django_db
def test_creates_the_missing_wallets_and_locks_the_users_in_one_query_in_pk_order(currencies):
    user = UserFactory()
    existing = Wallet.objects.create(user=user, type="PAPER", currency_id="USD")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = services.wallets_lock(owners=owners(user.pk) + owners(user.pk)[:1])
    assert list(locked) == owners(user.pk)
    assert locked[user.pk, None, "PAPER", "USD"].pk == existing.pk
    assert Wallet.objects.count() == 4
    assert all((w.user_id, w.system, w.type, w.currency_id) == owner
               for owner, w in locked.items())
    if connection.vendor == "mysql":  # SQLite has no row locks
        (lock,) = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
        assert lock.endswith("ORDER BY `wallets_wallet`.`id` ASC FOR UPDATE")
        assert "`wallets_wallet`.`user_id` IS NOT NULL" in lock


@pytest.mark.django_db
def test_refuses_an_unknown_wallet_type(currencies):
    with pytest.raises(InvalidInput, match="Unknown wallet type"):
        services.wallets_lock(owners=[(UserFactory().pk, None, "SAVINGS", "USD")])


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_refuses_to_lock_outside_a_transaction(currencies):
    with pytest.raises(TransactionManagementError):  # the lock would end with the statement
        services.wallets_lock(owners=owners(UserFactory().pk))


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_user_wallets_stay_locked_until_the_transaction_ends_system_ones_never(currencies):
    user = UserFactory()
    with transaction.atomic():  # committed first, so that this thread sees them
        services.wallets_lock(owners=owners(user.pk))
    locked, released = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                services.wallets_lock(owners=owners(user.pk))
                locked.set()
                released.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    try:
        assert Wallet.objects.count() == 4
        for wallet in Wallet.objects.all():
            if wallet.user_id is None:  # FEES, PAPER_MARKET: no posting waits on them
                with transaction.atomic():
                    Wallet.objects.select_for_update(nowait=True).get(pk=wallet.pk)
                continue
            with pytest.raises(DatabaseError), transaction.atomic():
                Wallet.objects.select_for_update(nowait=True).get(pk=wallet.pk)
    finally:
        released.set()
        thread.join(10)
    with transaction.atomic():
        assert len(Wallet.objects.select_for_update(nowait=True).all()) == 4
