"""The beat entry of the deposits sweep: expire unpaid intents, re-offer lost events."""
from apps.core import conf
from django.db import migrations


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=conf.DEPOSIT_SWEEP_SECONDS,
                                                      period="seconds")
    PeriodicTask.objects.update_or_create(
        name="deposits: expire intents, re-offer lost events",
        defaults={"task": "deposits.sweep", "interval": every, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name="deposits: expire intents, re-offer lost events").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("deposits", "0001_intents_and_events"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
