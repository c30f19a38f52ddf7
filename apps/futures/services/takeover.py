"""A bankrupt position taken over, and what the insurance fund can pay.

``take_over`` closes a trader's position at a price (the mark of a liquidating tick, a
fill past the bankruptcy price, or the ADL price) and leaves the rest of its size to the
insurance fund (``liquidation``, ``positions``, ``adl`` call it, each holding the
position's row lock). The fund is INSURANCE plus the liquidation engine's FUTURES
available balance (the float its close orders hold from, ``insurance.py``):
``fund_balance`` reads it, ``fund_cover`` moves float back to INSURANCE before a payment
INSURANCE alone cannot make, so that INSURANCE never goes below zero while the fund has
the money. Balances move only through ``apps.wallets.services``, each keyed from the
position (exactly once).
"""
from datetime import datetime
from decimal import Decimal

import structlog

from apps.core.errors import NotFound
from apps.core.money import EXACT
from apps.futures import margin
from apps.futures.constants import PositionStatus, sign
from apps.futures.models import Liquidation, Position
from apps.futures.services.insurance import engine_user_found
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import SystemAccount, WalletType

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


def _float(*, currency: str) -> tuple[int | None, Decimal]:
    """The liquidation engine's user id and its FUTURES available balance (None and 0
    before its first close order: this never makes the account)."""
    user_id = engine_user_found()
    if user_id is None:
        return None, ZERO
    try:
        found = wallet_selectors.wallet_get(user_id=user_id, wallet_type=WalletType.FUTURES,
                                            currency=currency)
    except NotFound:
        return user_id, ZERO
    return user_id, found.available


def fund_balance(*, currency: str) -> Decimal:
    """What the insurance fund can pay now: INSURANCE plus the engine's available float
    (what its live close orders hold is not). Reads only."""
    insurance = wallet_selectors.system_balance(system=SystemAccount.INSURANCE,
                                                wallet_type=WalletType.FUTURES,
                                                currency=currency)
    return insurance + _float(currency=currency)[1]


def fund_cover(*, key: str, currency: str, amount: Decimal, user_id: int | None) -> None:
    """Before INSURANCE pays ``amount``: return what INSURANCE lacks of it from the
    engine's float (``wallets.services.insurance_float_return``, keyed ``key``), as far as
    the float goes. Locks the engine's FUTURES wallet and ``user_id``'s (the payer's
    trader, whose wallet the payment's journal then locks; None: none) together, in pk
    order. Nothing when INSURANCE holds ``amount``."""
    insurance = wallet_selectors.system_balance(system=SystemAccount.INSURANCE,
                                                wallet_type=WalletType.FUTURES,
                                                currency=currency)
    if amount <= insurance:
        return
    engine, _ = _float(currency=currency)
    if engine is None:
        return
    owners = [(engine, None, WalletType.FUTURES, currency)]
    if user_id is not None:
        owners.append((user_id, None, WalletType.FUTURES, currency))
    available = ledger.wallets_lock(owners=owners)[owners[0]].available
    back = min(amount - insurance, available)
    if back > 0:
        ledger.insurance_float_return(key=key, user_id=engine, currency=currency, amount=back)


def take_over(position: Position, *, price: Decimal, insurance_size: Decimal, currency: str,
              evidence: dict, now: datetime, mark: Decimal | None = None) -> Liquidation:
    """Liquidate the locked, open ``position`` at ``price``: the liquidation fee and the
    ledger's liquidation journal, the ``Liquidation`` record (``mark``: the tick's, when
    ``price`` is not it), ``insurance_size`` of it inherited by the insurance fund at
    ``price`` (the rest was closed by the fill that bankrupted it, or is deleveraged), and
    the position left flat. A loss beyond the margin is paid by INSURANCE, topped up from
    the engine's float first (``fund_cover``). The caller holds the position's row lock
    and saves the position."""
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
    if paid > wb:
        fund_cover(key=f"liquidation:{hold}:float", currency=currency, amount=paid - wb,
                   user_id=position.user_id)
    if fee:
        ledger.liquidation_fee(key=f"liquidation:{hold}:fee", user_id=position.user_id,
                               currency=currency, position=hold, amount=fee)
    ledger.liquidate_position(key=f"liquidation:{hold}", user_id=position.user_id,
                              currency=currency, position=hold, loss=paid)
    record = Liquidation.objects.create(
        position=position, generation=position.generation, side=position.side, size=size,
        value=value, margin=wb, mark=price if mark is None else mark,
        liquidation_price=position.liquidation_price,
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
             price=str(price), loss=str(paid), fee=str(fee), insurance_delta=str(wb - paid),
             inherited=str(insurance_size))
    return record
