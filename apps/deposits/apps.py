from django.apps import AppConfig


class DepositsConfig(AppConfig):
    name = "apps.deposits"
    label = "deposits"
    verbose_name = "Deposits (payment chain)"
