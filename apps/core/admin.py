"""Admin building blocks every app shares (no model is registered here)."""
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
