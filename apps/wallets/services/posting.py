"""The posting engine: every journal, alone or in a batch, is written by ``post_journals``.

One call, one transaction (joining the caller's):
1. each posting is checked (legs sum to zero per currency, paper separation); a key given
   twice in the batch is one posting (both must have the same content);
2. the wallets of all legs are resolved in one query, the missing ones created empty
   before any lock is taken;
3. every *user* wallet touched is locked once, ``SELECT ... FOR UPDATE`` in pk order;
   system wallets are never locked nor updated (their balance is the sum of their entries),
   so settlements of disjoint users never wait on each other;
4. the keys already posted are read in one query, under those locks; a replay returns the
   first journal and writes nothing, a replay with other content is a logged Conflict
   ("idempotency_conflict");
5. the holds the new postings pay from are locked in pk order, the legs applied in order
   (per posting: a user wallet ends with ``0 <= held <= balance``, a hold pays no more than
   it has);
6. journals and entries are bulk-inserted, wallets and holds bulk-updated, and each touched
   user wallet's final state published once, after commit.
Any failure rolls the whole call back; in a batch of several postings the error names the
key that failed.
"""
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, localcontext
from operator import itemgetter

import structlog
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.core.bulk import insert_rows, update_values
from apps.core.db import retry_lost_deadlock
from apps.core.errors import Conflict, DomainError, InvalidInput
from apps.core.money import EXACT, AmountError, quantize_exact
from apps.marketdata import streams
from apps.wallets.constants import PAPER_ONLY_SYSTEM_ACCOUNTS, WalletType
from apps.wallets.models import Currency, Entry, Hold, Journal, Wallet

ZERO = Decimal(0)
# Read once: an enum member looked up per leg cost a batch more than its arithmetic.
PAPER = WalletType.PAPER
OPEN = Hold.Status.OPEN
CLOSED = Hold.Status.CLOSED
WALLET_TYPES = frozenset(WalletType.values)
JOURNAL_FIELDS = ("key", "kind", "memo", "created_by_id", "reverses_id", "created_at")
log = structlog.get_logger(__name__)

WalletOwner = tuple[int | None, str | None, str, str]  # (user_id, system, type, currency)


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

    @property
    def owner(self) -> WalletOwner:
        return (self.user_id, self.system, self.wallet_type, self.currency)


@dataclass(frozen=True)
class Posting:
    """One journal to write under ``key`` (unique, the idempotency key)."""

    key: str
    kind: str
    legs: tuple[Leg, ...]
    memo: str = ""
    created_by_id: int | None = None
    reverses_id: int | None = None


# --- validation helpers -------------------------------------------------------------------


def currency(code: str) -> Currency:
    """The stored currency whose code is exactly ``code``: the row's ``code`` is what legs
    and wallets are written under. The comparison is repeated here in Python so that a
    database still folding case or accents can never turn a look-alike into a match."""
    found = Currency.objects.filter(pk=code).first()
    if found is None or found.code != code:
        raise InvalidInput(f"Unknown currency {code!r}.", code="unknown_currency")
    return found


def currencies(codes: Iterable[str]) -> dict[str, Currency]:
    """``currency`` for several codes, in one query."""
    codes = set(codes)
    found = {c.code: c for c in Currency.objects.filter(pk__in=codes)}
    for code in sorted(codes):
        if code not in found:
            raise InvalidInput(f"Unknown currency {code!r}.", code="unknown_currency")
    return found


def wallet_type(value: str) -> str:
    if value not in WALLET_TYPES:
        raise InvalidInput(f"Unknown wallet type {value!r}.", code="unknown_wallet_type")
    return value


