"""Issue #15's seeded simulation through orders (docs/FUTURES.md "Tests and bench"):
traders place random leveraged orders through ``futures_order_place`` (limit and market,
buy and sell, leverage 1 to the contract's maximum, IOC and post-only, reduce-only, TP/SL
on the order, cancels); the engine's runner, in-process, matches and settles them in
batches; a seeded price path with gaps drives the index, each step's mark tick liquidates
(the insurance fund's positions closed in the book by the liquidation engine) and fires
the positions' exits; the funding beat charges every eight hours (down once).

After EVERY mark tick: the tick liquidated exactly the user positions at or below
maintenance at its mark, and none is left there; per currency, the FUTURES balances
(the traders' and the liquidation engine's float) plus FEES, INSURANCE and CLEARING are
what was deposited; CLEARING is what the open positions are owed at any price plus the
funding collected. Each funding run charges exactly the positions open at its stamp,
once (a rerun charges nothing). At the end: each fill applied once (and a fill settled
again changes nothing), each liquidation and funding charge a journal of its own,
``wallets_reconcile`` clean, the engine's book, the order store and the open orders agree.

The simulated clock is the platform's (``django.utils.timezone.now`` and the quote
bus's freshness), so the engine's fills, the marks and the stamps share one time line.
The CI run is short; ``-m slow`` runs 1,000 traders."""
import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.accounts.models import KycApplication
from apps.core.errors import DomainError
from apps.engine.runner import Runner
from apps.futures import margin, selectors, services, tasks
from apps.futures.constants import LIQUIDATION_ENGINE_USERNAME
from apps.futures.models import (
    AppliedFill,
    FundingCharge,
    FundingRate,
    Liquidation,
    OrderTerms,
    Position,
)
from apps.futures.services.orders import fills_settle, futures_order_place
from apps.marketdata import quotes
from apps.orderstore.base import get_store
from apps.trading import services as trading
from apps.trading.constants import RESTING_STATUSES, OrderStatus, Venue
from apps.trading.models import Fill, Order
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind, SystemAccount
from apps.wallets.models import Journal, Wallet
from tests.factories import ContractFactory
from tests.futures.helpers import SYSTEMS, clearing_owed, index_quote, many_traders, system

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
SYMBOL = "BTC/USDT"
T0 = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
# As in test_simulation: gaps of 8 % at up to 125x cost the fund more than a small seed
# (ADL, which a negative fund would call for, is not built).
INSURANCE_PER_TRADER = D(1000)
TICK = D("0.01")


