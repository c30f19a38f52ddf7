"""The market registry's writes: venues' catalogs imported, the admin's status and flags."""
from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from apps.core.errors import InvalidInput
from apps.trading.constants import MarketStatus
from apps.trading.models import Market

# What an import from a venue's catalog may change: the venue's facts, never the admin's
# choices (status, flags, fees, limits).
_IMPORTED_FIELDS = ["base_currency", "quote_currency", "kind", "tick_size", "lot_size",
                    "updated_at"]


def markets_import(*, venue: str, markets: Sequence[Market]) -> dict[str, int]:
    """Create or update ``venue``'s markets from its catalog (unsaved ``Market`` rows,
    keyed by symbol): new ones keep their given (disabled) status, existing ones get the
    catalog's currencies, kind and steps only. Returns every given symbol's market id.
    One bulk upsert; race-safe on the (venue, symbol) key."""
    if any(m.venue != venue for m in markets):
        raise ValueError("every imported market must be of the importing venue")
    # MySQL's ON DUPLICATE KEY takes no conflict target ((venue, symbol) is the table's
    # one unique key besides its id).
    target = (["venue", "symbol"] if connection.features.supports_update_conflicts_with_target
              else None)
    with transaction.atomic():
        Market.objects.bulk_create(list(markets), update_conflicts=True, unique_fields=target,
                                   update_fields=_IMPORTED_FIELDS)
        return dict(Market.objects.filter(venue=venue, symbol__in=[m.symbol for m in markets])
                    .values_list("symbol", "pk"))


def markets_set_flags(*, market_ids: list[int], **flags) -> int:
    """Set status / is_trending / is_hot on many markets at once. Changing the status
    takes the market rows' exclusive locks, so it waits for any order being placed in
    them (which holds a shared lock through its foreign key) and stops the next ones."""
    allowed = {"status", "is_trending", "is_hot"}
    if not flags or set(flags) - allowed:
        raise InvalidInput(f"Only {sorted(allowed)} can be set.")
    if "status" in flags and flags["status"] not in MarketStatus.values:
        raise InvalidInput(f"Unknown market status {flags['status']!r}.")
    with transaction.atomic():
        ids = list(Market.objects.select_for_update().filter(pk__in=market_ids)
                   .order_by("pk").values_list("pk", flat=True))
        return Market.objects.filter(pk__in=ids).update(**flags, updated_at=timezone.now())

