import pytest
from django.db import OperationalError, transaction

from apps.core.db import ER_LOCK_DEADLOCK, retry_lost_deadlock


class Statement:
    """Loses ``losses`` deadlocks (or raises ``error`` that often), then returns its runs."""

    def __init__(self, losses: int, error: OperationalError | None = None) -> None:
        self.losses, self.runs = losses, 0
        self.error = error or OperationalError(ER_LOCK_DEADLOCK, "Deadlock found")

    def __call__(self) -> int:
        self.runs += 1
        if self.runs <= self.losses:
            raise self.error
        return self.runs


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_lost_deadlocks_outside_a_transaction_runs_again():
    statement = Statement(losses=2)
    assert retry_lost_deadlock(statement, attempts=3, event="retried") == 3


@pytest.mark.django_db(transaction=True)
def test_the_last_attempt_lets_the_deadlock_through():
    statement = Statement(losses=3)
    with pytest.raises(OperationalError):
        retry_lost_deadlock(statement, attempts=3, event="retried")
    assert statement.runs == 3


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_deadlock_goes_up_at_once():
    """The deadlock rolled the caller's whole transaction back: nothing to run again."""
    statement = Statement(losses=1)
    with pytest.raises(OperationalError), transaction.atomic():
        retry_lost_deadlock(statement, attempts=3, event="retried")
    assert statement.runs == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error", [OperationalError(1205, "Lock wait timeout exceeded"),
                                   OperationalError("database is locked"), OperationalError()])
def test_other_errors_are_not_retried(error):
    statement = Statement(losses=1, error=error)
    with pytest.raises(OperationalError):
        retry_lost_deadlock(statement, attempts=3, event="retried")
    assert statement.runs == 1
