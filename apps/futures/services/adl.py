"""Auto-deleveraging (ADL): what the insurance fund cannot take is closed against the
opposing traders' positions at the bankruptcy price (the reference's §5, Binance's rules).

Two cases, both from a mark tick (``liquidation.liquidate_on_mark``):

- ``bankrupt_deleverage``: the tick's mark is past a liquidated position's bankruptcy
  price by more than the fund can pay (INSURANCE plus the liquidation engine's float,
  ``takeover.fund_balance``). The position is closed at its bankruptcy price on the tick
  (``adl_price``: a long's rounded up, a short's down, so the trader loses at most its
  margin; what is left of the margin goes to the fund) and that size is closed against
  the queue; the fund pays nothing.
- ``fund_positions_deleverage``: a fund position (taken over in a liquidation, or a
  reduce-only fill's part no trader may hold) that the book has not closed within the
  contract's ``adl_after_seconds`` (no opposite liquidity, or too little) and has no live
  close order is closed against the queue at the bankruptcy price of the liquidation it
  came from (at its own entry for a reduce-only remainder), on the tick in the fund's
  favour, or nearer the mark as far as the fund's loss there must stay within what the
  fund has (so the fund is never negative).

The queue: the opposing traders' open positions in profit at that price, ranked at the
tick's mark by ``margin.adl_score`` (PnL% x MM / (WB + uPnL)), highest first, the older
position first on a tie (``selectors.adl_ranking``); as many as cover the size, locked in
id order after the bankrupt or fund position's row and before any write. Each
counterparty is closed by ``positions.position_apply_fill`` as a reduce-only fill at that
price with no fee (its realised PnL through CLEARING as any fill's, its margin's share
released, its position streamed), and its live orders of the contract are cancelled after
commit (the core's ``order_cancel``, one transaction each). What the queue does not cover
stays with (or goes to) the insurance fund at that price, logged.

Exactly once: one transaction per bankrupt or fund position, under its row lock (a
second tick finds it flat, or with a live close order); every step keyed
``adl:<source>.<generation>.<round>:<counterparty>.<generation>`` (round: the source's
deleveragings so far), the ``AutoDeleverage`` row (unique key) its record: the source, the
liquidation, the counterparty, size, price, its realised PnL, its score and rank, the
mark. Money: every close has both sides at one price, so the FUTURES balances plus FEES,
INSURANCE and CLEARING are unchanged and CLEARING's identity holds (docs/FUTURES.md
"Money").
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog
from django.db import transaction
from django.utils import timezone

from apps.core.errors import Conflict, NotFound
from apps.core.money import EXACT, ROUNDING
from apps.engine.models import EngineCommand
from apps.futures import margin, selectors
from apps.futures.constants import PositionSide, PositionStatus, sign
from apps.futures.models import AutoDeleverage, Contract, Liquidation, OrderTerms, Position
from apps.futures.services.insurance import fund_fill_apply
from apps.futures.services.positions import position_apply_fill
from apps.futures.services.takeover import fund_balance, fund_cover, take_over
from apps.trading import services as trading
from apps.trading.constants import FINAL_STATUSES, LIVE_STATUSES, Side, Venue
from apps.trading.models import Order
from apps.wallets import selectors as wallet_selectors

if TYPE_CHECKING:
    from apps.futures.services.mark import MarkTick

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Counterparty:
    """A locked position of the queue and what of it is closed."""

    position: Position
    amount: Decimal
    score: Decimal
    rank: int


def _closing(side: str) -> str:
    return Side.SELL if side == PositionSide.LONG else Side.BUY


def _opposite(side: str) -> str:
    return PositionSide.SHORT if side == PositionSide.LONG else PositionSide.LONG


def adl_price(*, side: str, bankruptcy_price: Decimal, tick: Decimal) -> Decimal:
    """``bankruptcy_price`` on the tick, rounded for the platform: a long's up, a short's
    down (the deleveraged long loses at most its margin, the fund's long earns at least
    its bankruptcy price)."""
    return margin.price_to_tick(bankruptcy_price, tick=tick, up=side == PositionSide.LONG)


def _counterparties(*, contract: Contract, side: str, size: Decimal, price: Decimal,
                    mark: Decimal) -> list[Counterparty]:
    """The queue against a ``side`` position of ``size`` at ``price`` (see the module
    docstring), locked in id order; read again under the lock (a position that changed
    meanwhile is taken as it now is, or left out)."""
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    opposing = Position.objects.filter(contract_id=contract.pk, user__isnull=False,
                                       status=PositionStatus.OPEN, side=_opposite(side))
    ranked = selectors.adl_ranking(opposing, price=mark, tiers=tiers, eligible_at=price)
    chosen, covered = [], ZERO
    for position, _ in ranked:
        if covered >= size:
            break
        chosen.append(position.pk)
        covered += position.size
    locked = {p.pk: p for p in Position.objects.select_for_update()
              .filter(pk__in=chosen).order_by("pk")}
    queue, left = [], size
    for rank, (seen, score) in enumerate(ranked, start=1):
        position = locked.get(seen.pk)
        if position is None or left <= 0:
            continue
        if position.status != PositionStatus.OPEN or position.side != seen.side or \
                margin.unrealised(side=position.side, size=position.size,
                                  value=position.value, price=price) <= 0:
            continue
        amount = min(left, position.size)
        queue.append(Counterparty(position, amount, score, rank))
        left -= amount
    return queue


def _deleverage(party: Counterparty, *, key: str, source: Position,
                liquidation: Liquidation | None, contract: Contract, price: Decimal,
                mark: Decimal, now: datetime) -> AutoDeleverage:
    """Close ``party`` at ``price`` (a reduce-only fill without fee, keyed ``key``),
    record it and cancel the trader's live orders of the contract after commit."""
    position = party.position
    generation = position.generation
    fill = position_apply_fill(key=key, user_id=position.user_id, contract_id=contract.pk,
                               side=_closing(position.side), amount=party.amount,
                               price=price, fee_rate=ZERO, leverage=1, now=now,
                               reduce_only=True)
    record = AutoDeleverage.objects.create(
        key=key, source=source, liquidation=liquidation, counterparty=position,
        counterparty_generation=generation, side=position.side, size=party.amount,
        price=price, realised_pnl=fill.realised_pnl, score=party.score, rank=party.rank,
        mark=mark)
    _orders_cancel_on_commit(user_id=position.user_id, market_id=contract.market_id)
    log.info("futures_adl", source=source.pk, counterparty=position.pk, user_id=position.user_id,
             size=str(party.amount), price=str(price), pnl=str(fill.realised_pnl),
             score=str(party.score), rank=party.rank, mark=str(mark))
    return record


