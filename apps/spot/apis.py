"""Spot endpoints under /api/v1/spot/ (thin: parse, call, render). Orders use the trading
core's views and renderings (``apps.trading.apis``), as the paper venue's do."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField
from apps.spot import selectors
from apps.trading.apis import VenueOrderCancelApi, VenueOrdersApi
from apps.trading.constants import Venue


class SpotMarketOutput(serializers.Serializer):
    symbol = serializers.CharField(source="market.symbol")
    exchange_symbol = serializers.CharField()
    base_currency = serializers.CharField(source="market.base_currency")
    quote_currency = serializers.CharField(source="market.quote_currency")
    order_types = serializers.ListField(child=serializers.CharField(), help_text=(
        "The exchange's order types for this market."))
    is_trending = serializers.BooleanField(source="market.is_trending")
    is_hot = serializers.BooleanField(source="market.is_hot")
    price_precision = serializers.IntegerField(source="market.price_precision")
    amount_precision = serializers.IntegerField(source="market.amount_precision")
    tick_size = AmountField(source="market.tick_size")
    lot_size = AmountField(source="market.lot_size")
    min_amount = AmountField(source="market.min_amount", allow_zero=True)
    max_amount = AmountField(source="market.max_amount", allow_null=True)
    min_notional = AmountField(source="market.min_notional", allow_zero=True)
    max_notional = AmountField(source="market.max_notional", allow_null=True)
    maker_fee = serializers.DecimalField(source="market.maker_fee", max_digits=8,
                                         decimal_places=6)
    taker_fee = serializers.DecimalField(source="market.taker_fee", max_digits=8,
                                         decimal_places=6)


class SpotMarketListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SpotMarketOutput(many=True))
    def get(self, request):
        return Response(SpotMarketOutput(selectors.market_list_enabled(), many=True).data)


class SpotOrdersApi(VenueOrdersApi):
    """The user's spot orders; a new one is held at once and sent to the exchange after
    commit (NEW until the exchange answers; UNKNOWN until reconciliation when it does
    not)."""

    venue = Venue.SPOT


class SpotOrderCancelApi(VenueOrderCancelApi):
    venue = Venue.SPOT
