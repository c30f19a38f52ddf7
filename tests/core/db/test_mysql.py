"""The MySQL/MariaDB backend's transactions: two round trips, the same transaction."""
import pytest
from django.db import connection, transaction

from apps.wallets.models import Currency

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "mysql", reason="the MySQL/MariaDB backend"),
]


def counters() -> dict[str, int]:
    """This session's statement counters, as the server counts them."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN "
                       "('Com_set_option', 'Com_begin', 'Com_commit', 'Com_rollback')")
        return {name: int(value) for name, value in cursor.fetchall()}


def ran(before: dict[str, int]) -> dict[str, int]:
    after = counters()
    # The SHOW itself is not one of these counters.
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


def test_an_atomic_block_is_start_transaction_and_commit_without_autocommit_switches():
    connection.ensure_connection()
    before = counters()
    with transaction.atomic():
        Currency.objects.create(code="XTS", name="Test", decimals=2)
    assert ran(before) == {"Com_begin": 1, "Com_commit": 1}
    assert connection.connection.get_autocommit() and connection.get_autocommit()
    assert Currency.objects.filter(code="XTS").exists()


def test_an_error_in_the_block_rolls_it_back_savepoints_included():
    connection.ensure_connection()
    before = counters()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        Currency.objects.create(code="XTS", name="Test", decimals=2)
        with transaction.atomic():
            Currency.objects.create(code="XTT", name="Test", decimals=2)
        1 / 0  # noqa: B018
    assert ran(before) == {"Com_begin": 1, "Com_rollback": 1}
    assert not Currency.objects.filter(code__in=["XTS", "XTT"]).exists()
    assert connection.connection.get_autocommit()


def test_a_locking_read_holds_its_lock_until_the_block_ends():
    """Inside the block the session is in a transaction even though autocommit stays on:
    another connection's write to the locked row waits (and times out)."""
    import MySQLdb

    Currency.objects.create(code="XTS", name="Test", decimals=2)
    settings = connection.settings_dict
    other = MySQLdb.connect(host=settings["HOST"] or "127.0.0.1",
                            port=int(settings["PORT"] or 3306), user=settings["USER"],
                            password=settings["PASSWORD"], database=settings["NAME"],
                            autocommit=True)
    try:
        other.query("SET SESSION innodb_lock_wait_timeout = 1")
        with transaction.atomic():
            Currency.objects.select_for_update().get(code="XTS")
            with pytest.raises(MySQLdb.OperationalError) as waited:
                other.query("UPDATE wallets_currency SET decimals = 3 WHERE code = 'XTS'")
            assert waited.value.args[0] == 1205  # lock wait timeout
        other.query("UPDATE wallets_currency SET decimals = 3 WHERE code = 'XTS'")
    finally:
        other.close()
    assert Currency.objects.get(code="XTS").decimals == 3


def test_set_autocommit_false_outside_atomic_still_turns_autocommit_off():
    transaction.set_autocommit(False)
    try:
        assert not connection.connection.get_autocommit()
        Currency.objects.create(code="XTS", name="Test", decimals=2)
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert not Currency.objects.filter(code="XTS").exists()
