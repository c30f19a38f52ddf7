"""The engine's state, for operators: read-only (runners and placement write it)."""
from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.engine.models import EngineCommand, EngineLease, EngineOutbox, EngineSnapshot


@admin.register(EngineLease)
class EngineLeaseAdmin(ReadOnlyAdmin):
    list_display = ("market", "owner", "epoch", "expires_at", "applied_seq", "book_seq")


@admin.register(EngineCommand)
class EngineCommandAdmin(ReadOnlyAdmin):
    list_display = ("market", "seq", "kind", "order_id", "created_at")
    list_filter = ("kind",)


@admin.register(EngineSnapshot)
class EngineSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("market", "command_seq", "book_seq", "state_hash", "created_at")
    exclude = ("book",)


@admin.register(EngineOutbox)
class EngineOutboxAdmin(ReadOnlyAdmin):
    list_display = ("market", "first_seq", "last_seq", "created_at", "sent_at")