def _orders_cancel_on_commit(*, user_id: int, market_id: int) -> None:
    """Cancel the user's live orders in the market once the caller commits (the core's
    ``order_cancel``, one transaction each; one that ended or whose cancel is already
    asked is skipped); a failure is logged, never raised into the committer."""
    def cancel() -> None:
        live = list(Order.objects.filter(user_id=user_id, market_id=market_id,
                                         status__in=LIVE_STATUSES)
                    .order_by("pk").values_list("pk", flat=True))
        asked = set(EngineCommand.objects.filter(order_id__in=live,
                                                 kind=EngineCommand.Kind.CANCEL)
                    .values_list("order_id", flat=True))
        for pk in live:
            if pk in asked:
                continue
            try:
                trading.order_cancel(user_id=user_id, venue=Venue.FUTURES, order_id=pk,
                                     reason="Auto-deleveraged: the position was closed "
                                            "against a bankrupt one.")
            except (Conflict, NotFound):
                continue  # it filled or was cancelled meanwhile

    transaction.on_commit(cancel, robust=True)


def _round(source: Position) -> str:
    done = AutoDeleverage.objects.filter(source=source).count()
    return f"{source.pk}.{source.generation}.{done}"


def bankrupt_deleverage(position: Position, *, tick: "MarkTick", currency: str,
                        now: datetime) -> Liquidation:
    """Liquidate the locked, open, bankrupt ``position`` (its contract and market
    loaded) at its ADL price and close that size against the queue (see the module
    docstring). The caller holds the position's row lock, has checked it is at or below
    maintenance at ``tick`` and saves the position. Locks the queue's positions in id
    order, then (through the ledger) the wallets and margin holds of the trader and of
    each counterparty."""
    contract = position.contract
    side, size = position.side, position.size
    price = adl_price(side=side, bankruptcy_price=margin.bankruptcy_price(
        side=side, size=size, value=position.value, margin=position.margin),
        tick=contract.market.tick_size)
    queue = _counterparties(contract=contract, side=side, size=size, price=price,
                            mark=tick.mark)
    covered = sum((party.amount for party in queue), ZERO)
    round_key = _round(position)
    record = take_over(position, price=price, insurance_size=size - covered,
                       currency=currency, now=now, mark=tick.mark,
                       evidence={**tick.evidence(), "adl_price": str(price),
                                 "adl_size": str(covered)})
    for party in queue:
        _deleverage(party, key=f"adl:{round_key}:{party.position.pk}."
                               f"{party.position.generation}",
                    source=position, liquidation=record, contract=contract, price=price,
                    mark=tick.mark, now=now)
    if covered < size:
        log.warning("futures_adl_short", position=position.pk, size=str(size),
                    covered=str(covered), price=str(price))
    return record


