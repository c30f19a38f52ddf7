"""Futures margin in the ledger: position margin, realised PnL, funding and liquidation.

A position's margin is a MARGIN hold keyed ``margin:<position>`` in the user's FUTURES
wallet of the settlement currency: ``margin_add`` opens or increases it, ``margin_release``
gives part or all of it back, each exactly once per key (a ``HoldChange`` row). Money moves
between traders only through the CLEARING account: a loss or a funding payment is paid out
of the position's margin into CLEARING, a profit or a funding receipt is paid from CLEARING
into the user's available balance (``settle_clearing``). A liquidation pays the position's
loss to CLEARING out of its margin, what margin is left to INSURANCE, and a loss beyond the
margin from INSURANCE (``liquidate_position``). CLEARING and INSURANCE are system accounts:
never locked, their balances derived from entries. ``wallets_reconcile`` reports a negative
INSURANCE balance (the futures venue then deleverages; a liquidation itself never waits).

Every function keeps the contract of ``apps.wallets.services``: one transaction, the user
wallets locked in pk order then the holds, idempotent on ``key``, a replay with other
content a logged Conflict ("idempotency_conflict").
"""
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

import structlog
from django.db import transaction
from django.utils import timezone

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.money import EXACT
from apps.wallets.constants import HoldKind, JournalKind, SystemAccount, WalletType
from apps.wallets.models import Currency, Hold, HoldChange, Journal, Wallet
from apps.wallets.services.posting import (
    ZERO,
    Leg,
    exact,
    insufficient,
    lock_user_wallets,
    post,
    publish_balance,
    wallet_ids,
)
from apps.wallets.services.posting import currency as _currency

log = structlog.get_logger(__name__)
FUTURES = WalletType.FUTURES
CLEARING_KINDS = (JournalKind.PNL, JournalKind.FUNDING)


def margin_hold_key(position: str) -> str:
    """The key of ``position``'s margin hold."""
    if not position or not position.isascii() or not position.isprintable():
        raise InvalidInput("A position id is printable ASCII.")
    key = f"margin:{position}"
    if len(key) > Hold._meta.get_field("key").max_length:
        raise InvalidInput("The position id is too long.")
    return key


@dataclass(frozen=True)
class ClearingFlow:
    """One trader's side of a PnL or funding payment: ``amount`` > 0 is paid to the user
    (into the FUTURES wallet's available balance), < 0 is paid by the user out of
    ``position``'s margin."""

    user_id: int
    position: str
    amount: Decimal


def _change_replay(key: str, hold: Hold | None, matches) -> bool:
    """True if ``key`` already changed ``hold`` as ``matches(change)`` says it should;
    False if the key is unused; otherwise a logged Conflict ("idempotency_conflict")."""
    change = HoldChange.objects.filter(key=key).first()
    if change is None:
        return False
    if hold is not None and change.hold_id == hold.pk and matches(change):
        return True
    log.error("hold_change_replay_conflict", key=key, hold_id=change.hold_id,
              amount=str(change.amount), replay_hold_id=hold.pk if hold else None)
    raise Conflict(f"Key {key!r} was already used for another margin change.",
                   code="idempotency_conflict")


def _save(wallet: Wallet, hold: Hold, *, key: str, change: Decimal) -> None:
    now = timezone.now()
    hold.save()
    HoldChange.objects.create(key=key, hold=hold, amount=change)
    Wallet.objects.filter(pk=wallet.pk).update(held=wallet.held, updated_at=now)
    publish_balance(wallet)