class Clock:
    """The simulation's time: what ``timezone.now()`` and a quote's age see."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    found = Clock(T0)

    class SimDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return found.now if tz is None else found.now.astimezone(tz)

    monkeypatch.setattr("django.utils.timezone.now", lambda: found.now)
    monkeypatch.setattr(quotes, "datetime", SimDatetime)
    return found


@pytest.fixture(autouse=True)
def ticks_driven_here(monkeypatch):
    """The quote bus's listeners queue a mark tick per index quote and an exits' trigger
    per mark tick (eager without Redis, queued with it): the simulation runs both itself,
    at the same points on every database, and checks what follows each tick."""
    for task in (tasks.mark_tick_task, tasks.mark_trigger_task):
        monkeypatch.setattr(task, "delay", lambda *args, **kwargs: None)


def _price(value: Decimal) -> Decimal:
    return value.quantize(TICK, rounding=ROUND_HALF_EVEN)


def _traders(rng: random.Random, count: int) -> tuple[list, Decimal]:
    amounts = [D(rng.randrange(500, 20000)) for _ in range(count)]
    users = many_traders(amounts)
    KycApplication.objects.bulk_create([
        KycApplication(user=u, full_name="Sim Trader", date_of_birth=date(1990, 1, 1),
                       country="GB", status=KycApplication.Status.APPROVED,
                       decided_at=T0) for u in users])
    return users, sum(amounts, D(0))


class Sim:
    def __init__(self, *, seed: int, traders: int, orders_per_step: int, clock: Clock):
        self.rng = random.Random(seed)
        self.clock = clock
        self.contract = ContractFactory()
        self.tiers = selectors.contract_tiers(contract_id=self.contract.pk)
        seed_fund = INSURANCE_PER_TRADER * traders
        ledger.post(key="seed:insurance", kind=JournalKind.DEPOSIT, legs=[
            ledger.Leg("FUTURES", "USDT", -seed_fund, system=SystemAccount.EXTERNAL),
            ledger.Leg("FUTURES", "USDT", seed_fund, system=SystemAccount.INSURANCE)])
        self.users, deposits = _traders(self.rng, traders)
        self.deposited = seed_fund + deposits
        self.orders_per_step = orders_per_step
        self.runner = Runner(name="futures-sim", markets=[self.contract.market])
        self.runner.start()
        self.price = D(60000)
        self.counts = dict(placed=0, refused=0, cancels=0, ticks=0, liquidated=0,
                           bankrupt_fills=0, funding_runs=0, charged=0, replays=0)

    # --- the traders ------------------------------------------------------------------

    def place_random(self) -> None:
        rng, user = self.rng, self.rng.choice(self.users)
        position = (Position.objects.filter(user_id=user.pk, contract=self.contract,
                                            status="OPEN").values_list("side", "size")
                    .first())
        kwargs: dict = {}
        if position and rng.random() < 0.25:  # reduce (or close) what the trader holds
            side = "SELL" if position[0] == "LONG" else "BUY"
            amount = max(D("0.001"), (position[1] * D(rng.choice([25, 50, 100])) / 100)
                         .quantize(D("0.001")))
            kwargs["reduce_only"] = True
        else:
            side = rng.choice(["BUY", "SELL"])
            amount = D(rng.randrange(1, 300)) * D("0.001")
        sign = 1 if side == "BUY" else -1
        if rng.random() < 0.25:
            kind, price = "MARKET", None
        else:
            # Mostly passive (the book's liquidity), some crossing.
            kind = "LIMIT"
            offset = D(rng.randrange(-10, 40)) / 10000
            price = _price(self.price * (1 - sign * offset))
            choice = rng.random()
            if choice < 0.15:
                kwargs["time_in_force"] = "IOC"
            elif choice < 0.25:
                kwargs["post_only"] = True
        if not kwargs.get("reduce_only") and price is not None and rng.random() < 0.15:
            kwargs["take_profit_price"] = _price(price * (1 + sign * D("0.04")))
            kwargs["stop_loss_price"] = _price(price * (1 - sign * D("0.03")))
        try:
            futures_order_place(user_id=user.pk, symbol=SYMBOL, side=side, type=kind,
                                amount=amount, price=price,
                                leverage=rng.randint(1, self.contract.max_leverage),
                                **kwargs)
            self.counts["placed"] += 1
        except DomainError as refused:  # a leverage above the tier, short funds: nothing
            assert refused.status < 500, refused
            self.counts["refused"] += 1

    def cancel_some(self) -> None:
        """Traders cancel about a tenth of their resting orders each step."""
        resting = list(Order.objects.filter(market=self.contract.market,
                                            status__in=RESTING_STATUSES,
                                            user__in=self.users)
                       .order_by("pk").values_list("pk", "user_id"))
        for pk, user_id in resting:
            if self.rng.random() < 0.1:
                try:
                    trading.order_cancel(user_id=user_id, venue=Venue.FUTURES, order_id=pk)
                    self.counts["cancels"] += 1
                except DomainError:
                    pass  # it filled or was trimmed meanwhile

    def drain(self) -> None:
        before = Liquidation.objects.filter(evidence__has_key="fill").count()
        while self.runner.step():
            pass
        self.counts["bankrupt_fills"] += \
            Liquidation.objects.filter(evidence__has_key="fill").count() - before

    # --- the mark ---------------------------------------------------------------------

    def tick(self) -> None:
        """One mark tick, and what must hold after it."""
        now = self.clock.advance(seconds=1)
        index_quote(str(self.price), now=now)
        expected_mark = services.mark_compute(contract=self.contract, now=now)
        due = {p.pk for p in self.open_user_positions() if margin.below_maintenance(
            side=p.side, size=p.size, value=p.value, margin=p.margin,
            price=expected_mark.mark, tiers=self.tiers)}
        known = set(Liquidation.objects.values_list("pk", flat=True))
        tick = services.mark_refresh(contract=self.contract, now=now)
        assert tick.mark == expected_mark.mark
        liquidated = set(Liquidation.objects.exclude(pk__in=known)
                         .values_list("position_id", flat=True))
        # Exactly the positions the mark put at or below maintenance, each once.
        assert liquidated == due, (sorted(liquidated ^ due), tick)
        self.counts["ticks"] += 1
        self.counts["liquidated"] += len(liquidated)
        self.after_tick(tick.mark)
        # The exits the tick reaches fire (the quote bus's listener, run here).
        services.mark_trigger(quote=selectors.latest_mark(contract=self.contract))

    def after_tick(self, mark: Decimal) -> None:
        for p in self.open_user_positions():
            assert not margin.below_maintenance(
                side=p.side, size=p.size, value=p.value, margin=p.margin, price=mark,
                tiers=self.tiers), (p.pk, mark)
        self.check_books()

    def open_user_positions(self) -> list[Position]:
        return list(Position.objects.filter(contract=self.contract, status="OPEN",
                                            user__isnull=False))

    def check_books(self) -> None:
        balances = sum(Wallet.objects.filter(user__isnull=False, type="FUTURES",
                                             currency_id="USDT")
                       .values_list("balance", flat=True), D(0))
        assert balances + sum((system(s) for s in SYSTEMS), D(0)) == self.deposited
        for price in (self.price, self.price * 2):
            assert system(SystemAccount.CLEARING) == clearing_owed(self.contract, price)

    # --- funding ----------------------------------------------------------------------

    def funding(self) -> None:
        now = self.clock.advance(seconds=1)
        stamps = list(FundingRate.objects.values_list("funding_time", flat=True))
        open_at = {p.pk: p.opened_at for p in self.open_user_positions()}
        services.funding_run(contract_id=self.contract.pk, now=now)
        self.counts["funding_runs"] += 1
        for rate in FundingRate.objects.exclude(funding_time__in=stamps):
            charged = set(FundingCharge.objects.filter(funding=rate)
                          .values_list("position_id", flat=True))
            # Every user position open at the stamp and still open now, once each.
            assert charged == {pk for pk, at in open_at.items()
                               if at <= rate.funding_time}, rate.funding_time
            self.counts["charged"] += len(charged)
        charges = FundingCharge.objects.count()
        services.funding_run(contract_id=self.contract.pk, now=now)  # a rerun: nothing
        assert FundingCharge.objects.count() == charges
        self.after_tick(selectors.latest_mark(contract=self.contract).price)

    # --- replays ----------------------------------------------------------------------

    def replay_a_fill(self) -> None:
        """A filled order's settlement run again (a batch delivered twice) changes
        nothing: each fill is applied once."""
        order = (Order.objects.filter(market=self.contract.market, filled__gt=0,
                                      futures_terms__take_profit_price__isnull=True,
                                      futures_terms__stop_loss_price__isnull=True))
        ids = list(order.order_by("pk").values_list("pk", flat=True))
        if not ids:
            return
        order = Order.objects.get(pk=self.rng.choice(ids))
        before = (AppliedFill.objects.count(), system(SystemAccount.CLEARING),
                  list(Wallet.objects.filter(user_id=order.user_id)
                       .values_list("balance", "held")))
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            fills_settle(order=locked, fills=list(locked.fills.all()), close_hold=False)
        assert before == (AppliedFill.objects.count(), system(SystemAccount.CLEARING),
                          list(Wallet.objects.filter(user_id=order.user_id)
                               .values_list("balance", "held")))
        self.counts["replays"] += 1

    # --- the run ----------------------------------------------------------------------

    def run(self, *, steps: int) -> dict:
        for step in range(steps):
            self.clock.now = T0 + timedelta(hours=step)
            gap = self.rng.random() < 0.1
            move = self.rng.uniform(-0.08, 0.08) if gap else self.rng.uniform(-0.006, 0.006)
            self.price = _price(self.price * (1 + D(move).quantize(D("0.00001"))))
            # The index first (orders are priced off it and exits checked against the
            # mark), then the traders, then the runner.
            self.tick()
            self.cancel_some()
            for _ in range(self.orders_per_step):
                self.place_random()
            self.drain()
            self.tick()
            self.drain()  # the liquidation engine's closes and the fired exits
            # The funding beat every eight hours, down at step 16 (its stamp is charged
            # late, at step 24).
            if self.clock.now.hour % 8 == 0 and step != 16:
                self.funding()
                self.drain()
            if step % 5 == 4:
                self.replay_a_fill()
        return self.counts

    def check_end(self) -> None:
        # Every engine fill applied once (the other AppliedFills are auto-deleveraging's).
        keys = set(AppliedFill.objects.filter(key__startswith="fill:")
                   .values_list("key", flat=True))
        fills = list(Fill.objects.filter(order__market=self.contract.market)
                     .values_list("settlement_key", flat=True))
        assert len(fills) == len(set(fills)) and keys == set(fills)
        # Each liquidation is one journal for the loss, and one for its fee if any.
        expected = set()
        for position_id, generation, fee in Liquidation.objects.values_list(
                "position_id", "generation", "fee"):
            key = f"liquidation:futures:{position_id}.{generation}"
            expected |= {key, f"{key}:fee"} if fee else {key}
        assert set(Journal.objects.filter(kind=JournalKind.LIQUIDATION,
                                          key__startswith="liquidation:futures:")
                   .values_list("key", flat=True)) == expected
        assert Journal.objects.filter(kind=JournalKind.FUNDING).count() == \
            FundingCharge.objects.exclude(amount=0).count()
        assert ledger_clean()
        state = self.runner.states[self.contract.market.pk]
        book = {o.order_id: state.book.spec.qty(o.qty) for o in state.book.open_orders()}
        resting = dict(Order.objects.filter(market=self.contract.market,
                                            status__in=RESTING_STATUSES)
                       .values_list("pk", "remaining"))
        stored = {r.order_id: r.remaining for r in
                  get_store().open_orders(venue=Venue.FUTURES, market=SYMBOL)}
        assert book == resting == stored
        assert not Order.objects.filter(market=self.contract.market,
                                        status=OrderStatus.NEW).exists()


def ledger_clean() -> bool:
    from apps.wallets import selectors as wallet_selectors

    problems = wallet_selectors.reconcile()
    assert problems == [], problems[:10]
    return True


def _engine_float() -> Decimal:
    user = get_user_model().objects.filter(username=LIQUIDATION_ENGINE_USERNAME).first()
    return D(0) if user is None else Wallet.objects.get(user=user, type="FUTURES").balance


def test_a_short_seeded_simulation_through_the_engine_keeps_the_books(currencies, clock):
    sim = Sim(seed=15, traders=40, orders_per_step=16, clock=clock)
    counts = sim.run(steps=26)
    sim.check_end()
    print(counts, "insurance", system(SystemAccount.INSURANCE), "float",  # noqa: T201
          _engine_float())
    assert counts["liquidated"] > 5 and counts["charged"] > 0, counts
    assert OrderTerms.objects.filter(closes__isnull=False).exists()  # the fund closed
    assert FundingRate.objects.count() == 3, counts  # 08:00, 16:00 (late), 00:00


@pytest.mark.slow
def test_the_full_simulation_of_1000_traders_through_the_engine(currencies, clock):
    sim = Sim(seed=42, traders=1000, orders_per_step=60, clock=clock)
    counts = sim.run(steps=100)
    sim.check_end()
    print(counts, "insurance", system(SystemAccount.INSURANCE), "float",  # noqa: T201
          _engine_float())
    assert counts["liquidated"] > 50, counts
