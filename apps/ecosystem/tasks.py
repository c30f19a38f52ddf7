"""Celery tasks (thin: each calls one service)."""
from celery import shared_task

from apps.ecosystem import services
from apps.marketdata.quotes import Quote


@shared_task(name="ecosystem.trigger")
def trigger_task(quote: dict) -> int:
    return services.quote_trigger(quote=Quote.from_dict(quote))


def on_quote(quote: Quote) -> None:
    """Quote-bus listener of the ecosystem venue (the engine publishes after each batch):
    queue the conditional orders' trigger for this quote."""
    trigger_task.delay(quote.to_dict())
