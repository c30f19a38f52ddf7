"""Admin of the trading core: one market list across venues, and every venue's orders and
fills (read-only: money changes only through the services). Actions are thin."""
from django.contrib import admin, messages

from apps.core.admin import ReadOnlyAdmin
from apps.trading import services
from apps.trading.constants import MarketStatus
from apps.trading.models import Fill, Market, Order, OrderList


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
class MarketAdmin(MarketActions, admin.ModelAdmin):
    list_display = ("symbol", "venue", "kind", "base_currency", "quote_currency", "status",
                    "is_trending", "is_hot", "tick_size", "lot_size", "maker_fee",
                    "taker_fee")
    list_filter = ("venue", "status", "kind", "is_trending", "is_hot", "quote_currency")
    search_fields = ("symbol", "base_currency", "quote_currency")
    # What a venue's import owns is read-only; the admin decides the rest.
    readonly_fields = ("venue", "symbol", "base_currency", "quote_currency", "kind",
                       "tick_size", "lot_size", "status", "created_at", "updated_at")
    fields = ("venue", "symbol", "base_currency", "quote_currency", "kind", "status",
              "is_trending", "is_hot", "tick_size", "lot_size", "min_amount", "max_amount",
              "min_notional", "max_notional", "maker_fee", "taker_fee", "created_at",
              "updated_at")

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


class FillInline(admin.TabularInline):
    model = Fill
    fields = ("trade_id", "price", "amount", "quote_amount", "liquidity", "fee",
              "fee_currency", "executed_at", "settlement_key", "evidence")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "venue", "user", "market", "type", "side", "time_in_force",
                    "status", "price", "stop_price", "amount", "filled", "cost", "fee",
                    "group", "role", "triggered_at", "created_at", "settle_error",
                    "settle_error_at")
    list_filter = (SetAsideFilter, "venue", "status", "type", "side", "time_in_force",
                   "role", "trigger_source")
    search_fields = ("user__username", "market__symbol", "client_order_id", "external_id")
    list_select_related = ("user", "market")
    inlines = [FillInline]
    actions = ["retry_settlement"]

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
class FillAdmin(ReadOnlyAdmin):
    list_display = ("id", "venue", "trade_id", "order", "price", "amount", "quote_amount",
                    "liquidity", "fee", "fee_currency", "executed_at")
    list_filter = ("venue", "liquidity")
    search_fields = ("trade_id", "settlement_key", "order__client_order_id")
