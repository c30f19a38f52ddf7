from django.apps import AppConfig


class EcosystemConfig(AppConfig):
    name = "apps.ecosystem"
    label = "ecosystem"
    verbose_name = "Ecosystem (custom tokens on the internal engine)"

    def ready(self) -> None:
        from apps.accounts.selectors import bot_user_ids
        from apps.ecosystem.gateway import EcosystemGateway
        from apps.ecosystem.selectors import stp_default
        from apps.ecosystem.tasks import on_quote
        from apps.engine.venues import EngineVenue, register_engine_venue
        from apps.marketdata.books import register_book_venue
        from apps.marketdata.services import register_listener
        from apps.trading.constants import Venue
        from apps.trading.venues import register_gateway

        register_gateway(EcosystemGateway())
        register_book_venue(Venue.ECOSYSTEM)
        # The market makers' trades are marked (TradeRecord.bot): volume leaves them out.
        register_engine_venue(EngineVenue(venue=Venue.ECOSYSTEM, stp_default=stp_default,
                                          bot_users=bot_user_ids))
        # The engine's quotes trigger the venue's conditional orders.
        register_listener(on_quote, venues=[Venue.ECOSYSTEM])
