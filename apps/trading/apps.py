from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "apps.trading"
    label = "trading"
    verbose_name = "Trading (every venue)"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.trading import selectors
        from apps.trading.models import Market

        def forget(**_kwargs) -> None:
            # All of them: a save may have renamed the symbol it was cached under.
            selectors.market_forget()

        post_save.connect(forget, sender=Market, weak=False,
                          dispatch_uid="trading_market_forget_save")
        post_delete.connect(forget, sender=Market, weak=False,
                            dispatch_uid="trading_market_forget_delete")
