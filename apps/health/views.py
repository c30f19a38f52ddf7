"""``/health/live`` and ``/health/ready`` (django-health-check views, configured here).

Liveness runs no check: an answer proves the process serves requests, and a database or
Redis outage must not get a healthy web process restarted. Readiness checks what serving
traders needs: the database, the cache (Redis in production), the Celery workers (when
``HEALTH_CELERY_REQUIRED``), each venue's price feed, the internal markets' engine
(``apps.engine.health.EngineLag``: commands waiting with no live runner, or too long; when
``apps.engine`` is installed) and whatever ``HEALTH_EXTRA_CHECKS`` adds.

Both answer 200 when healthy and 500 with the failing checks' reasons otherwise;
``?format=json`` (or ``Accept: application/json``) gives ``{"<check>": "OK" | "<reason>"}``.
"""
from __future__ import annotations

import datetime

from django.apps import apps
from health_check.views import HealthCheckView

from apps.core import conf
from apps.trading.constants import Venue


class LiveView(HealthCheckView):
    checks = ()


class ReadyView(HealthCheckView):
    def get_checks(self):
        # Built per request: the settings (and so a test's override) are read when asked.
        self.checks = readiness_checks()
        return super().get_checks()


def readiness_checks() -> list:
    checks: list = [
        "health_check.checks.Database",
        "health_check.checks.Cache",
        *(("apps.health.checks.QuoteFreshness", {"venue": venue}) for venue in Venue.values),
    ]
    if conf.HEALTH_CELERY_REQUIRED:
        seconds = conf.HEALTH_CELERY_TIMEOUT_SECONDS
        checks.append(("health_check.contrib.celery.Ping",
                       {"timeout": datetime.timedelta(seconds=seconds)}))
    if apps.is_installed("apps.engine"):
        checks.append("apps.engine.health.EngineLag")
    checks.extend(conf.HEALTH_EXTRA_CHECKS)
    return checks
