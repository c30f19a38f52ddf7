"""Positions: a futures fill applied to its trader's one-way isolated position, margin
added or removed by the trader, and the preview of an order's outcome.

``position_apply_fill`` is what the engine's settlement calls once per side of each
futures trade (it will release the order's hold for the filled part first, in the same
transaction); until the engine runs, tests and the simulation call it directly. What a
fill does, by the position it meets (``fill_plan``, pure, also behind the preview):
- opens or increases: initial margin notional / leverage (rounded up) moves from the
  available FUTURES balance into the position's margin hold; the entry value grows by
  amount x price;
- reduces: the closed share of the entry value (pro rata, rounded half-even) against
  amount x price is the realised PnL, paid through CLEARING (a profit into available, a
  loss out of the margin); the margin's pro-rata share, less any loss, is released; a full
  close releases what remains and closes the hold;
- a reduce whose loss is more than the whole margin (a fill past the bankruptcy price,
  a gap the liquidation did not see first): the position is bankrupt and liquidated at the
  fill's price (``takeover.take_over``: its margin lost, the loss beyond it paid by
  INSURANCE, the rest of its size inherited by the insurance fund);
- flips: closes all, then opens the rest the other way (a new generation: a new hold);
- pays the fee, amount x price x the fee rate rounded up, from the available balance to
  FEES (the reference's worked example: fees from the free balance).
"""
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.db import retry_lost_deadlock
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.money import (
    EXACT,
    MAX_AMOUNT,
    ROUNDING,
    AmountError,
    quantize_exact,
    round_down,
)
from apps.futures import margin, selectors
from apps.futures.constants import PositionSide, PositionStatus, sign
from apps.futures.models import AppliedFill, Contract, Position
from apps.futures.services.reduce_only import reduce_only_trim_on_commit
from apps.futures.services.streams import positions_publish
from apps.futures.services.takeover import take_over
from apps.trading.constants import Side
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind, SystemAccount, WalletType

ZERO = Decimal(0)
# A first fill's insert of its flat position row, tried this often (``ensure_position``).
_ENSURE_ATTEMPTS = 3
# Below a tenth of what a money column holds: a short's liquidation price (about twice its
# entry at 1x) and every sum of notionals still fit.
_LARGEST = MAX_AMOUNT / 10
_PLACES = Decimal(1).scaleb(-margin.PRICE_PLACES)


@dataclass(frozen=True)
class PositionState:
    status: str
    side: str
    size: Decimal
    value: Decimal
    margin: Decimal
    leverage: int

    @classmethod
    def of(cls, position: Position) -> "PositionState":
        return cls(position.status, position.side, position.size, position.value,
                   position.margin, position.leverage)


@dataclass(frozen=True)
class FillPlan:
    """What one fill does to a position (see the module docstring)."""

    before: PositionState
    close: Decimal  # size closed
    portion: Decimal  # entry value closed
    pnl: Decimal  # realised by the close
    release: Decimal | None  # margin released by a partial close; None: all (a full close)
    bankrupt: bool
    open: Decimal  # size opened or added in the fill's direction
    initial_margin: Decimal
    fee: Decimal
    after: PositionState

    @property
    def realised(self) -> Decimal:
        """What the trader realised: the PnL of the close, or the whole margin when the
        close bankrupts the position."""
        return -self.before.margin if self.bankrupt else self.pnl


