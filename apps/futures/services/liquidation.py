"""Liquidation: a position whose margin balance at the mark is at or below maintenance is
taken over by the insurance fund.

Per mark tick (``liquidate_on_mark``), the positions it reaches are found by one range
per side on the stored liquidation price (``selectors.liquidation_candidates``: a long's
at or above the mark, a short's at or below), never by scanning the open positions; the
beat sweep recomputes every mark and does the same (the safety net). Each candidate is
then locked and checked again at that mark (a margin added meanwhile saves it).

What a liquidation does (``take_over``), in one transaction per position:
- the trader is closed at the bankruptcy price: its whole margin is lost, no more (its
  free balance is never touched) and no less;
- the insurance fund takes the position over at the mark of the tick: the position's loss
  at that mark is paid to CLEARING (what its counterparties are owed), out of the margin
  as far as it goes and by INSURANCE beyond it (a gap past the bankruptcy price); what
  the margin holds beyond that loss goes to INSURANCE (``wallets.services.
  liquidate_position``, keyed ``liquidation:<hold position>``);
- the inherited position is a ``Position`` without a user (entry at the mark, no margin,
  no liquidation price), which the liquidation engine then closes in the book
  (``insurance.insurance_close``, after the tick's liquidations);
- a ``Liquidation`` row (unique per position and generation) records the numbers and the
  evidence: the mark tick with its index sources.
"""
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog
from django.db import transaction
from django.utils import timezone

from apps.core.money import EXACT
from apps.futures import margin, selectors
from apps.futures.constants import PositionStatus, sign
from apps.futures.models import Liquidation, Position
from apps.futures.services.insurance import insurance_close
from apps.futures.services.reduce_only import reduce_only_trim_on_commit
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger

if TYPE_CHECKING:
    from apps.futures.services.mark import MarkTick

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


def take_over(position: Position, *, price: Decimal, insurance_size: Decimal, currency: str,
              evidence: dict, now: datetime) -> Liquidation:
    """Liquidate the locked, open ``position`` at ``price``: the liquidation fee and the
    ledger's liquidation journal, the ``Liquidation`` record, ``insurance_size`` of it
    inherited by the insurance fund (the rest was closed by the fill that bankrupted it),
    and the position left flat. The caller holds the position's row lock and saves the
    position."""
    size, value, wb = position.size, position.value, position.margin
    loss = sign(position.side) * (value - EXACT.multiply(size, price))
    if loss >= 0:
        paid, inherited_value = loss, EXACT.multiply(insurance_size, price)
    else:
        # Below maintenance while in profit (funding drained the margin): the fund takes
        # it at its entry, so the counterparties' claim on CLEARING is unchanged.
        paid, inherited_value = ZERO, value
    # The fee comes out of what the margin leaves beyond the loss (so it never adds to
    # the trader's loss, which is the whole margin either way); the fund gets it first.
    fee = min(margin.fee(notional=EXACT.multiply(size, price),
                         rate=position.contract.liquidation_fee_rate,
                         decimals=wallet_selectors.currency_decimals(code=currency)),
              max(ZERO, wb - paid))
    hold = position.hold_position
    if fee:
        ledger.liquidation_fee(key=f"liquidation:{hold}:fee", user_id=position.user_id,
                               currency=currency, position=hold, amount=fee)
    ledger.liquidate_position(key=f"liquidation:{hold}", user_id=position.user_id,
                              currency=currency, position=hold, loss=paid)
    record = Liquidation.objects.create(
        position=position, generation=position.generation, side=position.side, size=size,
        value=value, margin=wb, mark=price, liquidation_price=position.liquidation_price,
        bankruptcy_price=margin.bankruptcy_price(side=position.side, size=size, value=value,
                                                 margin=wb),
        loss=paid, fee=fee, insurance_delta=wb - paid, evidence=evidence)
    if insurance_size:
        Position.objects.create(user=None, contract_id=position.contract_id,
                                status=PositionStatus.OPEN, side=position.side,
                                size=insurance_size, value=inherited_value, opened_at=now,
                                taken_over_from=record)
    position.realised_pnl -= wb
    position.status, position.size, position.value, position.margin = (
        PositionStatus.FLAT, ZERO, ZERO, ZERO)
    position.liquidation_price = position.bankruptcy_price = None
    log.info("futures_liquidation", position=position.pk, generation=position.generation,
             mark=str(price), loss=str(paid), fee=str(fee), insurance_delta=str(wb - paid),
             inherited=str(insurance_size))
    return record


def position_liquidate(*, position_id: int, tick: "MarkTick") -> Liquidation | None:
    """Liquidate the position if ``tick``'s mark puts it at or below maintenance; None if
    it is not (any more) open or is above maintenance there. Exactly once per position
    generation (its row lock, and ``Liquidation``'s unique key).

    Locks the position row, then (through the ledger) the user's FUTURES wallet and the
    margin hold."""
    with transaction.atomic():
        position = (Position.objects.select_for_update().select_related("contract__market")
                    .filter(pk=position_id, user__isnull=False).first())
        if position is None or position.status != PositionStatus.OPEN:
            return None
        tiers = selectors.contract_tiers(contract_id=position.contract_id)
        if not margin.below_maintenance(side=position.side, size=position.size,
                                        value=position.value, margin=position.margin,
                                        price=tick.mark, tiers=tiers):
            return None
        record = take_over(position, price=tick.mark, insurance_size=position.size,
                           currency=position.contract.market.quote_currency,
                           evidence=tick.evidence(), now=timezone.now())
        position.save()
        reduce_only_trim_on_commit(user_id=position.user_id, contract_id=position.contract_id)
        return record


def liquidate_on_mark(*, tick: "MarkTick") -> list[Liquidation]:
    """Liquidate every position ``tick`` reaches (one transaction each, in id order), then
    put the insurance fund's open positions of the contract to the book
    (``insurance.insurance_close``: the ones just inherited, and what earlier closes left);
    a position that fails is logged and left to the next tick or the sweep, never
    blocking the others."""
    done = []
    for position_id in selectors.liquidation_candidates(contract_id=tick.contract_id,
                                                        mark=tick.mark):
        try:
            record = position_liquidate(position_id=position_id, tick=tick)
        except Exception:
            log.exception("futures_liquidation_failed", position=position_id,
                          mark=str(tick.mark))
            continue
        if record is not None:
            done.append(record)
    try:
        insurance_close(contract_id=tick.contract_id)
    except Exception:  # the tick's liquidations stand; the next tick or sweep tries again
        log.exception("futures_insurance_close_failed", contract=tick.contract_id)
    return done
