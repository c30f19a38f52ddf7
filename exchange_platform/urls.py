from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.apis import TokenApi
from apps.core import http
from apps.health.metrics import metrics_view

# Swagger UI under the Content-Security-Policy: the split view serves its setup script from
# its own URL (no inline script); its React code sets a few inline styles, allowed on this
# page only.
api_docs = csp_replace({"style-src": [SELF, UNSAFE_INLINE]})(
    SpectacularSwaggerSplitView.as_view(url_name="schema"))

urlpatterns = [
    path("admin/", admin.site.urls),
    # Liveness and readiness probes (docker/compose.yml, README "Health").
    path("health/", include("apps.health.urls")),
    # Prometheus scrapes; only METRICS_ALLOWED_IPS or METRICS_BEARER_TOKEN may read it.
    path("metrics", metrics_view, name="metrics"),
    # Sign-up, e-mail confirmation, login (password, then TOTP), password reset and change,
    # two-factor and sessions (django-allauth's pages, in templates/allauth/layouts).
    path("accounts/", include("allauth.urls")),
    path("account/", include("apps.accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/v1/auth/token/", TokenApi.as_view(), name="auth-token"),
    path("api/v1/accounts/", include("apps.accounts.api_urls")),
    path("api/v1/wallets/", include("apps.wallets.urls")),
    path("api/v1/twd/", include("apps.twelvedata.urls")),
    path("api/v1/ecosystem/", include("apps.ecosystem.urls")),
    path("api/v1/spot/", include("apps.spot.urls")),
    path("api/v1/fixedtime/", include("apps.fixedtime.urls")),
    path("api/v1/deposits/", include("apps.deposits.urls")),
    path("api/v1/futures/", include("apps.futures.urls")),
    # Last under /api/: any other API URL (a typo, a malformed id) is a JSON 404.
    re_path(r"^api/", http.not_found),
    path("", include("apps.trade.urls")),
]

# Django's own errors: JSON under /api/, its HTML pages elsewhere (an unknown /api/ URL
# is the catch-all's 404 above).
handler400 = "apps.core.http.bad_request"
handler500 = "apps.core.http.server_error"