def fill_plan(*, state: PositionState, side: str, amount: Decimal, price: Decimal,
              leverage: int, fee_rate: Decimal, decimals: int) -> FillPlan:
    """The plan of one fill on a position in ``state`` (pure)."""
    direction = PositionSide.LONG if side == Side.BUY else PositionSide.SHORT
    fee = margin.fee(notional=EXACT.multiply(amount, price), rate=fee_rate, decimals=decimals)
    close = portion = pnl = ZERO
    release: Decimal | None = None
    bankrupt = False
    pos_side, size, value, wb, lev = (state.side, state.size, state.value, state.margin,
                                      state.leverage)
    if size and pos_side != direction:
        close = min(amount, size)
        portion = value if close == size else ROUNDING.divide(
            ROUNDING.multiply(value, close), size).quantize(
            Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN, context=ROUNDING)
        pnl = sign(pos_side) * (EXACT.multiply(close, price) - portion)
        loss = max(ZERO, -pnl)
        if loss > wb:
            bankrupt, size, value, wb = True, ZERO, ZERO, ZERO
        elif close == size:
            size, value, wb = ZERO, ZERO, ZERO
        else:
            share = round_down(ROUNDING.divide(ROUNDING.multiply(wb, close), size),
                               decimals=decimals)
            release = max(ZERO, share - loss)
            size, value, wb = size - close, value - portion, wb - loss - release
    opened = amount - close
    initial = ZERO
    if opened:
        if not size:
            pos_side = direction
        initial = margin.initial_margin(notional=EXACT.multiply(opened, price),
                                        leverage=leverage, decimals=decimals)
        size, value, wb, lev = (size + opened, value + EXACT.multiply(opened, price),
                                wb + initial, leverage)
    status = PositionStatus.OPEN if size else PositionStatus.FLAT
    return FillPlan(before=state, close=close, portion=portion, pnl=pnl, release=release,
                    bankrupt=bankrupt, open=opened, initial_margin=initial, fee=fee,
                    after=PositionState(status, pos_side, size, value, wb, lev))


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and EXACT.remainder(value, step) == 0


def _check_order(*, contract: Contract, side: str, amount: Decimal, price: Decimal,
                 leverage: int, decimals: int) -> None:
    market = contract.market
    if side not in (Side.BUY, Side.SELL):
        raise InvalidInput("side is BUY or SELL.")
    for name, value in (("amount", amount), ("price", price)):
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise InvalidInput(f"The {name} must be a positive, finite Decimal.")
    if not (_multiple(amount, market.lot_size) and _multiple(amount, contract.contract_size)):
        raise InvalidInput(f"The amount must be a multiple of the lot {market.lot_size} and "
                           f"of the contract size {contract.contract_size}.")
    if not _multiple(price, market.tick_size):
        raise InvalidInput(f"The price must be a multiple of the tick {market.tick_size}.")
    if isinstance(leverage, bool) or not isinstance(leverage, int) \
            or not 1 <= leverage <= contract.max_leverage:
        raise InvalidInput(f"The leverage is a whole number from 1 to "
                           f"{contract.max_leverage}.", code="invalid_leverage")
    if price >= _LARGEST or EXACT.multiply(amount, price) >= _LARGEST:
        raise InvalidInput("The price or the notional is too large.")
    try:
        quantize_exact(EXACT.multiply(amount, price), decimals=decimals)
    except AmountError:
        raise InvalidInput("amount x price has more places than the settlement currency.") \
            from None


def _contract(contract_id: int) -> Contract:
    contract = Contract.objects.select_related("market").filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("No such futures contract.")
    return contract


def ensure_position(*, user_id: int, contract: Contract) -> None:
    """Create the user's flat position row in ``contract`` if it is missing. Called before
    the fill's transaction: outside any transaction the insert commits at once, so that
    workers delivering a first fill together never hold the new row's key while waiting to
    lock it (InnoDB deadlocks them: each holds a shared lock on the duplicate and wants
    the exclusive one). Inside a caller's transaction (the engine's settlement: one writer
    per market) it is a savepoint. A fill refused afterwards (insufficient funds) leaves
    the row flat and empty: no size, no margin, no money.

    Outside a transaction the insert may still lose a deadlock: a concurrent first fill
    that made the row and locked it can insert a fund position beside it in the same
    unique index while this insert's shared lock on the duplicate waits (seen on MariaDB
    in tests/futures/test_races.py). Only this statement was rolled back, so it looks
    again, up to ``_ENSURE_ATTEMPTS`` times; inside a transaction the error goes up (the
    whole transaction was lost)."""
    def make() -> None:
        if Position.objects.filter(user_id=user_id, contract=contract).exists():
            return
        try:
            with transaction.atomic():
                Position.objects.create(user_id=user_id, contract=contract)
        except IntegrityError:
            pass  # a concurrent first fill made it: the row is what both lock next

    retry_lost_deadlock(make, attempts=_ENSURE_ATTEMPTS,
                        event="futures_position_insert_retried", user_id=user_id,
                        contract=contract.pk)


