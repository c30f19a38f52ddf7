from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts.apis import TokenApi
from apps.core import http

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/token/", TokenApi.as_view(), name="auth-token"),
    path("api/v1/wallets/", include("apps.wallets.urls")),
    path("api/v1/twd/", include("apps.twelvedata.urls")),
    # Last under /api/: any other API URL (a typo, a malformed id) is a JSON 404.
    re_path(r"^api/", http.not_found),
    path("", include("apps.trade.urls")),
]

# Django's own errors: JSON under /api/, its HTML pages elsewhere.
handler400 = "apps.core.http.bad_request"
handler403 = "apps.core.http.permission_denied"
handler404 = "apps.core.http.page_not_found"
handler500 = "apps.core.http.server_error"
