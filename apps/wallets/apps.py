from django.apps import AppConfig


class WalletsConfig(AppConfig):
    name = "apps.wallets"
    label = "wallets"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.wallets.models import Currency
        from apps.wallets.services import ledger

        def forget(**_kwargs) -> None:
            ledger.hold_wallets_forget()

        post_save.connect(forget, sender=Currency, weak=False,
                          dispatch_uid="wallets_currency_forget_save")
        post_delete.connect(forget, sender=Currency, weak=False,
                            dispatch_uid="wallets_currency_forget_delete")
