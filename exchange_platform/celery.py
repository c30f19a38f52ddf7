"""The Celery app: configured from Django settings (CELERY_* names)."""
import os

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")

app = Celery("exchange_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds the request id (and the rest of the publisher's log context) that each task's
# headers carry before the task runs (apps/core/logs.py).
app.steps["worker"].add(DjangoStructLogInitStep)