def exact(amount: Decimal, cur: Currency, *, what: str = "Amount") -> Decimal:
    """``amount`` checked against the currency's precision; positive."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput(f"{what} must be a finite Decimal.")
    if amount <= 0:
        raise InvalidInput(f"{what} must be greater than zero.")
    try:
        return quantize_exact(amount, decimals=cur.decimals)
    except AmountError as exc:
        raise InvalidInput(f"{what} {exc} for {cur.code}.") from None


def insufficient(wallet: Wallet) -> InsufficientFunds:
    """The refusal naming what ``wallet`` has available."""
    return insufficient_in(wallet_type=wallet.type, currency=wallet.currency_id,
                           available=wallet.available)


def insufficient_in(*, wallet_type: str, currency: str, available: Decimal) -> InsufficientFunds:
    """The refusal naming what the user's ``wallet_type`` wallet in ``currency`` has
    ``available`` (in a posting: what it had before its legs were applied in memory)."""
    return InsufficientFunds(
        f"Insufficient {currency} in your {wallet_type} wallet "
        f"(available {available.normalize():f}).",
    )


def _check(posting: Posting) -> None:
    totals: dict[str, Decimal] = {}
    for leg in posting.legs:
        totals[leg.currency] = totals.get(leg.currency, ZERO) + leg.amount
    if any(totals.values()):
        raise ValueError(f"unbalanced journal {posting.key}: {totals}")  # a bug, not bad input
    paper = {leg.wallet_type == PAPER for leg in posting.legs}
    if len(paper) > 1:
        raise InvalidInput("Paper balances cannot move to or from real wallets.",
                           code="paper_separation")
    for leg in posting.legs:
        if leg.system in PAPER_ONLY_SYSTEM_ACCOUNTS and leg.wallet_type != PAPER:
            raise InvalidInput(f"{leg.system} serves PAPER wallets only.",
                               code="paper_separation")


def _content(posting: Posting) -> tuple:
    """What a replay must repeat: the kind and the legs (owner and amount, any order)."""
    return posting.kind, sorted((repr(leg.owner), leg.amount) for leg in posting.legs)


# --- wallets ------------------------------------------------------------------------------


def wallet_ids(owners: Iterable[WalletOwner]) -> dict[WalletOwner, int]:
    """Each owner's wallet id: one query for those that exist, the rest created empty
    (race-safe: the unique keys make a concurrent creator's row the one both read).

    Outside a transaction the creation commits at once and is tried again when it lost a
    deadlock (up to ``_CREATE_ATTEMPTS`` times): InnoDB gives every creator that met a
    duplicate a shared lock on it, gap included, and two of them then inserting the next
    missing row into that gap deadlock (seen on MariaDB in
    tests/wallets/test_settlement_races.py). Only that statement was lost, and every
    retry finds more rows made. Inside a caller's transaction the error goes up (the whole
    transaction was lost): callers that can, resolve their wallets before it
    (``post_journals``)."""
    owners = set(owners)
    if not owners:
        return {}
    groups: dict[tuple[str | None, str, str], set[int]] = {}
    match = Q()
    for user_id, system, wtype, cur in owners:
        if user_id is None:
            match |= Q(system=system, type=wtype, currency_id=cur)
        else:
            groups.setdefault((None, wtype, cur), set()).add(user_id)
    for (_, wtype, cur), user_ids in groups.items():
        match |= Q(user_id__in=_ids_sql(user_ids), type=wtype, currency_id=cur)

    def read(where: Q) -> dict[WalletOwner, int]:
        rows = Wallet.objects.filter(where).values_list("pk", "user_id", "system", "type",
                                                        "currency_id")
        return {(u, s, t, c): pk for pk, u, s, t, c in rows}

    found = read(match)
    # Sorted: two creators insert in one order, so neither waits on the other's later row.
    missing = sorted(owners - found.keys(), key=repr)
    if missing:
        _create_wallets(missing)
        again = Q()
        for u, s, t, c in missing:
            again |= Q(user_id=u, system=s, type=t, currency_id=c)
        found.update(read(again))
        lost = [owner for owner in missing if owner not in found]
        if lost:  # MariaDB's INSERT IGNORE skips a row whose user does not exist
            raise InvalidInput(f"No such wallet owner: {lost[0]}.", code="unknown_owner")
    return found


_CREATE_ATTEMPTS = 5


def _create_wallets(owners: list[WalletOwner]) -> None:
    rows = [Wallet(user_id=u, system=s, type=t, currency_id=c) for u, s, t, c in owners]
    retry_lost_deadlock(lambda: Wallet.objects.bulk_create(rows, ignore_conflicts=True),
                        attempts=_CREATE_ATTEMPTS, event="wallet_create_retried",
                        wallets=len(rows))


def lock_user_wallets(ids: Iterable[int]) -> dict[int, Wallet]:
    """Lock the user wallets ``ids`` (pk order; ``_user_wallets_locked``), as rows."""
    ids = set(ids)
    if not ids:
        return {}
    # created_at is never read here, and every writer sets updated_at before it writes:
    # parsing 900 of each took a tenth of a batch's lock.
    return {w.pk: w for w in _user_wallets_locked(ids).defer("created_at", "updated_at")}


class Balance:
    """A locked user wallet's ``balance`` and ``held``, as a posting applies its legs to
    them: a batch of 500 fills touches ~900 wallets, and a model instance each cost it more
    than the arithmetic."""

    __slots__ = ("balance", "held")

    def __init__(self, balance: Decimal, held: Decimal) -> None:
        self.balance, self.held = balance, held


def lock_user_balances(ids: Iterable[int]) -> dict[int, Balance]:
    """Lock the user wallets ``ids`` (pk order; ``_user_wallets_locked``); each one's
    balance and held."""
    ids = set(ids)
    if not ids:
        return {}
    return {pk: Balance(balance, held) for pk, balance, held in
            _user_wallets_locked(ids).values_list("pk", "balance", "held")}


def _user_wallets_locked(ids: set[int]) -> QuerySet[Wallet]:
    """The lock of the user wallets ``ids``, ``SELECT ... FOR UPDATE`` in pk order. Pass no
    system wallet's id: under REPEATABLE READ, InnoDB keeps the lock on every row a locking
    read scans, even one its WHERE then drops, so that system wallet would be locked after
    all."""
    return (Wallet.objects.select_for_update().filter(pk__in=_ids_sql(ids), user__isnull=False)
            .order_by("pk"))


def _ids_sql(ids: Iterable[int]) -> RawSQL:
    """The right side of ``__in`` for a non-empty set of integer ids, written into the SQL:
    Django prepares each value of a list through its field (a foreign key through its
    target), which cost a 500-fill batch 30-40 ms for its 1,000-1,500 wallet and user ids.
    ``int`` refuses anything that is not a number, so nothing but digits is written."""
    return RawSQL(", ".join(f"{int(pk):d}" for pk in ids), ())  # noqa: S611 (digits only)


def wallets_lock(*, owners: Iterable[WalletOwner]) -> dict[WalletOwner, Wallet]:
    """Lock the user wallets among ``owners`` until the caller's transaction ends; returns
    every owner's wallet (system wallets read, not locked).

    A service that writes several wallets calls this once, inside its transaction and
    before its first write, with every wallet it may write, so that it takes its whole
    wallet lock set at once in primary-key order (callers lock their own rows, such as an
    order, first). The postings it makes afterwards lock the same rows again, which waits
    for nothing. Each owner is ``(user_id, system, wallet_type, currency)`` with one of
    ``user_id`` and ``system`` set. Missing wallets are created (empty) before anything is
    locked: a transaction never waits on another's new wallet while holding a wallet lock.
    System wallets are never locked (no posting writes their row), so naming them costs
    nothing. Locks: the user wallets, ``SELECT ... FOR UPDATE`` in pk order. Raises
    InvalidInput (unknown wallet type); outside a transaction a lock would end with its
    statement, so Django refuses it where rows lock (TransactionManagementError).
    """
    owners = list(dict.fromkeys(owners))
    for _, _, wtype, _ in owners:
        wallet_type(wtype)
    ids = wallet_ids(owners)
    locked = lock_user_wallets(pk for owner, pk in ids.items() if owner[0] is not None)
    system = {w.pk: w for w in Wallet.objects.filter(
        pk__in=[pk for pk in ids.values() if pk not in locked])}
    return {owner: locked.get(ids[owner]) or system[ids[owner]] for owner in owners}


def publish_balances(balances: Iterable[tuple[int, str, str, Decimal, Decimal]]) -> None:
    """Tell each ``(user_id, wallet_type, currency, balance, held)`` wallet's owner its
    balance, held and available after commit, in one hand-off (the caller holds the
    wallets' locks, so these are the values the transaction commits)."""
    normalize, subtract = EXACT.normalize, EXACT.subtract
    streams.publish_user_events(events=[
        (user_id, streams.BALANCES, {
            "wallet_type": wtype, "currency": cur,
            # Normalised (exactly: balances have 36 digits) so every database reads the same.
            "balance": f"{normalize(balance):f}", "held": f"{normalize(held):f}",
            "available": f"{normalize(subtract(balance, held)):f}"})
        for user_id, wtype, cur, balance, held in balances])


def publish_wallets(wallets: Iterable[Wallet]) -> None:
    """``publish_balances`` of the user wallets among ``wallets`` (rows)."""
    publish_balances((w.user_id, w.type, w.currency_id, w.balance, w.held)
                     for w in wallets if w.user_id is not None)


def publish_balance(wallet: Wallet) -> None:
    """``publish_wallets`` of one wallet."""
    publish_wallets([wallet])


# --- posting ------------------------------------------------------------------------------


def post(*, key: str, kind: str, legs: Sequence[Leg], memo: str = "",
         created_by_id: int | None = None, reverses_id: int | None = None) -> Journal:
    """Write one balanced journal (``post_journals`` of one posting)."""
    return post_journals([Posting(key=key, kind=kind, legs=tuple(legs), memo=memo,
                                  created_by_id=created_by_id, reverses_id=reverses_id)])[0]


def post_journals(postings: Sequence[Posting]) -> list[Journal]:
    """Write ``postings`` in one transaction; returns each one's journal, in order (a
    replayed or repeated key: the first journal). Locks: the touched user wallets (pk
    order), then the holds paid from (pk order); never a system wallet. Raises
    InvalidInput (paper separation), InsufficientFunds (a user wallet would end with
    ``balance < held``), Conflict ("hold_exhausted": a hold cannot pay its debit;
    "idempotency_conflict": a key already posted, or given twice, with other content;
    "already_reversed"); in a batch of several keys the message names the key. On any
    raise nothing is written, except, when this is the outermost transaction, the empty
    wallets it made for the legs' owners before it (``wallet_ids``). Exactly once per key
    across processes: the key is unique and the replay check runs under the user wallets'
    locks."""
    with localcontext(EXACT):  # balances have 36 digits: the default 28 would round
        unique: dict[str, Posting] = {}
        for posting in postings:
            with naming(posting.key, batch=len(postings) > 1):
                _check(posting)
                first = unique.setdefault(posting.key, posting)
                if first is not posting and _content(first) != _content(posting):
                    log.error("journal_batch_conflict", key=posting.key)
                    raise Conflict(f"Key {posting.key!r} is given twice with other content.",
                                   code="idempotency_conflict")
        owners = {leg.owner for posting in unique.values() for leg in posting.legs}
        # The outermost transaction: its wallets are made before it, each creation
        # committed at once (see wallet_ids), so that its lock waits never hold one.
        ids = None if transaction.get_connection().in_atomic_block else wallet_ids(owners)
        with transaction.atomic():
            for attempt in range(2):
                try:
                    with transaction.atomic():
                        journals = _post_locked(list(unique.values()),
                                                ids=ids or wallet_ids(owners),
                                                batch=len(unique) > 1)
                    break
                except IntegrityError:
                    # A writer sharing no user wallet with us took a key first (the unique
                    # index waited for it to commit): the next attempt sees it as a replay.
                    if attempt or not _taken_meanwhile(unique.values()):
                        raise
        return [journals[p.key] for p in postings]


@contextmanager
def naming(key: str, *, batch: bool) -> Iterator[None]:
    """Re-raise a DomainError naming the key it concerns, when it is one of several."""
    try:
        yield
    except DomainError as exc:
        if not batch:
            raise
        raise type(exc)(f"{key}: {exc.message}", code=exc.code, fields=exc.fields) from exc


def _taken_meanwhile(postings: Iterable[Posting]) -> bool:
    keys = [p.key for p in postings]
    if Journal.objects.filter(key__in=keys).exists():
        return True
    reversed_ids = [p.reverses_id for p in postings if p.reverses_id is not None]
    if Journal.objects.filter(reverses_id__in=reversed_ids).exists():
        raise Conflict("This journal was already reversed.", code="already_reversed")
    return False


class HoldState:
    """A locked hold's state as a batch's legs draw on it (values, not a model row: see
    ``Balance``)."""

    __slots__ = ("pk", "wallet_id", "status", "remaining")

    def __init__(self, pk: int, wallet_id: int, status: str, remaining: Decimal) -> None:
        self.pk, self.wallet_id, self.status, self.remaining = pk, wallet_id, status, remaining


def _post_locked(postings: list[Posting], *, ids: dict[WalletOwner, int],
                 batch: bool) -> dict[str, Journal]:
    balances = lock_user_balances(pk for owner, pk in ids.items() if owner[0] is not None)
    done = _replays(postings, ids)
    todo = [p for p in postings if p.key not in done]
    if not todo:
        return done
    hold_keys = sorted({leg.hold_key for p in todo for leg in p.legs if leg.hold_key})
    holds = {key: HoldState(pk, wallet_id, status, remaining)
             for key, pk, wallet_id, status, remaining in
             Hold.objects.select_for_update().filter(key__in=hold_keys).order_by("pk")
             .values_list("key", "pk", "wallet_id", "status", "remaining")}

    entries, touched_holds = [], {}
    for posting in todo:
        with naming(posting.key, batch=batch):
            entries.append(_apply(posting, ids, balances, holds, touched_holds))
    now = timezone.now()
    rows = [(p.key, p.kind, p.memo[:255], p.created_by_id, p.reverses_id, now) for p in todo]
    pks = insert_rows(Journal, JOURNAL_FIELDS, rows, returning=True)
    if pks is None:  # the database cannot return them: read them back by key
        by_key = dict(Journal.objects.filter(key__in=[p.key for p in todo])
                      .values_list("key", "pk"))
        pks = [by_key[p.key] for p in todo]
    insert_rows(Entry, ["journal", "wallet", "amount", "balance_after", "created_at"],
                [(pk, wallet_id, amount, after, now)
                 for pk, legs in zip(pks, entries, strict=True)
                 for wallet_id, amount, after in legs])
    # Made as a query makes the rows it reads (they are saved): Journal(**fields) filled
    # every field's default first, a tenth of a batch's Python.
    attnames = [field.attname for field in Journal._meta.concrete_fields]
    columns = (Journal._meta.pk.attname, *JOURNAL_FIELDS)
    ordered = itemgetter(*[columns.index(name) for name in attnames])
    journals = [Journal.from_db(DEFAULT_DB_ALIAS, attnames, ordered((pk, *row)))
                for pk, row in zip(pks, rows, strict=True)]
    changed = sorted({wallet_id for legs in entries for wallet_id, _, _ in legs}
                     & balances.keys())
    update_values(Wallet, ["balance", "held", "updated_at"],
                  [(pk, balances[pk].balance, balances[pk].held, now) for pk in changed])
    update_values(Hold, ["remaining", "status", "updated_at"],
                  [(h.pk, h.remaining, h.status, now) for h in touched_holds.values()])
    owner_of = {pk: owner for owner, pk in ids.items()}
    publish_balances((owner_of[pk][0], owner_of[pk][2], owner_of[pk][3], balances[pk].balance,
                      balances[pk].held) for pk in changed)
    return done | {j.key: j for j in journals}


def _apply(posting: Posting, ids: dict[WalletOwner, int], balances: dict[int, Balance],
           holds: dict[str, HoldState], touched_holds: dict[str, HoldState]) -> list[tuple]:
    """Apply ``posting``'s legs to the locked wallets' and holds' values in memory; its
    entries as ``(wallet id, amount, balance after)``, the balance None on a system
    wallet."""
    entries = []
    available_before: dict[int, tuple[WalletOwner, Decimal]] = {}
    for leg in posting.legs:
        owner = leg.owner
        wallet_id = ids[owner]
        wallet = balances.get(wallet_id)
        if wallet is None:  # a system wallet: the entry is its whole record
            entries.append((wallet_id, leg.amount, None))
            continue
        if wallet_id not in available_before:
            available_before[wallet_id] = owner, wallet.balance - wallet.held
        if leg.hold_key:
            hold = holds.get(leg.hold_key)
            debit = leg.amount.copy_negate()
            if (hold is None or hold.wallet_id != wallet_id or hold.status != OPEN
                    or debit <= 0 or hold.remaining < debit):
                raise Conflict(f"Hold {leg.hold_key!r} cannot pay {debit}.",
                               code="hold_exhausted")
            hold.remaining -= debit
            wallet.held -= debit
            if leg.close_hold:
                wallet.held -= hold.remaining
                hold.remaining = ZERO
                hold.status = CLOSED
            touched_holds[leg.hold_key] = hold
        wallet.balance += leg.amount
        entries.append((wallet_id, leg.amount, wallet.balance))
    for wallet_id, (owner, available) in available_before.items():
        wallet = balances[wallet_id]
        if wallet.balance < wallet.held or wallet.held < 0:
            # The legs are applied: the refusal names what the user had before them.
            raise insufficient_in(wallet_type=owner[2], currency=owner[3],
                                  available=available)
    return entries


def _replays(postings: list[Posting], ids: dict[WalletOwner, int]) -> dict[str, Journal]:
    """The journals already posted under the keys of ``postings``, each checked to have the
    content its posting has (else a logged Conflict "idempotency_conflict")."""
    by_key = {p.key: p for p in postings}
    found = {j.key: j for j in Journal.objects.filter(key__in=by_key)}
    if not found:
        return {}
    posted: dict[int, list] = {j.pk: [] for j in found.values()}
    for journal_id, wallet_id, amount in Entry.objects.filter(
            journal_id__in=posted).values_list("journal_id", "wallet_id", "amount"):
        posted[journal_id].append((wallet_id, amount))
    for key, journal in found.items():
        posting = by_key[key]
        legs = sorted(posted[journal.pk])
        replayed = sorted((ids[leg.owner], leg.amount) for leg in posting.legs)
        if journal.kind != posting.kind or legs != replayed:
            log.error("journal_replay_conflict", key=key, journal_id=journal.pk,
                      kind=journal.kind, replay_kind=posting.kind,
                      legs=[(w, str(a)) for w, a in legs],
                      replay_legs=[(w, str(a)) for w, a in replayed])
            with naming(key, batch=len(postings) > 1):
                raise Conflict(f"Key {key!r} was already used for another journal.",
                               code="idempotency_conflict")
    return found