def lock_position(*, user_id: int, contract: Contract) -> Position:
    """The user's position row in ``contract`` (``ensure_position`` made it), locked."""
    position = Position.objects.select_for_update().get(user_id=user_id, contract=contract)
    position.contract = contract  # loaded with its market: what the stream item names
    return position


def reprice(position: Position, tiers: list[margin.Tier]) -> None:
    """Store the position's liquidation and bankruptcy prices (None when flat)."""
    if position.status != PositionStatus.OPEN or position.user_id is None:
        position.liquidation_price = position.bankruptcy_price = None
        return
    args = dict(side=position.side, size=position.size, value=position.value,
                margin=position.margin)
    position.liquidation_price = margin.liquidation_price(**args, tiers=tiers)
    position.bankruptcy_price = margin.bankruptcy_price(**args)


def _replay(fill: AppliedFill, *, position: Position, side: str, amount: Decimal,
            price: Decimal, fee_rate: Decimal, leverage: int) -> AppliedFill:
    if (fill.position_id, fill.side, fill.amount, fill.price, fill.fee_rate, fill.leverage) \
            == (position.pk, side, amount, price, fee_rate, leverage):
        return fill
    raise Conflict(f"Fill key {fill.key!r} was already applied with other content.",
                   code="idempotency_conflict")


