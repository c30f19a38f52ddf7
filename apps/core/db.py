"""What the services share about the database beyond the ORM."""
from collections.abc import Callable
from typing import TypeVar

import structlog
from django.db import OperationalError, transaction

log = structlog.get_logger(__name__)

T = TypeVar("T")

# MySQL's and MariaDB's error number for a transaction chosen as a deadlock's victim.
ER_LOCK_DEADLOCK = 1213


def retry_lost_deadlock(statement: Callable[[], T], *, attempts: int, event: str,
                        **context: object) -> T:
    """``statement()``, run again when it lost a deadlock, up to ``attempts`` runs in all;
    each retry logs ``event`` with ``context``. Only outside a transaction: there the
    deadlock rolled back only ``statement``'s own transaction, so running it again is
    whole. Inside a caller's transaction, and for any other error, the error goes up at
    once (InnoDB rolled the caller's whole transaction back). ``statement`` must be safe
    to run again (an insert that ignores duplicates, an idempotent update)."""
    attempt = 1
    while True:
        try:
            return statement()
        except OperationalError as exc:
            if (attempt == attempts or not exc.args or exc.args[0] != ER_LOCK_DEADLOCK
                    or transaction.get_connection().in_atomic_block):
                raise
            log.warning(event, attempt=attempt, **context)
            attempt += 1
