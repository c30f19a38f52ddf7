from django.apps import AppConfig


class OrderStoreConfig(AppConfig):
    name = "apps.orderstore"
    label = "orderstore"
    verbose_name = "Order store (internal markets)"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from apps.orderstore import base

        def forget(*, setting: str, **_: object) -> None:
            # override_settings in tests: the next get_store() reads the new choice.
            if setting == "ORDER_STORE" or setting.startswith("SCYLLA_"):
                base.forget_stores()

        setting_changed.connect(forget, weak=False, dispatch_uid="orderstore-settings")
