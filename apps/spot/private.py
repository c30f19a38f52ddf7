"""The exchange account's private stream (ccxt.pro ``watch_orders``): each update of one
of the platform's orders there (client order id ``x-ep-<id>``) has that order reconciled
at once (``trading.services.order_reconcile``: the order and its trades read by REST and
applied, each fill settled once), so fills land without waiting for the tracker, which
stays the safety net. The stream is only a wake-up: what it says is never applied as is.
No error ends it (logged, retried with backoff); where the exchange streams no orders,
it does nothing and the tracker alone keeps orders current."""
import asyncio
import re
import threading

import ccxt
import structlog

from apps.spot import exchange as exchanges
from apps.trading import services as trading_services

log = structlog.get_logger(__name__)

_CLIENT_ID = re.compile(r"x-ep-(\d+)")


def order_id_of(client_order_id: object) -> int | None:
    """The platform's order id in one of its client order ids; None for another's."""
    found = _CLIENT_ID.fullmatch(client_order_id) if isinstance(client_order_id, str) else None
    return int(found.group(1)) if found else None


def reconcile_quietly(order_id: int) -> None:
    try:
        trading_services.order_reconcile(order_id=order_id)
    except Exception:  # the tracker retries it; the stream must live on
        log.warning("spot_stream_reconcile_failed", order_id=order_id, exc_info=True)


class OrderStream:
    """``run(stop=)`` blocks until ``stop`` is set."""

    def __init__(self, *, max_backoff_seconds: float = 30) -> None:
        self.max_backoff_seconds = max_backoff_seconds

    def run(self, *, stop: threading.Event) -> None:
        exchanges.run_streaming(self._stream, stop=stop, event="spot_order_stream_failed",
                                max_backoff_seconds=self.max_backoff_seconds)

    async def _stream(self, pro, stop: threading.Event) -> None:
        if not pro.has.get("watchOrders"):
            await asyncio.to_thread(stop.wait)
            return
        await pro.load_markets()
        while not stop.is_set():
            try:
                updates = await asyncio.wait_for(pro.watch_orders(), timeout=5)
            except (TimeoutError, ccxt.RequestTimeout):
                continue
            for pk in sorted({order_id_of(o.get("clientOrderId")) for o in updates} - {None}):
                await asyncio.to_thread(reconcile_quietly, pk)
