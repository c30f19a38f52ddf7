from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # Registers the system checks (a misconfigured host hears it at start-up).
        from apps.core import checks  # noqa: F401
