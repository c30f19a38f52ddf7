from django.contrib.auth import views as auth_views
from django.urls import path

from apps.trade import views
from apps.trade.selectors import PAGE_TYPES

app_name = "trade"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="trade/login.html"),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    *[path(type, views.markets, {"type": type}, name=type) for type in PAGE_TYPES],
    # Symbols contain "/" (EUR/USD): take the rest of the path.
    path("trade/<path:symbol>/", views.trade, name="trade"),
]