def fund_positions_deleverage(*, tick: "MarkTick") -> list[AutoDeleverage]:
    """Deleverage each open fund position of the tick's contract open longer than its
    ``adl_after_seconds`` (``fund_position_deleverage``, one transaction each); one that
    fails is logged and left to the next tick. One query when there is none."""
    contract = Contract.objects.select_related("market").get(pk=tick.contract_id)
    cutoff = timezone.now() - timedelta(seconds=contract.adl_after_seconds)
    done = []
    for position_id in Position.objects.filter(
            contract_id=contract.pk, user__isnull=True, status=PositionStatus.OPEN,
            opened_at__lte=cutoff).order_by("pk").values_list("pk", flat=True):
        try:
            done += fund_position_deleverage(position_id=position_id, contract=contract,
                                             tick=tick)
        except Exception:
            log.exception("futures_fund_adl_failed", position=position_id)
    return done


def fund_position_deleverage(*, position_id: int, contract: Contract,
                             tick: "MarkTick") -> list[AutoDeleverage]:
    """Close the open fund position ``position_id`` of ``contract`` against the queue
    (see the module docstring), unless it has a live close order (that goes first) or
    nothing is in the queue; returns the records. Locks the fund position, then the
    queue's positions in id order, then the engine's and the counterparties' wallets and
    holds (the ledger). Raises nothing of its own; a failure rolls the whole back."""
    currency = contract.market.quote_currency
    with transaction.atomic():
        position = (Position.objects.select_for_update().select_related("taken_over_from")
                    .filter(pk=position_id, user__isnull=True,
                            status=PositionStatus.OPEN).first())
        if position is None or OrderTerms.objects.filter(closes=position).exclude(
                order__status__in=FINAL_STATUSES).exists():
            return []
        liquidation = position.taken_over_from
        long = position.side == PositionSide.LONG
        base = position.entry_price if liquidation is None else liquidation.bankruptcy_price
        price = adl_price(side=position.side, bankruptcy_price=base,
                          tick=contract.market.tick_size)
        loss = -sign(position.side) * (EXACT.multiply(position.size, price) - position.value)
        can_pay = fund_balance(currency=currency)
        if loss > can_pay:  # no nearer the bankruptcy price than the fund can pay
            price = margin.price_to_tick(ROUNDING.divide(
                position.value - sign(position.side) * can_pay, position.size),
                tick=contract.market.tick_size, up=long)
            loss = -sign(position.side) * (EXACT.multiply(position.size, price)
                                           - position.value)
        if price <= 0:
            return []
        queue = _counterparties(contract=contract, side=position.side, size=position.size,
                                price=price, mark=tick.mark)
        if not queue:
            log.warning("futures_adl_no_queue", position=position.pk, price=str(price))
            return []
        round_key = _round(position)
        if loss > 0:
            fund_cover(key=f"adl:{round_key}:float", currency=currency, amount=loss,
                       user_id=None)
        decimals = wallet_selectors.currency_decimals(code=currency)
        now, done = timezone.now(), []
        for party in queue:
            key = f"adl:{round_key}:{party.position.pk}.{party.position.generation}"
            done.append(_deleverage(party, key=key, source=position, liquidation=liquidation,
                                    contract=contract, price=price, mark=tick.mark, now=now))
            fund_fill_apply(position, key=f"{key}:fund", side=_closing(position.side),
                            amount=party.amount, price=price, filled_at=now,
                            currency=currency, decimals=decimals)
        if position.size:
            log.warning("futures_adl_short", position=position.pk, left=str(position.size),
                        price=str(price))
        return done
