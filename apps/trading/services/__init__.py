"""The trading core's writes, for every venue (``from apps.trading import services``).

- ``orders``: placing, cancelling, a venue's answers, fills and their settlement, the
  order lists' holds and exits (its docstring states the lock order and the settlement
  and hold rules every function here keeps);
- ``conditional``: conditional orders the platform triggers, OCO and bracket lists;
- ``rules``: validation and sizing that read no row;
- ``markets``: the market registry's writes.
"""
from apps.trading.services.conditional import TRIGGER_BATCH, conditional_trigger, order_list_place
from apps.trading.services.markets import markets_import, markets_set_flags
from apps.trading.services.orders import (
    MatchResting,
    OrderSpec,
    fill_resting,
    order_apply,
    order_cancel,
    order_cancel_remote,
    order_place,
    order_reconcile,
    order_submit,
    orders_retry_settlement,
    wallet_services,
)

__all__ = [
    "TRIGGER_BATCH", "MatchResting", "OrderSpec", "conditional_trigger", "fill_resting",
    "markets_import", "markets_set_flags", "order_apply", "order_cancel",
    "order_cancel_remote", "order_list_place", "order_place", "order_reconcile",
    "order_submit", "orders_retry_settlement", "wallet_services",
]
