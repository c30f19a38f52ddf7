"""Celery tasks and quote-bus listeners (thin: each calls one service)."""
from celery import shared_task

from apps.futures import services
from apps.futures.models import Contract
from apps.futures.services import exits
from apps.marketdata.quotes import Quote


@shared_task(name="futures.mark_tick")
def mark_tick_task(contract_id: int) -> str | None:
    contract = Contract.objects.select_related("market").filter(pk=contract_id).first()
    tick = services.mark_refresh(contract=contract) if contract is not None else None
    return None if tick is None else str(tick.mark)


@shared_task(name="futures.sweep")
def sweep_task() -> int:
    """Beat's safety net (every FUTURES_SWEEP_SECONDS): every contract's mark recomputed,
    published and acted on."""
    contracts = Contract.objects.select_related("market").order_by("pk")
    return sum(services.mark_refresh(contract=contract) is not None for contract in contracts)


@shared_task(name="futures.funding")
def funding_task() -> int:
    """Beat (hourly by default, editable): each contract's stamps charged once, the ones
    missed while the beat was down included; returns how many stamps were charged."""
    ids = list(Contract.objects.order_by("pk").values_list("pk", flat=True))
    return sum(len(services.funding_run(contract_id=pk)) for pk in ids)


def on_index_quote(quote: Quote) -> None:
    """Quote-bus listener of the index venues: recompute the marks built on this quote."""
    for contract_id, sources in Contract.objects.values_list("pk", "index_sources"):
        if any(s.get("venue") == quote.venue and s.get("symbol") == quote.symbol
               for s in sources):
            mark_tick_task.delay(contract_id)


@shared_task(name="futures.mark_trigger")
def mark_trigger_task(quote: dict) -> int:
    return exits.mark_trigger(quote=Quote.from_dict(quote))


def on_mark_quote(quote: Quote) -> None:
    """Quote-bus listener of the mark ticks: queue the MARK-triggered orders' trigger."""
    mark_trigger_task.delay(quote.to_dict())
