"""Admin of the trading core: one market list across venues, and every venue's orders and
fills (read-only: money changes only through the services). Actions are thin."""
from django.contrib import admin, messages
from django.utils.timezone import localtime

from apps.core.admin import CompactListAdmin, ReadOnlyAdmin, ReasonForm, confirm_page, fixed
from apps.core.errors import DomainError
from apps.trading import services
from apps.trading.constants import CANCELLABLE_STATUSES, MarketStatus
from apps.trading.models import Fill, Market, Order, OrderList
from apps.wallets.selectors import currency_decimals_subquery


class MarketActions:
    """The bulk status and flag actions on trading markets, for any admin whose rows name
    a market (``market_ids``): the trading market list and a venue's instrument list."""

    actions = ["enable", "disable", "halt", "delist", "mark_trending", "unmark_trending",
               "mark_hot", "unmark_hot"]

    def market_ids(self, queryset) -> list[int]:
        return list(queryset.values_list("pk", flat=True))

    def _flag(self, request, queryset, **flags):
        count = services.markets_set_flags(market_ids=self.market_ids(queryset), **flags)
        self.message_user(request, f"{count} market(s) updated.", messages.SUCCESS)

    @admin.action(description="Enable for trading")
    def enable(self, request, queryset):
        self._flag(request, queryset, status=MarketStatus.ENABLED)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        self._flag(request, queryset, status=MarketStatus.DISABLED)

    @admin.action(description="Halt trading")
    def halt(self, request, queryset):
        self._flag(request, queryset, status=MarketStatus.HALTED)

    @admin.action(description="Delist")
    def delist(self, request, queryset):
        self._flag(request, queryset, status=MarketStatus.DELISTED)

    @admin.action(description="Mark trending")
    def mark_trending(self, request, queryset):
        self._flag(request, queryset, is_trending=True)

    @admin.action(description="Unmark trending")
    def unmark_trending(self, request, queryset):
        self._flag(request, queryset, is_trending=False)

    @admin.action(description="Mark hot")
    def mark_hot(self, request, queryset):
        self._flag(request, queryset, is_hot=True)

    @admin.action(description="Unmark hot")
    def unmark_hot(self, request, queryset):
        self._flag(request, queryset, is_hot=False)


@admin.register(Market)
class MarketAdmin(MarketActions, CompactListAdmin):
    list_display = ("symbol", "venue", "kind", "base_currency", "quote_currency", "status",
                    "is_trending", "is_hot", "tick", "lot", "maker", "taker")
    list_filter = ("venue", "status", "kind", "is_trending", "is_hot", "quote_currency")
    search_fields = ("symbol", "base_currency", "quote_currency")
    # What a venue's import owns is read-only; the admin decides the rest.
    readonly_fields = ("venue", "symbol", "base_currency", "quote_currency", "kind",
                       "tick_size", "lot_size", "status", "created_at", "updated_at")
    fields = ("venue", "symbol", "base_currency", "quote_currency", "kind", "status",
              "is_trending", "is_hot", "tick_size", "lot_size", "min_amount", "max_amount",
              "min_notional", "max_notional", "maker_fee", "taker_fee", "created_at",
              "updated_at")

    @admin.display(description="tick", ordering="tick_size")
    def tick(self, market: Market) -> str:
        return fixed(market.tick_size, None)

    @admin.display(description="lot", ordering="lot_size")
    def lot(self, market: Market) -> str:
        return fixed(market.lot_size, None)

    @admin.display(description="maker fee", ordering="maker_fee")
    def maker(self, market: Market) -> str:
        return fixed(market.maker_fee, None)

    @admin.display(description="taker fee", ordering="taker_fee")
    def taker(self, market: Market) -> str:
        return fixed(market.taker_fee, None)

    def has_add_permission(self, request):
        return False  # markets come from their venue (catalog import or venue admin)

    def has_delete_permission(self, request, obj=None):
        return False  # orders reference them; disable or delist instead


class SetAsideFilter(admin.SimpleListFilter):
    title = "set aside (cannot settle)"
    parameter_name = "set_aside"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(settle_error="")
        if self.value() == "no":
            return queryset.filter(settle_error="")
        return queryset


