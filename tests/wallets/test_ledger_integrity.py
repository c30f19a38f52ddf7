from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from apps.wallets import services
from apps.wallets.models import Entry, ImmutableError, Journal

pytestmark = pytest.mark.django_db


@pytest.fixture
def journal(user, currencies):
    return services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                            amount=Decimal("10"), key="dep")


def test_entries_and_journals_cannot_be_updated_or_deleted(journal):
    entry = journal.entries.first()
    entry.amount = Decimal("999")
    with pytest.raises(ImmutableError):
        entry.save()
    with pytest.raises(ImmutableError):
        entry.delete()
    with pytest.raises(ImmutableError):
        Entry.objects.filter(pk=entry.pk).update(amount=Decimal("1"))
    with pytest.raises(ImmutableError):
        Entry.objects.all().delete()
    with pytest.raises(ImmutableError):
        Journal.objects.filter(pk=journal.pk).update(memo="edited")
    with pytest.raises(ImmutableError):
        journal.delete()
    assert Entry.objects.get(pk=entry.pk).amount in (Decimal("10"), Decimal("-10"))


def test_reconcile_clean(journal, capsys):
    call_command("wallets_reconcile")
    assert "no violations" in capsys.readouterr().out


def test_reconcile_names_each_violation(journal, user, capsys):
    # Tamper behind the services' back, as a buggy writer or a manual SQL fix would.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE wallets_wallet SET balance = balance + 1, held = held + 1 "
                       "WHERE user_id = %s", [user.pk])
    with pytest.raises(CommandError, match="2 ledger invariant"):
        call_command("wallets_reconcile")
    err = capsys.readouterr().err
    assert "!= sum of entries 10" in err
    assert "!= sum of open holds 0" in err



def test_the_database_refuses_a_system_wallet_written_in_place(journal):
    # A posting that wrote EXTERNAL's row would make it a lock every deposit waits on.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE wallets_wallet SET balance = -10 WHERE user_id IS NULL")
