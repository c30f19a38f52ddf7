"""Futures orders under /api/v1/futures/orders/ (thin): the trading core's order views
and renderings (``apps.trading.apis``) with the futures inputs, leverage and
reduce-only, and the take-profit and stop-loss its first fill sets on the position, placed
by ``services.orders.futures_order_place``. Conditional types are not taken here."""
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.core.api import AmountField
from apps.core.schema import error_responses
from apps.futures.services.orders import futures_order_place
from apps.trading.apis import OrderOutput, VenueOrderCancelApi, VenueOrdersApi
from apps.trading.constants import OrderType, Venue


class LeverageField(serializers.IntegerField):
    """A JSON whole number only: DRF's IntegerField would also take "10", 10.0 (parsed as
    a Decimal) or "1e1", and a leverage sent as anything but a number is a client's
    mistake worth a 400, not a guess."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrderListCreateApi(VenueOrdersApi):
    venue = Venue.FUTURES

    @extend_schema_serializer(component_name="FuturesOrderPlaceInput")
    class PlaceInput(VenueOrdersApi.PlaceInput):
        """The core's LIMIT or MARKET order, with its leverage and reduce-only flag."""

        type = serializers.ChoiceField(choices=[OrderType.LIMIT, OrderType.MARKET])
        leverage = LeverageField(min_value=1, help_text=(
            "1 to the contract's maximum, and at most the maximum of the tier of the "
            "position the order would leave."))
        reduce_only = serializers.BooleanField(default=False, help_text=(
            "Only reduce the open position of the other side (sized down to it)."))
        take_profit_price = AmountField(required=False, help_text=(
            "Set on the position as its take-profit (mark-triggered) when the order "
            "first fills: a BUY's above its price (a MARKET order's: the mark), a SELL's "
            "below. Not on a reduce-only order."))
        stop_loss_price = AmountField(required=False, help_text=(
            "Set on the position as its stop-loss when the order first fills: a BUY's "
            "below its price (or the mark), a SELL's above."))
        # The base amount always: the core's amount is optional for a budget MARKET BUY
        # (quote_amount), which the futures venue does not fill (its gateway's
        # quote_budget), so neither is inherited.
        amount = AmountField(help_text="Base currency.")
        stop_price = trigger_source = trailing_delta = trailing_rate = None
        activation_price = quote_amount = None

    @extend_schema(request=PlaceInput,
                   responses={201: OrderOutput, **error_responses(404, 409)})
    def post(self, request):
        data = self.PlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = futures_order_place(user_id=request.user.pk, **data.validated_data)
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class OrderCancelApi(VenueOrderCancelApi):
    venue = Venue.FUTURES
