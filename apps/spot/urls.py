from django.urls import path

from apps.spot import apis

urlpatterns = [
    path("markets/", apis.SpotMarketListApi.as_view(), name="spot-markets"),
    path("orders/", apis.SpotOrdersApi.as_view(), name="spot-orders"),
    path("orders/<int:order_id>/cancel/", apis.SpotOrderCancelApi.as_view(),
         name="spot-order-cancel"),
    path("order-lists/", apis.SpotOrderListsApi.as_view(), name="spot-order-lists"),
    path("order-lists/<int:list_id>/", apis.SpotOrderListDetailApi.as_view(),
         name="spot-order-list"),
    path("order-lists/<int:list_id>/cancel/", apis.SpotOrderListCancelApi.as_view(),
         name="spot-order-list-cancel"),
]
