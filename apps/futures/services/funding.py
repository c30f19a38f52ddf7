"""Funding: at every stamp of a contract's interval, open positions pay or receive
size x mark x F, F = P + clamp(I - P, ±0.05 %) bounded by the contract's floor and cap
(``margin.funding_rate``), P the premium of the mark at the run (``mark.mark_compute``).

Exactly once per stamp and position: the stamp's ``FundingRate`` row is unique per
contract (the first run decides the rate; a later run only charges whom it missed), and
each ``FundingCharge`` is unique per stamp and position, written under the position's
row lock with the ledger journal (keyed ``funding:<stamp id>:<position id>``). Only user
positions open at the stamp (``opened_at`` at or before it) pay; a positive rate: longs
pay shorts, through CLEARING (``wallets.services.settle_clearing``), a payment rounded up
and a receipt down. A payment is taken out of the position's margin and capped at it (the
position is then liquidated at once if the charge put it at or below maintenance). The
insurance fund's inherited positions neither pay nor receive (they have no margin; the
engine closes them). A stamp the beat missed entirely is not charged later: the beat
(hourly by default, editable) charges the latest stamp only.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.futures import margin, selectors
from apps.futures.constants import PositionStatus
from apps.futures.models import Contract, FundingCharge, FundingRate, Position
from apps.futures.services.mark import MarkTick, mark_compute, mark_refresh
from apps.futures.services.positions import reprice
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


def _rate(contract: Contract, tick: MarkTick) -> Decimal:
    return margin.funding_rate(premium=tick.premium, interest=contract.funding_interest_rate,
                               floor=contract.funding_rate_floor,
                               cap=contract.funding_rate_cap).quantize(Decimal("1e-12"))


def _stamp_rate(contract: Contract, stamp: datetime, now: datetime) -> FundingRate | None:
    found = FundingRate.objects.filter(contract=contract, funding_time=stamp).first()
    if found is not None:
        return found
    tick = mark_compute(contract=contract, now=now)
    if tick is None:
        return None  # no fresh index: the next run decides it
    try:
        with transaction.atomic():
            return FundingRate.objects.create(
                contract=contract, funding_time=stamp, rate=_rate(contract, tick),
                premium=tick.premium.quantize(Decimal("1e-12")), mark=tick.mark,
                index=tick.index)
    except IntegrityError:  # another run decided it first
        return FundingRate.objects.get(contract=contract, funding_time=stamp)


def funding_run(*, contract_id: int, now: datetime | None = None) -> FundingRate | None:
    """Charge the contract's latest funding stamp to every position open at it that has
    not paid it yet; None if the rate cannot be decided (no fresh index). Each position
    in its own transaction (``funding_charge``)."""
    now = now or timezone.now()
    contract = Contract.objects.select_related("market").get(pk=contract_id)
    stamp = selectors.funding_stamp(contract=contract, now=now)
    funding = _stamp_rate(contract, stamp, now)
    if funding is None or funding.charged:
        return funding
    decimals = wallet_selectors.currency_decimals(code=contract.market.quote_currency)
    pending = (Position.objects.filter(contract=contract, status=PositionStatus.OPEN,
                                       user__isnull=False, opened_at__lte=stamp)
               .exclude(pk__in=FundingCharge.objects.filter(funding=funding)
                        .values("position_id"))
               .order_by("pk").values_list("pk", flat=True))
    for position_id in list(pending):
        funding_charge(position_id=position_id, funding=funding, decimals=decimals)
    FundingRate.objects.filter(pk=funding.pk).update(charged=True)
    funding.charged = True
    # A charge moved liquidation prices closer: what is now at or below maintenance goes.
    mark_refresh(contract=contract, now=now)
    return funding


def funding_charge(*, position_id: int, funding: FundingRate,
                   decimals: int) -> FundingCharge | None:
    """Charge ``funding`` to one position, exactly once; None if it is no longer open at
    the stamp's generation (closed or reopened after the stamp). Locks the position, then
    the wallet and the margin hold."""
    with transaction.atomic():
        position = (Position.objects.select_for_update().select_related("contract__market")
                    .get(pk=position_id))
        done = FundingCharge.objects.filter(funding=funding, position=position).first()
        if done is not None:
            return done
        if position.status != PositionStatus.OPEN or position.opened_at is None \
                or position.opened_at > funding.funding_time:
            return None
        owed = margin.funding_payment(side=position.side, size=position.size,
                                      mark=funding.mark, rate=funding.rate, decimals=decimals)
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
                                            generation=position.generation, amount=paid)


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
    """The next stamp, the rate the current premium gives, and the user's estimated
    charge (None where there is no fresh mark, or no open position)."""
    now = now or timezone.now()
    stamp = selectors.funding_stamp(contract=contract, now=now) + timedelta(
        hours=contract.funding_interval_hours)
    tick = mark_compute(contract=contract, now=now)
    if tick is None:
        return FundingPreview(stamp, None, None, None)
    rate = _rate(contract, tick)
    position = Position.objects.filter(user_id=user_id, contract=contract,
                                       status=PositionStatus.OPEN).first() if user_id else None
    amount = None
    if position is not None:
        decimals = wallet_selectors.currency_decimals(code=contract.market.quote_currency)
        amount = margin.funding_payment(side=position.side, size=position.size,
                                        mark=tick.mark, rate=rate, decimals=decimals)
    return FundingPreview(stamp, rate, tick.mark, amount)
