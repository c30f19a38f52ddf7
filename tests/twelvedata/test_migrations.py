import pytest
from django_celery_beat.models import PeriodicTask

from apps.twelvedata.models import TwdProvider

pytestmark = pytest.mark.django_db


def test_provider_row_starts_disabled_and_the_sweep_is_scheduled(settings):
    provider = TwdProvider.objects.get(name="twelvedata")
    assert not provider.status and not provider.api_key_encrypted
    sweep = PeriodicTask.objects.get(task="twelvedata.sweep")
    assert sweep.enabled
    assert (sweep.interval.every, sweep.interval.period) == (settings.PAPER_SWEEP_SECONDS,
                                                             "seconds")
