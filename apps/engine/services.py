"""Writing an internal market's commands: what a queued venue's ``enqueue`` calls.

Contract: ``command_enqueue`` runs inside the caller's transaction (the core's placing or
cancelling one, holding the order row, and for a placement its hold), as its last write:
it increments the market's ``EngineSequence`` row (an UPDATE: that row stays locked until
the caller commits, so a market's commands are numbered in commit order, without gaps)
and inserts the ``EngineCommand``. After commit the market's runner is woken
(``wakeup.wake``); a runner that misses it polls. Raises nothing of its own: a database
error rolls the caller back with its order and hold.

``engine_prune`` deletes what no restore or delivery needs any more (old commands,
snapshots, sent outbox rows): the beat task ``engine.prune`` and ``manage.py
prune_engine`` run it.
"""
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.bulk import insert_rows
from apps.engine import wakeup
from apps.engine.books import command_payload, sibling_condition
from apps.engine.models import (
    EngineCommand,
    EngineLease,
    EngineOutbox,
    EngineSequence,
    EngineSnapshot,
)
from apps.trading.models import Market, Order


def command_enqueue(*, order: Order, market: Market, kind: str,
                    options: Mapping[str, object] | None = None) -> int:
    """Append ``kind`` ("place" or "cancel") of ``order`` to ``market``'s command log, in
    the caller's transaction, and return the command's sequence number. ``options``:
    ``stp`` (a self-trade prevention mode's name); ``sibling``, for a fired OCO leg, its
    other leg on the book (the engine places ``order`` only if that leg still rests whole,
    and cancels it first: ``books.sibling_condition``). Locks the market's sequence row
    until the caller commits.
    An order's cancel is logged once: a repeated cancel (the order stays live until the
    engine takes the first) returns the logged one's number, so repeats cannot grow the
    log; the caller holds the order's row lock, so two cancels never both append.
    Raises ValueError for an unknown kind or an order the book cannot take (the core
    validated it against the same tick and lot first)."""
    if kind not in EngineCommand.Kind.values:
        raise ValueError(f"unknown engine command {kind!r}")
    if kind == EngineCommand.Kind.CANCEL:
        logged = (EngineCommand.objects.filter(order_id=order.pk, kind=kind)
                  .values_list("seq", flat=True).first())
        if logged is not None:
            return logged
    options = options or {}
    payload = command_payload(order=order, market=market, kind=kind, options=options)
    if options.get("sibling") is not None:
        payload.update(sibling_condition(sibling=options["sibling"], market=market))
    seq = _sequence_next(market_id=market.pk)
    # Two statements in all (the number, the row): this runs in every order's placing
    # transaction, where the ORM's create cost more CPU than the database's insert.
    insert_rows(EngineCommand, ["market_id", "seq", "kind", "order_id", "payload",
                                "created_at"],
                [[market.pk, seq, kind, order.pk, payload, timezone.now()]])
    transaction.on_commit(lambda: wakeup.wake(market_id=market.pk))
    return seq


def _sequence_next(*, market_id: int) -> int:
    """Increment ``market_id``'s command counter and return it, in one statement where the
    database can say the new value (MariaDB through LAST_INSERT_ID(expr), which the
    client reports as the statement's insert id; the others with UPDATE ... RETURNING).
    The UPDATE locks the row until the caller commits. A market's first command makes
    the row (a concurrent first insert loses on the primary key and rolls its caller
    back, as any unique key race does)."""
    connection = connections[DEFAULT_DB_ALIAS]
    qn = connection.ops.quote_name
    table, column = qn(EngineSequence._meta.db_table), qn("last_seq")
    key = qn(EngineSequence._meta.pk.column)
    with connection.cursor() as cursor:
        # Identifiers come from the model's meta; the id is a parameter.
        if connection.vendor == "mysql":
            cursor.execute(f"UPDATE {table} SET {column} = "  # noqa: S608
                           f"LAST_INSERT_ID({column} + 1) WHERE {key} = %s", [market_id])
            if cursor.rowcount:
                return cursor.lastrowid
        else:
            cursor.execute(f"UPDATE {table} SET {column} = {column} + 1 "  # noqa: S608
                           f"WHERE {key} = %s RETURNING {column}", [market_id])
            row = cursor.fetchone()
            if row is not None:
                return row[0]
    EngineSequence.objects.create(market_id=market_id, last_seq=1)
    return 1


def sequences_ensure(*, market_ids: list[int]) -> None:
    """Make the sequence rows of ``market_ids`` (a market's first orders then never race
    to create it). Idempotent."""
    EngineSequence.objects.bulk_create([EngineSequence(market_id=pk) for pk in market_ids],
                                       ignore_conflicts=True)


@dataclass(frozen=True)
class Pruned:
    """What ``engine_prune`` deleted, in rows."""

    commands: int = 0
    snapshots: int = 0
    outbox: int = 0


# Rows deleted per statement: a prune never holds a long transaction or a big lock.
PRUNE_CHUNK = 5000


def engine_prune(*, keep_snapshots: int, outbox_retention: timedelta,
                 now: datetime | None = None) -> Pruned:
    """Delete what no restore, replay or delivery can need any more, market by market.

    Keeps each market's latest ``keep_snapshots`` snapshots (at least one) among those a
    restore may start from (``command_seq`` at most the lease's ``applied_seq``; a later
    one is not deleted either), and every command after the oldest kept one: each kept
    snapshot plus the commands after it still replays to the book (a restore uses the
    latest; nothing it replays is ever deleted). A market without a snapshot keeps all of
    its commands. Outbox rows are deleted once sent and older than ``outbox_retention``
    (unsent ones are sent again by a starting runner: never deleted).

    Locks nothing beyond the rows it deletes, in chunks of PRUNE_CHUNK, each its own
    transaction: a runner may work meanwhile (it only appends commands and snapshots
    after what is deleted, and reads commands after its ``applied_seq``). Idempotent.
    Raises ValueError for ``keep_snapshots`` below 1 or a negative retention."""
    if keep_snapshots < 1 or outbox_retention < timedelta(0):
        raise ValueError("keep at least one snapshot, for a retention of zero or more")
    now = now or timezone.now()
    commands = snapshots = 0
    for market_id, applied in EngineLease.objects.values_list("market_id", "applied_seq"):
        kept = list(EngineSnapshot.objects.filter(market_id=market_id,
                                                  command_seq__lte=applied)
                    .order_by("-command_seq").values_list("command_seq", flat=True)
                    [:keep_snapshots])
        if not kept:
            continue
        oldest = kept[-1]
        snapshots += _delete_chunked(EngineSnapshot.objects.filter(
            market_id=market_id, command_seq__lt=oldest))
        commands += _delete_chunked(EngineCommand.objects.filter(
            market_id=market_id, seq__lte=oldest))
    outbox = _delete_chunked(EngineOutbox.objects.filter(
        sent_at__isnull=False, sent_at__lt=now - outbox_retention))
    return Pruned(commands=commands, snapshots=snapshots, outbox=outbox)


def _delete_chunked(rows: QuerySet) -> int:
    deleted = 0
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:PRUNE_CHUNK]):
        deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
