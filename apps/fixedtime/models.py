"""Fixed-time instruments, the quotes recorded for them, and trades.

Only ``apps/fixedtime/services.py`` writes these rows (the admin edits instruments).
"""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from apps.core.fields import ExactCharField
from apps.core.money import money_field
from apps.fixedtime import rules
from apps.fixedtime.constants import Direction, Mode, TradeStatus


def _default_expiries() -> list[int]:
    return [60, 300, 900]


# An expiry is between these (seconds): long enough for a price to move, short enough
# that the recorded quotes it needs are still kept (FIXEDTIME_QUOTE_RETENTION_SECONDS).
MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS = 5, 86_400


class Instrument(models.Model):
    """Fixed-time settings of one market (any venue whose quotes reach the quote bus).

    A trade is opened only while the instrument is enabled and its market is enabled; the
    payout percentage, stake bounds and expiries apply to trades opened after a change.
    """

    market = models.OneToOneField("trading.Market", on_delete=models.PROTECT,
                                  related_name="fixedtime")
    enabled = models.BooleanField(default=False)
    min_stake = money_field(help_text="In the market's quote currency.")
    max_stake = money_field(help_text="In the market's quote currency.")
    payout_percent = models.DecimalField(
        max_digits=5, decimal_places=2,
        help_text="A win pays the stake back plus this percentage of it (e.g. 85.00).")
    expiries = models.JSONField(default=_default_expiries,
                                help_text="Allowed expiries in seconds, e.g. [60, 300, 900].")
    timezone = models.CharField(max_length=64, default="UTC",
                                help_text="The timezone of the sessions (IANA name).")
    sessions = models.JSONField(
        default=list, blank=True,
        help_text='Trading hours: [{"days": [0, 1, 2, 3, 4], "open": "08:00", '
                  '"close": "17:00"}] (Monday is 0; close may be "24:00"). Empty: always '
                  "open. A trade opens only if both now and its expiry are in a session.")
    max_open_trades = models.PositiveIntegerField(
        default=5, help_text="Open trades one user may have on this instrument, per mode.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "fixed-time instrument"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_stake__gt=0, max_stake__gte=F("min_stake"),
                            payout_percent__gt=0, max_open_trades__gt=0),
                name="fixedtime_instrument_limits"),
        ]

    def __str__(self) -> str:
        return str(self.market_id and self.market)

    def clean(self) -> None:
        problems = rules.check_sessions(self.sessions, self.timezone)
        expiries = self.expiries
        if (not isinstance(expiries, list) or not expiries
                or any(type(e) is not int or not MIN_EXPIRY_SECONDS <= e <= MAX_EXPIRY_SECONDS
                       for e in expiries)
                or len(set(expiries)) != len(expiries)):
            problems.append(f"Expiries are a list of distinct whole seconds from "
                            f"{MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}.")
        if self.min_stake is not None and self.max_stake is not None and not (
                0 < self.min_stake <= self.max_stake):
            problems.append("Stakes: the minimum is above zero and at most the maximum.")
        if self.payout_percent is not None and self.payout_percent <= 0:
            problems.append("The payout percentage is above zero.")
        if problems:
            raise ValidationError(problems)


class RecordedQuote(models.Model):
    """A quote of a fixed-time instrument as it passed the quote bus: the price history
    that settles trades (the last quote at or before an expiry). ``timestamp`` is the
    source's time; rows older than the retention are pruned (never one an open trade
    may still need)."""

    venue = ExactCharField(max_length=16)
    symbol = ExactCharField(max_length=32)
    timestamp = models.DateTimeField()
    price = money_field()
    bid = money_field(null=True, blank=True)
    ask = money_field(null=True, blank=True)
    source = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["venue", "symbol", "timestamp"],
                                name="fixedtime_quote_at")]

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol} {self.price} @ {self.timestamp.isoformat()}"


class Trade(models.Model):
    """One fixed-time trade, from opening (the stake held) to its settled outcome.

    What decides it is fixed when it opens (the payout percentage, the entry quote and
    its evidence, the expiry) and at expiry (the exit quote: the last recorded at or
    before ``expires_at``, and its evidence). ``payout`` is what the user was paid back.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="fixedtime_trades")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="trades")
    venue = ExactCharField(max_length=16)
    symbol = ExactCharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    wallet_type = ExactCharField(max_length=8)
    currency = ExactCharField(max_length=16)
    direction = models.CharField(max_length=4, choices=Direction.choices)
    stake = money_field()
    payout_percent = models.DecimalField(max_digits=5, decimal_places=2)
    expiry_seconds = models.PositiveIntegerField()
    status = models.CharField(max_length=4, choices=TradeStatus.choices,
                              default=TradeStatus.OPEN)
    hold_key = ExactCharField(max_length=64, unique=True)
    opened_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    entry_price = money_field()
    entry_evidence = models.JSONField(help_text="The quote the trade was opened on.")
    exit_price = money_field(null=True, blank=True)
    exit_evidence = models.JSONField(
        null=True, blank=True,
        help_text="The recorded quote it settled on (its row id, price, time, source).")
    payout = money_field(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    journal_key = ExactCharField(max_length=64, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "fixed-time trade"
        indexes = [
            models.Index(fields=["status", "expires_at"], name="fixedtime_trade_due"),
            models.Index(fields=["user", "status", "id"], name="fixedtime_trade_user"),
            models.Index(fields=["user", "instrument", "mode", "status"],
                         name="fixedtime_trade_open"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(stake__gt=0) & Q(expires_at__gt=F("opened_at")),
                                   name="fixedtime_trade_stake_expiry"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.mode} {self.direction} {self.symbol}"
