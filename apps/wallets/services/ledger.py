"""Deposits, withdrawals, transfers, the paper faucet, holds, trades and admin corrections.

Each function keeps the contract of ``apps.wallets.services`` and posts through
``posting.post_journals``.
"""
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from apps.core.bulk import insert_instance, update_rows, update_values
from apps.core.compiled import CompiledQuery
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.identifiers import IdentifierError, parse_identifier
from apps.core.money import EXACT
from apps.wallets.constants import JournalKind, SystemAccount, WalletType
from apps.wallets.models import Currency, Hold, Journal, Wallet
from apps.wallets.services.posting import (
    ZERO,
    Leg,
    Posting,
    exact,
    insufficient,
    lock_user_wallets,
    naming,
    post,
    post_journals,
    publish_balance,
    publish_wallets,
    wallet_ids,
)
from apps.wallets.services.posting import currencies as _currencies
from apps.wallets.services.posting import currency as _currency
from apps.wallets.services.posting import wallet_type as _wallet_type

log = structlog.get_logger(__name__)
FEES, TRADE = SystemAccount.FEES, JournalKind.TRADE  # read once: enum lookups are slow


@dataclass(frozen=True)
class TradeParty:
    """One side of a trade: a user (paying from ``hold_key``) or a system account.
    ``fee`` is charged in the quote currency and goes to the FEES account; with
    ``close_hold`` the rest of the hold is released in the same journal's transaction."""

    user_id: int | None = None
    system: str | None = None
    hold_key: str | None = None
    fee: Decimal = ZERO
    close_hold: bool = False


# --- currencies -------------------------------------------------------------------------


