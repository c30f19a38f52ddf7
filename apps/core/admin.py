"""Admin building blocks every app shares (no model is registered here)."""
from decimal import Decimal

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
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
