"""Admin for paper trading: providers, the instrument catalog, import jobs, orders.
Actions are thin: each calls a service."""
from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.errors import DomainError
from apps.twelvedata import gateway, services
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdOrder, TwdProvider
from apps.twelvedata.tasks import import_catalog_task


class ProviderForm(forms.ModelForm):
    api_key = forms.CharField(required=False, widget=forms.PasswordInput,
                              help_text="Stored encrypted. Leave empty to keep the current "
                                        "key. TWELVEDATA_API_KEY, when set, takes precedence.")

    class Meta:
        model = TwdProvider
        fields = ["name", "title", "status"]


@admin.register(TwdProvider)
class TwdProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ("name", "title", "status", "has_key", "updated_at")
    actions = ["enable", "disable", "test_connection"]

    @admin.display(boolean=True, description="API key stored")
    def has_key(self, obj: TwdProvider) -> bool:
        return bool(obj.api_key_encrypted)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("api_key"):
            services.provider_set_key(provider=obj, api_key=form.cleaned_data["api_key"])

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        queryset.update(status=True)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        queryset.update(status=False)

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for provider in queryset:
            try:
                pairs = services.provider_test_connection(provider=provider)
            except DomainError as exc:
                self.message_user(request, f"{provider}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{provider}: connected ({pairs} forex pairs).",
                                  messages.SUCCESS)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k) for k in (*gateway.CATALOG_KINDS, "all")])


@admin.register(TwdMarket)
class TwdMarketAdmin(admin.ModelAdmin):
    change_list_template = "admin/twelvedata/twdmarket/change_list.html"
    list_display = ("symbol", "name", "type", "exchange", "status", "is_trending", "is_hot",
                    "maker_fee", "taker_fee")
    list_filter = ("type", "status", "is_trending", "is_hot")
    search_fields = ("symbol", "name", "base_currency", "quote_currency", "exchange")
    readonly_fields = ("symbol", "type", "name", "base_currency", "quote_currency", "exchange",
                       "mic_code", "metadata", "status", "created_at", "updated_at")
    fields = (*readonly_fields[:-2], "is_trending", "is_hot", "price_precision",
              "amount_precision", "maker_fee", "taker_fee", "created_at", "updated_at")
    actions = ["enable", "disable", "mark_trending", "unmark_trending", "mark_hot",
               "unmark_hot"]

    def has_add_permission(self, request):
        return False  # markets come from the catalog import

    def has_delete_permission(self, request, obj=None):
        return False  # orders reference them; disable instead

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view),
                     name="twelvedata_twdmarket_import"), *super().get_urls()]

    def import_view(self, request):
        form = ImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            job = services.import_job_start(kind=form.cleaned_data["kind"],
                                            requested_by_id=request.user.pk,
                                            enqueue=import_catalog_task.delay)
            self.message_user(request, f"Import #{job.pk} queued.", messages.SUCCESS)
            return redirect(reverse("admin:twelvedata_twdimportjob_changelist"))
        return TemplateResponse(request, "admin/twelvedata/import.html", {
            **self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
            "title": "Import instruments from TwelveData"})

    def _flag(self, request, queryset, **flags):
        count = services.markets_set_flags(market_ids=list(queryset.values_list("pk", flat=True)),
                                           **flags)
        self.message_user(request, f"{count} market(s) updated.", messages.SUCCESS)

    @admin.action(description="Enable for trading")
    def enable(self, request, queryset):
        self._flag(request, queryset, status=True)

    @admin.action(description="Disable for trading")
    def disable(self, request, queryset):
        self._flag(request, queryset, status=False)

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


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TwdImportJob)
class TwdImportJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "progress_bar", "created", "updated", "message",
                    "requested_by", "updated_at")
    list_filter = ("status", "kind")

    @admin.display(description="Progress")
    def progress_bar(self, obj: TwdImportJob) -> str:
        return f"{obj.progress}%"


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


@admin.register(TwdOrder)
class TwdOrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "market", "type", "side", "status", "price", "amount",
                    "filled", "cost", "fee", "liquidity", "fill_price", "created_at",
                    "settle_error", "settle_error_at")
    list_filter = (SetAsideFilter, "status", "type", "side", "liquidity", "market__type")
    search_fields = ("user__username", "market__symbol", "client_order_id")
    list_select_related = ("user", "market")
    actions = ["retry_settlement"]

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("twelvedata.change_twdorder")

    @admin.action(description="Retry settlement of set-aside orders", permissions=["retry"])
    def retry_settlement(self, request, queryset):
        cleared = services.orders_retry_settlement(
            order_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{cleared} order(s) will be tried again on the next "
                                   f"crossing quote or sweep.", messages.SUCCESS)