def currencies_ensure(*, currencies: Iterable[tuple[str, str, int]]) -> int:
    """Create the missing ``(code, name, decimals)`` currencies; existing ones are left
    as they are (their precision governs balances already held). Returns how many were
    created. Raises InvalidInput for a code that is not canonical (``apps.core.identifiers``:
    upper-case ASCII) or decimals outside 0..18. Race-safe: concurrent creators conflict
    on the primary key and skip."""
    wanted = {code: (name, decimals) for code, name, decimals in currencies}
    for code, (_, decimals) in wanted.items():
        try:
            canonical = parse_identifier(code, kind="currency")
        except IdentifierError as exc:
            raise InvalidInput(str(exc), code="invalid_currency") from None
        if canonical != code or not 0 <= decimals <= 18:
            raise InvalidInput(f"Invalid currency {code!r} with {decimals} decimals.",
                               code="invalid_currency")
    existing = set(Currency.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [Currency(code=code, name=name[:64], decimals=decimals)
               for code, (name, decimals) in wanted.items() if code not in existing]
    Currency.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


# --- external money ---------------------------------------------------------------------


def deposit(*, user_id: int, wallet_type: str, currency: str, amount: Decimal, key: str,
            memo: str = "") -> Journal:
    """Credit ``amount`` from the EXTERNAL account. Not for PAPER (see grant_paper_funds).
    Locks the user's and EXTERNAL's wallet. Idempotent on ``key``."""
    if _wallet_type(wallet_type) == WalletType.PAPER:
        raise InvalidInput("Paper wallets are funded by the paper faucet only.",
                           code="paper_separation")
    cur = _currency(currency)
    amount = exact(amount, cur)
    return post(key=key, kind=JournalKind.DEPOSIT, memo=memo, legs=[
        Leg(wallet_type, cur.code, amount.copy_negate(), system=SystemAccount.EXTERNAL),
        Leg(wallet_type, cur.code, amount, user_id=user_id),
    ])


def withdraw(*, user_id: int, wallet_type: str, currency: str, amount: Decimal, key: str,
             memo: str = "") -> Journal:
    """Debit ``amount`` of available balance to the EXTERNAL account. Raises
    InsufficientFunds if available < amount. Idempotent on ``key``."""
    if _wallet_type(wallet_type) == WalletType.PAPER:
        raise InvalidInput("Paper money cannot be withdrawn.", code="paper_separation")
    cur = _currency(currency)
    amount = exact(amount, cur)
    return post(key=key, kind=JournalKind.WITHDRAWAL, memo=memo, legs=[
        Leg(wallet_type, cur.code, amount.copy_negate(), user_id=user_id),
        Leg(wallet_type, cur.code, amount, system=SystemAccount.EXTERNAL),
    ])


def grant_paper_funds(*, user_id: int, currency: str, amount: Decimal, key: str) -> Journal:
    """Credit demo money to the user's PAPER wallet from the PAPER_FAUCET account.
    Idempotent on ``key`` (use one key per user to grant once)."""
    cur = _currency(currency)
    amount = exact(amount, cur)
    return post(key=key, kind=JournalKind.FAUCET, memo="paper trading demo balance", legs=[
        Leg(WalletType.PAPER, cur.code, amount.copy_negate(), system=SystemAccount.PAPER_FAUCET),
        Leg(WalletType.PAPER, cur.code, amount, user_id=user_id),
    ])


def transfer(*, user_id: int, currency: str, amount: Decimal, from_type: str, to_type: str,
             key: str) -> Journal:
    """Move available balance between two of the user's wallet types (never PAPER).
    Locks both wallets in pk order. Raises InsufficientFunds, InvalidInput."""
    _wallet_type(from_type), _wallet_type(to_type)
    if from_type == to_type:
        raise InvalidInput("Source and destination wallet types must differ.")
    if WalletType.PAPER in (from_type, to_type):
        raise InvalidInput("Paper balances cannot move to or from real wallets.",
                           code="paper_separation")
    cur = _currency(currency)
    amount = exact(amount, cur)
    return post(key=key, kind=JournalKind.TRANSFER, legs=[
        Leg(from_type, cur.code, amount.copy_negate(), user_id=user_id),
        Leg(to_type, cur.code, amount, user_id=user_id),
    ])


# --- holds ------------------------------------------------------------------------------


def hold_create(*, user_id: int, wallet_type: str, currency: str, amount: Decimal,
                key: str, new_key: bool = False) -> Hold:
    """Reserve ``amount`` of the wallet's available balance under ``key``.

    Locks the wallet. Raises InsufficientFunds if available < amount; Conflict if ``key``
    already names a hold on another wallet or amount. A replay returns the first hold.
    ``new_key``: the caller proved that no hold has ``key`` (it inserted, in this
    transaction, the unique row the key is made of, as an order's client id), so the
    replay lookup is skipped; a hold with that key anyway fails on the hold's unique key
    (IntegrityError), never making a second hold.
    Inside the caller's transaction it opens no savepoint: it raises before it writes a
    hold or a balance (a missing wallet it created, empty, stays), so a caller that
    catches InsufficientFunds or Conflict (settlement does) keeps a usable transaction,
    and its writes commit or roll back with the caller's.
    """
    _wallet_type(wallet_type)
    if transaction.get_connection().in_atomic_block:
        return _hold_create(user_id=user_id, wallet_type=wallet_type, currency=currency,
                            amount=amount, key=key, new_key=new_key)
    with transaction.atomic():
        return _hold_create(user_id=user_id, wallet_type=wallet_type, currency=currency,
                            amount=amount, key=key, new_key=new_key)


# Per process: a user wallet's id and its currency's decimals, by (user, type, currency
# code), so that a hold locks its wallet without reading it first. A wallet's owner and
# currency never change and a currency's decimals are fixed once it exists (its admin
# makes them read-only): an entry goes wrong only if its rows were deleted, and the lock
# names the owner as well as the id, so a vanished wallet locks nothing and is read
# afresh (on MariaDB an id is never reused; a test database's reused ids are cleared by
# the Currency signals, apps.py). Bounded: emptied when full.
_hold_wallets: dict[tuple[int, str, str], tuple[int, int]] = {}
HOLD_WALLETS_MAX = 100_000
# The lock of a wallet known by id, built by the ORM once per process: it runs on every
# order.
_LOCK_KNOWN_WALLET = CompiledQuery(
    lambda pk, user_id, wallet_type, currency: Wallet.objects.select_for_update()
    .defer("created_at").filter(pk=pk, user_id=user_id, type=wallet_type,
                                currency_id=currency),
    pk=int, user_id=int, wallet_type=str, currency=str)


def hold_wallets_forget() -> None:
    """Empty this process's cache of wallet ids and decimals (a currency was saved or
    deleted)."""
    _hold_wallets.clear()


def _hold_create(*, user_id: int, wallet_type: str, currency: str, amount: Decimal,
                 key: str, new_key: bool) -> Hold:
    known = _hold_wallets.get((user_id, wallet_type, currency))
    wallet = None
    if known is not None:
        wallet_id, decimals = known
        amount = exact(amount, Currency(code=currency, decimals=decimals))
        wallet = _LOCK_KNOWN_WALLET.first(pk=wallet_id, user_id=user_id,
                                          wallet_type=wallet_type, currency=currency)
    if wallet is None:
        wallet, amount = _hold_wallet(user_id=user_id, wallet_type=wallet_type,
                                      currency=currency, amount=amount)
    wallet_id = wallet.pk
    existing = None if new_key else Hold.objects.filter(key=key).first()
    if existing is not None:
        if existing.wallet_id != wallet_id or existing.amount != amount:
            log.error("hold_replay_conflict", key=key, hold_id=existing.pk,
                      wallet_id=existing.wallet_id, amount=str(existing.amount),
                      replay_wallet_id=wallet_id, replay_amount=str(amount))
            raise Conflict(f"Hold key {key!r} is already used for another hold.",
                           code="idempotency_conflict")
        return existing
    if EXACT.subtract(wallet.balance, wallet.held) < amount:
        raise insufficient(wallet)
    # core.bulk's statements: the ORM's create and update cost a hold more CPU than the
    # database took to run them, on every order.
    hold = insert_instance(Hold(key=key, wallet_id=wallet_id, amount=amount,
                                remaining=amount))
    wallet.held = EXACT.add(wallet.held, amount)
    update_values(Wallet, ["held", "updated_at"], [(wallet_id, wallet.held, timezone.now())])
    publish_balance(wallet)
    return hold


def _hold_wallet(*, user_id: int, wallet_type: str, currency: str,
                 amount: Decimal) -> tuple[Wallet, Decimal]:
    """The user's wallet, locked (created empty if missing, as wallets_lock would), and
    ``amount`` checked against its currency; remembered in ``_hold_wallets``."""
    # The wallet's id and its currency's row in one plain read (the lock is by pk, as
    # every wallet lock is).
    found = (Wallet.objects.filter(user_id=user_id, type=wallet_type, currency_id=currency)
             .values_list("pk", "currency__code", "currency__decimals").first())
    exists = found is not None and found[1] == currency  # exact: never a look-alike's
    cur = Currency(code=found[1], decimals=found[2]) if exists else _currency(currency)
    amount = exact(amount, cur)
    if exists:
        wallet_id = found[0]
    else:
        owner = (user_id, None, wallet_type, cur.code)
        wallet_id = wallet_ids([owner])[owner]
    wallet = lock_user_wallets([wallet_id])[wallet_id]
    if len(_hold_wallets) >= HOLD_WALLETS_MAX:
        _hold_wallets.clear()
    _hold_wallets[(user_id, wallet_type, cur.code)] = (wallet_id, cur.decimals)
    return wallet, amount


def hold_release(*, key: str, amount: Decimal | None = None) -> Hold:
    """Give back ``amount`` (default: all that remains) of a hold to available balance;
    a hold released in full is CLOSED. Locks the wallet, then the hold.

    Releasing everything is idempotent; a partial release is not, so callers release
    partially only under their own exactly-once guard (the order row they lock).
    Raises NotFound for an unknown key, Conflict if ``amount`` exceeds what remains.
    """
    with transaction.atomic():
        wallet_id = Hold.objects.filter(key=key).values_list("wallet_id", flat=True).first()
        if wallet_id is None:
            raise NotFound(f"No hold {key!r}.")
        wallet = lock_user_wallets([wallet_id])[wallet_id]
        hold = Hold.objects.select_for_update().get(key=key)
        release = hold.remaining if amount is None else amount
        if release < 0 or release > hold.remaining:
            raise Conflict(f"Hold {key!r} has only {hold.remaining} left.")
        hold.remaining = EXACT.subtract(hold.remaining, release)
        if amount is None or hold.remaining == 0:
            hold.status = Hold.Status.CLOSED
        hold.save(update_fields=["remaining", "status", "updated_at"])
        if release:
            wallet.held = EXACT.subtract(wallet.held, release)
            Wallet.objects.filter(pk=wallet_id).update(held=wallet.held,
                                                       updated_at=timezone.now())
            publish_balance(wallet)
        return hold


def holds_release(*, keys: Sequence[str]) -> list[Hold]:
    """``hold_release`` of everything each of ``keys`` has left, in one transaction: the
    wallets locked once (pk order), then the holds (pk order), each wallet written once.
    Idempotent (a closed hold releases nothing). Raises NotFound for an unknown key."""
    keys = sorted(set(keys))
    if not keys:
        return []
    with transaction.atomic():
        wallet_of = dict(Hold.objects.filter(key__in=keys).values_list("key", "wallet_id"))
        missing = [k for k in keys if k not in wallet_of]
        if missing:
            raise NotFound(f"No hold {missing[0]!r}.")
        wallets = lock_user_wallets(wallet_of.values())
        holds = list(Hold.objects.select_for_update().filter(key__in=keys).order_by("pk"))
        now = timezone.now()
        changed: set[int] = set()
        for hold in holds:
            release, hold.remaining = hold.remaining, ZERO
            hold.status, hold.updated_at = Hold.Status.CLOSED, now
            if release:
                wallet = wallets[hold.wallet_id]
                wallet.held = EXACT.subtract(wallet.held, release)
                changed.add(wallet.pk)
        update_rows(holds, ["remaining", "status", "updated_at"])
        written = [wallets[pk] for pk in sorted(changed)]
        for wallet in written:
            wallet.updated_at = now
        update_rows(written, ["held", "updated_at"])
        publish_wallets(written)
        return holds


# --- trades -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeSettlement:
    """One trade to settle: the arguments of ``settle_trade``."""

    key: str
    wallet_type: str
    base: str
    quote: str
    quantity: Decimal
    quote_amount: Decimal
    buyer: TradeParty
    seller: TradeParty
    memo: str = ""


def settle_trade(*, key: str, wallet_type: str, base: str, quote: str, quantity: Decimal,
                 quote_amount: Decimal, buyer: TradeParty, seller: TradeParty,
                 memo: str = "") -> Journal:
    """Settle one trade as one journal, keyed by the trade (exactly once): ``settle_trades``
    of this one trade.

    The buyer pays ``quote_amount + buyer.fee`` quote (from its hold if it has one) and
    receives ``quantity`` base; the seller delivers ``quantity`` base (from its hold) and
    receives ``quote_amount - seller.fee`` quote; FEES receives both fees. Locks the touched
    user wallets (pk order), then the holds; never a system wallet. Raises InvalidInput,
    InsufficientFunds, Conflict (hold exhausted, idempotency conflict); on any raise nothing
    is written.
    """
    return settle_trades(trades=[TradeSettlement(
        key=key, wallet_type=wallet_type, base=base, quote=quote, quantity=quantity,
        quote_amount=quote_amount, buyer=buyer, seller=seller, memo=memo)])[0]


def settle_trades(*, trades: Sequence[TradeSettlement]) -> list[Journal]:
    """Settle a batch of trades in one transaction, one journal per trade key; returns each
    trade's journal, in order.

    Each trade is settled as ``settle_trade`` describes and validated as it is (currencies,
    precision, fees, paper separation). Locks every touched user wallet once (pk order),
    then the holds paid from (pk order); never a system wallet, so batches of disjoint
    users never wait on each other. Exactly once per key: a key already settled with the
    same content is returned and writes nothing (a batch replayed, or overlapping another
    running in another connection); the same trade twice in the batch is written once; a
    key settled or given twice with other content is a logged Conflict
    ("idempotency_conflict"). Raises InvalidInput, InsufficientFunds, Conflict; any raise
    rolls back the whole batch and, in a batch of several trades, names the trade's key.
    """
    codes = _currencies(code for t in trades for code in (t.base, t.quote))
    postings = []
    for trade in trades:
        with naming(trade.key, batch=len(trades) > 1):
            postings.append(_trade_posting(trade, codes))
    return post_journals(postings)


def _trade_posting(trade: TradeSettlement, codes: dict[str, Currency]) -> Posting:
    wtype = _wallet_type(trade.wallet_type)
    if trade.base == trade.quote:
        raise InvalidInput("Base and quote currencies must differ.")
    base_cur, quote_cur = codes[trade.base], codes[trade.quote]
    base, quote = base_cur.code, quote_cur.code
    quantity = exact(trade.quantity, base_cur, what="Quantity")
    quote_amount = exact(trade.quote_amount, quote_cur, what="Quote amount")
    buyer, seller = trade.buyer, trade.seller
    fees = ZERO
    for party in (buyer, seller):
        if (party.user_id is None) == (party.system is None):
            raise ValueError("a trade party is a user or a system account")
        if party.fee:
            exact(party.fee, quote_cur, what="Fee")
            fees = EXACT.add(fees, party.fee)
    if seller.fee > quote_amount:
        raise InvalidInput("The seller's fee exceeds the trade's value.")

    def leg(party: TradeParty, cur: str, amount: Decimal, *, pays: bool) -> Leg:
        return Leg(wtype, cur, amount, user_id=party.user_id, system=party.system,
                   hold_key=party.hold_key if pays else None,
                   close_hold=pays and party.close_hold)

    legs = [
        leg(buyer, quote, EXACT.add(quote_amount, buyer.fee).copy_negate(), pays=True),
        leg(seller, base, quantity.copy_negate(), pays=True),
        leg(buyer, base, quantity, pays=False),
        leg(seller, quote, EXACT.subtract(quote_amount, seller.fee), pays=False),
    ]
    if fees:
        legs.append(Leg(wtype, quote, fees, system=FEES))
    return Posting(key=trade.key, kind=TRADE, memo=trade.memo,
                   legs=tuple(x for x in legs if x.amount))


# --- admin ------------------------------------------------------------------------------


def admin_adjust(*, user_id: int, wallet_type: str, currency: str, amount: Decimal,
                 reason: str, admin_id: int, key: str) -> Journal:
    """Correct a balance by ``amount`` (signed, non-zero) against the ADJUSTMENTS account,
    recording the admin and ``reason``. Reversible with ``reverse_journal``. Raises
    InvalidInput (blank reason, zero, precision), InsufficientFunds (below held)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required for a balance adjustment.")
    _wallet_type(wallet_type)
    cur = _currency(currency)
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
        raise InvalidInput("The adjustment must be a non-zero amount.")
    signed = exact(amount.copy_abs(), cur)
    if amount < 0:
        signed = signed.copy_negate()
    return post(key=key, kind=JournalKind.ADJUSTMENT, memo=reason, created_by_id=admin_id,
                 legs=[Leg(wallet_type, cur.code, signed, user_id=user_id),
                       Leg(wallet_type, cur.code, signed.copy_negate(),
                           system=SystemAccount.ADJUSTMENTS)])


def reverse_journal(*, journal_id: int, reason: str, admin_id: int) -> Journal:
    """Post the exact opposite of a journal (a journal is reversed at most once).
    Holds consumed by the original are not restored: reversed value returns to balance.
    Raises NotFound, InvalidInput (blank reason), Conflict (already reversed),
    InsufficientFunds (a user has since spent what the reversal takes back)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required for a reversal.")
    try:
        original = Journal.objects.get(pk=journal_id)
    except Journal.DoesNotExist:
        raise NotFound(f"No journal {journal_id}.") from None
    if Journal.objects.filter(reverses_id=journal_id).exists():
        raise Conflict("This journal was already reversed.", code="already_reversed")
    legs = [
        Leg(e.wallet.type, e.wallet.currency_id, e.amount.copy_negate(), user_id=e.wallet.user_id,
            system=e.wallet.system)
        for e in original.entries.select_related("wallet").order_by("pk")
    ]
    return post(key=f"reversal:{journal_id}", kind=JournalKind.REVERSAL, legs=legs,
                 memo=reason, created_by_id=admin_id, reverses_id=journal_id)
