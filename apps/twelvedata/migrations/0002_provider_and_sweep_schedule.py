"""The TwelveData provider row (disabled until an admin enables it) and the beat entry of
the paper executor's safety-net sweep."""
from django.db import migrations

from apps.core import conf


def forwards(apps, schema_editor):
    apps.get_model("twelvedata", "TwdProvider").objects.get_or_create(
        name="twelvedata", defaults={"title": "TwelveData", "status": False})
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=conf.PAPER_SWEEP_SECONDS,
                                                      period="seconds")
    PeriodicTask.objects.update_or_create(
        name="twelvedata: paper order sweep",
        defaults={"task": "twelvedata.sweep", "interval": every, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name="twelvedata: paper order sweep").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("twelvedata", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
