"""What the futures venue streams (docs/STREAMING.md): each contract's mark ticks on the
public ``mark@futures:<SYMBOL>`` and each trader's positions on the private ``positions``.

- ``mark_tick_publish``: the tick (mark, index, premium) on the mark stream, then every
  open position of the contract (and those ``also`` names: the ones the tick just
  liquidated, now flat) to its owner, at that mark, with its ADL quantile there
  (``selectors.adl_quantiles``). Outside any transaction: sent at once.
- ``positions_publish``: positions a write changed, to their owners once the write's
  transaction commits (nothing for a rollback), at the latest mark; without the ADL
  quantile (null: ranking is a read of every position of the contract, which a fill's
  settlement does not pay for; the next tick sends it).

Sending never raises (``apps.marketdata.streams``): streams are best-effort, the positions
API and a new subscriber's snapshot (``selectors.positions_data``) are the record.
"""
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from apps.core.money import decimal_text
from apps.futures import selectors
from apps.futures.constants import PositionStatus
from apps.futures.models import Position
from apps.marketdata import streams
from apps.trading.constants import Venue

if TYPE_CHECKING:
    from apps.futures.services.mark import MarkTick


def _events(positions: Sequence[Position], *, marks: dict[int, Decimal | None],
            quantiles: dict[int, int] | None = None) -> list[tuple[int, str, dict]]:
    """The ``positions`` items of ``positions``, each at ``marks[its contract id]``, with
    its ADL quantile from ``quantiles`` (null where it is not ranked)."""
    quantiles = quantiles or {}
    by_contract: dict[int, list[Position]] = {}
    for position in positions:
        if position.user_id is not None:  # the insurance fund's own has no subscriber
            by_contract.setdefault(position.contract_id, []).append(position)
    events = []
    for contract_id, mine in by_contract.items():
        exits = selectors.exit_prices(market_id=mine[0].contract.market_id,
                                      user_ids={p.user_id for p in mine})
        events += [(p.user_id, streams.POSITIONS,
                    selectors.position_data(p, mark=marks[contract_id],
                                            exits=exits.get(p.user_id),
                                            adl_quantile=quantiles.get(p.pk)))
                   for p in mine]
    return events


def positions_publish(*, positions: Iterable[Position]) -> None:
    """Send each of ``positions`` (as this transaction leaves it) to its owner's
    ``positions`` stream after commit, at its contract's latest mark."""
    positions = list(positions)
    marks = {}
    for position in positions:
        if position.contract_id not in marks:
            latest = selectors.latest_mark(contract=position.contract)
            marks[position.contract_id] = None if latest is None else latest.price
    streams.publish_user_events(events=_events(positions, marks=marks))


def mark_tick_publish(*, tick: "MarkTick", also: Sequence[int] = ()) -> None:
    """Send ``tick`` on its contract's mark stream, then the contract's open positions and
    the positions ``also`` names to their owners at its mark (one hand-off)."""
    streams.mark_publish(venue=Venue.FUTURES, symbol=tick.symbol, data={
        "symbol": tick.symbol, "mark_price": decimal_text(tick.mark),
        "index_price": decimal_text(tick.index), "premium": decimal_text(tick.premium),
        "timestamp": tick.timestamp.isoformat()})
    positions = list(Position.objects.select_related("contract__market").filter(
        contract_id=tick.contract_id, user__isnull=False, status=PositionStatus.OPEN)
        .order_by("pk"))
    listed = {p.pk for p in positions}
    if extra := [pk for pk in also if pk not in listed]:
        positions += list(Position.objects.select_related("contract__market")
                          .filter(pk__in=extra).order_by("pk"))
    quantiles = selectors.adl_quantiles(
        positions, mark=tick.mark, tiers=selectors.contract_tiers(contract_id=tick.contract_id))
    streams.publish_user_events(events=_events(
        positions, marks={tick.contract_id: tick.mark}, quantiles=quantiles))
