"""Reduce-only orders kept within the position they reduce.

A resting reduce-only order was sized against the position when it was placed; when the
position then shrinks, closes or flips (a fill, a liquidation), the trader's reduce-only
orders may add up to more than it, or be on the side that would now increase it. As a
real venue does, they are cancelled: every one when the position is flat or on their own
side, else, oldest first, each whose remaining amount would take the total beyond the
position's size. The engine takes cancels only (it has no amend), so an order is
cancelled, never resized.

``reduce_only_trim_on_commit`` runs ``reduce_only_trim`` once the caller's transaction
commits (the engine's settlement batch, a liquidation): the cancels are the core's own
(``order_cancel``: the order row, then the engine's command), one transaction each, never
inside the batch that holds other orders' rows. A trim lost to a crash between the
commit and the cancels costs nothing: the settlement never lets a reduce-only fill open
or flip a position (``positions.position_apply_fill``), and the next shrink trims again.
"""
import structlog
from django.db import transaction

from apps.core.errors import Conflict, NotFound
from apps.engine.models import EngineCommand
from apps.futures.constants import PositionSide, PositionStatus
from apps.futures.models import Contract, Position
from apps.trading import services as trading
from apps.trading.constants import LIVE_STATUSES, Side, Venue
from apps.trading.models import Order

log = structlog.get_logger(__name__)


def reduce_only_trim(*, user_id: int, contract_id: int) -> list[int]:
    """Cancel the user's live reduce-only orders in the contract that its position no
    longer covers (see the module docstring); returns the ids whose cancel it asked.

    Reads the position without locking it: a stale read can only cancel what a later
    trim would, and the settlement refuses a reduce-only fill's excess anyway. Each
    cancel is ``trading.services.order_cancel`` (its locks: the order row, then the
    market's command sequence); an order that ended meanwhile is skipped. Raises
    nothing of its own."""
    market_id = Contract.objects.filter(pk=contract_id).values_list("market_id",
                                                                    flat=True).first()
    position = (Position.objects.filter(user_id=user_id, contract_id=contract_id,
                                        status=PositionStatus.OPEN)
                .values_list("side", "size").first())
    live = list(Order.objects.filter(user_id=user_id, market_id=market_id,
                                     status__in=LIVE_STATUSES,
                                     futures_terms__reduce_only=True)
                .order_by("pk").values_list("pk", "side", "remaining", "close_position"))
    asked = set(EngineCommand.objects.filter(order_id__in=[row[0] for row in live],
                                             kind=EngineCommand.Kind.CANCEL)
                .values_list("order_id", flat=True))
    side, left = position or ("", 0)
    reducing = Side.SELL if side == PositionSide.LONG else Side.BUY
    cancel = []
    for pk, order_side, remaining, whole in live:
        if pk in asked:
            continue
        if whole and order_side == reducing and position is not None:
            # A position's exit (``exits``): sized to the position when it fires, so it
            # counts against nothing while the position is open on the other side.
            continue
        if order_side == reducing and remaining <= left:
            left -= remaining
        else:
            cancel.append(pk)
    for pk in cancel:
        try:
            trading.order_cancel(user_id=user_id, venue=Venue.FUTURES, order_id=pk,
                                 reason="Reduce-only: the position no longer covers it.")
        except (Conflict, NotFound):
            continue  # it filled or was cancelled meanwhile
    if cancel:
        log.info("futures_reduce_only_trimmed", user_id=user_id, contract_id=contract_id,
                 orders=cancel)
    return cancel


def reduce_only_trim_on_commit(*, user_id: int, contract_id: int) -> None:
    """``reduce_only_trim`` after the caller's transaction commits (at once outside
    one); a failure is logged, never raised into the committer (the engine's runner)."""
    def trim() -> None:
        reduce_only_trim(user_id=user_id, contract_id=contract_id)

    transaction.on_commit(trim, robust=True)
