"""Where a venue's orders are kept: the ``OrderStore`` protocol and its SQL store.

The core reads and writes orders only through a store, so the internal markets can keep
theirs in ScyllaDB (a store of their own behind the same contract tests) while balances
stay in SQL. Every venue uses ``SqlOrderStore`` today.
"""
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Case, DecimalField, ExpressionWrapper, F, Q, QuerySet, Value, When
from django.db.models.functions import Ceil, Floor
from django.utils import timezone

from apps.core.bulk import insert_instance, insert_rows, update_rows
from apps.trading.constants import (
    RESTING_STATUSES,
    OrderStatus,
    OrderType,
    Side,
    TriggerDirection,
)
from apps.trading.models import Fill, Market, Order

# The columns a fill, a cancel or a venue's answer changes.
_STATE_FIELDS = ["status", "filled", "remaining", "cost", "fee", "fee_currency", "reason",
                 "external_id", "closed_at", "updated_at"]
_FILL_FIELDS = ["order", "venue", "trade_id", "price", "amount", "quote_amount", "liquidity",
                "fee", "fee_currency", "settlement_key", "evidence", "executed_at", "created_at"]
_FILL_ATTNAMES = [Fill._meta.get_field(name).attname for name in _FILL_FIELDS]
# And those a trigger, a bracket's entry or a budget order's fills change (the amount:
# written only for such orders, so a plain order's batch stays as narrow as it was).
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

    def pending(self, *, market: Market) -> tuple[bool, bool]:
        """Whether ``market`` has PENDING orders, and whether some are trailing stops."""
        ...

    def trail(self, *, market: Market, side: str, sources: Sequence[str], price: Decimal,
              placed_before: datetime) -> int:
        """Move the PENDING trailing stops of ``market`` and ``side`` comparing ``price``
        (their trigger source one of ``sources``), placed before ``placed_before`` and not
        set aside, that it improves on (a sell's best below it, a buy's above) or
        activates (no best yet, the activation price reached): best = ``price``, trigger
        = its callback from it (``rules.trailing_trigger``). Locks the rows it moves by
        primary key (the order of every other lock on orders); returns how many."""
        ...

    def save(self, *, orders: Iterable[Order], fills: Sequence[Fill]) -> None:
        """Write the orders' new state and insert their fills, in the caller's
        transaction."""
        ...

    def fills_of(self, *, order_ids: Sequence[int]) -> dict[int, list[Fill]]: ...


