"""Admin: instruments are edited here; trades and recorded quotes are read-only records."""
from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.fixedtime.models import Instrument, RecordedQuote, Trade


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("market", "enabled", "min_stake", "max_stake", "payout_percent",
                    "expiries", "timezone", "max_open_trades", "updated_at")
    list_filter = ("enabled", "market__venue")
    list_editable = ("enabled",)
    search_fields = ("market__symbol",)
    autocomplete_fields = ("market",)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "mode", "venue", "symbol", "direction", "stake",
                    "payout_percent", "status", "entry_price", "exit_price", "payout",
                    "expires_at", "settled_at")
    list_filter = ("status", "mode", "venue", "direction")
    search_fields = ("symbol", "user__username", "hold_key", "journal_key")
    date_hierarchy = "opened_at"


@admin.register(RecordedQuote)
class RecordedQuoteAdmin(ReadOnlyAdmin):
    list_display = ("venue", "symbol", "timestamp", "price", "bid", "ask", "source",
                    "received_at")
    list_filter = ("venue",)
    search_fields = ("symbol",)
