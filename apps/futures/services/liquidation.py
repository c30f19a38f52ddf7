"""Liquidation: a position whose margin balance at the mark is at or below maintenance is
taken over by the insurance fund.

Per mark tick (``liquidate_on_mark``), the positions it reaches are found by one range
per side on the stored liquidation price (``selectors.liquidation_candidates``: a long's
at or above the mark, a short's at or below), never by scanning the open positions; the
beat sweep recomputes every mark and does the same (the safety net). Each candidate is
then locked and checked again at that mark (a margin added meanwhile saves it).

What a liquidation does (``takeover.take_over``), in one transaction per position:
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
  evidence: the mark tick with its index sources;
- unless the mark is past the bankruptcy price by more than the insurance fund can pay
  (INSURANCE plus the engine's float, ``takeover.fund_balance``): then the position is
  auto-deleveraged instead (``adl.bankrupt_deleverage``): closed at its bankruptcy price
  against the opposing traders' positions, the fund paying nothing.
"""
from typing import TYPE_CHECKING

import structlog
from django.db import transaction
from django.utils import timezone

from apps.core.money import EXACT
from apps.futures import margin, selectors
from apps.futures.constants import PositionStatus, sign
from apps.futures.models import Liquidation, Position
from apps.futures.services.adl import bankrupt_deleverage, fund_positions_deleverage
from apps.futures.services.insurance import insurance_close
from apps.futures.services.reduce_only import reduce_only_trim_on_commit
from apps.futures.services.takeover import fund_balance, take_over

if TYPE_CHECKING:
    from apps.futures.services.mark import MarkTick

log = structlog.get_logger(__name__)


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
        currency = position.contract.market.quote_currency
        deficit = sign(position.side) * (
            position.value - EXACT.multiply(position.size, tick.mark)) - position.margin
        if deficit > 0 and deficit > fund_balance(currency=currency):
            record = bankrupt_deleverage(position, tick=tick, currency=currency,
                                         now=timezone.now())
        else:
            record = take_over(position, price=tick.mark, insurance_size=position.size,
                               currency=currency, evidence=tick.evidence(),
                               now=timezone.now())
        position.save()
        reduce_only_trim_on_commit(user_id=position.user_id, contract_id=position.contract_id)
        return record


def liquidate_on_mark(*, tick: "MarkTick") -> list[Liquidation]:
    """Liquidate every position ``tick`` reaches (one transaction each, in id order), then
    deleverage the insurance fund's positions the book has not closed in the contract's
    ``adl_after_seconds`` (``adl.fund_positions_deleverage``), then put the fund's other
    open positions of the contract to the book (``insurance.insurance_close``: the ones
    just inherited, and what earlier closes left); a position that fails is logged and
    left to the next tick or the sweep, never blocking the others."""
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
        fund_positions_deleverage(tick=tick)
    except Exception:  # the next tick or sweep tries again
        log.exception("futures_fund_adl_failed", contract=tick.contract_id)
    try:
        insurance_close(contract_id=tick.contract_id)
    except Exception:  # the tick's liquidations stand; the next tick or sweep tries again
        log.exception("futures_insurance_close_failed", contract=tick.contract_id)
    return done
