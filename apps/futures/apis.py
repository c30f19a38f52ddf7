"""Futures endpoints under /api/v1/futures/ (thin: parse, call, render)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField, QueryInput
from apps.core.errors import InvalidInput
from apps.core.identifiers import IdentifierField
from apps.core.schema import error_responses
from apps.futures import selectors, services
from apps.trading.constants import Side


class LeverageField(serializers.IntegerField):
    """A whole number as JSON/query text of ASCII digits only (no "10.0", no look-alike
    digits, no booleans)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
                type(data) is int or (isinstance(data, str) and data.isascii()
                                      and data.isdigit() and len(data) <= 4)):
            self.fail("invalid")
        return super().to_internal_value(data)


class SignedAmountField(serializers.DecimalField):
    """A signed amount, rendered as a string."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=36, decimal_places=18, **kwargs)

    def to_representation(self, value):
        return None if value is None else format(value.normalize(), "f")


class PreviewOutput(serializers.Serializer):
    side = serializers.CharField()
    size = SignedAmountField()
    entry_price = SignedAmountField(allow_null=True)
    margin = SignedAmountField()
    initial_margin = SignedAmountField(help_text="What the order puts into the margin.")
    fee = SignedAmountField(help_text="The taker fee, from the available balance.")
    realised_pnl = SignedAmountField(help_text="What the order's reducing part realises.")
    maintenance_rate = SignedAmountField(allow_null=True)
    tier_max_leverage = serializers.IntegerField(allow_null=True)
    liquidation_price = SignedAmountField(
        allow_null=True, help_text="Null: the position cannot be liquidated (or is flat).")
    bankruptcy_price = SignedAmountField(allow_null=True)


class PreviewApi(APIView):
    class PreviewInput(QueryInput):
        symbol = IdentifierField(kind="symbol")
        side = serializers.ChoiceField(choices=Side.choices)
        amount = AmountField()
        price = AmountField()
        leverage = LeverageField(min_value=1, max_value=1000)

    @extend_schema(parameters=[PreviewInput],
                   responses={200: PreviewOutput, **error_responses(404)})
    def get(self, request):
        query = self.PreviewInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        contract = selectors.contract_get(symbol=data.pop("symbol"))
        preview = services.liquidation_price_preview(user_id=request.user.pk,
                                                     contract=contract, **data)
        return Response(PreviewOutput(preview).data)


class FundingOutput(serializers.Serializer):
    funding_time = serializers.DateTimeField()
    rate = SignedAmountField(allow_null=True, help_text="Null without a fresh index.")
    mark = SignedAmountField(allow_null=True)
    amount = SignedAmountField(allow_null=True,
                               help_text="Your position's estimated payment (> 0) or "
                                         "receipt (< 0); null without a position.")


class FundingApi(APIView):
    permission_classes = [AllowAny]

    class FundingInput(QueryInput):
        symbol = IdentifierField(kind="symbol")

    @extend_schema(parameters=[FundingInput],
                   responses={200: FundingOutput, **error_responses(404)})
    def get(self, request):
        query = self.FundingInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        contract = selectors.contract_get(symbol=query.validated_data["symbol"])
        user_id = request.user.pk if request.user.is_authenticated else None
        return Response(FundingOutput(services.funding_preview(contract=contract,
                                                               user_id=user_id)).data)


class PositionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField(source="contract.market.symbol")
    side = serializers.CharField()
    size = SignedAmountField()
    entry_price = SignedAmountField(allow_null=True)
    leverage = serializers.IntegerField()
    margin = SignedAmountField()
    realised_pnl = SignedAmountField()
    fees = SignedAmountField()
    funding = SignedAmountField()
    liquidation_price = SignedAmountField(allow_null=True)
    bankruptcy_price = SignedAmountField(allow_null=True)
    adl_quantile = serializers.SerializerMethodField(
        help_text="Auto-deleveraging queue: 1-5 lights (5: first fifth of the queue) among "
                  "the contract's positions of this side in profit at the latest mark; 0 "
                  "not in profit; null without a mark (or where not ranked).")

    def get_adl_quantile(self, position) -> int | None:
        return self.context.get("adl_quantiles", {}).get(position.pk)


class PositionListApi(APIView):
    @extend_schema(responses=PositionOutput(many=True))
    def get(self, request):
        positions = list(selectors.positions_of(user_id=request.user.pk))
        quantiles = selectors.positions_adl_quantiles(positions=positions)
        return Response(PositionOutput(positions, many=True,
                                       context={"adl_quantiles": quantiles}).data)


class PositionMarginApi(APIView):
    class MarginInput(serializers.Serializer):
        action = serializers.ChoiceField(choices=[("add", "Add"), ("remove", "Remove")])
        amount = AmountField()
        client_id = IdentifierField(kind="client_id",
                                    help_text="Your id of this change: a retry with the "
                                              "same id changes nothing again.")

    @extend_schema(request=MarginInput,
                   responses={200: PositionOutput, **error_responses(404, 409)})
    def post(self, request, position_id: int):
        data = self.MarginInput(data=request.data)
        data.is_valid(raise_exception=True)
        change = (services.position_margin_add if data.validated_data["action"] == "add"
                  else services.position_margin_remove)
        position = change(user_id=request.user.pk, position_id=position_id,
                          amount=data.validated_data["amount"],
                          key=f"{request.user.pk}:{data.validated_data['client_id']}")
        return Response(PositionOutput(position).data)


class ExitsOutput(serializers.Serializer):
    position_id = serializers.IntegerField()
    take_profit_price = SignedAmountField(allow_null=True)
    stop_loss_price = SignedAmountField(allow_null=True)


class PositionExitsApi(APIView):
    """The position's take-profit and stop-loss, triggered by the mark price
    (``services.exits``): a price sets or replaces that exit, null clears it, an omitted
    one stays."""

    class ExitsInput(serializers.Serializer):
        take_profit_price = AmountField(required=False, allow_null=True, help_text=(
            "Close the whole position at the market when the mark reaches this: above the "
            "mark for a long, below for a short. Null clears it."))
        stop_loss_price = AmountField(required=False, allow_null=True, help_text=(
            "Close the whole position at the market when the mark reaches this: below the "
            "mark for a long, above for a short. Null clears it."))

    @extend_schema(request=ExitsInput,
                   responses={200: ExitsOutput, **error_responses(404, 409)})
    def post(self, request, position_id: int):
        data = self.ExitsInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise InvalidInput("Give take_profit_price or stop_loss_price (null clears).")
        position = services.position_exits_set(user_id=request.user.pk,
                                               position_id=position_id,
                                               **data.validated_data)
        exits = selectors.exit_prices(market_id=position.contract.market_id,
                                      user_ids=[request.user.pk]).get(request.user.pk, {})
        return Response(ExitsOutput({"position_id": position.pk, **{
            name: exits.get(name) for name in ("take_profit_price", "stop_loss_price")}}).data)
