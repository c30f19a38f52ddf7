"""A Binance provider row (inactive until an admin activates it) and the beat entry of
the spot order tracker (its period editable in django-celery-beat's admin)."""
from django.db import migrations

from apps.core import conf


def forwards(apps, schema_editor):
    apps.get_model("spot", "SpotProvider").objects.get_or_create(
        name="binance", defaults={"title": "Binance", "exchange_id": "binance",
                                  "is_active": False})
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=conf.SPOT_TRACK_SECONDS,
                                                      period="seconds")
    PeriodicTask.objects.update_or_create(
        name="spot: order tracker",
        defaults={"task": "spot.track", "interval": every, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name="spot: order tracker").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("spot", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
