from django.urls import path

from apps.futures import apis, order_apis

urlpatterns = [
    path("preview/", apis.PreviewApi.as_view(), name="futures-preview"),
    path("funding/", apis.FundingApi.as_view(), name="futures-funding"),
    path("positions/", apis.PositionListApi.as_view(), name="futures-positions"),
    path("orders/", order_apis.OrderListCreateApi.as_view(), name="futures-orders"),
    path("orders/<int:order_id>/cancel/", order_apis.OrderCancelApi.as_view(),
         name="futures-order-cancel"),
    path("positions/<int:position_id>/margin/", apis.PositionMarginApi.as_view(),
         name="futures-position-margin"),
    path("positions/<int:position_id>/exits/", apis.PositionExitsApi.as_view(),
         name="futures-position-exits"),
]
