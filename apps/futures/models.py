"""The futures venue's tables: contracts (on a core ``trading.Market`` of the futures
venue), their margin tiers, positions, and the records of funding and liquidation.

Only ``apps/futures/services`` writes these rows; balances move only through
``apps.wallets.services`` (the position's margin is a MARGIN hold there).
"""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.fields import ExactCharField
from apps.core.money import ROUNDING, money_field
from apps.futures.constants import PositionSide, PositionStatus
from apps.trading.models import Market, fee_rate_field


def rate_field(**kwargs) -> models.DecimalField:
    """A rate or fraction (funding, premium, maintenance): 12 places."""
    return models.DecimalField(max_digits=16, decimal_places=12, **kwargs)


class Contract(models.Model):
    """A linear perpetual contract: its core market (venue futures, kind perpetual: symbol,
    tick, lot, fees, status) plus what only futures need.

    ``index_sources`` lists the quotes the index is the median of, each
    ``{"venue": ..., "symbol": ...}`` (a venue of ``FUTURES_INDEX_VENUES``); a source
    whose latest quote is older than ``index_max_age_seconds`` is dropped. The premium
    over the index is bounded by ``max_premium`` either way. Funding every
    ``funding_interval_hours`` (stamps at multiples of it since the epoch, UTC) at
    F = P + clamp(I - P, ±0.05 %) bounded by ``funding_rate_floor``/``funding_rate_cap``.
    """

    market = models.OneToOneField(Market, on_delete=models.PROTECT, related_name="contract")
    contract_size = money_field(default=Decimal(1),
                                help_text="Base units per contract: fills are multiples.")
    max_leverage = models.PositiveSmallIntegerField(default=20)
    index_sources = models.JSONField(default=list, blank=True)
    index_max_age_seconds = models.PositiveIntegerField(default=10)
    max_premium = rate_field(default=Decimal("0.005"),
                             help_text="The mark is at most this fraction off the index.")
    funding_interval_hours = models.PositiveSmallIntegerField(default=8)
    funding_interest_rate = rate_field(default=Decimal("0.0001"),
                                       help_text="I, per interval.")
    funding_rate_cap = rate_field(default=Decimal("0.0075"))
    funding_rate_floor = rate_field(default=Decimal("-0.0075"))
    liquidation_fee_rate = rate_field(
        default=Decimal("0.005"),
        help_text="Charged on a liquidation's notional at the mark, out of what the margin "
                  "has left beyond the loss, to the insurance fund.")
    adl_after_seconds = models.PositiveIntegerField(
        default=60,
        help_text="An insurance fund position the book has not closed this long after it "
                  "was taken over is auto-deleveraged at the next mark tick.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(contract_size__gt=0, max_leverage__gte=1,
                                               funding_interval_hours__gte=1,
                                               max_premium__gte=0),
                                   name="futures_contract_positive"),
            models.CheckConstraint(condition=Q(funding_rate_floor__lte=0,
                                               funding_rate_cap__gte=0),
                                   name="futures_contract_funding_bounds"),
            models.CheckConstraint(condition=Q(liquidation_fee_rate__gte=0,
                                               liquidation_fee_rate__lt=1),
                                   name="futures_contract_liquidation_fee"),
        ]

    def __str__(self) -> str:
        return self.market.symbol


