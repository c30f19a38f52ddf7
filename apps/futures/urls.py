from django.urls import path

from apps.futures import apis

urlpatterns = [
    path("preview/", apis.PreviewApi.as_view(), name="futures-preview"),
    path("funding/", apis.FundingApi.as_view(), name="futures-funding"),
    path("positions/", apis.PositionListApi.as_view(), name="futures-positions"),
    path("positions/<int:position_id>/margin/", apis.PositionMarginApi.as_view(),
         name="futures-position-margin"),
]
