"""Celery tasks (thin: each calls one service)."""
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from apps.deposits import selectors, services

# A task queued at commit normally runs within seconds; one still waiting after this was lost.
STALLED_AFTER = timedelta(minutes=2)


@shared_task(name="deposits.process_event", autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def process_event_task(event_id: int) -> str:
    """Decide one verified webhook delivery (a lock wait that times out is retried)."""
    return services.event_process(event_id=event_id).verdict


@shared_task(name="deposits.sweep")
def sweep_task() -> int:
    """Beat (every DEPOSIT_SWEEP_SECONDS): re-offer events whose task was lost, then
    expire the PENDING intents past their expiry. Returns how many expired."""
    for event_id in selectors.events_stalled(older_than=STALLED_AFTER):
        process_event_task.delay(event_id)
    return services.intents_expire()
