from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from apps.accounts import audit
        from apps.core.crypto import register_encrypted_field

        audit.connect()
        register_encrypted_field("accounts.ApiKey", "secret_encrypted")


class AccountsAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with this project's site: staff sign in through the accounts'
    login (password, then the second factor) and need that factor for the admin."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin
    default_site = "apps.accounts.admin_site.AdminSite"
