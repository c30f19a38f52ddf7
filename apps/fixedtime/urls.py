from django.urls import path

from apps.fixedtime import apis

urlpatterns = [
    path("instruments/", apis.InstrumentListApi.as_view(), name="fixedtime-instruments"),
    path("trades/", apis.TradeListCreateApi.as_view(), name="fixedtime-trades"),
    path("trades/<int:trade_id>/", apis.TradeDetailApi.as_view(), name="fixedtime-trade"),
]
