"""Ecosystem endpoints under /api/v1/ecosystem/ (thin: parse, call, render). Orders use the
trading core's views and renderings (``apps.trading.apis``), with the engine's self-trade
prevention mode per order; conditional types wait PENDING in the core and are triggered
on the engine's quotes. OCO pairs and brackets are the core's lists (``order-lists/``):
their limit legs and entries go to the engine, their stop legs wait in the core."""
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField, QueryInput
from apps.core.errors import InvalidInput
from apps.core.identifiers import IdentifierField
from apps.core.schema import error_responses
from apps.ecosystem import selectors
from apps.matching import StpMode
from apps.orderstore.base import InvalidPage, get_store
from apps.trading import services as trading_services
from apps.trading.apis import (
    MarketFieldsOutput,
    OrderOutput,
    VenueOrderCancelApi,
    VenueOrderListCancelApi,
    VenueOrderListDetailApi,
    VenueOrderListsApi,
    VenueOrdersApi,
)
from apps.trading.constants import Venue


# Named in the schema apart from the paper venue's and the core's classes of the same name
# (drf-spectacular would give both one component: one of the two schemas wrong).
@extend_schema_serializer(component_name="EcoMarketOutput")
class MarketOutput(MarketFieldsOutput):
    """An ecosystem market: the core's terms, its token and the engine's STP default."""

    token_name = serializers.CharField(source="eco.base_token.name")
    chain = serializers.CharField(source="eco.base_token.chain.name")
    chain_id = serializers.IntegerField(source="eco.base_token.chain.chain_id")
    contract_address = serializers.CharField(source="eco.base_token.contract_address")
    stp_default = serializers.CharField(source="eco.stp_default")


class MarketListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=MarketOutput(many=True))
    def get(self, request):
        return Response(MarketOutput(selectors.markets_enabled(), many=True).data)


class OrderListCreateApi(VenueOrdersApi):
    venue = Venue.ECOSYSTEM

    @extend_schema_serializer(component_name="EcoOrderPlaceInput")
    class PlaceInput(VenueOrdersApi.PlaceInput):
        """The core's order, and the engine's self-trade prevention mode."""

        stp = serializers.ChoiceField(
            choices=list(StpMode.__members__), required=False, allow_null=True, help_text=(
                "Self-trade prevention when it meets your own resting order: NONE trades, "
                "CANCEL_TAKER (default unless the market says otherwise), CANCEL_MAKER, "
                "CANCEL_BOTH."))

    @extend_schema(request=PlaceInput,
                   responses={201: OrderOutput, **error_responses(404, 409)})
    def post(self, request):
        data = self.PlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        stp = fields.pop("stp", None)
        order = trading_services.order_place(user_id=request.user.pk, venue=self.venue,
                                             venue_options={"stp": stp}, **fields)
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class OrderCancelApi(VenueOrderCancelApi):
    venue = Venue.ECOSYSTEM


class OrderListsApi(VenueOrderListsApi):
    """OCO pairs and brackets on the engine: exactly one leg of a pair executes, whichever
    reaches the book first (a fired stop leg's command cancels its limit leg, or is
    dropped if that leg executed before it)."""

    venue = Venue.ECOSYSTEM


class OrderListDetailApi(VenueOrderListDetailApi):
    venue = Venue.ECOSYSTEM


class OrderListCancelApi(VenueOrderListCancelApi):
    venue = Venue.ECOSYSTEM


class TradeOutput(serializers.Serializer):
    trade_id = serializers.CharField()
    price = AmountField()
    amount = AmountField()
    taker_side = serializers.CharField()
    executed_at = serializers.DateTimeField()
    bot = serializers.BooleanField(help_text="A market maker's trade (left out of volume).")


class TradeListApi(APIView):
    """A market's trades, newest first, from the order store."""

    permission_classes = [AllowAny]

    class Input(QueryInput):
        symbol = IdentifierField(kind="symbol")
        limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
        page = serializers.CharField(required=False, max_length=200)

    @extend_schema_serializer(component_name="EcoTradePage")
    class Output(serializers.Serializer):
        trades = TradeOutput(many=True)
        next_page = serializers.CharField(allow_null=True)

    @extend_schema(parameters=[Input], responses={200: Output, **error_responses(404)})
    def get(self, request):
        query = self.Input(data=request.query_params)
        query.is_valid(raise_exception=True)
        market = selectors.market_get_enabled(symbol=query.validated_data["symbol"])
        try:
            page = get_store().market_trades(venue=Venue.ECOSYSTEM, market=market.symbol,
                                             limit=query.validated_data["limit"],
                                             page=query.validated_data.get("page"))
        except InvalidPage:
            raise InvalidInput("page is not a page token this server gave.",
                               code="invalid_page") from None
        return Response(self.Output({"trades": page.items, "next_page": page.next_page}).data)
