"""Admin of the spot venue: the exchange providers (activate, test the connection,
record the opening balances, import the markets), the exchange's markets (their
trading side is the core's market list; the bulk actions change it) and the import jobs.
Actions are thin: each calls a service."""
from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.spot import services
from apps.spot.models import SpotImportJob, SpotMarket, SpotProvider
from apps.spot.tasks import import_markets_task
from apps.trading.admin import MarketActions


class ProviderForm(forms.ModelForm):
    api_key = forms.CharField(required=False, widget=forms.PasswordInput, help_text=(
        "Stored encrypted. Leave empty to keep the current one. SPOT_API_KEY, when set, "
        "takes precedence."))
    api_secret = forms.CharField(required=False, widget=forms.PasswordInput, help_text=(
        "Stored encrypted. Leave empty to keep the current one. SPOT_API_SECRET, when set, "
        "takes precedence."))

    class Meta:
        model = SpotProvider
        fields = ["name", "title", "exchange_id", "sandbox"]


@admin.register(SpotProvider)
class SpotProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ("name", "title", "exchange_id", "is_active", "sandbox", "has_key",
                    "updated_at")
    readonly_fields = ("is_active", "opening_balances")
    actions = ["activate", "deactivate", "test_connection", "record_opening_balances",
               "import_markets"]

    @admin.display(boolean=True, description="Key stored")
    def has_key(self, obj: SpotProvider) -> bool:
        return bool(obj.api_key_encrypted)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.provider_set_credentials(provider=obj,
                                          api_key=form.cleaned_data.get("api_key") or None,
                                          api_secret=form.cleaned_data.get("api_secret") or None)

    def _each(self, request, queryset, action, done: str):
        for provider in queryset:
            try:
                result = action(provider)
            except DomainError as exc:
                self.message_user(request, f"{provider}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{provider}: {done.format(result=result)}",
                                  messages.SUCCESS)

    @admin.action(description="Activate (the one provider spot orders go to)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one provider.", messages.ERROR)
            return
        services.provider_activate(provider_id=queryset.get().pk)
        self.message_user(request, "Provider activated.", messages.SUCCESS)

    @admin.action(description="Deactivate")
    def deactivate(self, request, queryset):
        for provider in queryset:
            services.provider_deactivate(provider_id=provider.pk)

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        self._each(request, queryset,
                   lambda p: services.provider_test_connection(provider=p),
                   "connected ({result[markets]} markets, {result[balances]} balances).")

    @admin.action(description="Record the exchange account's opening balances")
    def record_opening_balances(self, request, queryset):
        self._each(request, queryset,
                   lambda p: services.provider_record_opening_balances(provider=p),
                   "opening balances recorded: {result}.")

    @admin.action(description="Import markets (the active provider's)")
    def import_markets(self, request, queryset):
        try:
            job = services.import_job_start(requested_by_id=request.user.pk,
                                            enqueue=import_markets_task.delay)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        self.message_user(request, f"Import #{job.pk} queued.", messages.SUCCESS)
        return redirect(reverse("admin:spot_spotimportjob_changelist"))


@admin.register(SpotMarket)
class SpotMarketAdmin(MarketActions, admin.ModelAdmin):
    """The exchange's markets. Their trading side (status, flags, fees, steps, limits) is
    the core's market (spot, or futures for a perpetual); these actions change it."""

    list_display = ("ccxt_symbol", "type", "market_link", "status", "is_trending", "is_hot",
                    "provider")
    list_filter = ("type", "market__venue", "market__status", "market__is_trending",
                   "market__is_hot", "provider")
    search_fields = ("ccxt_symbol", "exchange_symbol", "market__base_currency",
                     "market__quote_currency")
    list_select_related = ("market", "provider")
    readonly_fields = ("market_link", "provider", "ccxt_symbol", "exchange_symbol", "type",
                       "order_types", "contract_size", "settle_currency", "metadata",
                       "created_at", "updated_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # markets come from the import

    def has_delete_permission(self, request, obj=None):
        return False  # orders reference their markets; disable instead

    @admin.display(description="Market", ordering="market")
    def market_link(self, obj: SpotMarket) -> str:
        url = reverse("admin:trading_market_change", args=[obj.market_id])
        return format_html('<a href="{}">{}</a>', url, obj.market)

    @admin.display(description="Status", ordering="market__status")
    def status(self, obj: SpotMarket) -> str:
        return obj.market.get_status_display()

    @admin.display(boolean=True, description="Trending", ordering="market__is_trending")
    def is_trending(self, obj: SpotMarket) -> bool:
        return obj.market.is_trending

    @admin.display(boolean=True, description="Hot", ordering="market__is_hot")
    def is_hot(self, obj: SpotMarket) -> bool:
        return obj.market.is_hot

    def market_ids(self, queryset) -> list[int]:
        return list(queryset.values_list("market_id", flat=True))


@admin.register(SpotImportJob)
class SpotImportJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "status", "progress_bar", "created", "updated",
                    "message", "requested_by", "updated_at")
    list_filter = ("status",)

    @admin.display(description="Progress")
    def progress_bar(self, obj: SpotImportJob) -> str:
        return f"{obj.progress}%"
