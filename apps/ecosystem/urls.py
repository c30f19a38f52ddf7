from django.urls import path

from apps.ecosystem import apis

urlpatterns = [
    path("markets/", apis.MarketListApi.as_view(), name="eco-markets"),
    path("orders/", apis.OrderListCreateApi.as_view(), name="eco-orders"),
    path("orders/<int:order_id>/cancel/", apis.OrderCancelApi.as_view(),
         name="eco-order-cancel"),
    path("order-lists/", apis.OrderListsApi.as_view(), name="eco-order-lists"),
    path("order-lists/<int:list_id>/", apis.OrderListDetailApi.as_view(),
         name="eco-order-list"),
    path("order-lists/<int:list_id>/cancel/", apis.OrderListCancelApi.as_view(),
         name="eco-order-list-cancel"),
    path("trades/", apis.TradeListApi.as_view(), name="eco-trades"),
]
