"""The only code that changes balances.

Every function here:
- runs in one transaction (joining the caller's, if any);
- locks every wallet it touches with ``SELECT ... FOR UPDATE`` in primary-key order, then
  the holds it touches in primary-key order (so two writers can never deadlock on order);
- is idempotent on its ``key``: a replay, concurrent or later, returns the first result
  and changes nothing (the key is a unique column, so this holds across processes); a
  replay whose content differs (other wallets, amounts or kind) is a Conflict
  ("idempotency_conflict"), logged, never a silent success;
- writes currency codes as stored (``Currency.code``), never as the caller spelled them;
- validates its amounts again (positive, within the currency's precision), whatever the
  caller checked, and raises ``apps.core.errors`` subclasses, never a bare exception.

Balances change only through journals whose entries sum to zero per currency. PAPER
wallets only ever exchange value with other PAPER wallets (demo money never meets real
money).
"""
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.identifiers import IdentifierError, parse_identifier
from apps.core.money import EXACT, AmountError, quantize_exact
from apps.marketdata import streams
from apps.wallets.constants import (
    PAPER_ONLY_SYSTEM_ACCOUNTS,
    JournalKind,
    SystemAccount,
    WalletType,
)
from apps.wallets.models import Currency, Entry, Hold, Journal, Wallet

ZERO = Decimal(0)
log = structlog.get_logger(__name__)


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


@dataclass(frozen=True)
class Leg:
    """One line of a journal: ``amount`` (signed) into one wallet. A debit with
    ``hold_key`` is paid out of that hold instead of the available balance."""

    wallet_type: str
    currency: str
    amount: Decimal
    user_id: int | None = None
    system: str | None = None
    hold_key: str | None = None
    close_hold: bool = False  # after paying, release what is left of the hold and close it


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


# --- helpers -----------------------------------------------------------------------------


def _currency(code: str) -> Currency:
    """The stored currency whose code is exactly ``code``: the row's ``code`` is what legs
    and wallets are written under. The comparison is repeated here in Python so that a
    database still folding case or accents can never turn a look-alike into a match."""
    found = Currency.objects.filter(pk=code).first()
    if found is None or found.code != code:
        raise InvalidInput(f"Unknown currency {code!r}.", code="unknown_currency")
    return found


def _wallet_type(value: str) -> str:
    if value not in WalletType.values:
        raise InvalidInput(f"Unknown wallet type {value!r}.", code="unknown_wallet_type")
    return value


