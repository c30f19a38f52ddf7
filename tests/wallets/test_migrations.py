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
