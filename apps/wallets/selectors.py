"""Reads of wallets and the ledger, including the full invariant check (reconcile)."""
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal, localcontext
from itertools import groupby
from operator import itemgetter

from django.db.models import OuterRef, Q, QuerySet, Subquery

from apps.core.errors import NotFound
from apps.core.money import EXACT, exact_sums
from apps.wallets.constants import HoldKind, SystemAccount, WalletType
from apps.wallets.models import Currency, Entry, Hold, HoldChange, Journal, Wallet


def currency_decimals(*, code: str) -> int:
    """Fractional digits allowed for ``code``; NotFound if the currency is unknown."""
    decimals = Currency.objects.filter(pk=code).values_list("decimals", flat=True).first()
    if decimals is None:
        raise NotFound(f"Unknown currency {code!r}.", code="unknown_currency")
    return decimals


def currency_decimals_map(*, codes: list[str]) -> dict[str, int]:
    """``{code: decimals}`` for the known currencies among ``codes``."""
    return dict(Currency.objects.filter(pk__in=codes).values_list("pk", "decimals"))


def currency_decimals_subquery(*, code_field: str) -> Subquery:
    """The decimals of the currency named by the outer query's ``code_field`` (e.g.
    ``market__quote_currency``), to annotate a list with in the same query."""
    return Subquery(Currency.objects.filter(pk=OuterRef(code_field)).values("decimals")[:1])


def wallet_list(*, user_id: int) -> QuerySet[Wallet]:
    return Wallet.objects.filter(user_id=user_id).order_by("type", "currency_id")


def wallet_get(*, user_id: int, wallet_type: str, currency: str) -> Wallet:
    """The user's wallet; NotFound (never another user's) if it does not exist.
    ``wallet_type`` may be in lower case (ASCII only: Python would also fold 'ſ' to 'S');
    ``currency`` must be canonical (``apps.core.identifiers``): it is matched exactly."""
    if not wallet_type.isascii() or wallet_type.upper() not in WalletType.values:
        raise NotFound(f"Unknown wallet type {wallet_type!r}.", code="unknown_wallet_type")
    wallet_type = wallet_type.upper()
    wallet = Wallet.objects.filter(user_id=user_id, type=wallet_type, currency_id=currency).first()
    if wallet is None:
        raise NotFound(f"You have no {wallet_type} wallet in {currency}.")
    return wallet


def wallet_entries(*, wallet: Wallet) -> QuerySet[Entry]:
    return Entry.objects.filter(wallet=wallet).select_related("journal")


def system_balances(*, wallet_ids: list[int] | None = None) -> dict[int, Decimal]:
    """``{wallet id: balance}`` of the system wallets (all, or those among ``wallet_ids``),
    each the sum of its entries: no posting writes a system wallet's row."""
    wallets = Wallet.objects.filter(user__isnull=True)
    if wallet_ids is not None:
        wallets = wallets.filter(pk__in=wallet_ids)
    balances = dict.fromkeys(wallets.values_list("pk", flat=True), Decimal(0))
    # On MariaDB one GROUP BY over the (wallet, id) index.
    sums = exact_sums(Entry.objects.filter(wallet_id__in=list(balances)), by=["wallet_id"],
                      fields=["amount"])
    balances.update({wallet_id: total for (wallet_id,), (total,) in sums.items()})
    return balances


def system_balance(*, system: str, wallet_type: str, currency: str) -> Decimal:
    """The balance of a system account's wallet (0 if it has none yet)."""
    wallet_id = Wallet.objects.filter(system=system, type=wallet_type,
                                      currency_id=currency).values_list("pk", flat=True).first()
    if wallet_id is None:
        return Decimal(0)
    return system_balances(wallet_ids=[wallet_id])[wallet_id]


def system_wallet_currencies(*, system: str, wallet_type: str) -> list[str]:
    """The currencies in which the system account has a wallet of ``wallet_type``."""
    return sorted(Wallet.objects.filter(system=system, type=wallet_type)
                  .values_list("currency_id", flat=True))


ReconcileCheck = Callable[[], list[str]]
_reconcile_checks: dict[str, ReconcileCheck] = {}


def register_reconcile_check(name: str, check: ReconcileCheck) -> None:
    """Make ``check`` part of ``reconcile`` under ``name`` (a later registration of the
    name replaces it). For an invariant over the ledger that needs a higher layer's rows,
    which this app cannot import (the futures venue's CLEARING identity needs its
    positions): that app registers it from its ``AppConfig.ready()``. ``check`` only reads
    and returns its violations, one line each (empty when clean)."""
    _reconcile_checks[name] = check


def reconcile() -> list[str]:
    """Every violated ledger invariant, one line each; empty when the books are clean.

    Checks: every journal sums to zero per currency; each user wallet's balance is the sum
    of its entries, is not negative and holds no more than it has; ``held`` is the sum of
    its OPEN holds' ``remaining``; no CLOSED hold keeps a remainder; INSURANCE (the sum of
    its entries, as every system wallet's balance) is not negative; CLEARING is 0 per
    wallet type and currency, FUTURES's excepted (its identity needs the positions: the
    futures venue registers that check); a margin hold is in a FUTURES wallet, its
    ``amount`` is the sum of what its changes added, and it keeps no more than that less
    what they released; and every registered check (``register_reconcile_check``), each
    of its lines prefixed by its name. (A system wallet's row keeps balance 0 and held 0 by
    constraints.)
    """
    with localcontext(EXACT):
        return _reconcile()


