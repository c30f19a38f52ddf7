"""The spot venue: the exchange provider, what the exchange says about each of its markets
and the import jobs (spot orders are the trading core's ``trading.Order`` of the spot
venue)."""
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from apps.core.fields import ExactCharField


class SpotProvider(models.Model):
    """An exchange account the spot venue routes to, through ``ccxt`` (``exchange_id``:
    a ccxt exchange id such as ``binance``). Exactly one may be active (a unique
    partial index and ``services.provider_activate``). Its API key and secret come from
    ``SPOT_API_KEY``/``SPOT_API_SECRET`` or, failing that, are stored here encrypted;
    the REST and WebSocket URLs from ``SPOT_EXCHANGE_URL``/``SPOT_EXCHANGE_WS_URL``
    when set (the emulator in tests and ``make run``). ``opening_balances`` is the
    exchange account's balance when the platform started trading on it (what
    ``spot_reconcile`` counts the recorded fills from)."""

    name = ExactCharField(max_length=32, unique=True)
    exchange_id = ExactCharField(max_length=32, validators=[
        RegexValidator(r"^[a-z][a-z0-9]{1,31}$", "A ccxt exchange id, such as binance.")])
    title = models.CharField(max_length=64)
    is_active = models.BooleanField(default=False)
    sandbox = models.BooleanField(default=False, help_text="Use the exchange's test network.")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_secret_encrypted = models.TextField(blank=True, editable=False)
    opening_balances = models.JSONField(default=dict, blank=True, help_text=(
        "Currency -> total held on the exchange before the platform traded there."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True),
                                    name="spot_provider_one_active"),
        ]

    def __str__(self) -> str:
        return self.title


class SpotMarket(models.Model):
    """What the exchange says about one of its markets: the ccxt symbol and the
    exchange's own id, its order types, and the raw precision and limits. Its trading
    side is the core ``trading.Market`` it is linked to (venue spot; or venue futures,
    kind perpetual, for a linear perpetual the futures venue uses later)."""

    market = models.OneToOneField("trading.Market", on_delete=models.PROTECT,
                                  related_name="spot")
    provider = models.ForeignKey(SpotProvider, on_delete=models.PROTECT, related_name="markets")
    ccxt_symbol = ExactCharField(max_length=64)
    exchange_symbol = ExactCharField(max_length=64, help_text="The exchange's own id.")
    type = models.CharField(max_length=8)  # ccxt's: spot, swap
    order_types = models.JSONField(default=list, blank=True,
                                   help_text="The exchange's order types for this market.")
    contract_size = models.DecimalField(max_digits=36, decimal_places=18, null=True,
                                        blank=True)
    settle_currency = ExactCharField(max_length=16, blank=True)
    metadata = models.JSONField(default=dict, blank=True,
                                help_text="ccxt's precision, limits and fees as imported.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "ccxt_symbol"],
                                    name="spot_market_provider_symbol"),
        ]

    def __str__(self) -> str:
        return self.ccxt_symbol


class SpotImportJob(models.Model):
    """One import of the exchange's markets, run by a Celery worker; the admin shows its
    progress."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        DONE = "DONE"
        FAILED = "FAILED"

    provider = models.ForeignKey(SpotProvider, on_delete=models.PROTECT, related_name="+")
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
        return f"spot import ({self.status} {self.progress}%)"


class SpotSubmission(models.Model):
    """When the platform last sent an order to the exchange (``gateway.SpotGateway``
    claims this row, locked, before each send): a request may still reach the exchange
    until its ``recvWindow`` has passed, so the order is not sent again before
    ``gateway.resend_after()`` (two senders, or a sender and the tracker, never have two
    requests for one order in flight). ``cancel_requested_at``: the owner asked to cancel
    it; from then on it is never sent again, and it is only called CANCELED once the
    exchange has it cancelled or, past the lease, surely never had it."""

    order = models.OneToOneField("trading.Order", on_delete=models.PROTECT, primary_key=True,
                                 related_name="+")
    sent_at = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"order {self.order_id} sent {self.attempts}x"
