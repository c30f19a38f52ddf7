from django.apps import AppConfig


class SpotConfig(AppConfig):
    name = "apps.spot"
    label = "spot"
    verbose_name = "Spot trading (exchange through ccxt)"

    def ready(self) -> None:
        from apps.core.crypto import register_encrypted_field
        from apps.marketdata.books import register_book_venue
        from apps.marketdata.services import register_listener
        from apps.spot.gateway import SpotGateway
        from apps.spot.tasks import on_quote
        from apps.trading.constants import Venue
        from apps.trading.venues import register_gateway

        register_encrypted_field("spot.SpotProvider", "api_key_encrypted")
        register_encrypted_field("spot.SpotProvider", "api_secret_encrypted")
        register_gateway(SpotGateway())
        register_listener(on_quote, venues=[Venue.SPOT])
        # The exchange's order books are published as depth@ snapshots (apps.spot.prices).
        register_book_venue(Venue.SPOT)
