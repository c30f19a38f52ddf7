"""The trading core's writes, for every venue (``from apps.trading import services``).

- ``orders``: placing and cancelling (its docstring states the lock order every function
  here keeps);
- ``settlement``: a venue's answers, fills and their settlement, the lists' holds and
  exits (its docstring states the settlement and hold rules);
- ``events``: the owners' ``orders`` stream events;
- ``conditional``: conditional orders the platform triggers, OCO and bracket lists;
- ``rules``: validation and sizing that read no row;
- ``markets``: the market registry's writes.
"""
from apps.trading.services.conditional import (
    TRIGGER_BATCH,
    conditional_trigger,
    order_list_cancel,
    order_list_place,
)
from apps.trading.services.markets import markets_import, markets_set_flags
from apps.trading.services.orders import (
    OrderSpec,
    order_cancel,
    order_cancel_by_admin,
    order_place,
)
from apps.trading.services.settlement import (
    MatchResting,
    fill_resting,
    order_apply,
    order_cancel_remote,
    order_reconcile,
    order_submit,
    orders_retry_settlement,
    wallet_services,
)

__all__ = [
    "TRIGGER_BATCH", "MatchResting", "OrderSpec", "conditional_trigger", "fill_resting",
    "markets_import", "markets_set_flags", "order_apply", "order_cancel", "order_cancel_by_admin",
    "order_cancel_remote", "order_list_cancel", "order_list_place", "order_place",
    "order_reconcile",
    "order_submit", "orders_retry_settlement", "wallet_services",
]
