"""Where a venue's orders are kept: the ``OrderStore`` protocol and its SQL store.

The core reads and writes orders only through a store, so the internal markets can keep
theirs in ScyllaDB (a store of their own behind the same contract tests) while balances
stay in SQL. Every venue uses ``SqlOrderStore`` today.
"""
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db.models import Q, QuerySet

from apps.trading.constants import RESTING_STATUSES, OrderStatus, Side, TriggerDirection
from apps.trading.models import Fill, Market, Order

# The columns a fill, a cancel or a venue's answer changes.
_STATE_FIELDS = ["status", "filled", "remaining", "cost", "fee", "fee_currency", "reason",
                 "external_id", "closed_at", "updated_at"]
# And those a trigger or a bracket's entry changes (written only for such orders: a
# plain order's batch stays as narrow as it was).
_CONDITIONAL_FIELDS = [*_STATE_FIELDS, "amount", "stop_price", "trailing_best",
                       "triggered_at", "trigger_evidence"]


class OrderStore(Protocol):
    def create(self, *, order: Order) -> Order:
        """Insert a new order; the unique (user, venue, client_order_id) key raises
        IntegrityError on a duplicate."""
        ...

    def get(self, *, order_id: int, user_id: int | None = None,
            for_update: bool = False) -> Order | None: ...

    def lock(self, *, order_ids: Sequence[int]) -> list[Order]:
        """Lock, in id order, ``order_ids`` and the other orders of their lists (OCO,
        bracket); returns them all, whatever their status."""
        ...

    def crossing_ids(self, *, market: Market, buy_at_or_above: Decimal,
                     sell_at_or_below: Decimal, placed_before: datetime) -> list[int]: ...

    def triggered_ids(self, *, market: Market, prices: dict[tuple[str, str], Decimal],
                      placed_before: datetime) -> list[int]:
        """The ids, in order, of the PENDING orders of ``market`` placed before
        ``placed_before`` and not set aside whose trigger ``prices`` fire: it maps each
        (trigger source, side) to the price compared (a RISE trigger at or below it
        fires, a FALL trigger at or above it)."""
        ...

    def save(self, *, orders: Iterable[Order], fills: Sequence[Fill]) -> None:
        """Write the orders' new state and insert their fills, in the caller's
        transaction."""
        ...

    def fills_of(self, *, order_ids: Sequence[int]) -> dict[int, list[Fill]]: ...


class SqlOrderStore:
    """Orders in the SQL database, next to the wallets (one transaction for both)."""

    def create(self, *, order: Order) -> Order:
        order.save(force_insert=True)
        return order

    def get(self, *, order_id: int, user_id: int | None = None,
            for_update: bool = False) -> Order | None:
        orders = Order.objects.filter(pk=order_id)
        if user_id is not None:
            orders = orders.filter(user_id=user_id)
        # Never select_related under FOR UPDATE: the join would lock the market row too.
        return (orders.select_for_update() if for_update else orders).first()

    def lock(self, *, order_ids: Sequence[int]) -> list[Order]:
        ids = set(order_ids)
        # A list's membership never changes, so it is read without a lock; the rows are
        # then locked by primary key only (a locking read through the group index would
        # lock its gaps too, and stop new lists being placed).
        groups = set(Order.objects.filter(pk__in=ids, group__isnull=False)
                     .values_list("group_id", flat=True))
        if groups:
            ids.update(Order.objects.filter(group_id__in=groups).values_list("pk", flat=True))
        # Never select_related under FOR UPDATE: the join would lock the market row too.
        return list(Order.objects.select_for_update().filter(pk__in=ids).order_by("pk"))

    def crossing_ids(self, *, market: Market, buy_at_or_above: Decimal,
                     sell_at_or_below: Decimal, placed_before: datetime) -> list[int]:
        # Each (status, side) pair is one range on the (market, status, side, price)
        # index: never a scan of the market's resting orders.
        crossed = (Q(side=Side.BUY, price__gte=buy_at_or_above)
                   | Q(side=Side.SELL, price__lte=sell_at_or_below))
        return list(Order.objects.filter(crossed, market_id=market.pk,
                                         status__in=RESTING_STATUSES,
                                         created_at__lt=placed_before, settle_error="")
                    .order_by("pk").values_list("pk", flat=True))

    def triggered_ids(self, *, market: Market, prices: dict[tuple[str, str], Decimal],
                      placed_before: datetime) -> list[int]:
        # One range per direction on the (market, status, trigger_direction, stop_price)
        # index (up to the highest price for RISE, down from the lowest for FALL); the
        # exact price per source and side is a filter on the rows in that range.
        found: list[int] = []
        for direction, bound in ((TriggerDirection.RISE, "lte"),
                                 (TriggerDirection.FALL, "gte")):
            fired = Q()
            for (source, side), price in prices.items():
                fired |= Q(trigger_source=source, side=side, **{f"stop_price__{bound}": price})
            extreme = max(prices.values()) if bound == "lte" else min(prices.values())
            found += Order.objects.filter(
                fired, market_id=market.pk, status=OrderStatus.PENDING,
                trigger_direction=direction, **{f"stop_price__{bound}": extreme},
                created_at__lt=placed_before, settle_error="").values_list("pk", flat=True)
        return sorted(found)

    def save(self, *, orders: Iterable[Order], fills: Sequence[Fill]) -> None:
        plain, conditional = [], []
        for order in orders:
            (conditional if order.group_id or order.trigger_direction else plain).append(order)
        if plain:
            Order.objects.bulk_update(plain, _STATE_FIELDS)
        if conditional:
            Order.objects.bulk_update(conditional, _CONDITIONAL_FIELDS)
        if fills:
            Fill.objects.bulk_create(fills)

    def fills_of(self, *, order_ids: Sequence[int]) -> dict[int, list[Fill]]:
        found: dict[int, list[Fill]] = {}
        for fill in Fill.objects.filter(order_id__in=list(order_ids)).order_by("pk"):
            found.setdefault(fill.order_id, []).append(fill)
        return found

    def user_orders(self, *, user_id: int, venue: str) -> QuerySet[Order]:
        return Order.objects.filter(user_id=user_id, venue=venue)


_SQL = SqlOrderStore()


def store_for(venue: str) -> SqlOrderStore:
    """The order store of ``venue`` (SQL for every venue today)."""
    return _SQL
