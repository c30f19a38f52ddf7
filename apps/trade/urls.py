from django.apps import apps
from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from django.views.generic import RedirectView

from apps.trade import market_views, views
from apps.trade.selectors import PAGE_TYPES

app_name = "trade"
urlpatterns = [
    path("", views.home, name="home"),
    # The accounts' login (username or e-mail, then the second factor): this old address
    # and the pages' "Log in" link lead there, with their ?next=.
    path("login/", RedirectView.as_view(pattern_name="account_login", query_string=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The list pages answer with and without a trailing slash (links use the short form).
    *[re_path(rf"^{type}/?$", views.markets, {"type": type}, name=type) for type in PAGE_TYPES],
    re_path(r"^portfolio/?$", views.portfolio, name="portfolio"),
    # A book venue's markets (ecosystem, spot, futures), linked to their market pages.
    re_path(r"^markets/(?P<venue>[a-z]+)/?$", views.venue_markets, name="venue-markets"),
    path("trade/", views.switch, name="switch"),
    # An internal market (a venue with its own books): /market/ecosystem/DEMO/USDT/.
    path("market/<str:venue>/<path:symbol>/", market_views.market, name="market"),
    # Symbols contain "/" (EUR/USD): take the rest of the path.
    path("trade/<path:symbol>/", views.trade, name="trade"),
]

if apps.is_installed("apps.fixedtime"):  # the up/down page, where the host installed it
    from apps.trade import fixedtime_views

    urlpatterns.append(path("fixedtime/<str:venue>/<path:symbol>/", fixedtime_views.fixedtime,
                            name="fixedtime"))
