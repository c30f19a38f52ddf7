from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "apps.health"
    label = "exchange_health"  # "health" is too likely to be a host project's own label
