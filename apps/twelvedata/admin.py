"""Admin for TwelveData: providers, the instrument catalog and its import jobs (paper
orders are in the trading core's order list). Actions are thin: each calls a service."""
from django import forms
from django.contrib import admin, messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.admin import CompactListAdmin, ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.trading.admin import MarketActions
from apps.twelvedata import gateway, services
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdProvider
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
class TwdMarketAdmin(MarketActions, CompactListAdmin):
    """TwelveData's instruments. Their trading side (status, flags, fees, steps, limits)
    is the paper venue's market, in the trading core's one market list (these actions
    change it too)."""

    change_list_template = "admin/twelvedata/twdmarket/change_list.html"
    list_display = ("symbol", "name", "type", "exchange", "market_link", "status",
                    "is_trending", "is_hot")
    list_filter = ("type", "market__status", "market__is_trending", "market__is_hot")
    search_fields = ("symbol", "name", "exchange", "market__base_currency",
                     "market__quote_currency")
    list_select_related = ("market",)
    readonly_fields = ("market_link", "symbol", "type", "name", "exchange", "mic_code",
                       "metadata", "created_at", "updated_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # instruments come from the catalog import

    def has_delete_permission(self, request, obj=None):
        return False  # orders reference their markets; disable instead

    @admin.display(description="Market", ordering="market")
    def market_link(self, obj: TwdMarket) -> str:
        url = reverse("admin:trading_market_change", args=[obj.market_id])
        return format_html('<a href="{}">{}</a>', url, obj.market)

    @admin.display(description="Status", ordering="market__status")
    def status(self, obj: TwdMarket) -> str:
        return obj.market.get_status_display()

    @admin.display(boolean=True, description="Trending", ordering="market__is_trending")
    def is_trending(self, obj: TwdMarket) -> bool:
        return obj.market.is_trending

    @admin.display(boolean=True, description="Hot", ordering="market__is_hot")
    def is_hot(self, obj: TwdMarket) -> bool:
        return obj.market.is_hot

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

    def market_ids(self, queryset) -> list[int]:
        return list(queryset.values_list("market_id", flat=True))


JOB_FIELDS = ("status", "progress", "created", "updated", "message")


@admin.register(TwdImportJob)
class TwdImportJobAdmin(ReadOnlyAdmin):
    """Import jobs, run by a Celery worker (another process): each row's progress is read
    from the database, and the list polls ``progress/`` while a job is unfinished
    (``twelvedata/import_progress.js``), so it moves without a reload."""

    list_display = ("id", "kind", "status_shown", "progress_bar", "created_shown",
                    "updated_shown", "message_shown", "requested_by", "updated_at")
    list_filter = ("status", "kind")

    class Media:
        js = ("twelvedata/import_progress.js",)

    def get_urls(self):
        return [path("progress/", self.admin_site.admin_view(self.progress_view),
                     name="twelvedata_twdimportjob_progress"), *super().get_urls()]

    def progress_view(self, request):
        """The listed jobs' state as JSON (``?ids=1,2``); ids that are not numbers are
        ignored."""
        ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.isdigit()][:100]
        jobs = TwdImportJob.objects.filter(pk__in=ids).values("id", *JOB_FIELDS)
        return JsonResponse({"jobs": list(jobs)})

    def _cell(self, obj: TwdImportJob, field: str, text: object) -> str:
        return format_html('<span data-job="{}" data-field="{}">{}</span>', obj.pk, field, text)

    @admin.display(description="Status", ordering="status")
    def status_shown(self, obj: TwdImportJob) -> str:
        return self._cell(obj, "status", obj.status)

    @admin.display(description="Progress", ordering="progress")
    def progress_bar(self, obj: TwdImportJob) -> str:
        return format_html(
            '<progress max="100" value="{}" data-job="{}" data-field="progress-bar"></progress>'
            ' {}', obj.progress, obj.pk, self._cell(obj, "progress", f"{obj.progress}%"))

    @admin.display(description="Created", ordering="created")
    def created_shown(self, obj: TwdImportJob) -> str:
        return self._cell(obj, "created", obj.created)

    @admin.display(description="Updated", ordering="updated")
    def updated_shown(self, obj: TwdImportJob) -> str:
        return self._cell(obj, "updated", obj.updated)

    @admin.display(description="Message")
    def message_shown(self, obj: TwdImportJob) -> str:
        return self._cell(obj, "message", obj.message)
