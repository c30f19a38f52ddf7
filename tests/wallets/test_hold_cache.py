"""``hold_create``'s per-process cache of wallet ids and decimals (``ledger._hold_wallets``)
and its ``new_key`` option."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.errors import InvalidInput
from apps.wallets import selectors, services
from apps.wallets.models import Currency, Hold, Wallet
from apps.wallets.services import ledger
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def funded(user, amount: str = "100") -> Wallet:
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT", amount=D(amount),
                     key=f"fund:{user.pk}")
    return Wallet.objects.get(user=user, type="SPOT", currency_id="USDT")


def hold(user, key: str, amount: str = "10", **kwargs) -> Hold:
    return services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                amount=D(amount), key=key, **kwargs)


def test_a_second_hold_locks_its_wallet_without_reading_it_first(user, currencies):
    funded(user)
    hold(user, "a")
    with CaptureQueriesContext(connection) as queries:
        hold(user, "b")
    wallet_reads = [q["sql"] for q in queries.captured_queries
                    if "wallets_wallet" in q["sql"] and q["sql"].startswith("SELECT")]
    # One read, the lock (SQLite has no FOR UPDATE: the statement is the same otherwise).
    assert len(wallet_reads) == 1
    assert connection.vendor == "sqlite" or "FOR UPDATE" in wallet_reads[0].upper()
    assert Wallet.objects.get(user=user, type="SPOT").held == D("20")


def test_a_cached_id_that_names_another_users_wallet_holds_on_the_users_own(user,
                                                                           currencies):
    mine, theirs = funded(user), funded(UserFactory())
    hold(user, "a")
    # As if the id had been reused for another wallet: the lock names the owner too.
    ledger._hold_wallets[(user.pk, "SPOT", "USDT")] = (theirs.pk, 8)
    made = hold(user, "b", amount="5")
    assert made.wallet_id == mine.pk
    assert (Wallet.objects.get(pk=mine.pk).held, Wallet.objects.get(pk=theirs.pk).held) == (
        D("15"), D("0"))
    assert ledger._hold_wallets[(user.pk, "SPOT", "USDT")] == (mine.pk, 8)
    assert selectors.reconcile() == []


def test_amounts_are_checked_at_the_cached_currency_precision(user, currencies):
    funded(user)
    hold(user, "a")
    with pytest.raises(InvalidInput):
        hold(user, "b", amount="0.000000001")
    assert not Hold.objects.filter(key="b").exists()


def test_saving_a_currency_empties_the_cache(user, currencies):
    funded(user)
    hold(user, "a")
    assert ledger._hold_wallets
    currency = Currency.objects.get(pk="USDT")
    currency.save()
    assert ledger._hold_wallets == {}


def test_a_new_key_skips_the_lookup_and_the_unique_key_still_guards(user, currencies):
    funded(user)
    hold(user, "a")
    with CaptureQueriesContext(connection) as queries:
        hold(user, "b", new_key=True)
    assert not [q for q in queries.captured_queries if "SELECT" in q["sql"]
                and "wallets_hold" in q["sql"].split("FROM")[-1]]
    with pytest.raises(IntegrityError), transaction.atomic():
        hold(user, "a", new_key=True)
    assert Hold.objects.filter(key="a").count() == 1