def margin_add(*, user_id: int, currency: str, position: str, amount: Decimal,
               key: str) -> Hold:
    """Put ``amount`` of the user's available FUTURES balance in ``currency`` into
    ``position``'s margin: opens its margin hold, or increases it. Exactly once per ``key``
    (a replay returns the hold and changes nothing).

    Locks the user's FUTURES wallet, then the hold. Raises InvalidInput (amount, position
    id), InsufficientFunds (available < amount), Conflict ("idempotency_conflict": the key
    made another change; "margin_closed": the position's margin was closed; "conflict": the
    position's margin is in another wallet).
    """
    hold_key = margin_hold_key(position)
    cur = _currency(currency)
    with localcontext(EXACT), transaction.atomic():
        amount = exact(amount, cur)
        owner = (user_id, None, FUTURES, cur.code)
        wallet_id = wallet_ids([owner])[owner]
        wallet = lock_user_wallets([wallet_id])[wallet_id]
        hold = Hold.objects.select_for_update().filter(key=hold_key).first()
        if hold is not None and hold.wallet_id != wallet_id:
            raise Conflict(f"Position {position!r} has its margin in another wallet.")
        if _change_replay(key, hold, lambda change: change.amount == amount):
            return hold
        if hold is not None and hold.status == Hold.Status.CLOSED:
            raise Conflict(f"Position {position!r}'s margin is closed.", code="margin_closed")
        if wallet.available < amount:
            raise insufficient(wallet)
        if hold is None:
            hold = Hold(key=hold_key, wallet_id=wallet_id, kind=HoldKind.MARGIN,
                        amount=ZERO, remaining=ZERO)
        hold.amount += amount
        hold.remaining += amount
        wallet.held += amount
        _save(wallet, hold, key=key, change=amount)
        return hold


def margin_release(*, position: str, key: str, amount: Decimal | None = None) -> Hold:
    """Give ``amount`` of ``position``'s margin back to the user's available balance; with
    no ``amount``, all that remains, closing the margin (the position is closed). Exactly
    once per ``key``.

    Locks the wallet, then the hold. Raises NotFound (no margin for the position),
    InvalidInput (amount), Conflict (more than remains, the margin already closed, or
    "idempotency_conflict").
    """
    hold_key = margin_hold_key(position)
    with localcontext(EXACT), transaction.atomic():
        wallet_id = Hold.objects.filter(key=hold_key, kind=HoldKind.MARGIN).values_list(
            "wallet_id", flat=True).first()
        if wallet_id is None:
            raise NotFound(f"Position {position!r} has no margin.")
        wallet = lock_user_wallets([wallet_id])[wallet_id]
        hold = Hold.objects.select_for_update().get(key=hold_key)
        if amount is not None:
            amount = exact(amount, Currency.objects.get(pk=wallet.currency_id))
        if _change_replay(key, hold, lambda change: (
                change.amount <= 0 and hold.status == Hold.Status.CLOSED if amount is None
                else change.amount == -amount)):
            return hold
        if hold.status == Hold.Status.CLOSED:
            raise Conflict(f"Position {position!r}'s margin is closed.", code="margin_closed")
        release = hold.remaining if amount is None else amount
        if release > hold.remaining:
            raise Conflict(f"Position {position!r} has only {hold.remaining} of margin.")
        hold.remaining -= release
        if amount is None:
            hold.status = Hold.Status.CLOSED
        wallet.held -= release
        _save(wallet, hold, key=key, change=release.copy_negate())
        return hold


def settle_clearing(*, key: str, kind: str, currency: str,
                    flows: Sequence[ClearingFlow]) -> Journal:
    """Pay realised PnL (``kind`` PNL) or funding (FUNDING) between traders through the
    CLEARING account, as one journal in ``currency_code``'s FUTURES wallets.

    Each payer pays out of its position's margin, each receiver is credited available
    balance, and CLEARING takes the difference (zero when the flows balance). Locks the
    payers' and receivers' FUTURES wallets (pk order), then the payers' margin holds.
    Raises InvalidInput (kind, no flows, an amount zero or beyond the currency's
    precision), Conflict ("hold_exhausted": a position's margin cannot pay: liquidate it
    instead; "idempotency_conflict"). Exactly once per ``key``.
    """
    if kind not in CLEARING_KINDS:
        raise InvalidInput(f"A clearing journal is PNL or FUNDING, not {kind!r}.")
    if not flows:
        raise InvalidInput("A clearing journal needs at least one flow.")
    cur = _currency(currency)
    with localcontext(EXACT):
        legs, net = [], ZERO
        for flow in flows:
            if not isinstance(flow.amount, Decimal) or flow.amount == 0:
                raise InvalidInput("A clearing flow is a non-zero Decimal.")
            amount = exact(flow.amount.copy_abs(), cur)
            hold_key = margin_hold_key(flow.position)
            if flow.amount < 0:
                legs.append(Leg(FUTURES, cur.code, amount.copy_negate(), user_id=flow.user_id,
                                hold_key=hold_key))
                net -= amount
            else:
                legs.append(Leg(FUTURES, cur.code, amount, user_id=flow.user_id))
                net += amount
        if net:
            legs.append(Leg(FUTURES, cur.code, net.copy_negate(),
                            system=SystemAccount.CLEARING))
        return post(key=key, kind=kind, legs=legs)


