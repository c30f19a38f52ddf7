from django.apps import AppConfig


class FuturesConfig(AppConfig):
    name = "apps.futures"
    label = "futures"
    verbose_name = "Futures (perpetual contracts)"

    def ready(self) -> None:
        from apps.accounts.selectors import bot_user_ids
        from apps.core import conf
        from apps.engine.venues import EngineVenue, register_engine_venue
        from apps.futures import selectors, tasks
        from apps.futures.constants import MARK_VENUE
        from apps.futures.gateway import FuturesGateway
        from apps.marketdata.books import register_book_venue
        from apps.marketdata.services import register_listener
        from apps.marketdata.streams import register_mark_venue
        from apps.matching import StpMode
        from apps.trading.constants import Venue
        from apps.trading.venues import register_gateway
        from apps.wallets.selectors import register_reconcile_check

        # Orders on the internal engine; a trader's own orders never trade together
        # (the taker is cancelled, as on the ecosystem markets by default).
        register_gateway(FuturesGateway())
        register_book_venue(Venue.FUTURES)
        register_mark_venue(Venue.FUTURES)  # mark@futures:<SYMBOL>
        # The liquidation engine's trades are marked (TradeRecord.bot) as the market
        # makers' are: volume leaves them out.
        register_engine_venue(EngineVenue(venue=Venue.FUTURES,
                                          stp_default=lambda market: StpMode.CANCEL_TAKER,
                                          bot_users=bot_user_ids))

        # An index source's quote recomputes (and acts on) the marks built on it.
        register_listener(tasks.on_index_quote, venues=conf.FUTURES_INDEX_VENUES)
        # A mark tick triggers the exits (take-profit, stop-loss) it reaches.
        register_listener(tasks.on_mark_quote, venues=[MARK_VENUE])

        # FUTURES's CLEARING holds what the open positions are owed, not 0: the ledger's
        # reconcile cannot see positions, so the venue checks that identity there.
        register_reconcile_check("futures clearing", selectors.clearing_problems)
