"""The host's own URL layout: the apps live under /exchange/, beside the host's pages."""
from django.contrib import admin
from django.urls import include, path

from apps.accounts.apis import TokenApi
from host import views

urlpatterns = [
    path("", views.home, name="host-home"),
    path("my-orders/", views.my_orders, name="host-orders"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("health/", include("apps.health.urls")),
    path("exchange/api/v1/auth/token/", TokenApi.as_view()),
    path("exchange/api/v1/wallets/", include("apps.wallets.urls")),
    path("exchange/api/v1/twd/", include("apps.twelvedata.urls")),
    path("exchange/account/", include("apps.accounts.urls")),
    path("exchange/", include("apps.trade.urls")),
]
