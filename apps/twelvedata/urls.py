from django.urls import path

from apps.twelvedata import apis

urlpatterns = [
    path("markets/", apis.MarketListApi.as_view(), name="twd-markets"),
    path("ticker/", apis.TickerApi.as_view(), name="twd-ticker"),
    path("candles/", apis.CandlesApi.as_view(), name="twd-candles"),
    path("orders/", apis.OrderListCreateApi.as_view(), name="twd-orders"),
    path("orders/<int:order_id>/cancel/", apis.OrderCancelApi.as_view(), name="twd-order-cancel"),
    path("order-lists/", apis.OrderListsApi.as_view(), name="twd-order-lists"),
    path("order-lists/<int:list_id>/", apis.OrderListDetailApi.as_view(),
         name="twd-order-list"),
    path("order-lists/<int:list_id>/cancel/", apis.OrderListCancelApi.as_view(),
         name="twd-order-list-cancel"),
]
