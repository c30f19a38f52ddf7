"""Deposit intents and the payment chain's webhook events.

An intent says what the user asked to deposit (``amount`` of ``currency``, the platform's
deposit currency, credited to the SPOT wallet) and what the chain must be paid
(``pay_amount`` of ``coin`` at ``rate``, fixed when the intent was made). Its credit is one
journal keyed ``deposit:<pk>`` (``services.credit_key``), written by
``apps.wallets.services.deposit``; ``tx_hash`` is unique across intents, so one chain
transaction can confirm one intent only, and it is also kept on an intent it paid without
crediting (short, late, after a failure), which the admin may then resolve by hand. Only
``apps.deposits.services`` writes these rows.

Every webhook delivery whose signature verified is one ``DepositEvent`` (its raw body kept
as evidence); its ``verdict`` says what became of it. Deliveries that fail verification
write nothing.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.fields import ExactCharField
from apps.core.money import money_field


class DepositIntent(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        CONFIRMED = "CONFIRMED"
        EXPIRED = "EXPIRED"
        FAILED = "FAILED"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False,
                                 help_text="The id the API, the payment link and the "
                                           "webhook name the intent by.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="deposit_intents")
    amount = money_field(help_text="To credit, in the platform's deposit currency.")
    currency = ExactCharField(max_length=16)
    coin = ExactCharField(max_length=16, help_text="The payment chain's coin.")
    rate = money_field(help_text="Units of currency per coin, fixed at creation.")
    pay_amount = money_field(help_text="Coin to pay: amount / rate, rounded up.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    # NULL until confirmed by the chain: NULLs never collide in the unique index.
    tx_hash = ExactCharField(max_length=128, unique=True, null=True, blank=True)  # noqa: DJ001
    paid_amount = money_field(null=True, blank=True, help_text="Coin the chain reported.")
    credited_amount = money_field(
        null=True, blank=True, help_text="Credited on confirmation: the amount for the "
                                         "chain, what the admin stated for a manual one.")
    failure_reason = models.CharField(max_length=255, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # A manual resolution in the admin: who, when, why (the outcome is the status).
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"]),
                   models.Index(fields=["user", "-id"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(rate__gt=0)
                                   & Q(pay_amount__gt=0), name="deposit_intent_positive"),
            models.CheckConstraint(
                condition=~Q(status="CONFIRMED") | Q(confirmed_at__isnull=False),
                name="deposit_intent_confirmed_at"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} {self.status}"


class DepositEvent(models.Model):
    """One verified webhook delivery (or none at all: refused deliveries are not kept)."""

    class Verdict(models.TextChoices):
        RECEIVED = "RECEIVED", "Received, not processed yet"
        CREDITED = "CREDITED", "Credited the intent"
        DUPLICATE = "DUPLICATE", "Transaction already decided on this intent"
        UNDERPAID = "UNDERPAID", "Underpaid beyond the tolerance"
        EXPIRED = "EXPIRED", "Intent expired before the payment arrived"
        UNKNOWN_INTENT = "UNKNOWN_INTENT", "No such intent"
        TX_REUSED = "TX_REUSED", "Transaction sent for another intent first"
        NOT_PENDING = "NOT_PENDING", "Intent already failed or confirmed otherwise"
        INVALID = "INVALID", "Signed, but the body is malformed"

    intent = models.ForeignKey(DepositIntent, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="events")
    intent_ref = models.CharField(max_length=64, blank=True,
                                  help_text="The intent id as the body gave it.")
    tx_hash = models.CharField(max_length=128, blank=True)
    amount_paid = money_field(null=True, blank=True)
    raw_body = models.TextField()
    signed_with = models.PositiveSmallIntegerField(
        help_text="Which of DEPOSIT_WEBHOOK_SECRETS verified it (0 is the first).")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices,
                               default=Verdict.RECEIVED)
    detail = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["verdict"])]

    def __str__(self) -> str:
        return f"event {self.pk} {self.verdict}"
