"""Typed wallets and their double-entry ledger.

Only ``apps/wallets/services`` writes these tables. A wallet belongs either to a user or
to a system account (never both). User wallets obey ``0 <= held <= balance``, and their
``balance`` column is the sum of their entries, kept current under the wallet's row lock.
System wallets are the counter-legs of journals; many settlements credit the same one at
once, so no posting locks or updates their row (migration 0003): their ``balance`` column
is 0 (a constraint) and their balance is the sum of their entries (``selectors.
system_balance``; it may be negative: EXTERNAL's is minus everything deposited). They never
hold. ``Entry.balance_after`` is the user wallet's balance after the entry; on a system
leg it is NULL (legs written before 0003 keep the running balance they had then).
``Journal``, ``Entry`` and ``HoldChange`` rows are immutable: corrections are reversals.
"""
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.core.fields import ExactCharField
from apps.core.money import EXACT, money_field
from apps.wallets.constants import HoldKind, JournalKind, SystemAccount, WalletType


class ImmutableError(Exception):
    """A ledger row was about to be changed or deleted."""


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError(f"{self.model.__name__} rows are immutable; post a reversal")

    def delete(self):
        raise ImmutableError(f"{self.model.__name__} rows are immutable; post a reversal")


class ImmutableModel(models.Model):
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError(f"{type(self).__name__} rows are immutable; post a reversal")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError(f"{type(self).__name__} rows are immutable; post a reversal")


class Currency(models.Model):
    code = ExactCharField(max_length=16, primary_key=True)
    name = models.CharField(max_length=64)
    decimals = models.PositiveSmallIntegerField(help_text="Fractional digits an amount may have.")

    class Meta:
        verbose_name_plural = "currencies"
        constraints = [
            models.CheckConstraint(condition=Q(decimals__lte=18), name="currency_decimals_lte_18")
        ]

    def __str__(self) -> str:
        return self.code


class Wallet(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="wallets",
    )
    # NULL, not "", for user wallets: the unique key below must ignore them.
    system = ExactCharField(  # noqa: DJ001
        max_length=32, null=True, blank=True, choices=SystemAccount.choices
    )
    type = ExactCharField(max_length=8, choices=WalletType.choices)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, db_column="currency")
    balance = money_field(default=0)
    held = money_field(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # NULLs are distinct in unique indexes on every backend, so each constraint
            # binds only its own kind of owner (MariaDB has no partial indexes).
            models.UniqueConstraint(
                fields=["user", "type", "currency"], name="wallet_user_type_currency_uniq"
            ),
            models.UniqueConstraint(
                fields=["system", "type", "currency"], name="wallet_system_type_currency_uniq"
            ),
            models.CheckConstraint(
                condition=(Q(user__isnull=True) & Q(system__isnull=False))
                | (Q(user__isnull=False) & Q(system__isnull=True)),
                name="wallet_one_owner",
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="wallet_held_gte_0"),
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(balance__gte=0), name="wallet_balance_gte_0"
            ),
            models.CheckConstraint(
                condition=(Q(user__isnull=True) & Q(held=0))
                | (Q(user__isnull=False) & Q(held__lte=F("balance"))),
                name="wallet_held_lte_balance",
            ),
            # A system wallet's balance is derived from its entries: a posting that wrote
            # the row in place would make it a lock every settlement waits on.
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(balance=0), name="wallet_system_balance_0"
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"system {self.system}"
        return f"{owner} {self.type} {self.currency_id}"

    @property
    def available(self):
        return EXACT.subtract(self.balance, self.held)


class Hold(models.Model):
    """Funds reserved in a user wallet (``wallet.held`` is the sum of ``remaining`` over its
    OPEN holds): for an open order (ORDER: a fill consumes from it, release frees it) or as
    a futures position's margin (MARGIN: ``amount`` is all ever put in, each change recorded
    once as a ``HoldChange``; losses are paid out of it)."""

    class Status(models.TextChoices):
        OPEN = "OPEN"
        CLOSED = "CLOSED"

    key = ExactCharField(max_length=128, unique=True)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="holds")
    amount = money_field()
    remaining = money_field()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    kind = models.CharField(max_length=8, choices=HoldKind.choices, default=HoldKind.ORDER)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["wallet", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="hold_remaining_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class Journal(ImmutableModel):
    key = ExactCharField(max_length=128, unique=True, help_text="Idempotency key.")
    kind = ExactCharField(max_length=16, choices=JournalKind.choices)
    memo = models.CharField(max_length=255, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Entry(ImmutableModel):
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="entries")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    amount = money_field(help_text="Signed: credit > 0, debit < 0.")
    balance_after = money_field(null=True, blank=True,
                                help_text="The user wallet's balance after it; NULL on a "
                                          "system wallet (derived from its entries).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["wallet", "-id"])]

    def __str__(self) -> str:
        return f"{self.amount} -> {self.wallet}"


class HoldChange(ImmutableModel):
    """One change of a margin hold, done once per ``key``: ``amount`` > 0 put into it,
    < 0 released from it to available balance (payments out of it are journal entries)."""

    key = ExactCharField(max_length=128, unique=True, help_text="Idempotency key.")
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="changes")
    amount = money_field(help_text="Signed: added > 0, released < 0.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.amount} -> {self.hold}"
