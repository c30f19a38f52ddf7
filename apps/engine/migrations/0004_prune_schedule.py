"""The beat entry of the engine's prune (hourly; an operator may change or disable it in
the admin's periodic tasks)."""
from django.db import migrations


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name="engine: prune old commands, snapshots and sent outbox rows",
        defaults={"task": "engine.prune", "interval": every, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name="engine: prune old commands, snapshots and sent outbox rows").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0003_plain_names"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
