"""Admin for deposits: intents with their webhook events, and the manual resolution of an
intent the chain did not settle (confirm and credit, or fail), with a reason that is
recorded with who and when. A confirmation is made one intent at a time: the form shows
what the chain reported paid and credits the amount the admin states (suggested: the paid
coin at the intent's rate). Rows change only through ``apps.deposits.services``."""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.deposits import selectors, services
from apps.deposits.models import DepositEvent, DepositIntent


class EventInline(admin.TabularInline):
    model = DepositEvent
    extra = 0
    can_delete = False
    fields = ("received_at", "verdict", "detail", "tx_hash", "amount_paid", "source_ip",
              "signed_with", "raw_body", "processed_at")
    readonly_fields = fields
    ordering = ("pk",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ResolutionForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                             help_text="Recorded on each intent with your name and the time.")


class ConfirmationForm(ResolutionForm):
    amount = forms.DecimalField(
        max_digits=36, decimal_places=18, min_value=0,
        help_text="To credit, in the intent's currency (suggested: what was paid, at the "
                  "intent's rate, rounded down).")


class ProblemFilter(admin.SimpleListFilter):
    """Intents with a webhook delivery that did not credit (underpaid, late, reused...)."""

    title = "webhook problems"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [("yes", "has an uncredited delivery")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(events__verdict__in=PROBLEMS).distinct()
        return queryset


PROBLEMS = [DepositEvent.Verdict.UNDERPAID, DepositEvent.Verdict.EXPIRED,
            DepositEvent.Verdict.TX_REUSED, DepositEvent.Verdict.NOT_PENDING]


@admin.register(DepositIntent)
class DepositIntentAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "user", "amount", "currency", "pay_amount", "coin", "status",
                    "expires_at", "tx_hash", "resolved_by", "created_at")
    list_filter = ("status", ProblemFilter, "coin", "created_at")
    search_fields = ("=public_id", "=tx_hash", "user__username", "user__email")
    list_select_related = ("user", "resolved_by")
    readonly_fields = ("public_id", "user", "amount", "currency", "coin", "rate", "pay_amount",
                       "status", "expires_at", "tx_hash", "paid_amount", "credited_amount",
                       "failure_reason",
                       "confirmed_at", "resolved_by", "resolved_at", "resolution_reason",
                       "created_at", "updated_at")
    inlines = [EventInline]
    actions = ["confirm", "fail"]

    @admin.action(description="Confirm and credit (with a reason)",
                  permissions=["resolve"])
    def confirm(self, request, queryset):
        return self._resolve(request, queryset, confirm=True)

    @admin.action(description="Mark failed (with a reason)", permissions=["resolve"])
    def fail(self, request, queryset):
        return self._resolve(request, queryset, confirm=False)

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("deposits.change_depositintent")

    def _resolve(self, request, queryset, *, confirm: bool):
        if confirm and queryset.count() != 1:
            self.message_user(request, "Confirm one intent at a time: each is credited the "
                              "amount you state for it.", messages.ERROR)
            return None
        form_class = ConfirmationForm if confirm else ResolutionForm
        payments = selectors.intent_payments(intent=queryset.get()) if confirm else None
        form = form_class(request.POST if "apply" in request.POST else None,
                          initial={"amount": payments.suggested} if payments else None)
        if form.is_valid():
            for intent in queryset.order_by("pk"):
                try:
                    resolved = services.intent_resolve(
                        intent_id=intent.pk, confirm=confirm,
                        reason=form.cleaned_data["reason"], by_user_id=request.user.pk,
                        amount=form.cleaned_data.get("amount"))
                except DomainError as exc:
                    self.message_user(request, f"{intent.public_id}: {exc.message}",
                                      messages.ERROR)
                else:
                    outcome = (f"confirmed, {resolved.credited_amount.normalize():f} "
                               f"{resolved.currency} credited" if confirm else "failed")
                    self.message_user(request, f"{intent.public_id}: {outcome}.",
                                      messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/deposits/resolve.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "form": form, "intents": queryset, "confirm": confirm, "payments": payments,
            "action": "confirm" if confirm else "fail",
            "checkbox_name": ACTION_CHECKBOX_NAME,
            "title": "Confirm and credit an intent" if confirm else "Fail intents"})


@admin.register(DepositEvent)
class DepositEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "intent", "verdict", "tx_hash", "amount_paid", "source_ip",
                    "received_at", "processed_at")
    list_filter = ("verdict", "received_at")
    search_fields = ("=tx_hash", "=intent_ref")
    list_select_related = ("intent",)
