"""TwelveData paper trading: the provider, its instruments and the catalog import jobs
(paper orders are the trading core's ``trading.Order`` of the paper venue)."""
from django.conf import settings
from django.core.validators import validate_slug
from django.db import models

from apps.core.fields import ExactCharField


class TwdProvider(models.Model):
    """A TwelveData account. Only an enabled provider is used; its API key comes from
    ``TWELVEDATA_API_KEY`` or, failing that, is stored here encrypted."""

    name = ExactCharField(max_length=32, unique=True, validators=[validate_slug])
    title = models.CharField(max_length=64)
    status = models.BooleanField(default=False, help_text="Enabled")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "TwelveData provider"

    def __str__(self) -> str:
        return self.title


class TwdMarket(models.Model):
    """What TwelveData says about one of its instruments. Its trading side (currencies,
    steps, fees, status, flags) is the paper venue's ``trading.Market`` it is linked to."""

    class Type(models.TextChoices):
        FOREX = "forex"
        STOCKS = "stocks"
        INDICES = "indices"
        ETF = "etf"
        CRYPTO = "crypto"

    market = models.OneToOneField("trading.Market", on_delete=models.PROTECT,
                                  related_name="twd")
    symbol = ExactCharField(max_length=32, unique=True)
    type = models.CharField(max_length=8, choices=Type.choices)
    name = models.CharField(max_length=128)
    exchange = models.CharField(max_length=64, blank=True)
    mic_code = models.CharField(max_length=16, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["type"], name="twd_market_type")]
        # What the admin lists: the paper venue's instruments (not "Twd markets").
        verbose_name = "paper market"

    def __str__(self) -> str:
        return self.symbol


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

    class Meta:
        verbose_name = "catalog import"

    def __str__(self) -> str:
        return f"import {self.kind} ({self.status} {self.progress}%)"