class SqlOrderStore:
    """Orders in the SQL database, next to the wallets (one transaction for both)."""

    def create(self, *, order: Order) -> Order:
        # The ORM's save of an order's forty-odd fields cost placement about 1 ms of CPU,
        # more than the insert itself.
        return insert_instance(order)

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
        # One statement, one range per direction on the (market, status,
        # trigger_direction, stop_price) index (up to the highest price for RISE, down
        # from the lowest for FALL); the exact price per source and side is a filter on
        # the rows in that range. Its text is made once per process and set of (source,
        # side) compared (``_triggered_sql``): building and compiling the ORM's two
        # querysets per quote cost more than running them (docs/BENCHMARKS.md).
        keys = tuple(sorted(prices))
        stop = Order._meta.get_field("stop_price")
        placed = Order._meta.get_field("created_at").get_db_prep_value(placed_before,
                                                                         connection)
        params: list = []
        for direction, extreme in ((TriggerDirection.RISE, max(prices.values())),
                                   (TriggerDirection.FALL, min(prices.values()))):
            params += [market.pk, OrderStatus.PENDING, direction,
                       stop.get_db_prep_value(extreme, connection), placed, ""]
            for source, side in keys:
                params += [side, source, stop.get_db_prep_value(prices[source, side],
                                                                connection)]
        with connection.cursor() as cursor:
            cursor.execute(_triggered_sql(keys, vendor=connection.vendor), params)
            return sorted(pk for (pk,) in cursor.fetchall())

    def pending(self, *, market: Market) -> tuple[bool, bool]:
        # Seeks on indexes led by (market, status), LIMIT 1 each.
        waiting = Order.objects.filter(market_id=market.pk, status=OrderStatus.PENDING)
        if not waiting.exists():
            return False, False
        return True, waiting.filter(type=OrderType.TRAILING_STOP).exists()

    def trail(self, *, market: Market, side: str, sources: Sequence[str], price: Decimal,
              placed_before: datetime) -> int:
        # The best and the trigger are computed by the database (exact decimals on
        # MariaDB), so one statement moves every row whatever its delta or rate; the
        # (market, status, type, side, trigger_source, trailing_best) index holds the
        # range to look at.
        decimal = DecimalField(max_digits=36, decimal_places=18)
        value, tick = Value(price, output_field=decimal), Value(market.tick_size,
                                                                 output_field=decimal)
        if side == Side.SELL:  # best = the highest since activation; fires on a fall
            better = Q(trailing_best__lt=price)
            reached = Q(trailing_best__isnull=True, activation_price__lte=price)
            by_rate = Floor(value * (1 - F("trailing_rate")) / tick) * tick
            by_delta = value - F("trailing_delta")
        else:  # best = the lowest since activation; fires on a rise
            better = Q(trailing_best__gt=price)
            reached = Q(trailing_best__isnull=True, activation_price__gte=price)
            by_rate = Ceil(value * (1 + F("trailing_rate")) / tick) * tick
            by_delta = value + F("trailing_delta")
        stop = Case(When(trailing_delta__isnull=False, then=by_delta),
                    default=ExpressionWrapper(by_rate, output_field=decimal))
        # The rows are found by a plain read through the trailing index, then locked and
        # written by primary key, the condition checked again on the locked rows (another
        # executor may have moved them since): an UPDATE resolved through the secondary
        # index would lock its records before the rows' primary keys, the reverse of a
        # firing batch (OrderStore.lock, then writes), and the two deadlock.
        ids = list(Order.objects.filter(
            better | reached, market_id=market.pk, status=OrderStatus.PENDING,
            type=OrderType.TRAILING_STOP, side=side, trigger_source__in=list(sources),
            created_at__lt=placed_before, settle_error="",
        ).order_by("pk").values_list("pk", flat=True))
        if not ids:
            return 0
        return Order.objects.filter(better | reached, pk__in=ids, status=OrderStatus.PENDING,
                                    settle_error="").update(
            trailing_best=value, stop_price=stop, updated_at=timezone.now())

    def save(self, *, orders: Iterable[Order], fills: Sequence[Fill]) -> None:
        plain, conditional = [], []
        for order in orders:
            (conditional if order.group_id or order.trigger_direction
             or order.quote_amount is not None else plain).append(order)
        # The rows are locked by the caller (by primary key, in id order): the UPDATEs
        # take no lock of their own in another order.
        update_rows(plain, _STATE_FIELDS)
        update_rows(conditional, _CONDITIONAL_FIELDS)
        if fills:
            now = timezone.now()
            for fill in fills:
                fill.created_at = now
            pks = insert_rows(Fill, _FILL_FIELDS, [
                [getattr(fill, name) for name in _FILL_ATTNAMES] for fill in fills],
                returning=True)
            for i, fill in enumerate(fills):  # as bulk_create leaves them
                fill.pk = None if pks is None else pks[i]
                fill._state.adding, fill._state.db = False, DEFAULT_DB_ALIAS

    def fills_of(self, *, order_ids: Sequence[int]) -> dict[int, list[Fill]]:
        found: dict[int, list[Fill]] = {}
        for fill in Fill.objects.filter(order_id__in=list(order_ids)).order_by("pk"):
            found.setdefault(fill.order_id, []).append(fill)
        return found

    def user_orders(self, *, user_id: int, venue: str) -> QuerySet[Order]:
        return Order.objects.filter(user_id=user_id, venue=venue)


@cache
def _triggered_sql(keys: tuple[tuple[str, str], ...], *, vendor: str) -> str:
    """``SqlOrderStore.triggered_ids``'s statement for the (trigger source, side) pairs
    ``keys`` (its parameters: per direction, RISE then FALL, the market, the status, the
    direction, the range's end, the placing bound, no settle error, then side, source and
    price per key). Only the model's own table and column names are written into it."""
    meta = Order._meta
    q = connection.ops.quote_name
    col = {name: q(meta.get_field(name).column) for name in (
        "id", "market", "status", "trigger_direction", "stop_price", "created_at",
        "settle_error", "side", "trigger_source")}
    selects = []
    for op in ("<=", ">="):  # RISE, FALL
        each = " OR ".join(f"({col['side']} = %s AND {col['trigger_source']} = %s AND "
                           f"{col['stop_price']} {op} %s)" for _ in keys)
        where = (f"{col['market']} = %s AND {col['status']} = %s AND "
                 f"{col['trigger_direction']} = %s AND {col['stop_price']} {op} %s AND "
                 f"{col['created_at']} < %s AND {col['settle_error']} = %s AND ({each})")
        # The model's names, and every value a parameter.
        selects.append(f"SELECT {col['id']} FROM {q(meta.db_table)} WHERE {where}")  # noqa: S608
    return " UNION ALL ".join(selects)


_SQL = SqlOrderStore()


def store_for(venue: str) -> SqlOrderStore:
    """The order store of ``venue`` (SQL for every venue today)."""
    return _SQL
