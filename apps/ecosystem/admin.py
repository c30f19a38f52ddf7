"""The operator lists blockchains, tokens and markets here. A market is created through
``services.market_create`` (its core market, steps checked), so it is added from the
token's action rather than by hand; its tick, lot, fees and status are edited on the
core's market list."""
from django.contrib import admin

from apps.ecosystem.models import Blockchain, EcoMarket, Token


@admin.register(Blockchain)
class BlockchainAdmin(admin.ModelAdmin):
    list_display = ("name", "chain_id", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "chain", "contract_address", "decimals", "status")
    list_filter = ("status", "chain")
    search_fields = ("symbol", "name", "contract_address")

    def get_readonly_fields(self, request, obj=None):
        # A listed token's symbol and decimals are its wallet currency's: fixed.
        return ("symbol", "decimals") if obj is not None else ()


@admin.register(EcoMarket)
class EcoMarketAdmin(admin.ModelAdmin):
    list_display = ("market", "base_token", "stp_default", "market_status", "created_at")
    list_select_related = ("market", "base_token")
    readonly_fields = ("market", "base_token")

    @admin.display(description="status")
    def market_status(self, obj: EcoMarket) -> str:
        return obj.market.get_status_display()

    def has_add_permission(self, request):
        return False  # services.market_create (manage.py eco_market_create) makes them