def position_apply_fill(*, key: str, user_id: int, contract_id: int, side: str,
                        amount: Decimal, price: Decimal, fee_rate: Decimal, leverage: int,
                        now: datetime | None = None, reduce_only: bool = False,
                        held: Decimal | None = None) -> AppliedFill:
    """Apply one futures fill of ``user_id`` (``side`` BUY or SELL, ``amount`` at ``price``,
    the order's ``fee_rate`` and ``leverage``) to the user's position in the contract,
    exactly once per ``key`` (a replay with the same content returns the first record;
    other content is a Conflict "idempotency_conflict").

    A ``reduce_only`` fill never opens nor flips the position: what of it would (the
    position shrank after the order was placed) is taken by the insurance fund at
    ``price`` (``_to_insurance``), and the trader pays the fee of the rest only. ``held``
    is what the order's hold released for this fill (the engine's settlement): the fill
    then never fails on the trader's money (``_within``; docs/FUTURES.md "A fill its hold
    cannot pay").

    Locks the position row, then the user's FUTURES wallet (``held``: read locked, after
    the close) and the margin hold. Raises NotFound (contract), InvalidInput (side, amount
    or price off the lot/tick/contract size, leverage out of 1..max, a notional finer than
    the currency), InsufficientFunds (without ``held`` only: the available balance cannot
    pay the initial margin and the fee). Guarantees: the margin hold holds
    ``position.margin``; the liquidation and bankruptcy prices are current; a fill that
    shrinks the position has its trader's reduce-only orders trimmed after commit
    (``reduce_only_trim_on_commit``).
    """
    contract = _contract(contract_id)
    currency = contract.market.quote_currency
    decimals = wallet_selectors.currency_decimals(code=currency)
    _check_order(contract=contract, side=side, amount=amount, price=price, leverage=leverage,
                 decimals=decimals)
    if not isinstance(fee_rate, Decimal) or not 0 <= fee_rate < 1:
        raise InvalidInput("The fee rate is a Decimal from 0 to below 1.")
    now = now or timezone.now()
    ensure_position(user_id=user_id, contract=contract)
    with transaction.atomic():
        position = lock_position(user_id=user_id, contract=contract)
        done = AppliedFill.objects.filter(key=key).first()
        if done is not None:
            return _replay(done, position=position, side=side, amount=amount, price=price,
                           fee_rate=fee_rate, leverage=leverage)
        plan = fill_plan(state=PositionState.of(position), side=side, amount=amount,
                         price=price, leverage=leverage, fee_rate=fee_rate,
                         decimals=decimals)
        tiers = selectors.contract_tiers(contract_id=contract.pk)
        if plan.close:
            _close(position, plan=plan, key=key, price=price, currency=currency, now=now)
            reduce_only_trim_on_commit(user_id=user_id, contract_id=contract.pk)
        initial, fee = plan.initial_margin, plan.fee
        if reduce_only and plan.open:
            initial, fee = ZERO, margin.fee(notional=EXACT.multiply(plan.close, price),
                                            rate=fee_rate, decimals=decimals)
        opening = EXACT.multiply(plan.open, price)
        cap = min(contract.max_leverage, margin.tier_for(tiers, plan.after.value).max_leverage)
        if held is not None:
            owner = (user_id, None, WalletType.FUTURES, currency)
            available = ledger.wallets_lock(owners=[owner])[owner].available
            initial, fee = _within(initial=initial, fee=fee, held=held, available=available,
                                   at_cap=margin.initial_margin(
                                       notional=opening, leverage=cap, decimals=decimals))
        if initial:
            effective = ROUNDING.divide(opening, initial).to_integral_value(ROUND_CEILING)
            _open(position, plan=plan, key=key, currency=currency, now=now, initial=initial,
                  leverage=max(plan.after.leverage, min(cap, int(effective))))
        elif plan.open:
            _to_insurance(contract_id=contract.pk, side=side, size=plan.open, price=price,
                          now=now)
        if fee:
            ledger.post(key=f"{key}:fee", kind=JournalKind.TRADE,
                        memo=f"futures fee {position.hold_position}", legs=[
                            ledger.Leg(WalletType.FUTURES, currency, -fee,
                                       user_id=user_id),
                            ledger.Leg(WalletType.FUTURES, currency, fee,
                                       system=SystemAccount.FEES)])
            position.fees += fee
        reprice(position, tiers)
        position.save()
        positions_publish(positions=[position])
        return AppliedFill.objects.create(
            key=key, position=position, side=side, amount=amount, price=price,
            fee_rate=fee_rate, leverage=leverage, fee=fee, realised_pnl=plan.realised,
            filled_at=now)


def _within(*, initial: Decimal, fee: Decimal, held: Decimal, available: Decimal,
            at_cap: Decimal) -> tuple[Decimal, Decimal]:
    """The margin and fee an engine fill takes when the trader's ``available`` balance
    (``held`` of it released by the order's hold for this fill) cannot pay its
    ``initial`` margin and ``fee`` in full: the margin held (what ``held`` leaves after
    the fee), or, when that is below ``at_cap`` (the margin at the contract's and tier's
    maximum leverage), ``at_cap`` with the shortfall from the free balance, as far as the
    balance goes; then the fee from what is left. An engine batch never fails on a
    trader's money: what is not there is not charged (the margin's lack is the
    liquidation's to handle at the next mark tick, the fee's is the platform's loss)."""
    if available >= initial + fee:
        return initial, fee
    if initial:
        initial = min(max(held - fee, at_cap), available)
    return initial, min(fee, available - initial)


def _to_insurance(*, contract_id: int, side: str, size: Decimal, price: Decimal,
                  now: datetime) -> Position:
    """The insurance fund's position of ``size`` opened at ``price`` by a fill no trader
    may hold (as a liquidation's inherited ones: no user, no margin): the counterparty's
    position is matched, so CLEARING's identity holds."""
    return Position.objects.create(
        user=None, contract_id=contract_id, status=PositionStatus.OPEN,
        side=PositionSide.LONG if side == Side.BUY else PositionSide.SHORT, size=size,
        value=EXACT.multiply(size, price), opened_at=now)


