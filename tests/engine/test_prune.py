"""Pruning the engine's durable state: the command log before the snapshots kept, the
older snapshots and the sent outbox rows past their retention go; a restart after it
restores the same book, and nothing a restore replays or a runner must still send is
touched."""
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from apps.engine.models import EngineCommand, EngineLease, EngineOutbox, EngineSnapshot
from apps.engine.runner import replay
from apps.engine.services import engine_prune
from apps.engine.tasks import prune_task
from apps.matching import StpMode
from tests.engine.helpers import drain, eco_market, place, runner, take_over, trader

pytestmark = pytest.mark.django_db(transaction=True)
RECENT = timedelta(hours=1)


@pytest.fixture
def market(currencies):
    return eco_market()


def traded(market, *, orders: int = 13):
    """A runner that applied ``orders`` crossing and resting orders (a snapshot every 3
    commands), and its book's state hash."""
    first = runner(market)
    users = [trader(), trader()]
    for i in range(orders):
        place(users[i % 2], side="BUY" if i % 3 else "SELL", price=f"{10 + i % 4}.00",
              amount="0.5")
    drain(first)
    return first, first.states[market.pk].book.state_hash()


@override_settings(ENGINE_SNAPSHOT_EVERY=3, ENGINE_BATCH=2)
def test_a_restart_after_pruning_restores_the_same_book(market):
    _, before = traded(market)
    latest = EngineSnapshot.objects.filter(market=market).order_by("-command_seq").first()
    EngineOutbox.objects.update(sent_at=timezone.now() - 2 * RECENT)
    pruned = engine_prune(keep_snapshots=1, outbox_retention=RECENT)
    assert pruned.commands == latest.command_seq and pruned.snapshots > 0
    assert list(EngineSnapshot.objects.filter(market=market)) == [latest]
    assert min(EngineCommand.objects.filter(market=market).values_list("seq", flat=True)
               ) == latest.command_seq + 1
    assert pruned.outbox > 0 and not EngineOutbox.objects.exists()
    again = take_over(market)
    assert again.states[market.pk].book.state_hash() == before
    # It goes on from there: a new order is applied after the pruned log.
    place(trader(), side="BUY", price="9.00", amount="1")
    assert drain(again) == 1
    assert engine_prune(keep_snapshots=1, outbox_retention=RECENT).commands == 0


@override_settings(ENGINE_SNAPSHOT_EVERY=3, ENGINE_BATCH=2)
def test_every_snapshot_kept_still_replays_to_the_book(market):
    first, before = traded(market)
    engine_prune(keep_snapshots=2, outbox_retention=RECENT)
    kept = list(EngineSnapshot.objects.filter(market=market).order_by("command_seq"))
    assert len(kept) == 2
    applied = EngineLease.objects.get(pk=market.pk).applied_seq
    for snapshot in kept:
        book = replay(market=market, stp_default=StpMode.CANCEL_TAKER, upto=applied,
                      snapshot=snapshot)
        assert book.state_hash() == before
    assert take_over(market).states[market.pk].book.state_hash() == before


@override_settings(ENGINE_SNAPSHOT_EVERY=3, ENGINE_BATCH=2)
def test_unsent_and_recent_outbox_rows_and_a_market_without_a_snapshot_are_kept(market):
    traded(market)
    EngineSnapshot.objects.all().delete()
    rows = list(EngineOutbox.objects.order_by("pk"))
    EngineOutbox.objects.filter(pk=rows[0].pk).update(sent_at=None)
    EngineOutbox.objects.filter(pk=rows[1].pk).update(sent_at=timezone.now() - 2 * RECENT)
    commands = EngineCommand.objects.count()
    pruned = engine_prune(keep_snapshots=1, outbox_retention=RECENT)
    assert (pruned.commands, pruned.snapshots, pruned.outbox) == (0, 0, 1)
    assert EngineCommand.objects.count() == commands
    assert sorted(EngineOutbox.objects.values_list("pk", flat=True)) == sorted(
        r.pk for r in rows if r.pk != rows[1].pk)


@override_settings(ENGINE_SNAPSHOT_EVERY=3, ENGINE_BATCH=2, ENGINE_PRUNE_KEEP_SNAPSHOTS=1,
                   ENGINE_OUTBOX_RETENTION_HOURS=1)
def test_the_beat_task_and_the_command_prune_with_the_settings(market):
    _, before = traded(market)
    assert prune_task()["commands"] > 0
    out = StringIO()
    call_command("prune_engine", "--keep-snapshots", "1", stdout=out)
    assert out.getvalue().startswith("pruned 0 commands, 0 snapshots")
    assert take_over(market).states[market.pk].book.state_hash() == before


def test_keeping_no_snapshot_is_refused(market):
    with pytest.raises(ValueError, match="at least one snapshot"):
        engine_prune(keep_snapshots=0, outbox_retention=RECENT)
