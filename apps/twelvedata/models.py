"""TwelveData paper trading: the provider, the instruments admins offer, and paper orders."""
from decimal import Decimal

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models
from django.db.models import Q

from apps.core.fields import ExactCharField
from apps.core.money import money_field


class TwdProvider(models.Model):
    """A TwelveData account. Only an enabled provider is used; its API key comes from
    ``TWELVEDATA_API_KEY`` or, failing that, is stored here encrypted."""

    name = ExactCharField(max_length=32, unique=True, validators=[validate_slug])
    title = models.CharField(max_length=64)
    status = models.BooleanField(default=False, help_text="Enabled")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.title


class TwdMarket(models.Model):
    class Type(models.TextChoices):
        FOREX = "forex"
        STOCKS = "stocks"
        INDICES = "indices"
        ETF = "etf"
        CRYPTO = "crypto"

    symbol = ExactCharField(max_length=32, unique=True)
    type = models.CharField(max_length=8, choices=Type.choices)
    name = models.CharField(max_length=128)
    base_currency = ExactCharField(max_length=16)
    quote_currency = ExactCharField(max_length=16)
    exchange = models.CharField(max_length=64, blank=True)
    mic_code = models.CharField(max_length=16, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    is_trending = models.BooleanField(default=False)
    is_hot = models.BooleanField(default=False)
    status = models.BooleanField(default=False, help_text="Enabled for trading")
    price_precision = models.PositiveSmallIntegerField(default=5)
    amount_precision = models.PositiveSmallIntegerField(default=2)
    maker_fee = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.0008"))
    taker_fee = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.0010"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["type", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(maker_fee__gte=0, maker_fee__lt=1, taker_fee__gte=0, taker_fee__lt=1),
                name="twd_market_fee_rates",
            ),
            models.CheckConstraint(
                condition=Q(price_precision__lte=18, amount_precision__lte=18),
                name="twd_market_precisions",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol


class TwdOrder(models.Model):
    class Type(models.TextChoices):
        MARKET = "MARKET"
        LIMIT = "LIMIT"

    class Side(models.TextChoices):
        BUY = "BUY"
        SELL = "SELL"

    class Status(models.TextChoices):
        OPEN = "OPEN"
        CLOSED = "CLOSED"
        CANCELED = "CANCELED"

    class Liquidity(models.TextChoices):
        MAKER = "MAKER"
        TAKER = "TAKER"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="twd_orders")
    market = models.ForeignKey(TwdMarket, on_delete=models.PROTECT, related_name="orders")
    client_order_id = ExactCharField(max_length=64)
    type = models.CharField(max_length=8, choices=Type.choices)
    side = models.CharField(max_length=4, choices=Side.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    price = money_field(null=True, blank=True, help_text="Limit price; empty for MARKET.")
    amount = money_field()
    filled = money_field(default=0)
    remaining = money_field()
    cost = money_field(default=0, help_text="Quote currency paid (BUY) or received (SELL).")
    fee = money_field(default=0)
    fee_currency = ExactCharField(max_length=16, blank=True)
    liquidity = models.CharField(max_length=5, choices=Liquidity.choices, blank=True)
    # The market's fee rates when the order was placed: its hold was sized with them, so an
    # admin's later change of the market's fees applies to new orders only.
    maker_fee_rate = models.DecimalField(max_digits=8, decimal_places=6)
    taker_fee_rate = models.DecimalField(max_digits=8, decimal_places=6)
    # Why settling this order failed (not a passing database error): the executor skips it
    # until an admin clears this, so one bad order never holds up the others.
    settle_error = models.TextField(blank=True)
    settle_error_at = models.DateTimeField(null=True, blank=True)
    # Evidence of the fill: the quote it was executed against.
    fill_price = money_field(null=True, blank=True)
    quote_price = money_field(null=True, blank=True)
    quote_bid = money_field(null=True, blank=True)
    quote_ask = money_field(null=True, blank=True)
    quote_timestamp = models.DateTimeField(null=True, blank=True)
    quote_source = models.CharField(max_length=32, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The paper trigger's range query: crossing OPEN orders of one market and side.
            models.Index(fields=["market", "status", "side", "price"], name="twd_order_trigger"),
            models.Index(fields=["user", "status", "-id"], name="twd_order_user_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "client_order_id"],
                                    name="twd_order_client_id_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(filled__gte=0)
                                   & Q(remaining__gte=0), name="twd_order_amounts"),
            models.CheckConstraint(condition=Q(type="MARKET") | Q(price__gt=0),
                                   name="twd_order_limit_has_price"),
            models.CheckConstraint(
                condition=Q(maker_fee_rate__gte=0, maker_fee_rate__lt=1, taker_fee_rate__gte=0,
                            taker_fee_rate__lt=1),
                name="twd_order_fee_rates",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.amount} {self.market_id}"

    @property
    def hold_key(self) -> str:
        return f"twd:order:{self.pk}"


class TwdImportJob(models.Model):
    """One catalog import run by a Celery worker; the admin shows its progress."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        DONE = "DONE"
        FAILED = "FAILED"

    kind = models.CharField(max_length=8)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"import {self.kind} ({self.status} {self.progress}%)"
