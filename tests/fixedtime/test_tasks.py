"""The settlement's scheduling: a Celery eta with a broker, a timer thread without one;
a task delivered early waits for its time."""
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.fixedtime import tasks
from apps.fixedtime.models import Trade
from tests.fixedtime.helpers import fund, open_trade, quote

pytestmark = pytest.mark.django_db


def test_with_a_broker_the_task_is_sent_for_the_due_time(monkeypatch):
    monkeypatch.setitem(tasks.settle_task.app.conf, "task_always_eager", False)
    sent = []
    monkeypatch.setattr(tasks.settle_task, "apply_async",
                        lambda args, eta: sent.append((args, eta)))
    at = timezone.now() + timedelta(seconds=62)
    tasks.schedule_settlement(trade_id=7, at=at)
    assert sent == [([7], at)]


def test_without_a_broker_a_timer_thread_runs_it_at_the_due_time(monkeypatch):
    monkeypatch.setitem(tasks.settle_task.app.conf, "task_always_eager", True)
    started = []

    class Timer:
        def __init__(self, delay, function, args):
            started.append((delay, function, args))

        def start(self):
            started.append("started")

    monkeypatch.setattr(tasks.threading, "Timer", Timer)
    tasks.schedule_settlement(trade_id=7, at=timezone.now() + timedelta(seconds=10))
    (delay, function, args), state = started
    assert 9.9 < delay <= 10.05 and args == [7] and state == "started"


def test_a_task_delivered_early_schedules_itself_again_and_writes_nothing(
        instrument, user, monkeypatch):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    again = []
    monkeypatch.setattr(tasks, "schedule_settlement",
                        lambda trade_id, at: again.append((trade_id, at)))
    assert tasks.settle_task(trade.pk) == "not_due"
    assert again == [(trade.pk, trade.expires_at + timedelta(seconds=2))]
    assert Trade.objects.get(pk=trade.pk).status == "OPEN"
    assert trade.stake == D("10")


def test_the_sweep_settles_only_what_is_due(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    assert tasks.sweep_task() == 0
    Trade.objects.filter(pk=trade.pk).update(
        opened_at=timezone.now() - timedelta(seconds=90),
        expires_at=timezone.now() - timedelta(seconds=30))
    assert tasks.sweep_task() == 1
    assert Trade.objects.get(pk=trade.pk).status != "OPEN"


def test_the_settle_due_command_is_the_sweep(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    Trade.objects.filter(pk=trade.pk).update(
        opened_at=timezone.now() - timedelta(seconds=90),
        expires_at=timezone.now() - timedelta(seconds=30))
    call_command("fixedtime_settle_due")
    assert Trade.objects.get(pk=trade.pk).status == "VOID"