def liquidate_position(*, key: str, user_id: int, currency: str, position: str,
                       loss: Decimal) -> Journal:
    """Liquidate ``position``: its ``loss`` (>= 0) is paid to CLEARING, out of its margin
    as far as the margin goes and by INSURANCE beyond it; what margin is left goes to
    INSURANCE; the margin hold is closed. One journal, exactly once per ``key`` (a replay
    must name the same user and loss).

    Locks the user's FUTURES wallet, then the margin hold; INSURANCE is not locked, and a
    shortfall is paid even if it takes INSURANCE below zero (reconcile reports it). Raises
    InvalidInput (loss), NotFound (no margin for the position), Conflict ("margin_closed",
    "idempotency_conflict").
    """
    hold_key = margin_hold_key(position)
    cur = _currency(currency)
    with localcontext(EXACT), transaction.atomic():
        if not isinstance(loss, Decimal) or not loss.is_finite() or loss < 0:
            raise InvalidInput("A liquidation's loss is a finite Decimal, zero or more.")
        loss = exact(loss, cur) if loss else ZERO
        owner = (user_id, None, FUTURES, cur.code)
        clearing = (None, SystemAccount.CLEARING, FUTURES, cur.code)
        ids = wallet_ids([owner, clearing])
        wallet = lock_user_wallets([ids[owner]])[ids[owner]]
        hold = Hold.objects.select_for_update().filter(key=hold_key, kind=HoldKind.MARGIN,
                                                       wallet_id=wallet.pk).first()
        if hold is None:
            raise NotFound(f"Position {position!r} has no margin in this wallet.")
        replay = Journal.objects.filter(key=key).first()
        if replay is not None:
            return _liquidation_replay(replay, position=position, clearing_id=ids[clearing],
                                       loss=loss)
        if hold.status == Hold.Status.CLOSED:
            raise Conflict(f"Position {position!r}'s margin is closed.", code="margin_closed")
        margin = hold.remaining
        legs = [Leg(FUTURES, cur.code, loss, system=SystemAccount.CLEARING),
                Leg(FUTURES, cur.code, margin - loss, system=SystemAccount.INSURANCE)]
        if margin:
            legs.insert(0, Leg(FUTURES, cur.code, margin.copy_negate(), user_id=user_id,
                               hold_key=hold_key, close_hold=True))
        else:  # nothing left to pay with, so no leg closes it
            hold.status = Hold.Status.CLOSED
            hold.save(update_fields=["status", "updated_at"])
        return post(key=key, kind=JournalKind.LIQUIDATION, memo=_memo(position),
                    legs=[leg for leg in legs if leg.amount])


def liquidation_fee(*, key: str, user_id: int, currency: str, position: str,
                    amount: Decimal) -> Journal:
    """Pay ``amount`` (> 0) of ``position``'s margin to INSURANCE: the fee of its
    liquidation, before ``liquidate_position`` takes the rest. One journal (LIQUIDATION),
    exactly once per ``key``.

    Locks the user's FUTURES wallet, then the margin hold. Raises InvalidInput (amount,
    position id), Conflict ("hold_exhausted": the margin holds less;
    "idempotency_conflict")."""
    hold_key = margin_hold_key(position)
    cur = _currency(currency)
    with localcontext(EXACT):
        amount = exact(amount, cur)
        return post(key=key, kind=JournalKind.LIQUIDATION, memo=f"liquidation fee of {position}",
                    legs=[Leg(FUTURES, cur.code, amount.copy_negate(), user_id=user_id,
                              hold_key=hold_key),
                          Leg(FUTURES, cur.code, amount, system=SystemAccount.INSURANCE)])


