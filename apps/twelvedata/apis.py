"""Paper-trading endpoints under /api/v1/twd/ (thin: parse, call, render)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField, QueryInput
from apps.core.errors import NotFound
from apps.core.identifiers import IdentifierField
from apps.core.schema import error_responses
from apps.marketdata.selectors import latest_quote
from apps.trading.apis import (
    VenueOrderCancelApi,
    VenueOrderListCancelApi,
    VenueOrderListDetailApi,
    VenueOrderListsApi,
    VenueOrdersApi,
)
from apps.trading.constants import (
    Venue,
)
from apps.twelvedata import selectors
from apps.twelvedata.models import TwdMarket


class MarketOutput(serializers.Serializer):
    symbol = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    base_currency = serializers.CharField(source="market.base_currency")
    quote_currency = serializers.CharField(source="market.quote_currency")
    exchange = serializers.CharField()
    mic_code = serializers.CharField()
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


class MarketListApi(APIView):
    permission_classes = [AllowAny]

    class FilterInput(QueryInput):
        type = serializers.ChoiceField(choices=TwdMarket.Type.choices, required=False)

    @extend_schema(parameters=[FilterInput], responses=MarketOutput(many=True))
    def get(self, request):
        query = self.FilterInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        markets = selectors.market_list_enabled(type=query.validated_data.get("type"))
        return Response(MarketOutput(markets, many=True).data)


class SymbolInput(QueryInput):
    symbol = IdentifierField(kind="symbol")


class TickerOutput(serializers.Serializer):
    venue = serializers.CharField()
    symbol = serializers.CharField()
    price = AmountField()
    bid = AmountField(allow_null=True)
    ask = AmountField(allow_null=True)
    timestamp = serializers.DateTimeField()
    source = serializers.CharField()


class TickerApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[SymbolInput],
                   responses={200: TickerOutput, **error_responses(404)})
    def get(self, request):
        query = SymbolInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        market = selectors.market_get_enabled(symbol=query.validated_data["symbol"])
        quote = latest_quote(venue=Venue.PAPER, symbol=market.symbol)
        if quote is None:
            raise NotFound(f"No price for {market.symbol} yet.", code="no_quote")
        return Response(TickerOutput(quote).data)


class CandlesApi(APIView):
    permission_classes = [AllowAny]

    class Input(SymbolInput):
        interval = serializers.ChoiceField(choices=selectors.CANDLE_INTERVALS, default="1min")
        outputsize = serializers.IntegerField(min_value=1, max_value=5000, default=100)

    class Output(serializers.Serializer):
        datetime = serializers.CharField()
        open = AmountField(allow_zero=True)
        high = AmountField(allow_zero=True)
        low = AmountField(allow_zero=True)
        close = AmountField(allow_zero=True)
        volume = AmountField(allow_zero=True, required=False)

    @extend_schema(parameters=[Input],
                   responses={200: Output(many=True), **error_responses(404, 409, 502)})
    def get(self, request):
        query = self.Input(data=request.query_params)
        query.is_valid(raise_exception=True)
        bars = selectors.candles(**query.validated_data)
        return Response(self.Output(bars, many=True).data)


class OrderListCreateApi(VenueOrdersApi):
    venue = Venue.PAPER


class OrderCancelApi(VenueOrderCancelApi):
    venue = Venue.PAPER


class OrderListsApi(VenueOrderListsApi):
    """OCO pairs and brackets of the paper venue."""

    venue = Venue.PAPER


class OrderListDetailApi(VenueOrderListDetailApi):
    venue = Venue.PAPER


class OrderListCancelApi(VenueOrderListCancelApi):
    venue = Venue.PAPER
