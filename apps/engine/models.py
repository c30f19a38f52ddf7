"""The engine's durable state, in SQL next to the orders and the ledger.

- ``EngineSequence``: a market's command counter. A placing or cancelling transaction
  increments it as its last write and inserts its ``EngineCommand`` under the new number,
  so the numbers are gapless and a market's commands are read in commit order (a rolled
  back transaction takes its number back with it).
- ``EngineCommand``: the durable, ordered command log of one market (place, cancel).
- ``EngineLease``: who runs a market (owner, epoch, expiry) and how far it got
  (``applied_seq``: every command up to it is applied and its results settled;
  ``book_seq``: the book's event sequence then). The settlement transaction locks this row
  and checks the epoch: a fencing token, so a runner that lost its lease settles nothing.
- ``EngineSnapshot``: a book's state after command ``command_seq`` (restore = the latest
  snapshot + a replay of the commands after it).
- ``EngineOutbox``: what a settled batch must tell the world (order store, depth and
  trades streams, quote), written in the settlement transaction and sent after commit;
  an unsent row is sent again when a runner starts.
"""
from django.db import models

from apps.trading.models import Market


class EngineSequence(models.Model):
    market = models.OneToOneField(Market, on_delete=models.PROTECT, primary_key=True,
                                  related_name="+")
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.market_id}: {self.last_seq}"


class EngineCommand(models.Model):
    class Kind(models.TextChoices):
        PLACE = "place"
        CANCEL = "cancel"

    id = models.BigAutoField(primary_key=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The core's order id (no foreign key: the log never locks or joins order rows).
    order_id = models.BigIntegerField()
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "seq"],
                                               name="engine_command_market_seq")]
        # A cancel looks for the order's earlier one (command_enqueue).
        indexes = [models.Index(fields=["order_id", "kind"], name="engine_command_order")]

    def __str__(self) -> str:
        return f"{self.market_id}#{self.seq} {self.kind} {self.order_id}"


class EngineLease(models.Model):
    market = models.OneToOneField(Market, on_delete=models.PROTECT, primary_key=True,
                                  related_name="+")
    owner = models.CharField(max_length=200, blank=True)
    epoch = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    applied_seq = models.BigIntegerField(default=0)
    book_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.market_id}: {self.owner or 'free'} (epoch {self.epoch})"


class EngineSnapshot(models.Model):
    id = models.BigAutoField(primary_key=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    command_seq = models.BigIntegerField()
    book_seq = models.BigIntegerField()
    state_hash = models.CharField(max_length=64)
    book = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "command_seq"],
                                               name="engine_snapshot_market_seq")]

    def __str__(self) -> str:
        return f"{self.market_id} after {self.command_seq}"


class EngineOutbox(models.Model):
    id = models.BigAutoField(primary_key=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["market", "sent_at", "id"],
                                name="engine_outbox_unsent")]
        verbose_name = "engine outbox entry"
        verbose_name_plural = "engine outbox entries"

    def __str__(self) -> str:
        return f"{self.market_id} {self.first_seq}-{self.last_seq}"
