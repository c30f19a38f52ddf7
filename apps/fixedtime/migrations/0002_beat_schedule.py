"""The beat entries of fixed-time trading: the settlement sweep (the safety net of each
trade's own task) and the hourly pruning of recorded quotes."""
from apps.core import conf
from django.db import migrations

SWEEP = "fixedtime: settle trades past due"
PRUNE = "fixedtime: prune recorded quotes"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    sweep, _ = IntervalSchedule.objects.get_or_create(every=conf.FIXEDTIME_SWEEP_SECONDS,
                                                      period="seconds")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name=SWEEP, defaults={"task": "fixedtime.sweep", "interval": sweep, "enabled": True})
    PeriodicTask.objects.update_or_create(
        name=PRUNE, defaults={"task": "fixedtime.prune_quotes", "interval": hourly,
                              "enabled": True})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[SWEEP, PRUNE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fixedtime", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
