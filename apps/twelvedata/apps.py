from django.apps import AppConfig


class TwelvedataConfig(AppConfig):
    name = "apps.twelvedata"
    label = "twelvedata"
    verbose_name = "TwelveData paper trading"

    def ready(self) -> None:
        from apps.core.crypto import register_encrypted_field
        from apps.marketdata.services import register_listener
        from apps.trading.constants import Venue
        from apps.trading.venues import register_gateway
        from apps.twelvedata.paper import PaperGateway
        from apps.twelvedata.tasks import on_quote

        register_encrypted_field("twelvedata.TwdProvider", "api_key_encrypted")
        register_gateway(PaperGateway())
        register_listener(on_quote, venues=[Venue.PAPER])
