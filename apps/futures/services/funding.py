"""Funding: at every stamp of a contract's interval, the positions open at the stamp pay or
receive size x mark x F on their size at the stamp, F = P + clamp(I - P, ±0.05 %) bounded
by the contract's floor and cap (``margin.funding_rate``), P the average premium of the
mark ticks of the interval the stamp ends, and the mark the interval's last.

Every mark tick adds itself to its interval's ``FundingWindow`` (``mark.funding_window_add``:
the count and premium sum, the last mark and index), so a stamp is priced from its own
interval whenever it is charged. ``funding_run`` charges every stamp since the last one
charged, oldest first: a stamp the beat missed (the beat down for a while) is charged
once when it runs again, at its own rate and mark. A stamp whose interval had no mark
tick at all (no fresh index throughout) has nothing to price it and is not charged.

Exactly once per stamp and position: the stamp's ``FundingRate`` row is unique per
contract (the first run decides the rate from the window; a later run only charges whom
it missed), and each ``FundingCharge`` is unique per stamp and position, written under
the position's row lock with the ledger journal (keyed ``funding:<stamp id>:<position
id>``). Only user positions open at the stamp and still open in the same generation
(``opened_at`` at or before it; a position closed or liquidated since has no margin left
to charge) pay, on their size at the stamp: the size now less the fills applied to it
after the stamp (``AppliedFill.filled_at``). A positive rate: longs pay shorts, through
CLEARING (``wallets.services.settle_clearing``), a payment rounded up and a receipt down.
A payment is taken out of the position's margin and capped at it (the position is then
liquidated at once if the charge put it at or below maintenance). The insurance fund's
inherited positions neither pay nor receive (they have no margin; the liquidation engine
closes them in the book).
"""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.money import ROUNDING
from apps.futures import margin, selectors
from apps.futures.constants import PositionSide, PositionStatus
from apps.futures.models import (
    AppliedFill,
    Contract,
    FundingCharge,
    FundingRate,
    FundingWindow,
    Position,
)
from apps.futures.services.mark import mark_compute, mark_refresh, window_stamp
from apps.futures.services.positions import reprice
from apps.trading.constants import Side
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind

log = structlog.get_logger(__name__)
ZERO = Decimal(0)
RATE_PLACES = Decimal("1e-12")


def _rate(contract: Contract, premium: Decimal) -> Decimal:
    return margin.funding_rate(premium=premium, interest=contract.funding_interest_rate,
                               floor=contract.funding_rate_floor,
                               cap=contract.funding_rate_cap).quantize(RATE_PLACES)


def _stamp_rate(contract: Contract, window: FundingWindow) -> FundingRate:
    found = FundingRate.objects.filter(contract=contract,
                                       funding_time=window.funding_time).first()
    if found is not None:
        return found
    premium = ROUNDING.divide(window.premium_sum, window.ticks).quantize(RATE_PLACES)
    try:
        with transaction.atomic():
            return FundingRate.objects.create(
                contract=contract, funding_time=window.funding_time,
                rate=_rate(contract, premium), premium=premium, mark=window.mark,
                index=window.index)
    except IntegrityError:  # another run decided it first
        return FundingRate.objects.get(contract=contract, funding_time=window.funding_time)


def funding_run(*, contract_id: int, now: datetime | None = None) -> list[FundingRate]:
    """Charge every stamp of the contract at or before ``now`` since the last one charged
    in full, oldest first, each to every position open at it that has not paid it yet
    (``funding_charge``: one transaction per position); returns those stamps' rates. A
    stamp without a window (no mark tick in its interval) is passed over."""
    now = now or timezone.now()
    contract = Contract.objects.select_related("market").get(pk=contract_id)
    windows = FundingWindow.objects.filter(
        contract=contract, funding_time__lte=selectors.funding_stamp(contract=contract,
                                                                     now=now))
    last = (FundingRate.objects.filter(contract=contract, charged=True)
            .order_by("-funding_time").values_list("funding_time", flat=True).first())
    if last is not None:
        windows = windows.filter(funding_time__gt=last)
    decimals = wallet_selectors.currency_decimals(code=contract.market.quote_currency)
    done = []
    for window in windows.order_by("funding_time"):
        funding = _stamp_rate(contract, window)
        if not funding.charged:
            _charge_all(contract, funding, decimals)
        done.append(funding)
    if done:
        # A charge moved liquidation prices closer: what is now at or below maintenance
        # goes.
        mark_refresh(contract=contract, now=now)
    return done