class MarketDecimals:
    """Prices with their market's decimals, amounts with its lot's, quote amounts and fees
    with the quote currency's (annotated on the list's one query)."""

    market_path = "market"  # from the listed row to its market

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(self.market_path).annotate(
            quote_decimals=currency_decimals_subquery(
                code_field=f"{self.market_path}__quote_currency"))

    @staticmethod
    def _market(obj) -> Market:
        return obj.market if isinstance(obj, Order) else obj.order.market

    @admin.display(description="price", ordering="price")
    def price_shown(self, obj) -> str:
        return fixed(obj.price, self._market(obj).price_precision)

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj) -> str:
        return fixed(obj.amount, self._market(obj).amount_precision)

    @admin.display(description="fee", ordering="fee")
    def fee_shown(self, obj) -> str:
        return fixed(obj.fee, getattr(obj, "quote_decimals", None))

    @admin.display(description="quote amount", ordering="quote_amount")
    def quote_amount_shown(self, fill: Fill) -> str:
        return fixed(fill.quote_amount, getattr(fill, "quote_decimals", None))


class FillInline(MarketDecimals, admin.TabularInline):
    model = Fill
    market_path = "order__market"
    fields = ("trade_id", "price_shown", "amount_shown", "quote_amount_shown", "liquidity",
              "fee_shown", "fee_currency", "executed_at", "settlement_key", "evidence")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(MarketDecimals, ReadOnlyAdmin):
    # What fits a 1366 px screen; the rest (time in force, list, role, trigger) is on the
    # order's page and in the filters; the market names its venue.
    list_display = ("id", "user", "market", "type", "side", "status", "price_and_stop",
                    "amount_shown", "filled_shown", "cost_shown", "fee_shown", "placed",
                    "settle_error")
    list_filter = (SetAsideFilter, "venue", "status", "type", "side", "time_in_force",
                   "role", "trigger_source")
    search_fields = ("user__username", "market__symbol", "client_order_id", "external_id")
    list_select_related = ("user", "market")
    inlines = [FillInline]
    actions = ["retry_settlement", "cancel_orders"]

    @admin.display(description="price / stop", ordering="price")
    def price_and_stop(self, order: Order) -> str:
        places = order.market.price_precision
        price = "market" if order.price is None else fixed(order.price, places)
        if order.stop_price is None:
            return price
        return f"{price} / stop {fixed(order.stop_price, places)}"

    @admin.display(description="placed", ordering="created_at")
    def placed(self, order: Order) -> str:
        return localtime(order.created_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="filled", ordering="filled")
    def filled_shown(self, order: Order) -> str:
        return fixed(order.filled, order.market.amount_precision)

    @admin.display(description="cost", ordering="cost")
    def cost_shown(self, order: Order) -> str:
        return fixed(order.cost, getattr(order, "quote_decimals", None))

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("trading.change_order")

    @admin.action(description="Cancel open orders (asks for a reason)",
                  permissions=["cancel"])
    def cancel_orders(self, request, queryset):
        """Cancels each selected live order as its owner would, the reason recorded on the
        order and in the audit trail (``order_cancel_by_admin``)."""
        queryset = queryset.filter(status__in=CANCELLABLE_STATUSES)
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return confirm_page(request, queryset=queryset, form=form, title="Cancel orders",
                                action="cancel_orders", empty_text="nothing (no open order)")
        for order_id in queryset.values_list("pk", flat=True):
            try:
                services.order_cancel_by_admin(order_id=order_id, admin_id=request.user.pk,
                                               reason=form.cleaned_data["reason"])
            except DomainError as exc:
                self.message_user(request, f"Order {order_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Order {order_id}: cancelled.", messages.SUCCESS)
        return None

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("trading.change_order")

    @admin.action(description="Retry settlement of set-aside orders", permissions=["retry"])
    def retry_settlement(self, request, queryset):
        cleared = services.orders_retry_settlement(
            order_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{cleared} order(s) will be tried again on the next "
                                   f"crossing price or sweep.", messages.SUCCESS)


class ListOrderInline(admin.TabularInline):
    model = Order
    fields = ("id", "role", "type", "side", "status", "price", "stop_price", "amount",
              "filled", "hold_key", "triggered_at", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OrderList)
class OrderListAdmin(ReadOnlyAdmin):
    """OCO pairs and brackets, with their orders (which leg executed: its status)."""

    list_display = ("id", "venue", "user", "market", "kind", "client_order_id", "created_at")
    list_filter = ("venue", "kind")
    search_fields = ("user__username", "market__symbol", "client_order_id")
    list_select_related = ("user", "market")
    inlines = [ListOrderInline]


@admin.register(Fill)
class FillAdmin(MarketDecimals, ReadOnlyAdmin):
    market_path = "order__market"
    list_display = ("id", "venue", "trade_id", "order", "price_shown", "amount_shown",
                    "quote_amount_shown", "liquidity", "fee_shown", "fee_currency",
                    "executed_at")
    list_filter = ("venue", "liquidity")
    search_fields = ("trade_id", "settlement_key", "order__client_order_id")
