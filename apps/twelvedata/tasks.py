"""Celery tasks (thin: each calls one service)."""
from celery import shared_task

from apps.marketdata.quotes import Quote
from apps.twelvedata import paper, services


@shared_task(name="twelvedata.fill_crossing")
def fill_crossing_task(quote: dict) -> int:
    return paper.fill_crossing(quote=Quote.from_dict(quote))


@shared_task(name="twelvedata.sweep")
def sweep_task() -> int:
    """Beat's safety net (every PAPER_SWEEP_SECONDS): re-offer each fresh quote."""
    return paper.sweep(enqueue=lambda quote: fill_crossing_task.delay(quote.to_dict()))


@shared_task(name="twelvedata.import_catalog")
def import_catalog_task(job_id: int) -> str:
    return services.import_job_run(job_id=job_id).status


def on_quote(quote: Quote) -> None:
    """Quote-bus listener of the paper venue: queue the fill of whatever this quote
    crosses."""
    fill_crossing_task.delay(quote.to_dict())