def _charge_all(contract: Contract, funding: FundingRate, decimals: int) -> None:
    pending = (Position.objects.filter(contract=contract, status=PositionStatus.OPEN,
                                       user__isnull=False,
                                       opened_at__lte=funding.funding_time)
               .exclude(pk__in=FundingCharge.objects.filter(funding=funding)
                        .values("position_id"))
               .order_by("pk").values_list("pk", flat=True))
    for position_id in list(pending):
        funding_charge(position_id=position_id, funding=funding, decimals=decimals)
    FundingRate.objects.filter(pk=funding.pk).update(charged=True)
    funding.charged = True
    log.info("futures_funding_charged", contract=contract.pk,
             stamp=funding.funding_time.isoformat(), rate=str(funding.rate),
             mark=str(funding.mark))


def size_at(position: Position, *, at: datetime) -> Decimal:
    """The size of ``position`` (open since before ``at``, so on one side throughout) at
    ``at``: its size now less what its fills after ``at`` added, plus what they took."""
    adds = Side.BUY if position.side == PositionSide.LONG else Side.SELL
    size = position.size
    for side, amount in AppliedFill.objects.filter(position=position, filled_at__gt=at) \
            .values_list("side", "amount"):
        size += -amount if side == adds else amount
    return size


def funding_charge(*, position_id: int, funding: FundingRate,
                   decimals: int) -> FundingCharge | None:
    """Charge ``funding`` to one position on its size at the stamp, exactly once; None if
    it is no longer open in the generation it had at the stamp (closed, liquidated or
    reopened since). Locks the position, then the wallet and the margin hold."""
    with transaction.atomic():
        position = (Position.objects.select_for_update().select_related("contract__market")
                    .get(pk=position_id))
        done = FundingCharge.objects.filter(funding=funding, position=position).first()
        if done is not None:
            return done
        if position.status != PositionStatus.OPEN or position.opened_at is None \
                or position.opened_at > funding.funding_time:
            return None
        size = size_at(position, at=funding.funding_time)
        owed = margin.funding_payment(side=position.side, size=size, mark=funding.mark,
                                      rate=funding.rate, decimals=decimals)
        paid = min(owed, position.margin)
        if paid:
            ledger.settle_clearing(
                key=f"funding:{funding.pk}:{position.pk}", kind=JournalKind.FUNDING,
                currency=position.contract.market.quote_currency,
                flows=[ledger.ClearingFlow(user_id=position.user_id,
                                           position=position.hold_position, amount=-paid)])
        position.funding += paid
        if paid > 0:
            position.margin -= paid
            reprice(position, selectors.contract_tiers(contract_id=position.contract_id))
        position.save()
        return FundingCharge.objects.create(funding=funding, position=position,
                                            generation=position.generation, size=size,
                                            amount=paid)


@dataclass(frozen=True)
class FundingPreview:
    """The next funding of a contract, and what the user's position would pay (> 0) or
    receive (< 0) at it if the rate and mark stayed as they are now."""

    funding_time: datetime
    rate: Decimal | None
    mark: Decimal | None
    amount: Decimal | None


def funding_preview(*, contract: Contract, user_id: int | None,
                    now: datetime | None = None) -> FundingPreview:
    """The next stamp, the rate its interval's ticks give so far (with the current
    premium counted in), and the user's estimated charge at the current mark (None where
    there is no fresh mark, or no open position)."""
    now = now or timezone.now()
    stamp = window_stamp(contract, now)
    tick = mark_compute(contract=contract, now=now)
    if tick is None:
        return FundingPreview(stamp, None, None, None)
    window = FundingWindow.objects.filter(contract=contract, funding_time=stamp).first()
    ticks, total = (window.ticks, window.premium_sum) if window is not None else (0, ZERO)
    rate = _rate(contract, ROUNDING.divide(total + tick.premium, ticks + 1))
    position = Position.objects.filter(user_id=user_id, contract=contract,
                                       status=PositionStatus.OPEN).first() if user_id else None
    amount = None
    if position is not None:
        decimals = wallet_selectors.currency_decimals(code=contract.market.quote_currency)
        amount = margin.funding_payment(side=position.side, size=position.size,
                                        mark=tick.mark, rate=rate, decimals=decimals)
    return FundingPreview(stamp, rate, tick.mark, amount)
