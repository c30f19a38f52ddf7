"""Reads of wallets and the ledger, including the full invariant check (reconcile)."""
from collections import defaultdict
from decimal import Decimal, localcontext
from itertools import groupby
from operator import itemgetter

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound
from apps.core.money import EXACT
from apps.wallets.constants import WalletType
from apps.wallets.models import Currency, Entry, Hold, Wallet


def currency_decimals(*, code: str) -> int:
    """Fractional digits allowed for ``code``; NotFound if the currency is unknown."""
    decimals = Currency.objects.filter(pk=code).values_list("decimals", flat=True).first()
    if decimals is None:
        raise NotFound(f"Unknown currency {code!r}.", code="unknown_currency")
    return decimals


def currency_decimals_map(*, codes: list[str]) -> dict[str, int]:
    """``{code: decimals}`` for the known currencies among ``codes``."""
    return dict(Currency.objects.filter(pk__in=codes).values_list("pk", "decimals"))


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


def reconcile() -> list[str]:
    """Every violated ledger invariant, one line each; empty when the books are clean.

    Checks: entries sum to each wallet's balance; every journal sums to zero per currency;
    no user wallet negative or holding more than its balance; ``held`` equals the sum of
    its OPEN holds' ``remaining``; no CLOSED hold keeps a remainder.
    """
    with localcontext(EXACT):
        return _reconcile()


def _reconcile() -> list[str]:
    problems: list[str] = []
    # Sums are taken in Python with Decimal: SQLite's SUM over a decimal column is a float.
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
        if total != wallet.balance:
            problems.append(f"wallet {wallet.pk} ({wallet}): balance {wallet.balance} "
                            f"!= sum of entries {total}")
        if wallet.user_id is not None and (wallet.balance < 0 or wallet.held < 0
                                           or wallet.held > wallet.balance):
            problems.append(f"wallet {wallet.pk} ({wallet}): balance {wallet.balance}, "
                            f"held {wallet.held} out of bounds")
        held = hold_sums[wallet.pk]
        if held != wallet.held:
            problems.append(f"wallet {wallet.pk} ({wallet}): held {wallet.held} "
                            f"!= sum of open holds {held}")
    for hold in Hold.objects.filter(Q(status=Hold.Status.CLOSED) & ~Q(remaining=0)):
        problems.append(f"hold {hold.key}: CLOSED with {hold.remaining} remaining")
    return problems
