"""Celery tasks (thin: each calls one service)."""
from datetime import timedelta

from celery import shared_task

from apps.core import conf
from apps.engine.services import engine_prune


@shared_task(name="engine.prune")
def prune_task() -> dict[str, int]:
    """Beat (hourly, editable in the admin's periodic tasks): ``engine_prune`` with
    ENGINE_PRUNE_KEEP_SNAPSHOTS and ENGINE_OUTBOX_RETENTION_HOURS. Returns the counts."""
    pruned = engine_prune(keep_snapshots=conf.ENGINE_PRUNE_KEEP_SNAPSHOTS,
                          outbox_retention=timedelta(hours=conf.ENGINE_OUTBOX_RETENTION_HOURS))
    return {"commands": pruned.commands, "snapshots": pruned.snapshots,
            "outbox": pruned.outbox}
