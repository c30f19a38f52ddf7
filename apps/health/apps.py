from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "apps.health"
    label = "exchange_health"  # "health" is too likely to be a host project's own label

    def ready(self) -> None:
        # A Celery worker started with METRICS_WORKER_PORT serves its metrics itself.
        from celery.signals import worker_ready

        from apps.health.metrics import start_worker_server

        worker_ready.connect(start_worker_server, weak=False,
                             dispatch_uid="exchange_metrics_worker_server")
