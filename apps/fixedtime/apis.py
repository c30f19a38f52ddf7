"""Fixed-time endpoints under /api/v1/fixedtime/ (thin: parse, call, render)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField, CursorPage, QueryInput, paged_response
from apps.core.identifiers import IdentifierField
from apps.core.schema import error_responses
from apps.fixedtime import selectors, services, tasks
from apps.fixedtime.constants import Direction, Mode
from apps.fixedtime.models import MAX_EXPIRY_SECONDS
from apps.trading.constants import Venue


class SecondsField(serializers.IntegerField):
    """Whole seconds as a JSON integer only. DRF's IntegerField also takes strings, and
    Python's ``int`` reads any Unicode digits (``"６０"``, ``"٦٠"``) and ``"60.0"``: a
    look-alike of a number is refused here, not read as one."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class FixedTimeInstrumentOutput(serializers.Serializer):
    venue = serializers.CharField(source="market.venue")
    symbol = serializers.CharField(source="market.symbol")
    currency = serializers.CharField(source="market.quote_currency")
    price_precision = serializers.IntegerField(source="market.price_precision")
    min_stake = AmountField()
    max_stake = AmountField()
    payout_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    expiries = serializers.ListField(child=serializers.IntegerField())
    timezone = serializers.CharField()
    sessions = serializers.JSONField()
    max_open_trades = serializers.IntegerField()


class InstrumentListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=FixedTimeInstrumentOutput(many=True))
    def get(self, request):
        return Response(FixedTimeInstrumentOutput(selectors.instruments_enabled(), many=True).data)


class FixedTimeTradeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    venue = serializers.CharField()
    symbol = serializers.CharField()
    mode = serializers.CharField()
    direction = serializers.CharField()
    stake = AmountField()
    currency = serializers.CharField()
    payout_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    expiry_seconds = serializers.IntegerField()
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    entry_price = AmountField()
    entry_evidence = serializers.JSONField(help_text="The quote the trade opened on.")
    exit_price = AmountField(allow_null=True)
    exit_evidence = serializers.JSONField(
        allow_null=True, help_text="The recorded quote it settled on (null while open or "
        "when void).")
    payout = AmountField(allow_null=True, allow_zero=True,
                         help_text="What was paid back: 0 for a loss, the stake for a draw "
                         "or a void, stake plus profit for a win.")
    reason = serializers.CharField()
    settled_at = serializers.DateTimeField(allow_null=True)


class TradeListCreateApi(APIView):
    pagination_class = CursorPage

    class FixedTimeOpenInput(serializers.Serializer):
        venue = serializers.ChoiceField(choices=Venue.choices, default=Venue.PAPER)
        symbol = IdentifierField(kind="symbol")
        mode = serializers.ChoiceField(choices=Mode.choices)
        direction = serializers.ChoiceField(choices=Direction.choices)
        stake = AmountField()
        expiry_seconds = SecondsField(min_value=1, max_value=MAX_EXPIRY_SECONDS)

    class FixedTimeTradeFilter(QueryInput):
        state = serializers.ChoiceField(choices=[("open", "Open"), ("settled", "Settled")],
                                        required=False,
                                        help_text="open: not yet settled; settled: the "
                                                  "history; absent: both.")

    @extend_schema(parameters=[FixedTimeTradeFilter], responses=FixedTimeTradeOutput(many=True))
    def get(self, request):
        query = self.FixedTimeTradeFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        trades = selectors.trade_list(user_id=request.user.pk,
                                      state=query.validated_data.get("state"))
        return paged_response(self, request, trades, FixedTimeTradeOutput)

    @extend_schema(request=FixedTimeOpenInput,
                   responses={201: FixedTimeTradeOutput, **error_responses(404, 409)})
    def post(self, request):
        data = self.FixedTimeOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = services.trade_open(user_id=request.user.pk, **data.validated_data,
                                    schedule=tasks.settlement_schedule)
        return Response(FixedTimeTradeOutput(trade).data, status=status.HTTP_201_CREATED)


class TradeDetailApi(APIView):
    @extend_schema(responses={200: FixedTimeTradeOutput, **error_responses(404)})
    def get(self, request, trade_id: int):
        trade = selectors.trade_get(user_id=request.user.pk, trade_id=trade_id)
        return Response(FixedTimeTradeOutput(trade).data)
