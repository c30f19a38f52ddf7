"""Paper-trading endpoints under /api/v1/twd/ (thin: parse, call, render)."""
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField, CursorPage, QueryInput
from apps.core.errors import NotFound
from apps.core.identifiers import IdentifierField
from apps.core.schema import error_responses
from apps.marketdata.selectors import latest_quote
from apps.twelvedata import selectors, services
from apps.twelvedata.models import TwdMarket, TwdOrder


class MarketOutput(serializers.Serializer):
    symbol = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    base_currency = serializers.CharField()
    quote_currency = serializers.CharField()
    exchange = serializers.CharField()
    mic_code = serializers.CharField()
    is_trending = serializers.BooleanField()
    is_hot = serializers.BooleanField()
    price_precision = serializers.IntegerField()
    amount_precision = serializers.IntegerField()
    maker_fee = serializers.DecimalField(max_digits=8, decimal_places=6)
    taker_fee = serializers.DecimalField(max_digits=8, decimal_places=6)


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
        quote = latest_quote(symbol=market.symbol)
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


class OrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    symbol = serializers.CharField(source="market.symbol")
    type = serializers.CharField()
    side = serializers.CharField()
    status = serializers.CharField()
    price = AmountField(allow_null=True)
    amount = AmountField()
    filled = AmountField(allow_zero=True)
    remaining = AmountField(allow_zero=True)
    cost = AmountField(allow_zero=True)
    fee = AmountField(allow_zero=True)
    fee_currency = serializers.CharField()
    liquidity = serializers.CharField()
    fill = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class FillEvidence(serializers.Serializer):
        price = AmountField(source="fill_price")
        quote_price = AmountField()
        quote_bid = AmountField(allow_null=True)
        quote_ask = AmountField(allow_null=True)
        quote_timestamp = serializers.DateTimeField()
        quote_source = serializers.CharField()
        filled_at = serializers.DateTimeField()

    @extend_schema_field(FillEvidence(allow_null=True))
    def get_fill(self, order: TwdOrder) -> dict | None:
        return self.FillEvidence(order).data if order.fill_price is not None else None


class OrderListCreateApi(APIView):
    pagination_class = CursorPage

    class PlaceInput(serializers.Serializer):
        symbol = IdentifierField(kind="symbol")
        side = serializers.ChoiceField(choices=TwdOrder.Side.choices)
        type = serializers.ChoiceField(choices=TwdOrder.Type.choices)
        amount = AmountField()
        price = AmountField(required=False, allow_null=True)
        client_order_id = IdentifierField(kind="client_id", required=False)

    class FilterInput(QueryInput):
        status = serializers.ChoiceField(choices=TwdOrder.Status.choices, required=False)
        symbol = IdentifierField(kind="symbol", required=False)

    @extend_schema(parameters=[FilterInput], responses=OrderOutput(many=True))
    def get(self, request):
        query = self.FilterInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        orders = selectors.order_list(user_id=request.user.pk, **query.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders, request, self)
        return paginator.get_paginated_response(OrderOutput(page, many=True).data)

    @extend_schema(request=PlaceInput,
                   responses={201: OrderOutput, **error_responses(404, 409)})
    def post(self, request):
        data = self.PlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_place(user_id=request.user.pk, **data.validated_data)
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class OrderCancelApi(APIView):
    @extend_schema(request=None, responses={200: OrderOutput, **error_responses(409)})
    def post(self, request, order_id: int):
        order = services.order_cancel(user_id=request.user.pk, order_id=order_id)
        return Response(OrderOutput(order).data)
