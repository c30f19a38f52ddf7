from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # Importing checks registers the system checks (a misconfigured host hears it at
        # start-up); logs gives each request its id (apps/core/logs.py).
        from apps.core import checks, logs  # noqa: F401

        logs.connect()