def _close(position: Position, *, plan: FillPlan, key: str, price: Decimal, currency: str,
           now: datetime) -> None:
    hold = position.hold_position
    if plan.bankrupt:
        take_over(position, price=price, insurance_size=plan.before.size - plan.close,
                  currency=currency, evidence={"fill": key, "price": str(price)}, now=now)
    else:
        if plan.pnl:
            ledger.settle_clearing(key=f"{key}:pnl", kind=JournalKind.PNL, currency=currency,
                                   flows=[ledger.ClearingFlow(user_id=position.user_id,
                                                              position=hold,
                                                              amount=plan.pnl)])
        if plan.release is None:
            ledger.margin_release(position=hold, key=f"{key}:release")
        elif plan.release:
            ledger.margin_release(position=hold, key=f"{key}:release", amount=plan.release)
    if not plan.bankrupt:  # take_over booked the lost margin
        position.realised_pnl += plan.pnl
    if plan.open or not plan.after.size:  # closed in full (a flip opens after this)
        position.status, position.size, position.value, position.margin = (
            PositionStatus.FLAT, ZERO, ZERO, ZERO)
    else:
        position.size, position.value = plan.after.size, plan.after.value
        position.margin = plan.after.margin


def _open(position: Position, *, plan: FillPlan, key: str, currency: str, now: datetime,
          initial: Decimal, leverage: int) -> None:
    if position.status == PositionStatus.FLAT:
        position.generation += 1
        position.opened_at = now
        position.realised_pnl = position.fees = position.funding = ZERO
    hold = ledger.margin_add(user_id=position.user_id, currency=currency,
                             position=position.hold_position, amount=initial,
                             key=f"{key}:margin")
    position.status = PositionStatus.OPEN
    position.side = plan.after.side
    position.size, position.value = plan.after.size, plan.after.value
    position.leverage = leverage
    position.margin = hold.remaining


def _lock_own_open(*, user_id: int, position_id: int) -> Position:
    position = (Position.objects.select_for_update().select_related("contract__market")
                .filter(pk=position_id, user_id=user_id).first())
    if position is None:
        raise NotFound("No such position.")
    if position.status != PositionStatus.OPEN:
        raise Conflict("The position is closed.", code="position_closed")
    return position


def position_margin_add(*, user_id: int, position_id: int, amount: Decimal,
                        key: str) -> Position:
    """Move ``amount`` of the user's available FUTURES balance into the margin of their
    open position (its liquidation price moves away), once per ``key``.

    Locks the position, then the wallet and the hold. Raises NotFound (not the user's),
    Conflict (closed; "idempotency_conflict"), InvalidInput (amount),
    InsufficientFunds."""
    with transaction.atomic():
        position = _lock_own_open(user_id=user_id, position_id=position_id)
        hold = ledger.margin_add(user_id=user_id, currency=position.contract.market.
                                 quote_currency, position=position.hold_position,
                                 amount=amount, key=f"futures-margin:{key}")
        position.margin = hold.remaining
        reprice(position, selectors.contract_tiers(contract_id=position.contract_id))
        position.save()
        positions_publish(positions=[position])
        return position


def removable_margin(*, position: Position, mark: Decimal, decimals: int) -> Decimal:
    """How much margin may leave the position at ``mark``: what keeps its margin, less an
    unrealised loss, at the initial margin of its notional at the mark (size x mark /
    leverage, rounded up)."""
    required = margin.initial_margin(notional=EXACT.multiply(position.size, mark),
                                     leverage=position.leverage, decimals=decimals)
    loss = min(ZERO, margin.unrealised(side=position.side, size=position.size,
                                       value=position.value, price=mark))
    return max(ZERO, round_down(position.margin + loss - required, decimals=decimals))


