from django.apps import AppConfig


class FixedtimeConfig(AppConfig):
    name = "apps.fixedtime"
    label = "fixedtime"
    verbose_name = "Fixed-time trades"

    def ready(self) -> None:
        from apps.fixedtime.services import quote_record
        from apps.marketdata.services import register_listener
        from apps.trading.constants import Venue

        # Any venue's market may carry fixed-time trading: the recorder hears every venue
        # and keeps only the quotes of enabled fixed-time instruments.
        register_listener(quote_record, venues=Venue.values)
