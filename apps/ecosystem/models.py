"""The ecosystem venue's own tables: blockchains, their tokens, and the details of its
markets (the core's ``trading.Market`` of venue ecosystem keeps the symbol, currencies,
tick, lot, limits, fees and status; what only this venue has stays here)."""
from django.db import models

from apps.core.fields import ExactCharField
from apps.matching import StpMode
from apps.trading.models import Market


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class Blockchain(models.Model):
    name = models.CharField(max_length=64, unique=True)
    chain_id = models.PositiveBigIntegerField(unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.chain_id})"


class Token(models.Model):
    """A custom token listed by the operator; its symbol is a wallet currency (ECO
    wallets hold it) with the token's decimals."""

    symbol = ExactCharField(max_length=16, unique=True)
    name = models.CharField(max_length=64)
    chain = models.ForeignKey(Blockchain, on_delete=models.PROTECT, related_name="tokens")
    contract_address = ExactCharField(max_length=128)
    decimals = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain", "contract_address"],
                                    name="ecosystem_token_contract_uniq"),
            models.CheckConstraint(condition=models.Q(decimals__lte=18),
                                   name="ecosystem_token_decimals"),
        ]

    def __str__(self) -> str:
        return self.symbol


class EcoMarket(models.Model):
    """An ecosystem market: its core market (venue ecosystem), the token it trades and
    the engine's default self-trade prevention there."""

    STP_CHOICES = [(m.name, m.name.replace("_", " ").capitalize()) for m in StpMode]

    market = models.OneToOneField(Market, on_delete=models.PROTECT, primary_key=True,
                                  related_name="eco")
    base_token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="markets")
    stp_default = models.CharField(max_length=12, choices=STP_CHOICES,
                                   default=StpMode.CANCEL_TAKER.name)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ecosystem market"
        verbose_name_plural = "ecosystem markets"

    def __str__(self) -> str:
        return str(self.market)
