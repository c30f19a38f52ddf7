"""The trading core's API pieces every venue's API shares: the order, fill and order
list renderings, and the views that list, place and cancel a venue's orders (a venue's
``apis.py`` subclasses them with its ``venue``; thin: parse, call the core, render)."""
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import (
    AmountField,
    CursorPage,
    InputSerializer,
    OutputSerializer,
    QueryInput,
    paged_response,
)
from apps.core.identifiers import IdentifierField
from apps.core.schema import error_responses
from apps.marketdata.quotes import Quote
from apps.trading import selectors as trading_selectors
from apps.trading import services as trading_services
from apps.trading.constants import (
    CANCELLABLE_STATUSES,
    CONDITIONAL_TYPES,
    OrderListKind,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerSource,
)
from apps.trading.models import Fill, Order, OrderList


class MarketFieldsOutput(serializers.Serializer):
    """A core ``Market``'s trading terms, as every venue's market list shows them (a venue
    subclasses it and adds its own fields, sourced through the market's venue row)."""

    symbol = serializers.CharField()
    base_currency = serializers.CharField()
    quote_currency = serializers.CharField()
    price_precision = serializers.IntegerField()
    amount_precision = serializers.IntegerField()
    tick_size = AmountField()
    lot_size = AmountField()
    min_amount = AmountField(allow_zero=True)
    max_amount = AmountField(allow_null=True)
    min_notional = AmountField(allow_zero=True)
    max_notional = AmountField(allow_null=True)
    maker_fee = serializers.DecimalField(max_digits=8, decimal_places=6)
    taker_fee = serializers.DecimalField(max_digits=8, decimal_places=6)


class FillOutput(OutputSerializer):
    trade_id = serializers.CharField()
    price = AmountField()
    amount = AmountField()
    quote_amount = AmountField()
    fee = AmountField(allow_zero=True)
    fee_currency = serializers.CharField()
    liquidity = serializers.CharField()
    executed_at = serializers.DateTimeField()