class MarginTier(models.Model):
    """A maintenance bracket: notionals from ``floor`` to below ``cap`` (empty: none)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="tiers")
    floor = money_field()
    cap = money_field(null=True, blank=True)
    max_leverage = models.PositiveSmallIntegerField()
    mmr = rate_field(help_text="Maintenance margin rate.")
    maintenance_amount = money_field(default=0, help_text="cum: subtracted from n x MMR.")

    class Meta:
        ordering = ["contract", "floor"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "floor"], name="futures_tier_floor"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} from {self.floor}"


class Position(models.Model):
    """One trader's one-way isolated position in a contract (one row per user and
    contract, reused: ``generation`` counts its openings from flat, and names its margin
    hold ``margin:futures:<id>.<generation>``), or a position the insurance fund took over
    in a liquidation (no user, no margin: the engine will close it in the book).

    ``value`` is the entry value (size x entry price, exact); ``margin`` mirrors the
    margin hold's remaining amount; ``liquidation_price`` is stored (and indexed with the
    side) so that a mark tick finds what it liquidates by one range per side.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.PROTECT, related_name="futures_positions")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="positions")
    status = ExactCharField(max_length=8, choices=PositionStatus.choices,
                            default=PositionStatus.FLAT)
    side = ExactCharField(max_length=8, choices=PositionSide.choices, default=PositionSide.LONG)
    generation = models.PositiveIntegerField(default=0)
    size = money_field(default=0)
    value = money_field(default=0, help_text="Entry value: size x entry price.")
    leverage = models.PositiveSmallIntegerField(default=1)
    margin = money_field(default=0)
    realised_pnl = money_field(default=0, help_text="This generation's, fees apart.")
    fees = money_field(default=0)
    funding = money_field(default=0, help_text="Net funding paid (> 0) this generation.")
    liquidation_price = money_field(null=True, blank=True)
    bankruptcy_price = money_field(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    taken_over_from = models.ForeignKey("Liquidation", null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "contract"], name="futures_position_user"),
            models.CheckConstraint(condition=Q(size__gte=0, margin__gte=0),
                                   name="futures_position_non_negative"),
        ]
        indexes = [
            models.Index(fields=["contract", "status", "side", "liquidation_price"],
                         name="futures_position_liq"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.size} {self.contract_id} (#{self.pk})"

    @property
    def hold_position(self) -> str:
        """The position id the ledger's margin hold is keyed by."""
        return f"futures:{self.pk}.{self.generation}"

    @property
    def entry_price(self) -> Decimal | None:
        """value / size, to the money columns' 18 places."""
        if not self.size:
            return None
        return ROUNDING.divide(self.value, self.size).quantize(Decimal("1e-18"),
                                                               context=ROUNDING)


class OrderTerms(models.Model):
    """What a futures order on the engine carries beyond the core's ``trading.Order``:
    its leverage, whether it may only reduce its trader's position, and the take-profit
    and stop-loss its first fill sets on the position. Written with the order's engine
    command (``FuturesGateway.enqueue``), read when its fills settle."""

    order = models.OneToOneField("trading.Order", on_delete=models.PROTECT,
                                 primary_key=True, related_name="futures_terms")
    leverage = models.PositiveSmallIntegerField()
    reduce_only = models.BooleanField(default=False)
    closes = models.ForeignKey(
        "Position", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The insurance fund's inherited position this liquidation engine's "
                  "order closes in the book (its fills settle into that position).")
    take_profit_price = money_field(null=True, blank=True)
    stop_loss_price = money_field(null=True, blank=True)
    exits_set = models.BooleanField(
        default=False, help_text="The take-profit and stop-loss became the position's "
                                 "exits (once: the user may change them afterwards).")

    def __str__(self) -> str:
        flag = " reduce-only" if self.reduce_only else ""
        return f"order {self.order_id}: {self.leverage}x{flag}"


class AppliedFill(models.Model):
    """A futures fill applied to one position, once per ``key`` (the engine's trade id and
    side): what a replay must repeat, and what it did."""

    key = ExactCharField(max_length=96, unique=True)
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="fills")
    side = ExactCharField(max_length=4)
    amount = money_field()
    price = money_field()
    fee_rate = fee_rate_field()
    leverage = models.PositiveSmallIntegerField()
    fee = money_field()
    realised_pnl = money_field()
    filled_at = models.DateTimeField(help_text="When the fill happened (the engine's "
                                               "trade time): funding reads a position's "
                                               "size at a stamp back from it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["position", "filled_at"],
                                name="futures_fill_position_time")]

    def __str__(self) -> str:
        return self.key


