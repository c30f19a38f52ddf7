"""The owners' ``orders`` stream events (sent after commit by ``marketdata.streams``)."""

from decimal import Decimal

import structlog

from apps.core.money import decimal_text as _decimal_str
from apps.marketdata import streams
from apps.trading.models import Fill, Market, Order

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


def order_event(order: Order, *, market: Market, event: str,
                 last_fill: Fill | None = None) -> tuple[int, str, dict]:
    """The owner's ``orders`` stream event telling ``order`` as it stands now, with its
    latest fill."""
    return order.user_id, streams.ORDERS, {
        "event": event, "id": order.pk, "client_order_id": order.client_order_id,
        "venue": order.venue, "symbol": market.symbol, "side": order.side,
        "type": order.type, "status": order.status, "price": _decimal_str(order.price),
        "amount": _decimal_str(order.amount), "filled": _decimal_str(order.filled),
        "remaining": _decimal_str(order.remaining),
        "fill_price": _decimal_str(last_fill.price) if last_fill else None,
        "cost": _decimal_str(order.cost), "fee": _decimal_str(order.fee),
        "fee_currency": order.fee_currency, "liquidity": last_fill.liquidity if last_fill else "",
        "stop_price": _decimal_str(order.stop_price),
        "trigger_direction": order.trigger_direction, "trigger_source": order.trigger_source,
        "trailing_delta": _decimal_str(order.trailing_delta),
        "trailing_rate": _decimal_str(order.trailing_rate),
        "activation_price": _decimal_str(order.activation_price),
        "trailing_best": _decimal_str(order.trailing_best),
        "triggered_at": order.triggered_at.isoformat() if order.triggered_at else None,
        "group_id": order.group_id, "role": order.role, "reason": order.reason,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    }


def publish_order(order: Order, *, market: Market, event: str) -> None:
    """Tell the owner's ``orders`` stream about ``order`` once the surrounding transaction
    commits."""
    streams.publish_user_events(events=[order_event(order, market=market, event=event)])