class OrderOutput(OutputSerializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    symbol = serializers.CharField(source="market.symbol")
    type = serializers.CharField()
    side = serializers.CharField()
    time_in_force = serializers.CharField()
    post_only = serializers.BooleanField()
    status = serializers.CharField()
    reason = serializers.CharField()
    price = AmountField(allow_null=True)
    amount = AmountField(help_text=(
        "A budget order's (quote_amount) is an estimate until it ends, then what it "
        "bought."))
    quote_amount = AmountField(allow_null=True, help_text=(
        "A MARKET BUY's budget in the quote currency; null for the others."))
    filled = AmountField(allow_zero=True)
    remaining = AmountField(allow_zero=True)
    cost = AmountField(allow_zero=True)
    fee = AmountField(allow_zero=True)
    fee_currency = serializers.CharField()
    liquidity = serializers.SerializerMethodField()
    fill = serializers.SerializerMethodField()
    fills = serializers.SerializerMethodField()
    # Conditional orders (null or empty for the others).
    stop_price = AmountField(allow_null=True, help_text=(
        "The trigger price; a trailing stop's current one (null until it activates)."))
    trigger_direction = serializers.CharField(help_text=(
        "RISE: fires when the price rises to stop_price; FALL: when it falls to it."))
    trigger_source = serializers.CharField(help_text=(
        "The price compared: LAST, or BID_ASK (the bid for a sell, the ask for a buy)."))
    trailing_delta = AmountField(allow_null=True)
    trailing_rate = AmountField(allow_null=True)
    activation_price = AmountField(allow_null=True)
    trailing_best = AmountField(allow_null=True, help_text=(
        "A trailing stop's best price since activation."))
    triggered_at = serializers.DateTimeField(allow_null=True)
    trigger = serializers.SerializerMethodField()
    trigger_by = serializers.SerializerMethodField(help_text=(
        "Who triggers a conditional order: 'platform' (on the venue's quotes) or 'venue' "
        "(the exchange's own stop order, sent at once); empty for the other types."))
    group_id = serializers.IntegerField(allow_null=True, help_text=(
        "The order list (OCO, bracket) the order belongs to."))
    role = serializers.CharField(help_text="Its part in the list: ENTRY, LIMIT or STOP.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class TriggerEvidence(OutputSerializer):
        """The quote that fired the trigger."""

        quote_price = AmountField()
        quote_bid = AmountField(allow_null=True)
        quote_ask = AmountField(allow_null=True)
        quote_timestamp = serializers.DateTimeField()
        quote_source = serializers.CharField()

    class FillEvidence(OutputSerializer):
        """The latest fill and the quote it was executed against (null for a fill an
        exchange executed: its trade is in ``fills``)."""

        price = AmountField()
        quote_price = AmountField()
        quote_bid = AmountField(allow_null=True)
        quote_ask = AmountField(allow_null=True)
        quote_timestamp = serializers.DateTimeField()
        quote_source = serializers.CharField()
        filled_at = serializers.DateTimeField()

    def get_trigger_by(self, order: Order) -> str:
        if order.type not in CONDITIONAL_TYPES:
            return ""
        # A platform trigger has a direction to watch; a venue's own stop order has none.
        return "platform" if order.trigger_direction else "venue"

    @staticmethod
    def _fills(order: Order) -> list[Fill]:
        if not order.filled:
            return []  # nothing to read
        # Prefetched by the selectors for lists; read once per order otherwise.
        if "_fills" not in order.__dict__:
            order.__dict__["_fills"] = list(order.fills.all())
        return order.__dict__["_fills"]

    def _last_fill(self, order: Order) -> Fill | None:
        fills = self._fills(order)
        return fills[-1] if fills else None

    @extend_schema_field(FillOutput(many=True))
    def get_fills(self, order: Order) -> list[dict]:
        return FillOutput(self._fills(order), many=True).data

    def get_liquidity(self, order: Order) -> str:
        fill = self._last_fill(order)
        return fill.liquidity if fill else ""

    @extend_schema_field(FillEvidence(allow_null=True))
    def get_fill(self, order: Order) -> dict | None:
        fill = self._last_fill(order)
        if fill is None or "quote" not in fill.evidence:
            return None  # none yet, or executed by an exchange (its trade, not a quote)
        quote = Quote.from_dict(fill.evidence["quote"])
        return self.FillEvidence({
            "price": fill.price, "quote_price": quote.price, "quote_bid": quote.bid,
            "quote_ask": quote.ask, "quote_timestamp": quote.timestamp,
            "quote_source": quote.source, "filled_at": fill.executed_at}).data

    @extend_schema_field(TriggerEvidence(allow_null=True))
    def get_trigger(self, order: Order) -> dict | None:
        if not order.trigger_evidence:
            return None
        quote = Quote.from_dict(order.trigger_evidence["quote"])
        return self.TriggerEvidence({
            "quote_price": quote.price, "quote_bid": quote.bid, "quote_ask": quote.ask,
            "quote_timestamp": quote.timestamp, "quote_source": quote.source}).data


def trigger_source_field() -> serializers.ChoiceField:
    # The prices a platform trigger compares on the paper and spot venues (no MARK: only
    # a venue with a mark price has one).
    return serializers.ChoiceField(
        choices=sorted([TriggerSource.LAST, TriggerSource.BID_ASK]), required=False,
        allow_null=True,
        help_text="The price a trigger compares: LAST (default) or BID_ASK (the bid for a "
                  "sell, the ask for a buy).")


class VenueOrdersApi(APIView):
    """A venue's orders: list them, place one. A venue's API subclasses it with its
    ``venue``."""

    venue: str

    pagination_class = CursorPage

    class PlaceInput(InputSerializer):
        symbol = IdentifierField(kind="symbol")
        side = serializers.ChoiceField(choices=Side.choices)
        type = serializers.ChoiceField(choices=OrderType.choices, help_text=(
            "The conditional types wait PENDING (funds held) until the price reaches "
            "stop_price (TRAILING_STOP: its trailing trigger), then work as a MARKET order "
            "(*_MARKET, TRAILING_STOP) or a LIMIT order at price (*_LIMIT)."))
        amount = AmountField(required=False, allow_null=True, help_text=(
            "Base currency; required unless a MARKET BUY gives quote_amount."))
        quote_amount = AmountField(required=False, allow_null=True, help_text=(
            "MARKET BUY only, instead of amount: the quote currency to spend (before the "
            "taker fee, which is held on top); the order buys whole lots while it lasts "
            "and its amount becomes what it bought. Not every venue offers it."))
        price = AmountField(required=False, allow_null=True, help_text=(
            "The limit price: LIMIT, STOP_LIMIT and TAKE_PROFIT_LIMIT only."))
        time_in_force = serializers.ChoiceField(choices=TimeInForce.choices,
                                                default=TimeInForce.GTC)
        post_only = serializers.BooleanField(default=False)
        client_order_id = IdentifierField(kind="client_id", required=False)
        stop_price = AmountField(required=False, allow_null=True, help_text=(
            "STOP_* and TAKE_PROFIT_*: the trigger price (a buy stop above the market, a "
            "sell stop below; a take-profit the other way round)."))
        trigger_source = trigger_source_field()
        trailing_delta = AmountField(required=False, allow_null=True, help_text=(
            "TRAILING_STOP: the callback distance from the best price (quote currency)."))
        trailing_rate = AmountField(required=False, allow_null=True, help_text=(
            "TRAILING_STOP: the callback as a fraction of the best price (0.001 to 0.2)."))
        activation_price = AmountField(required=False, allow_null=True, help_text=(
            "TRAILING_STOP: trailing starts when the price reaches this."))

    class FilterInput(QueryInput):
        status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
        symbol = IdentifierField(kind="symbol", required=False)

    @extend_schema(parameters=[FilterInput], responses=OrderOutput(many=True))
    def get(self, request):
        query = self.FilterInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        orders = trading_selectors.order_list(user_id=request.user.pk, venue=self.venue,
                                              **query.validated_data)
        return paged_response(self, request, orders, OrderOutput)

    @extend_schema(request=PlaceInput,
                   responses={201: OrderOutput, **error_responses(404, 409)})
    def post(self, request):
        data = self.PlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = trading_services.order_place(user_id=request.user.pk, venue=self.venue,
                                             **data.validated_data)
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)


class VenueOrderCancelApi(APIView):
    """Cancel one of the user's orders on the subclass's ``venue``."""

    venue: str

    @extend_schema(request=None, responses={200: OrderOutput, **error_responses(404, 409)})
    def post(self, request, order_id: int):
        order = trading_services.order_cancel(user_id=request.user.pk, venue=self.venue,
                                              order_id=order_id)
        return Response(OrderOutput(order).data)


class OrderListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    kind = serializers.CharField()
    symbol = serializers.CharField(source="market.symbol")
    live = serializers.SerializerMethodField()
    executed_role = serializers.SerializerMethodField()
    orders = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_live(self, group: OrderList) -> bool:
        """Whether any of its orders may still trigger or fill."""
        return any(o.status in CANCELLABLE_STATUSES for o in group.orders.all())

    @extend_schema_field(serializers.ChoiceField(
        choices=[OrderRole.LIMIT, OrderRole.STOP], allow_null=True,
        help_text="The exit leg that filled or triggered (its sibling was cancelled)."))
    def get_executed_role(self, group: OrderList) -> str | None:
        for order in group.orders.all():
            if order.role != OrderRole.ENTRY and (order.filled or order.triggered_at):
                return order.role
        return None

    @extend_schema_field(OrderOutput(many=True))
    def get_orders(self, group: OrderList) -> list[dict]:
        return OrderOutput(group.orders.all(), many=True).data


class VenueOrderListsApi(APIView):
    """A venue's OCO pairs and brackets: list them, place one (a subclass sets
    ``venue``)."""

    venue: str

    pagination_class = CursorPage

    class OrderListPlaceInput(serializers.Serializer):
        symbol = IdentifierField(kind="symbol")
        kind = serializers.ChoiceField(choices=OrderListKind.choices, help_text=(
            "OCO: a LIMIT leg at price and a stop leg at stop_price, one cancels the other. "
            "BRACKET: an entry (entry_type at price) whose take-profit and stop-loss become "
            "an OCO once it fills."))
        side = serializers.ChoiceField(choices=Side.choices, help_text=(
            "OCO: both legs' side. BRACKET: the entry's (the exits take the other)."))
        amount = AmountField()
        price = AmountField(required=False, allow_null=True, help_text=(
            "OCO: the limit leg's price. BRACKET: the LIMIT entry's price."))
        stop_price = AmountField(help_text="The stop leg's trigger price.")
        stop_limit_price = AmountField(required=False, allow_null=True, help_text=(
            "The stop leg's limit (STOP_LIMIT); without it the stop leg is a STOP_MARKET."))
        take_profit_price = AmountField(required=False, allow_null=True, help_text=(
            "BRACKET only: the take-profit LIMIT leg's price."))
        entry_type = serializers.ChoiceField(
            choices=[OrderType.LIMIT, OrderType.MARKET], default=OrderType.LIMIT,
            help_text="BRACKET only: the entry's type.")
        trigger_source = trigger_source_field()
        client_order_id = IdentifierField(kind="client_id", required=False)

    class FilterInput(QueryInput):
        kind = serializers.ChoiceField(choices=OrderListKind.choices, required=False)
        symbol = IdentifierField(kind="symbol", required=False)

    @extend_schema(parameters=[FilterInput], responses=OrderListOutput(many=True))
    def get(self, request):
        query = self.FilterInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        lists = trading_selectors.order_lists(user_id=request.user.pk, venue=self.venue,
                                              **query.validated_data)
        return paged_response(self, request, lists, OrderListOutput)

    @extend_schema(request=OrderListPlaceInput,
                   responses={201: OrderListOutput, **error_responses(404, 409)})
    def post(self, request):
        data = self.OrderListPlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        group = trading_services.order_list_place(user_id=request.user.pk, venue=self.venue,
                                                  **data.validated_data)
        group = trading_selectors.order_list_get(user_id=request.user.pk, venue=self.venue,
                                                 list_id=group.pk)
        return Response(OrderListOutput(group).data, status=status.HTTP_201_CREATED)


class VenueOrderListDetailApi(APIView):
    venue: str

    @extend_schema(responses={200: OrderListOutput, **error_responses(404)})
    def get(self, request, list_id: int):
        group = trading_selectors.order_list_get(user_id=request.user.pk, venue=self.venue,
                                                 list_id=list_id)
        return Response(OrderListOutput(group).data)


class VenueOrderListCancelApi(APIView):
    venue: str

    @extend_schema(request=None, responses={200: OrderListOutput, **error_responses(404, 409)})
    def post(self, request, list_id: int):
        group = trading_services.order_list_cancel(user_id=request.user.pk, venue=self.venue,
                                                   list_id=list_id)
        return Response(OrderListOutput(group).data)
