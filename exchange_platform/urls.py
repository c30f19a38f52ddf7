from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts.apis import TokenApi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/token/", TokenApi.as_view(), name="auth-token"),
    path("api/v1/wallets/", include("apps.wallets.urls")),
    path("api/v1/twd/", include("apps.twelvedata.urls")),
    path("", include("apps.trade.urls")),
]
