"""Writing an internal market's commands: what a queued venue's ``enqueue`` calls.

Contract: ``command_enqueue`` runs inside the caller's transaction (the core's placing or
cancelling one, holding the order row, and for a placement its hold), as its last write:
it increments the market's ``EngineSequence`` row (an UPDATE: that row stays locked until
the caller commits, so a market's commands are numbered in commit order, without gaps)
and inserts the ``EngineCommand``. After commit the market's runner is woken
(``wakeup.wake``); a runner that misses it polls. Raises nothing of its own: a database
error rolls the caller back with its order and hold.
"""
from collections.abc import Mapping

from django.db import transaction
from django.db.models import F

from apps.engine import wakeup
from apps.engine.books import command_payload, sibling_condition
from apps.engine.models import EngineCommand, EngineSequence
from apps.trading.models import Market, Order


def command_enqueue(*, order: Order, market: Market, kind: str,
                    options: Mapping[str, object] | None = None) -> EngineCommand:
    """Append ``kind`` ("place" or "cancel") of ``order`` to ``market``'s command log, in
    the caller's transaction. ``options``: ``stp`` (a self-trade prevention mode's name);
    ``sibling``, for a fired OCO leg, its other leg on the book (the engine places
    ``order`` only if that leg still rests whole, and cancels it first:
    ``books.sibling_condition``). Locks the market's sequence row until the caller commits.
    An order's cancel is logged once: a repeated cancel (the order stays live until the
    engine takes the first) returns the logged one, so repeats cannot grow the log; the
    caller holds the order's row lock, so two cancels never both append.
    Raises ValueError for an unknown kind or an order the book cannot take (the core
    validated it against the same tick and lot first)."""
    if kind not in EngineCommand.Kind.values:
        raise ValueError(f"unknown engine command {kind!r}")
    if kind == EngineCommand.Kind.CANCEL:
        logged = EngineCommand.objects.filter(order_id=order.pk, kind=kind).first()
        if logged is not None:
            return logged
    options = options or {}
    payload = command_payload(order=order, market=market, kind=kind, options=options)
    if options.get("sibling") is not None:
        payload.update(sibling_condition(sibling=options["sibling"], market=market))
    bumped = EngineSequence.objects.filter(pk=market.pk).update(last_seq=F("last_seq") + 1)
    if not bumped:
        # The market's first command: its row is made (a concurrent first insert loses
        # on the primary key and rolls its caller back, as any unique key race does).
        EngineSequence.objects.create(market_id=market.pk, last_seq=1)
    seq = EngineSequence.objects.filter(pk=market.pk).values_list("last_seq", flat=True)[0]
    command = EngineCommand.objects.create(market_id=market.pk, seq=seq, kind=kind,
                                           order_id=order.pk, payload=payload)
    transaction.on_commit(lambda: wakeup.wake(market_id=market.pk))
    return command


def sequences_ensure(*, market_ids: list[int]) -> None:
    """Make the sequence rows of ``market_ids`` (a market's first orders then never race
    to create it). Idempotent."""
    EngineSequence.objects.bulk_create([EngineSequence(market_id=pk) for pk in market_ids],
                                       ignore_conflicts=True)
