"""The SQL backend's tables (``apps.orderstore.sql``): one row per internal order's newest
state and one per trade, with the indexes its queries walk. Nothing else reads them: the
record of money is ``trading.Order``/``Fill`` and the ledger."""
from django.db import models

from apps.core.fields import ExactCharField
from apps.core.money import money_field


class StoredOrder(models.Model):
    venue = ExactCharField(max_length=16)
    order_id = models.BigIntegerField()
    market = ExactCharField(max_length=32)
    # Not a foreign key: the store keeps ids only, as its ScyllaDB twin does.
    user_id = models.BigIntegerField()
    client_order_id = ExactCharField(max_length=64)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=20)
    time_in_force = models.CharField(max_length=3)
    post_only = models.BooleanField()
    price = money_field(null=True)
    amount = money_field()
    filled = money_field()
    remaining = money_field()
    cost = money_field()
    fee = money_field()
    fee_currency = ExactCharField(max_length=16)
    status = models.CharField(max_length=16)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.BigIntegerField()
    # status in records.OPEN_STATUSES, kept as a column so the open-orders queries are
    # ranges on an index.
    is_open = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["venue", "order_id"],
                                               name="orderstore_order_venue_id")]
        indexes = [
            models.Index(fields=["venue", "user_id", "order_id"], name="orderstore_user"),
            models.Index(fields=["venue", "user_id", "is_open", "order_id"],
                         name="orderstore_user_open"),
            models.Index(fields=["venue", "market", "is_open", "order_id"],
                         name="orderstore_market_open"),
        ]

    def __str__(self) -> str:
        return f"{self.venue} order {self.order_id} v{self.version} {self.status}"


class StoredTrade(models.Model):
    venue = ExactCharField(max_length=16)
    market = ExactCharField(max_length=32)
    trade_id = ExactCharField(max_length=64)
    seq = models.BigIntegerField()
    price = money_field()
    amount = money_field()
    taker_side = models.CharField(max_length=4)
    maker_order_id = models.BigIntegerField()
    taker_order_id = models.BigIntegerField()
    maker_user_id = models.BigIntegerField()
    taker_user_id = models.BigIntegerField()
    maker_fee = money_field()
    taker_fee = money_field()
    executed_at = models.DateTimeField()
    bot = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["venue", "market", "trade_id"],
                                               name="orderstore_trade_id")]
        indexes = [models.Index(fields=["venue", "market", "seq"], name="orderstore_trades")]

    def __str__(self) -> str:
        return f"{self.venue} {self.market} trade {self.trade_id}"
