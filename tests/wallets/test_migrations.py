from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.wallets.models import Currency, Wallet

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
BEFORE = [("wallets", "0001_initial")]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def migrate_to_latest() -> None:
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_exact_identifiers_keep_wallets_and_stop_at_a_look_alike_wallet(user):
    migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        old.get_model("wallets", "Currency").objects.create(code="USD", name="US Dollar",
                                                            decimals=2)
        old_wallet = old.get_model("wallets", "Wallet")
        old_wallet.objects.create(user_id=user.pk, type="SPOT", currency_id="USD",
                                  balance=Decimal("5"))
        # What a folding collation let through: a wallet under a look-alike of USD.
        stray = old_wallet.objects.create(user_id=user.pk, type="ECO", currency_id="ＵＳＤ")
        with pytest.raises(RuntimeError, match=r"\(\d+, 'ＵＳＤ'\)"):
            migrate_to_latest()
        old_wallet.objects.filter(pk=stray.pk).delete()
    finally:
        migrate_to_latest()
    assert Wallet.objects.get(user=user, currency_id="USD").balance == Decimal("5")
    assert not Currency.objects.filter(code__in=["ＵＳＤ", "usd", "USD "]).exists()


BEFORE_DERIVED = [("wallets", "0002_exact_identifiers")]


def old_ledger(user, *, external_balance: str):
    """A 5 USD deposit as the ledger before 0003 wrote it: EXTERNAL's row kept its running
    balance (``external_balance``, -5 if the books were right)."""
    old = MigrationExecutor(connection).loader.project_state(BEFORE_DERIVED).apps
    old.get_model("wallets", "Currency").objects.create(code="USD", name="US Dollar",
                                                        decimals=2)
    wallet = old.get_model("wallets", "Wallet")
    mine = wallet.objects.create(user_id=user.pk, type="SPOT", currency_id="USD",
                                 balance=Decimal("5"))
    external = wallet.objects.create(system="EXTERNAL", type="SPOT", currency_id="USD",
                                     balance=Decimal(external_balance))
    journal = old.get_model("wallets", "Journal").objects.create(key="dep", kind="DEPOSIT")
    entry = old.get_model("wallets", "Entry")
    entry.objects.create(journal=journal, wallet=external, amount=Decimal("-5"),
                         balance_after=Decimal("-5"))
    entry.objects.create(journal=journal, wallet=mine, amount=Decimal("5"),
                         balance_after=Decimal("5"))
    return external


def test_derived_system_balances_keep_every_balance_and_stop_at_a_wrong_one(user):
    from apps.wallets import selectors, services
    from apps.wallets.models import Entry

    migrate(BEFORE_DERIVED)
    try:
        external = old_ledger(user, external_balance="-4")  # a row off from its entries
        with pytest.raises(RuntimeError, match=rf"\({external.pk}, '-4\.0+', '-5\.0+'\)"):
            migrate_to_latest()
        type(external).objects.filter(pk=external.pk).update(balance=Decimal("-5"))
    finally:
        migrate_to_latest()
    assert Wallet.objects.get(pk=external.pk).balance == 0
    assert selectors.system_balance(system="EXTERNAL", wallet_type="SPOT",
                                    currency="USD") == Decimal("-5")
    assert Wallet.objects.get(user=user).balance == Decimal("5")
    assert Entry.objects.get(wallet_id=external.pk).balance_after == Decimal("-5")  # history
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                     amount=Decimal("2"), key="dep2")
    assert selectors.system_balance(system="EXTERNAL", wallet_type="SPOT",
                                    currency="USD") == Decimal("-7")
    assert selectors.reconcile() == []
    migrate(BEFORE_DERIVED)  # reversed: the row holds the balance again
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE_DERIVED).apps
        old_entry = old.get_model("wallets", "Entry")
        assert old.get_model("wallets", "Wallet").objects.get(pk=external.pk).balance \
            == Decimal("-7")
        assert sorted(old_entry.objects.filter(wallet_id=external.pk)
                      .values_list("balance_after", flat=True)) == [Decimal("-7"),
                                                                    Decimal("-5")]
    finally:
        migrate_to_latest()
