"""The beat sweep: scheduled by the migrations, it re-offers deliveries whose task was lost
and expires unpaid intents."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.deposits import services, tasks
from apps.deposits.models import DepositEvent
from tests.deposits.test_services import payment, receive

pytestmark = pytest.mark.django_db


def test_the_sweep_is_scheduled(settings):
    sweep = PeriodicTask.objects.get(task="deposits.sweep")
    assert sweep.enabled
    assert (sweep.interval.every, sweep.interval.period) == (settings.DEPOSIT_SWEEP_SECONDS,
                                                             "seconds")


def test_the_sweep_decides_lost_deliveries_then_expires_unpaid_intents(depositor, settings):
    paid = services.intent_create(user_id=depositor.pk, amount=Decimal("100"))
    settings.DEPOSIT_INTENT_TTL_SECONDS = -1
    unpaid = services.intent_create(user_id=depositor.pk, amount=Decimal("10"))
    # Received in time, three minutes ago; its task never ran.
    lost = receive(payment(paid), at=timezone.now() - timedelta(minutes=3))
    fresh = receive(payment(paid, tx_hash="0xstillqueued1"))
    assert tasks.sweep_task.apply().get() == 1
    verdicts = dict(DepositEvent.objects.values_list("pk", "verdict"))
    assert verdicts == {lost.pk: "CREDITED", fresh.pk: "RECEIVED"}  # the fresh one's task runs
    paid.refresh_from_db()
    unpaid.refresh_from_db()
    assert (paid.status, unpaid.status) == ("CONFIRMED", "EXPIRED")
