"""Admin building blocks every app shares (no model is registered here)."""
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse


class CompactListAdmin(admin.ModelAdmin):
    """Lists whose columns fit a 1366 px screen beside their filters (``admin_lists.css``)."""

    class Media:
        css = {"all": ("core/admin_lists.css",)}


class ReadOnlyAdmin(CompactListAdmin):
    """Rows that change only through services (ledger, orders, jobs): listed and shown,
    never added, edited or deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def fixed(value: Decimal | None, places: int | None) -> str:
    """An amount as its currency (or a price as its market) has it: columns store 18
    places, which clip the admin's lists and hide the figure. A value with finer digits
    than ``places`` is shown whole, never rounded; unknown places: the value normalized."""
    if value is None:
        return "—"
    if places is not None:
        shown = value.quantize(Decimal(1).scaleb(-places))
        if shown == value:
            return f"{shown:f}"
    return f"{value.normalize():f}"


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 2}))


def confirm_page(request, *, queryset, form, title: str, action: str,
                 empty_text: str = "nothing") -> TemplateResponse:
    """The page an action that asks for more (a reason, an amount) shows first: the rows it
    applies to and ``form``; it posts back to the action with ``apply`` set."""
    return TemplateResponse(request, "admin/confirm_action.html", {
        **admin.site.each_context(request), "title": title, "form": form, "objects": queryset,
        "action": action, "opts": queryset.model._meta, "empty_text": empty_text,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    })
