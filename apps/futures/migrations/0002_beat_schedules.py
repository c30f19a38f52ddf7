"""The futures beat entries: the mark sweep (every FUTURES_SWEEP_SECONDS: every contract's
mark recomputed and acted on, the safety net of the per-tick liquidation) and funding (at
minute 0 of every hour: each contract's latest stamp charged once). Both editable in the
admin."""
from django.db import migrations

from apps.core import conf

SWEEP = "futures: mark and liquidation sweep"
FUNDING = "futures: funding"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=conf.FUTURES_SWEEP_SECONDS,
                                                      period="seconds")
    PeriodicTask.objects.update_or_create(
        name=SWEEP, defaults={"task": "futures.sweep", "interval": every, "enabled": True})
    hourly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="*", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone="UTC")
    PeriodicTask.objects.update_or_create(
        name=FUNDING, defaults={"task": "futures.funding", "crontab": hourly,
                                "enabled": True})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[SWEEP, FUNDING]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("futures", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