def _reconcile() -> list[str]:
    problems: list[str] = []
    currency_of = dict(Wallet.objects.values_list("pk", "currency_id"))
    entry_sums: dict[int, Decimal] = defaultdict(Decimal)
    rows = Entry.objects.order_by("journal_id").values_list("journal_id", "wallet_id", "amount")
    for journal_id, legs in groupby(rows.iterator(chunk_size=10_000), key=itemgetter(0)):
        per_currency: dict[str, Decimal] = defaultdict(Decimal)
        for _, wallet_id, amount in legs:
            entry_sums[wallet_id] += amount
            per_currency[currency_of[wallet_id]] += amount
        for currency, total in sorted(per_currency.items()):
            if total:
                problems.append(f"journal {journal_id}: {currency} legs sum to {total}, not 0")
    hold_sums: dict[int, Decimal] = defaultdict(Decimal)
    open_holds = Hold.objects.filter(status=Hold.Status.OPEN).values_list("wallet_id", "remaining")
    for wallet_id, remaining in open_holds.iterator(chunk_size=10_000):
        hold_sums[wallet_id] += remaining
    for wallet in Wallet.objects.order_by("pk").iterator():
        total = entry_sums[wallet.pk]
        if wallet.user_id is None:  # its row keeps 0, by a constraint: the entries count
            if wallet.system == SystemAccount.INSURANCE and total < 0:
                problems.append(f"wallet {wallet.pk} ({wallet}): INSURANCE is negative "
                                f"({total})")
            # An engine venue's trade settles its two fills against CLEARING in one
            # transaction, at one price in exact units: they net to zero. FUTURES's
            # CLEARING instead holds what the open positions are owed (docs/FUTURES.md
            # "Money"), which needs the positions: the futures venue registers that check.
            if (wallet.system == SystemAccount.CLEARING and wallet.type != WalletType.FUTURES
                    and total != 0):
                problems.append(f"wallet {wallet.pk} ({wallet}): CLEARING is {total}, "
                                f"not 0 (a trade's two fills net out)")
            continue
        if total != wallet.balance:
            problems.append(f"wallet {wallet.pk} ({wallet}): balance {wallet.balance} "
                            f"!= sum of entries {total}")
        if wallet.balance < 0 or wallet.held < 0 or wallet.held > wallet.balance:
            problems.append(f"wallet {wallet.pk} ({wallet}): balance {wallet.balance}, "
                            f"held {wallet.held} out of bounds")
        held = hold_sums[wallet.pk]
        if held != wallet.held:
            problems.append(f"wallet {wallet.pk} ({wallet}): held {wallet.held} "
                            f"!= sum of open holds {held}")
    for hold in Hold.objects.filter(Q(status=Hold.Status.CLOSED) & ~Q(remaining=0)):
        problems.append(f"hold {hold.key}: CLOSED with {hold.remaining} remaining")
    problems += _margin_problems()
    for name, check in sorted(_reconcile_checks.items()):
        problems += [f"{name}: {line}" for line in check()]
    return problems


def _margin_problems() -> list[str]:
    added: dict[int, Decimal] = defaultdict(Decimal)
    released: dict[int, Decimal] = defaultdict(Decimal)
    for hold_id, amount in HoldChange.objects.values_list("hold_id", "amount").iterator(
            chunk_size=10_000):
        (added if amount > 0 else released)[hold_id] += amount
    problems = []
    margin = Hold.objects.filter(kind=HoldKind.MARGIN).select_related("wallet")
    for hold in margin.order_by("pk").iterator():
        if hold.wallet.type != WalletType.FUTURES:
            problems.append(f"hold {hold.key}: margin in a {hold.wallet.type} wallet")
        if hold.amount != added[hold.pk]:
            problems.append(f"hold {hold.key}: amount {hold.amount} != margin added "
                            f"{added[hold.pk]}")
        if hold.remaining > hold.amount + released[hold.pk]:
            problems.append(f"hold {hold.key}: {hold.remaining} remaining of "
                            f"{hold.amount} added and {-released[hold.pk]} released")
    return problems


def hold_change_exists(*, key: str) -> bool:
    """Whether a margin change was made under ``key`` (a retried request is a replay: the
    caller then skips checks the first one passed, such as a futures margin limit)."""
    return HoldChange.objects.filter(key=key).exists()


def hold_remaining(*, key: str) -> Decimal | None:
    """What the hold ``key`` has left (0 once closed), or None if there is none."""
    return Hold.objects.filter(key=key).values_list("remaining", flat=True).first()


def journal_exists(*, key: str) -> bool:
    """Whether a journal was posted under ``key`` (a cheap check before an idempotent
    post that is usually a replay)."""
    return Journal.objects.filter(key=key).exists()