def position_margin_remove(*, user_id: int, position_id: int, amount: Decimal, key: str,
                           now: datetime | None = None) -> Position:
    """Give ``amount`` of the open position's margin back to the user's available balance,
    only down to the initial margin requirement at the latest mark
    (``removable_margin``), once per ``key``.

    Locks the position, then the wallet and the hold. Raises NotFound, InvalidInput,
    Conflict ("position_closed", "stale_mark": no fresh mark to judge by,
    "margin_below_initial", "idempotency_conflict")."""
    now = now or timezone.now()
    with transaction.atomic():
        position = _lock_own_open(user_id=user_id, position_id=position_id)
        contract = position.contract
        mark = selectors.latest_mark(contract=contract)
        if mark is None or mark.age_seconds(now=now) > contract.index_max_age_seconds:
            raise Conflict("No fresh mark price: margin cannot be removed now.",
                           code="stale_mark")
        decimals = wallet_selectors.currency_decimals(code=contract.market.quote_currency)
        if not wallet_selectors.hold_change_exists(key=f"futures-margin:{key}"):
            most = removable_margin(position=position, mark=mark.price, decimals=decimals)
            if not isinstance(amount, Decimal) or amount > most:
                raise Conflict(f"At most {most.normalize():f} can be removed now (the "
                               "initial margin at the mark stays).",
                               code="margin_below_initial")
        hold = ledger.margin_release(position=position.hold_position,
                                     key=f"futures-margin:{key}", amount=amount)
        position.margin = hold.remaining
        reprice(position, selectors.contract_tiers(contract_id=contract.pk))
        position.save()
        positions_publish(positions=[position])
        return position


@dataclass(frozen=True)
class Preview:
    """What an order would make of the user's position if it filled at ``price``."""

    side: str
    size: Decimal
    entry_price: Decimal | None
    margin: Decimal
    initial_margin: Decimal
    fee: Decimal
    realised_pnl: Decimal
    maintenance_rate: Decimal | None
    tier_max_leverage: int | None
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None


def liquidation_price_preview(*, user_id: int, contract: Contract, side: str,
                              amount: Decimal, price: Decimal, leverage: int) -> Preview:
    """The position the user would hold after an order of ``amount`` at ``price`` with
    ``leverage`` filled in full as taker: its size, entry, margin, the order's initial
    margin and fee, and the liquidation and bankruptcy prices. Reads only.

    Raises InvalidInput (as ``position_apply_fill`` does; "leverage_too_high": above the
    maximum of the tier the resulting notional falls in)."""
    market = contract.market
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    _check_order(contract=contract, side=side, amount=amount, price=price, leverage=leverage,
                 decimals=decimals)
    current = Position.objects.filter(user_id=user_id, contract=contract).first()
    state = PositionState.of(current) if current is not None else PositionState(
        PositionStatus.FLAT, PositionSide.LONG, ZERO, ZERO, ZERO, leverage)
    plan = fill_plan(state=state, side=side, amount=amount, price=price, leverage=leverage,
                     fee_rate=market.taker_fee, decimals=decimals)
    after = plan.after
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    if not after.size:
        return Preview(after.side, ZERO, None, ZERO, ZERO, plan.fee, plan.realised, None,
                       None, None, None)
    tier = margin.tier_for(tiers, after.value)
    if plan.open and leverage > tier.max_leverage:
        raise InvalidInput(f"A position of notional {after.value.normalize():f} allows at "
                           f"most {tier.max_leverage}x.", code="leverage_too_high")
    args = dict(side=after.side, size=after.size, value=after.value, margin=after.margin)
    entry = ROUNDING.divide(after.value, after.size).quantize(_PLACES, context=ROUNDING)
    return Preview(after.side, after.size, entry,
                   after.margin, plan.initial_margin, plan.fee, plan.realised, tier.mmr,
                   tier.max_leverage, margin.liquidation_price(**args, tiers=tiers),
                   margin.bankruptcy_price(**args))
