"""The trading core's tables, shared by every venue: markets, orders and their fills.

Venue-specific data lives in the venue's app (e.g. ``apps.twelvedata.models.TwdMarket``,
one-to-one with a paper ``Market``). Only ``apps/trading/services/`` (and the order
stores in ``apps/trading/stores.py``) write these rows.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.core.fields import ExactCharField
from apps.core.money import money_field
from apps.trading.constants import (
    PRICED_TYPES,
    Liquidity,
    MarketKind,
    MarketStatus,
    OrderListKind,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerDirection,
    TriggerSource,
    Venue,
)


def _places(step: Decimal) -> int:
    """Fractional digits of a tick or lot size (0.25 -> 2, 1 -> 0)."""
    return max(0, -step.normalize().as_tuple().exponent)


def fee_rate_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=8, decimal_places=6, **kwargs)


class Market(models.Model):
    """A market of one venue. ``symbol`` is unique per venue: the paper venue's BTC/USD
    and the spot venue's BTC/USD are two markets."""

    venue = ExactCharField(max_length=16, choices=Venue.choices)
    symbol = ExactCharField(max_length=32)
    base_currency = ExactCharField(max_length=16)
    quote_currency = ExactCharField(max_length=16)
    kind = models.CharField(max_length=12, choices=MarketKind.choices, default=MarketKind.SPOT)
    tick_size = money_field(help_text="Prices are multiples of this.")
    lot_size = money_field(help_text="Amounts are multiples of this.")
    min_amount = money_field(default=0)
    max_amount = money_field(null=True, blank=True, help_text="Empty: no maximum.")
    min_notional = money_field(default=0, help_text="Minimum amount x price, quote currency.")
    max_notional = money_field(null=True, blank=True, help_text="Empty: no maximum.")
    maker_fee = fee_rate_field(default=Decimal("0.0008"))
    taker_fee = fee_rate_field(default=Decimal("0.0010"))
    status = models.CharField(max_length=8, choices=MarketStatus.choices,
                              default=MarketStatus.DISABLED)
    is_trending = models.BooleanField(default=False)
    is_hot = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["venue", "status"], name="trading_market_venue_status")]
        constraints = [
            models.UniqueConstraint(fields=["venue", "symbol"], name="trading_market_venue_symbol"),
            models.CheckConstraint(condition=Q(tick_size__gt=0, lot_size__gt=0),
                                   name="trading_market_steps_positive"),
            models.CheckConstraint(
                condition=Q(maker_fee__gte=0, maker_fee__lt=1, taker_fee__gte=0, taker_fee__lt=1),
                name="trading_market_fee_rates"),
            models.CheckConstraint(
                condition=Q(min_amount__gte=0, min_notional__gte=0)
                & (Q(max_amount__isnull=True) | Q(max_amount__gte=F("min_amount")))
                & (Q(max_notional__isnull=True) | Q(max_notional__gte=F("min_notional"))),
                name="trading_market_limits"),
        ]

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"

    @property
    def price_precision(self) -> int:
        return _places(self.tick_size)

    @property
    def amount_precision(self) -> int:
        return _places(self.lot_size)

    @property
    def is_tradeable(self) -> bool:
        return self.status == MarketStatus.ENABLED


