"""Django's MySQL/MariaDB backend, with a transaction that costs two round trips, not three.

Django opens an ``atomic`` block by turning autocommit off (``SET autocommit=0``), commits,
then turns it on again (``SET autocommit=1``): three round trips to the server around
every transaction, a third of the statements of an order placement. Here the block opens
with ``START TRANSACTION`` and the session stays in autocommit mode, so the ``COMMIT`` (or
``ROLLBACK``) that ends the block leaves it where Django's next ``set_autocommit(True)``
wants it: mysqlclient skips that call when the server already reports autocommit.

The transaction is the same one (same isolation level, locks, savepoints, rollback on
error). ``transaction.set_autocommit(False)`` outside ``atomic`` still turns autocommit
off, as Django documents.
"""
from django.db.backends.mysql import base
from django.db.backends.utils import debug_transaction


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self) -> None:
        # Django calls this, not _set_autocommit(False), when an outermost atomic begins.
        with debug_transaction(self, "START TRANSACTION"), self.wrap_database_errors:
            self.connection.query("START TRANSACTION")
