from django.apps import AppConfig


class FuturesConfig(AppConfig):
    name = "apps.futures"
    label = "futures"
    verbose_name = "Futures (perpetual contracts)"

    def ready(self) -> None:
        from apps.core import conf
        from apps.futures import tasks
        from apps.marketdata.services import register_listener

        # An index source's quote recomputes (and acts on) the marks built on it.
        register_listener(tasks.on_index_quote, venues=conf.FUTURES_INDEX_VENUES)