def insurance_settle(*, key: str, currency: str, amount: Decimal, position: str) -> Journal:
    """Pay the insurance fund's realised PnL on ``position`` (one it took over in a
    liquidation and closes in the book): ``amount`` > 0 from CLEARING to INSURANCE, < 0
    from INSURANCE to CLEARING. One journal (PNL), exactly once per ``key``. Locks nothing
    (both are system accounts); INSURANCE may go below zero (reconcile reports it). Raises
    InvalidInput (amount zero or beyond the currency's precision), Conflict
    ("idempotency_conflict")."""
    cur = _currency(currency)
    if not isinstance(amount, Decimal):
        raise InvalidInput("An insurance settlement is a Decimal.")
    with localcontext(EXACT):
        paid = exact(amount.copy_abs(), cur)
        if amount < 0:
            paid = paid.copy_negate()
        return post(key=key, kind=JournalKind.PNL, memo=f"insurance close of {position}",
                    legs=[Leg(FUTURES, cur.code, paid.copy_negate(),
                              system=SystemAccount.CLEARING),
                          Leg(FUTURES, cur.code, paid, system=SystemAccount.INSURANCE)])


def insurance_float(*, key: str, user_id: int, currency: str, amount: Decimal) -> Journal:
    """Move ``amount`` (> 0) from INSURANCE into the FUTURES wallet of ``user_id``, the
    liquidation engine's account, whose orders closing the fund's positions hold from
    it (the fund's money still: they pay no fee, and their holds come back). One journal
    (LIQUIDATION), exactly once per ``key``. Locks the user's wallet. Raises InvalidInput
    (amount), Conflict ("idempotency_conflict")."""
    cur = _currency(currency)
    with localcontext(EXACT):
        amount = exact(amount, cur)
        return post(key=key, kind=JournalKind.LIQUIDATION, memo="liquidation engine's float",
                    legs=[Leg(FUTURES, cur.code, amount.copy_negate(),
                              system=SystemAccount.INSURANCE),
                          Leg(FUTURES, cur.code, amount, user_id=user_id)])


def insurance_float_return(*, key: str, user_id: int, currency: str,
                           amount: Decimal) -> Journal:
    """Move ``amount`` (> 0) of the liquidation engine's available FUTURES balance
    (``user_id``) back to INSURANCE: the reverse of ``insurance_float``, so that the fund
    pays a deficit from its whole (INSURANCE and the float) without INSURANCE going below
    zero. One journal (LIQUIDATION), exactly once per ``key``. Locks the user's wallet.
    Raises InvalidInput (amount), InsufficientFunds (more than is available), Conflict
    ("idempotency_conflict")."""
    cur = _currency(currency)
    with localcontext(EXACT):
        amount = exact(amount, cur)
        return post(key=key, kind=JournalKind.LIQUIDATION,
                    memo="liquidation engine's float returned",
                    legs=[Leg(FUTURES, cur.code, amount.copy_negate(), user_id=user_id),
                          Leg(FUTURES, cur.code, amount, system=SystemAccount.INSURANCE)])


def _memo(position: str) -> str:
    return f"liquidation of {position}"


def _liquidation_replay(journal: Journal, *, position: str, clearing_id: int,
                        loss: Decimal) -> Journal:
    """``journal`` if it liquidated ``position`` for ``loss``; else a logged Conflict."""
    paid = sum(journal.entries.filter(wallet_id=clearing_id).values_list("amount", flat=True),
               ZERO)
    if journal.kind == JournalKind.LIQUIDATION and journal.memo == _memo(position) \
            and paid == loss:
        return journal
    log.error("journal_replay_conflict", key=journal.key, journal_id=journal.pk,
              kind=journal.kind, replay_kind=JournalKind.LIQUIDATION, replay_loss=str(loss))
    raise Conflict(f"Key {journal.key!r} was already used for another journal.",
                   code="idempotency_conflict")
