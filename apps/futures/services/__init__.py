"""The futures venue's writes: positions (``positions``), the mark price (``mark``),
liquidation (``liquidation``), funding (``funding``) and a position's take-profit and
stop-loss (``exits``).

Every function here:
- runs in one transaction per position (joining the caller's, if any) and locks the
  position row (``SELECT ... FOR UPDATE``) before anything else it writes; the ledger
  calls it makes then lock the user's FUTURES wallet and the position's margin hold (the
  wallets' own order), so every writer of a position takes its locks in one order:
  position, wallet, hold;
- moves money only through ``apps.wallets.services`` (the margin primitives, ``post`` for
  the fee), each call keyed by the step's own idempotency key derived from the caller's
  (``<key>:margin``, ``<key>:pnl``, ``<key>:release``, ``<key>:fee``): the step is done
  once however often the whole is retried, and a record of it (an ``AppliedFill``, a
  ``FundingCharge``, a ``Liquidation``, each unique) makes the retry a no-op;
- raises ``apps.core.errors`` subclasses for bad input or a refused state, before writing.
"""
from apps.futures.services.exits import mark_trigger, position_exits_set
from apps.futures.services.funding import funding_preview, funding_run
from apps.futures.services.liquidation import liquidate_on_mark, position_liquidate
from apps.futures.services.mark import (
    LastQuotePremium,
    MarkTick,
    PremiumSource,
    mark_compute,
    mark_refresh,
    premium_source_set,
)
from apps.futures.services.positions import (
    FillPlan,
    liquidation_price_preview,
    position_apply_fill,
    position_margin_add,
    position_margin_remove,
)

__all__ = [
    "FillPlan", "LastQuotePremium", "MarkTick", "PremiumSource", "funding_preview",
    "funding_run", "liquidate_on_mark", "liquidation_price_preview", "mark_compute",
    "mark_refresh", "mark_trigger", "position_apply_fill", "position_exits_set",
    "position_liquidate", "position_margin_add", "position_margin_remove",
    "premium_source_set",
]
