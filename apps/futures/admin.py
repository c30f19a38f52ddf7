from django import forms
from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.futures import margin
from apps.futures.models import (
    AutoDeleverage,
    Contract,
    FundingRate,
    Liquidation,
    MarginTier,
    Position,
)
from apps.trading.constants import Venue
from apps.trading.models import Market


class TierFormSet(forms.BaseInlineFormSet):
    """The tiers are saved only as a whole that ``margin.tiers_check`` accepts (they start
    at 0, each cap is the next floor, and the maintenance is continuous at the edges)."""

    def clean(self):
        super().clean()
        tiers = sorted(
            (margin.Tier(floor=f.cleaned_data["floor"], cap=f.cleaned_data.get("cap"),
                         max_leverage=f.cleaned_data["max_leverage"], mmr=f.cleaned_data["mmr"],
                         cum=f.cleaned_data["maintenance_amount"])
             for f in self.forms
             if f.cleaned_data and not f.cleaned_data.get("DELETE")),
            key=lambda tier: tier.floor)
        problems = margin.tiers_check(tiers)
        if problems:
            raise forms.ValidationError(problems)


class MarginTierInline(admin.TabularInline):
    model = MarginTier
    formset = TierFormSet
    extra = 1


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("__str__", "contract_size", "max_leverage", "funding_interval_hours",
                    "funding_rate_cap", "funding_rate_floor")
    inlines = [MarginTierInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "market":
            kwargs["queryset"] = Market.objects.filter(venue=Venue.FUTURES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "user", "contract", "status", "side", "size", "margin",
                    "liquidation_price", "generation")
    list_filter = ("status", "side", "contract")


@admin.register(Liquidation)
class LiquidationAdmin(ReadOnlyAdmin):
    list_display = ("pk", "position", "generation", "side", "size", "mark", "loss", "fee",
                    "insurance_delta", "created_at")


@admin.register(AutoDeleverage)
class AutoDeleverageAdmin(ReadOnlyAdmin):
    list_display = ("pk", "source", "liquidation", "counterparty", "side", "size", "price",
                    "realised_pnl", "rank", "score", "mark", "created_at")
    list_filter = ("side",)


@admin.register(FundingRate)
class FundingRateAdmin(ReadOnlyAdmin):
    list_display = ("contract", "funding_time", "rate", "premium", "mark", "charged")
