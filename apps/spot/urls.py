from django.urls import path

from apps.spot import apis

urlpatterns = [
    path("markets/", apis.SpotMarketListApi.as_view(), name="spot-markets"),
    path("orders/", apis.SpotOrdersApi.as_view(), name="spot-orders"),
    path("orders/<int:order_id>/cancel/", apis.SpotOrderCancelApi.as_view(),
         name="spot-order-cancel"),
]