class FundingRate(models.Model):
    """The funding of one contract at one stamp: decided once, charged per position."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="fundings")
    funding_time = models.DateTimeField()
    rate = rate_field()
    premium = rate_field()
    mark = money_field()
    index = money_field()
    charged = models.BooleanField(default=False, help_text="Every position charged.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "funding_time"],
                                               name="futures_funding_stamp")]

    def __str__(self) -> str:
        return f"{self.contract_id} at {self.funding_time:%Y-%m-%d %H:%M}: {self.rate}"


class FundingWindow(models.Model):
    """The mark ticks of one funding interval of a contract, the one that ends at
    ``funding_time``: their count and premium sum (the stamp's rate is from their
    average) and the interval's last mark and index (what the stamp charges at).
    Updated by every mark tick; read when the stamp is charged, however late."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="+")
    funding_time = models.DateTimeField()
    ticks = models.PositiveIntegerField(default=0)
    premium_sum = models.DecimalField(max_digits=36, decimal_places=18, default=0)
    mark = money_field()
    index = money_field()
    last_tick_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "funding_time"],
                                               name="futures_funding_window")]

    def __str__(self) -> str:
        return f"{self.contract_id} until {self.funding_time:%Y-%m-%d %H:%M}: {self.ticks}"


class FundingCharge(models.Model):
    """One position's funding at one stamp, exactly once (unique): ``amount`` > 0 paid,
    < 0 received."""

    funding = models.ForeignKey(FundingRate, on_delete=models.PROTECT, related_name="charges")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="+")
    generation = models.PositiveIntegerField()
    size = money_field(help_text="The position's size at the stamp.")
    amount = money_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["funding", "position"],
                                               name="futures_funding_charge_once")]

    def __str__(self) -> str:
        return f"{self.amount} by position {self.position_id}"


class Liquidation(models.Model):
    """A position taken over by the insurance fund, once per position and generation,
    with its evidence (the mark tick and the index sources it was computed from)."""

    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="+")
    generation = models.PositiveIntegerField()
    side = ExactCharField(max_length=8, choices=PositionSide.choices)
    size = money_field()
    value = money_field()
    margin = money_field(help_text="The margin the trader lost.")
    mark = money_field(help_text="The price the insurance fund took the position at.")
    liquidation_price = money_field(null=True, blank=True)
    bankruptcy_price = money_field()
    loss = money_field(help_text="Paid to CLEARING: the position's loss at the mark (at the "
                                 "ADL price when it was auto-deleveraged).")
    fee = money_field(default=0, help_text="The liquidation fee to the insurance fund "
                                           "(part of insurance_delta).")
    insurance_delta = money_field(help_text="> 0: what the margin left the fund; "
                                            "< 0: the loss beyond the margin it paid.")
    evidence = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["position", "generation"],
                                               name="futures_liquidation_once")]

    def __str__(self) -> str:
        return f"liquidation of position {self.position_id}.{self.generation}"


class AutoDeleverage(models.Model):
    """One opposing trader's position closed against a bankrupt position or an insurance
    fund position (``services.adl``), once per ``key``, with its evidence: the price (the
    bankruptcy price), the size, the counterparty's realised PnL, and its rank score and
    place in the queue at the mark of the tick that ranked it."""

    key = ExactCharField(max_length=96, unique=True)
    source = models.ForeignKey(
        Position, on_delete=models.PROTECT, related_name="+",
        help_text="The bankrupt trader's position, or the insurance fund's.")
    liquidation = models.ForeignKey(Liquidation, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    counterparty = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="+")
    counterparty_generation = models.PositiveIntegerField()
    side = ExactCharField(max_length=8, choices=PositionSide.choices,
                          help_text="The counterparty's side.")
    size = money_field()
    price = money_field()
    realised_pnl = money_field(help_text="The counterparty's, through CLEARING.")
    score = models.DecimalField(max_digits=36, decimal_places=18)
    rank = models.PositiveIntegerField(help_text="1: first in the queue.")
    mark = money_field(help_text="The mark the queue was ranked at.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["counterparty", "created_at"],
                                name="futures_adl_counterparty")]

    def __str__(self) -> str:
        return f"ADL of position {self.counterparty_id}: {self.size} at {self.price}"
