"""Celery tasks (thin: each calls one service) and the settlement's scheduling."""
import threading
from datetime import datetime

from celery import shared_task
from django.db import connection
from django.utils import timezone

from apps.core.errors import Conflict
from apps.fixedtime import services
from apps.fixedtime.models import Trade


@shared_task(name="fixedtime.settle")
def settle_task(trade_id: int) -> str:
    """Settle one trade (exactly once, however often this runs). Delivered before the
    trade is due (an early ``eta``), it schedules itself again for the due time."""
    try:
        return services.trade_settle(trade_id=trade_id).status
    except Conflict as exc:
        if exc.code != "not_due":
            raise
        schedule_settlement(trade_id=trade_id,
                            at=datetime.fromisoformat(exc.fields["settles_at"]))
        return "not_due"


@shared_task(name="fixedtime.sweep")
def sweep_task() -> int:
    """Beat's safety net (every FIXEDTIME_SWEEP_SECONDS): settle every trade past due."""
    return services.trades_settle_due()


@shared_task(name="fixedtime.prune_quotes")
def prune_quotes_task() -> int:
    """Beat (hourly): drop recorded quotes no trade can need any more."""
    return services.quotes_prune()


def _settle_on_thread(trade_id: int) -> None:
    try:
        settle_task.delay(trade_id)
    finally:
        connection.close()  # this thread's own connection


def schedule_settlement(*, trade_id: int, at: datetime) -> None:
    """Run ``settle_task(trade_id)`` at ``at``: a Celery ``eta``; in the embedded mode
    (no broker, so no worker nor beat: ``make run``) a timer thread of this process."""
    if settle_task.app.conf.task_always_eager:
        # Timer waits at least its interval; a hair more keeps it from arriving early.
        delay = max(0.0, (at - timezone.now()).total_seconds()) + 0.05
        timer = threading.Timer(delay, _settle_on_thread, args=[trade_id])
        timer.daemon = True
        timer.start()
    else:
        settle_task.apply_async(args=[trade_id], eta=at)


def settlement_schedule(trade: Trade) -> None:
    """``trade_open``'s ``schedule``: settle ``trade`` when it is due."""
    schedule_settlement(trade_id=trade.pk, at=services.settle_due_at(trade))