def _exact(amount: Decimal, currency: Currency, *, what: str = "Amount") -> Decimal:
    """``amount`` checked against the currency's precision; positive."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput(f"{what} must be a finite Decimal.")
    if amount <= 0:
        raise InvalidInput(f"{what} must be greater than zero.")
    try:
        return quantize_exact(amount, decimals=currency.decimals)
    except AmountError as exc:
        raise InvalidInput(f"{what} {exc} for {currency.code}.") from None


def _ensure_wallet(*, user_id: int | None, system: str | None, wallet_type: str,
                   currency: str) -> int:
    """The id of the wallet, created empty if missing (race-safe via the unique keys)."""
    lookup = {"user_id": user_id, "system": system, "type": wallet_type, "currency_id": currency}
    found = Wallet.objects.filter(**lookup).values_list("pk", flat=True).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Wallet.objects.create(**lookup).pk
    except IntegrityError:
        return Wallet.objects.get(**lookup).pk


def _wallet_ids(legs: list[Leg]) -> list[int]:
    """Each leg's wallet id, in leg order: one query for those that exist, creating the
    rest."""
    owners = {(leg.user_id, leg.system, leg.wallet_type, leg.currency) for leg in legs}
    match = Q()
    for user_id, system, wallet_type, currency in owners:
        match |= Q(user_id=user_id, system=system, type=wallet_type, currency_id=currency)
    found = {(user_id, system, wallet_type, currency): pk for pk, user_id, system, wallet_type,
             currency in Wallet.objects.filter(match).values_list(
                 "pk", "user_id", "system", "type", "currency_id")}
    for owner in owners - found.keys():
        found[owner] = _ensure_wallet(user_id=owner[0], system=owner[1], wallet_type=owner[2],
                                      currency=owner[3])
    return [found[leg.user_id, leg.system, leg.wallet_type, leg.currency] for leg in legs]


def _lock_wallets(ids: Iterable[int]) -> dict[int, Wallet]:
    wallets = Wallet.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")
    return {w.pk: w for w in wallets}


WalletOwner = tuple[int | None, str | None, str, str]  # (user_id, system, type, currency)


def wallets_lock(*, owners: Iterable[WalletOwner]) -> dict[WalletOwner, Wallet]:
    """Lock the wallets of ``owners`` until the caller's transaction ends; returns them by
    owner.

    A service that writes several wallets calls this once, inside its transaction and
    before its first write, with every wallet it may write, so that it takes its whole
    wallet lock set at once in primary-key order (callers lock their own rows, such as an
    order, first). The functions of this module it calls afterwards lock the same rows
    again, which waits for nothing. Each owner is ``(user_id, system, wallet_type,
    currency)`` with one of ``user_id`` and ``system`` set. Missing wallets are created
    (empty) before anything is locked: a transaction never waits on another's new wallet
    while holding a wallet lock. Locks: the wallets, ``SELECT ... FOR UPDATE`` in pk order.
    Raises InvalidInput (unknown wallet type); outside a transaction a lock would end with
    its statement, so Django refuses it where rows lock (TransactionManagementError).
    """
    owners = list(dict.fromkeys(owners))
    for _, _, wallet_type, _ in owners:
        _wallet_type(wallet_type)
    ids = _wallet_ids([Leg(wallet_type, currency, ZERO, user_id=user_id, system=system)
                       for user_id, system, wallet_type, currency in owners])
    locked = _lock_wallets(ids)
    return {owner: locked[pk] for owner, pk in zip(owners, ids, strict=True)}


def _insufficient(wallet: Wallet) -> InsufficientFunds:
    return InsufficientFunds(
        f"Insufficient {wallet.currency_id} in your {wallet.type} wallet "
        f"(available {wallet.available.normalize():f}).",
    )


def _check_paper_separation(legs: list[Leg]) -> None:
    paper = {leg.wallet_type == WalletType.PAPER for leg in legs}
    if len(paper) > 1:
        raise InvalidInput("Paper balances cannot move to or from real wallets.",
                           code="paper_separation")
    for leg in legs:
        if leg.system in PAPER_ONLY_SYSTEM_ACCOUNTS and leg.wallet_type != WalletType.PAPER:
            raise InvalidInput(f"{leg.system} serves PAPER wallets only.",
                               code="paper_separation")


def _post(*, key: str, kind: str, legs: list[Leg], memo: str = "",
          created_by_id: int | None = None, reverses_id: int | None = None) -> Journal:
    """Write one balanced journal and apply it. Locks: the legs' wallets (pk order), then
    their holds (pk order). Raises InsufficientFunds if a user wallet would end with
    ``balance < held``; Conflict if a hold cannot pay its debit. Idempotent on ``key``."""
    with localcontext(EXACT):  # balances have 36 digits: the default 28 would round
        return _post_exact(key=key, kind=kind, legs=legs, memo=memo,
                           created_by_id=created_by_id, reverses_id=reverses_id)


def _post_exact(*, key: str, kind: str, legs: list[Leg], memo: str,
                created_by_id: int | None, reverses_id: int | None) -> Journal:
    totals: dict[str, Decimal] = {}
    for leg in legs:
        totals[leg.currency] = totals.get(leg.currency, ZERO) + leg.amount
    if any(totals.values()):
        raise ValueError(f"unbalanced journal {key}: {totals}")  # a bug, not bad input
    _check_paper_separation(legs)

    with transaction.atomic():
        leg_wallet = _wallet_ids(legs)
        wallets = _lock_wallets(leg_wallet)
        replay = Journal.objects.filter(key=key).first()
        if replay is not None:
            return _matching_replay(replay, kind=kind, legs=legs, leg_wallet=leg_wallet)
        hold_keys = sorted({leg.hold_key for leg in legs if leg.hold_key})
        holds = {h.key: h for h in
                 Hold.objects.select_for_update().filter(key__in=hold_keys).order_by("pk")}

        entries = []
        for leg, wallet_id in zip(legs, leg_wallet, strict=True):
            wallet = wallets[wallet_id]
            if leg.hold_key:
                hold = holds.get(leg.hold_key)
                debit = leg.amount.copy_negate()
                if (hold is None or hold.wallet_id != wallet_id or hold.status != Hold.Status.OPEN
                        or debit <= 0 or hold.remaining < debit):
                    raise Conflict(f"Hold {leg.hold_key!r} cannot pay {debit}.",
                                   code="hold_exhausted")
                hold.remaining -= debit
                wallet.held -= debit
                if leg.close_hold:
                    wallet.held -= hold.remaining
                    hold.remaining = ZERO
                    hold.status = Hold.Status.CLOSED
            wallet.balance += leg.amount
            entries.append(Entry(wallet_id=wallet_id, amount=leg.amount,
                                 balance_after=wallet.balance))
        for wallet in wallets.values():
            if wallet.user_id is not None and (wallet.balance < wallet.held or wallet.held < 0):
                raise _insufficient(wallet)

        try:
            with transaction.atomic():
                journal = Journal.objects.create(key=key, kind=kind, memo=memo[:255],
                                                 created_by_id=created_by_id,
                                                 reverses_id=reverses_id)
        except IntegrityError:
            replay = Journal.objects.filter(key=key).first()
            if replay is None:
                raise Conflict("This journal was already reversed.", code="already_reversed") \
                    from None
            return _matching_replay(replay, kind=kind, legs=legs, leg_wallet=leg_wallet)
        for entry in entries:
            entry.journal = journal
        Entry.objects.bulk_create(entries)
        now = timezone.now()
        for changed in (*wallets.values(), *holds.values()):
            changed.updated_at = now
        Wallet.objects.bulk_update(wallets.values(), ["balance", "held", "updated_at"])
        if holds:
            Hold.objects.bulk_update(holds.values(), ["remaining", "status", "updated_at"])
        for wallet in wallets.values():
            _publish_balance(wallet, balance=wallet.balance, held=wallet.held)
        return journal


def _matching_replay(journal: Journal, *, kind: str, legs: list[Leg],
                     leg_wallet: list[int]) -> Journal:
    """``journal``, the first post of a key now replayed, if the replay has its content:
    the same kind and the same legs (wallet and amount, in any order). Otherwise raises
    Conflict ("idempotency_conflict") and logs it: a key reused for other money is a bug
    or an attack, never something to answer with the first journal as if it were done."""
    posted = sorted(journal.entries.values_list("wallet_id", "amount"))
    replayed = sorted(zip(leg_wallet, (leg.amount for leg in legs), strict=True))
    if journal.kind == kind and posted == replayed:
        return journal
    log.error("journal_replay_conflict", key=journal.key, journal_id=journal.pk,
              kind=journal.kind, replay_kind=kind,
              legs=[(w, str(a)) for w, a in posted],
              replay_legs=[(w, str(a)) for w, a in replayed])
    raise Conflict(f"Key {journal.key!r} was already used for another journal.",
                   code="idempotency_conflict")


def _publish_balance(wallet: Wallet, *, balance: Decimal, held: Decimal) -> None:
    """Tell a user wallet's owner its new ``balance``/``held`` after commit (the caller
    holds the wallet's lock, so these are the values the transaction commits)."""
    if wallet.user_id is None:
        return
    streams.publish_user_event(user_id=wallet.user_id, stream=streams.BALANCES, data={
        "wallet_type": wallet.type, "currency": wallet.currency_id,
        # Normalised (exactly: balances have 36 digits) so every database reads the same.
        "balance": f"{EXACT.normalize(balance):f}", "held": f"{EXACT.normalize(held):f}",
        "available": f"{EXACT.normalize(EXACT.subtract(balance, held)):f}"})


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
    amount = _exact(amount, cur)
    return _post(key=key, kind=JournalKind.DEPOSIT, memo=memo, legs=[
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
    amount = _exact(amount, cur)
    return _post(key=key, kind=JournalKind.WITHDRAWAL, memo=memo, legs=[
        Leg(wallet_type, cur.code, amount.copy_negate(), user_id=user_id),
        Leg(wallet_type, cur.code, amount, system=SystemAccount.EXTERNAL),
    ])


def grant_paper_funds(*, user_id: int, currency: str, amount: Decimal, key: str) -> Journal:
    """Credit demo money to the user's PAPER wallet from the PAPER_FAUCET account.
    Idempotent on ``key`` (use one key per user to grant once)."""
    cur = _currency(currency)
    amount = _exact(amount, cur)
    return _post(key=key, kind=JournalKind.FAUCET, memo="paper trading demo balance", legs=[
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
    amount = _exact(amount, cur)
    return _post(key=key, kind=JournalKind.TRANSFER, legs=[
        Leg(from_type, cur.code, amount.copy_negate(), user_id=user_id),
        Leg(to_type, cur.code, amount, user_id=user_id),
    ])


# --- holds ------------------------------------------------------------------------------


def hold_create(*, user_id: int, wallet_type: str, currency: str, amount: Decimal,
                key: str) -> Hold:
    """Reserve ``amount`` of the wallet's available balance under ``key``.

    Locks the wallet. Raises InsufficientFunds if available < amount; Conflict if ``key``
    already names a hold on another wallet or amount. A replay returns the first hold.
    """
    cur = _currency(currency)
    amount = _exact(amount, cur)
    _wallet_type(wallet_type)
    with transaction.atomic():
        wallet_id = _ensure_wallet(user_id=user_id, system=None, wallet_type=wallet_type,
                                   currency=cur.code)
        wallet = _lock_wallets([wallet_id])[wallet_id]
        existing = Hold.objects.filter(key=key).first()
        if existing is not None:
            if existing.wallet_id != wallet_id or existing.amount != amount:
                log.error("hold_replay_conflict", key=key, hold_id=existing.pk,
                          wallet_id=existing.wallet_id, amount=str(existing.amount),
                          replay_wallet_id=wallet_id, replay_amount=str(amount))
                raise Conflict(f"Hold key {key!r} is already used for another hold.",
                               code="idempotency_conflict")
            return existing
        if EXACT.subtract(wallet.balance, wallet.held) < amount:
            raise _insufficient(wallet)
        hold = Hold.objects.create(key=key, wallet_id=wallet_id, amount=amount, remaining=amount)
        held = EXACT.add(wallet.held, amount)
        Wallet.objects.filter(pk=wallet_id).update(held=held, updated_at=timezone.now())
        _publish_balance(wallet, balance=wallet.balance, held=held)
        return hold


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
        wallet = _lock_wallets([wallet_id])[wallet_id]
        hold = Hold.objects.select_for_update().get(key=key)
        release = hold.remaining if amount is None else amount
        if release < 0 or release > hold.remaining:
            raise Conflict(f"Hold {key!r} has only {hold.remaining} left.")
        hold.remaining = EXACT.subtract(hold.remaining, release)
        if amount is None or hold.remaining == 0:
            hold.status = Hold.Status.CLOSED
        hold.save(update_fields=["remaining", "status", "updated_at"])
        if release:
            held = EXACT.subtract(wallet.held, release)
            Wallet.objects.filter(pk=wallet_id).update(held=held, updated_at=timezone.now())
            _publish_balance(wallet, balance=wallet.balance, held=held)
        return hold


# --- trades -----------------------------------------------------------------------------


def settle_trade(*, key: str, wallet_type: str, base: str, quote: str, quantity: Decimal,
                 quote_amount: Decimal, buyer: TradeParty, seller: TradeParty,
                 memo: str = "") -> Journal:
    """Settle one trade as one journal, keyed by the trade (exactly once).

    The buyer pays ``quote_amount + buyer.fee`` quote (from its hold if it has one) and
    receives ``quantity`` base; the seller delivers ``quantity`` base (from its hold) and
    receives ``quote_amount - seller.fee`` quote; FEES receives both fees. Locks all
    touched wallets (pk order), then the holds. Raises InvalidInput, InsufficientFunds,
    Conflict (hold exhausted); on any raise nothing is written.
    """
    _wallet_type(wallet_type)
    if base == quote:
        raise InvalidInput("Base and quote currencies must differ.")
    base_cur, quote_cur = _currency(base), _currency(quote)
    base, quote = base_cur.code, quote_cur.code
    quantity = _exact(quantity, base_cur, what="Quantity")
    quote_amount = _exact(quote_amount, quote_cur, what="Quote amount")
    fees = ZERO
    for party in (buyer, seller):
        if (party.user_id is None) == (party.system is None):
            raise ValueError("a trade party is a user or a system account")
        if party.fee:
            _exact(party.fee, quote_cur, what="Fee")
            fees = EXACT.add(fees, party.fee)
    if seller.fee > quote_amount:
        raise InvalidInput("The seller's fee exceeds the trade's value.")

    def leg(party: TradeParty, currency: str, amount: Decimal, *, pays: bool) -> Leg:
        return Leg(wallet_type, currency, amount, user_id=party.user_id, system=party.system,
                   hold_key=party.hold_key if pays else None,
                   close_hold=pays and party.close_hold)

    legs = [
        leg(buyer, quote, EXACT.add(quote_amount, buyer.fee).copy_negate(), pays=True),
        leg(seller, base, quantity.copy_negate(), pays=True),
        leg(buyer, base, quantity, pays=False),
        leg(seller, quote, EXACT.subtract(quote_amount, seller.fee), pays=False),
    ]
    if fees:
        legs.append(Leg(wallet_type, quote, fees, system=SystemAccount.FEES))
    return _post(key=key, kind=JournalKind.TRADE, memo=memo,
                 legs=[x for x in legs if x.amount])


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
    signed = _exact(amount.copy_abs(), cur)
    if amount < 0:
        signed = signed.copy_negate()
    return _post(key=key, kind=JournalKind.ADJUSTMENT, memo=reason, created_by_id=admin_id,
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
    return _post(key=f"reversal:{journal_id}", kind=JournalKind.REVERSAL, legs=legs,
                 memo=reason, created_by_id=admin_id, reverses_id=journal_id)