class OrderList(models.Model):
    """Orders placed together: an OCO (a limit leg and a stop leg; when one executes or
    triggers, the other is cancelled; one hold for the pair) or a bracket (an entry whose
    take-profit and stop-loss legs wait, holding nothing, until it fills, then become an
    OCO for the filled amount). Its orders are ``Order`` rows with ``group`` and ``role``.
    ``client_order_id`` is the list's (a replay must match)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="order_lists")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="order_lists")
    venue = ExactCharField(max_length=16, choices=Venue.choices)
    kind = models.CharField(max_length=8, choices=OrderListKind.choices)
    client_order_id = ExactCharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "venue", "client_order_id"],
                                    name="trading_orderlist_client_id_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Order(models.Model):
    """One order of any venue, from placement to its final state (``constants.TRANSITIONS``).

    ``cost`` and ``fee`` accumulate over the fills (quote currency; the buyer's cost is
    rounded up and the seller's proceeds down, cumulatively, so partial fills never pay
    more than one fill of the whole would). ``hold_key`` names the wallet hold the order
    pays from; the fee rates are the market's when it was placed (its hold was sized with
    them).

    A conditional order (``constants.CONDITIONAL_TYPES``) waits PENDING, its funds held,
    until the ``trigger_source`` price moves to ``stop_price`` in ``trigger_direction``
    (RISE: price >= stop; FALL: price <= stop); it then works as ``executes_as(type)``
    under the same row and hold. A trailing stop's ``stop_price`` follows
    ``trailing_best`` (the best price since activation) by ``trailing_delta`` or
    ``trailing_rate``; it is null until the order is active. The legs of an OCO share one
    ``hold_key``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="orders")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    venue = ExactCharField(max_length=16, choices=Venue.choices)
    client_order_id = ExactCharField(max_length=64)
    type = models.CharField(max_length=20, choices=OrderType.choices)
    side = models.CharField(max_length=4, choices=Side.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices,
                                     default=TimeInForce.GTC)
    post_only = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=OrderStatus.choices,
                              default=OrderStatus.NEW)
    price = money_field(null=True, blank=True,
                        help_text="Limit price; empty for the types that execute as MARKET.")
    # What the hold was sized at (the limit, or a MARKET order's reference price): the
    # venue may never fill a BUY above it or a SELL below it.
    reference_price = money_field()
    amount = money_field()
    # A MARKET BUY by quote budget: what it may spend (quote currency, before fee). Its
    # ``amount`` is an estimate until it ends, then what it bought.
    quote_amount = money_field(null=True, blank=True,
                               help_text="A market buy's budget; empty for the others.")
    filled = money_field(default=0)
    remaining = money_field()
    cost = money_field(default=0, help_text="Quote currency paid (BUY) or received (SELL).")
    fee = money_field(default=0)
    fee_currency = ExactCharField(max_length=16, blank=True)
    maker_fee_rate = fee_rate_field()
    taker_fee_rate = fee_rate_field()
    # Not unique: the two legs of an OCO pay from one hold.
    hold_key = ExactCharField(max_length=128)
    external_id = ExactCharField(max_length=64, blank=True,
                                 help_text="The venue's own id for the order, if any.")
    reason = models.CharField(max_length=255, blank=True,
                              help_text="Why the order was rejected or expired.")
    # Why settling a fill of this order failed (not a passing database error): the
    # executor skips it until an admin clears this, so one bad order never holds up others.
    settle_error = models.TextField(blank=True)
    settle_error_at = models.DateTimeField(null=True, blank=True)
    # --- conditional orders (empty for the others) ---
    stop_price = money_field(null=True, blank=True,
                             help_text="Trigger price (a trailing stop's current one).")
    trigger_direction = models.CharField(max_length=4, choices=TriggerDirection.choices,
                                         blank=True)
    trigger_source = models.CharField(max_length=8, choices=TriggerSource.choices, blank=True)
    trailing_delta = money_field(null=True, blank=True,
                                 help_text="Callback distance in quote currency.")
    trailing_rate = fee_rate_field(null=True, blank=True,
                                   help_text="Callback as a fraction of the best price.")
    activation_price = money_field(null=True, blank=True,
                                   help_text="A trailing stop starts trailing here.")
    trailing_best = money_field(null=True, blank=True,
                                help_text="Best price since activation; empty until active.")
    triggered_at = models.DateTimeField(null=True, blank=True)
    trigger_evidence = models.JSONField(default=dict, blank=True,
                                        help_text="The quote that fired the trigger.")
    # A margined venue's exit of a whole position (futures TP/SL set on a position): when
    # it fires, its amount is the position's size then, whatever it was when placed.
    close_position = models.BooleanField(default=False)
    group = models.ForeignKey(OrderList, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="orders")
    role = models.CharField(max_length=8, choices=OrderRole.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The executors' range query: resting orders of one market and side by price.
            models.Index(fields=["market", "status", "side", "price"],
                         name="trading_order_trigger"),
            models.Index(fields=["user", "venue", "status", "-id"], name="trading_order_user"),
            # The trigger's range query: pending orders of one market and direction by
            # trigger price.
            models.Index(fields=["market", "status", "trigger_direction", "stop_price"],
                         name="trading_order_stop"),
            # The trailing stops a quote may move: those of one market, side and trigger
            # source whose best it improves on (below a sell's price, above a buy's), or
            # not yet active (best NULL).
            models.Index(fields=["market", "status", "type", "side", "trigger_source",
                                 "trailing_best"], name="trading_order_trailing_side"),
            models.Index(fields=["hold_key"], name="trading_order_hold_key"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "venue", "client_order_id"],
                                    name="trading_order_client_id_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(filled__gte=0)
                                   & Q(remaining__gte=0) & Q(filled__lte=F("amount")),
                                   name="trading_order_amounts"),
            # price__isnull: a CHECK passes on NULL (NULL > 0 is not false).
            models.CheckConstraint(condition=~Q(type__in=sorted(PRICED_TYPES))
                                   | Q(price__isnull=False, price__gt=0),
                                   name="trading_order_limit_has_price"),
            models.CheckConstraint(condition=Q(stop_price__isnull=True) | Q(stop_price__gt=0),
                                   name="trading_order_stop_price_positive"),
            models.CheckConstraint(
                condition=Q(maker_fee_rate__gte=0, maker_fee_rate__lt=1, taker_fee_rate__gte=0,
                            taker_fee_rate__lt=1),
                name="trading_order_fee_rates"),
        ]

    def __str__(self) -> str:
        # The amount as typed (10, not the column's 10.000000000000000000).
        return f"#{self.pk} {self.side} {self.amount.normalize():f} {self.market_id}"


class Fill(models.Model):
    """One execution of an order, settled by the journal ``settlement_key`` exactly once.

    ``trade_id`` is the venue's id of the execution (unique per venue): an execution
    reported twice is recorded once. ``evidence`` is what the price was decided on (the
    paper venue: the quote; an exchange: its trade record)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    venue = ExactCharField(max_length=16, choices=Venue.choices)
    trade_id = ExactCharField(max_length=64)
    price = money_field()
    amount = money_field()
    quote_amount = money_field(help_text="Paid (BUY) or received before fee (SELL).")
    liquidity = models.CharField(max_length=5, choices=Liquidity.choices)
    fee = money_field(default=0)
    fee_currency = ExactCharField(max_length=16)
    settlement_key = ExactCharField(max_length=128, unique=True)
    evidence = models.JSONField(default=dict)
    executed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["order", "id"], name="trading_fill_order")]
        constraints = [
            models.UniqueConstraint(fields=["venue", "trade_id"], name="trading_fill_trade_uniq"),
            models.CheckConstraint(condition=Q(price__gt=0, amount__gt=0, fee__gte=0),
                                   name="trading_fill_values"),
        ]

    def __str__(self) -> str:
        return f"{self.venue}:{self.trade_id}"
