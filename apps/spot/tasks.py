"""Celery tasks (thin: each calls one service). Orders are sent from here after the
placing transaction commits (``gateway.SpotGateway.dispatch``); a worker killed on the
way leaves the order NEW (or UNKNOWN), which the tracker picks up."""
from celery import shared_task

from apps.marketdata.quotes import Quote
from apps.spot import services
from apps.trading import services as trading_services


@shared_task(name="spot.order_submit", acks_late=True)
def order_submit_task(order_id: int) -> str:
    return trading_services.order_submit(order_id=order_id).status


@shared_task(name="spot.order_cancel", acks_late=True)
def order_cancel_task(order_id: int) -> str:
    return trading_services.order_cancel_remote(order_id=order_id).status


@shared_task(name="spot.track")
def track_task() -> dict[str, int]:
    """Beat's tracker (every SPOT_TRACK_SECONDS, editable in the admin)."""
    return services.orders_track()


@shared_task(name="spot.import_markets")
def import_markets_task(job_id: int) -> str:
    return services.import_job_run(job_id=job_id).status


@shared_task(name="spot.quote_trigger")
def quote_trigger_task(quote: dict) -> int:
    return services.quote_trigger(quote=Quote.from_dict(quote))


def on_quote(quote: Quote) -> None:
    """Quote-bus listener of the spot venue: fire the conditional orders it reaches."""
    quote_trigger_task.delay(quote.to_dict())
