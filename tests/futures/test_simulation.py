"""A seeded market of leveraged traders (docs/FUTURES.md "Money"): random matched fills
through ``position_apply_fill``, a price path with gaps, a mark tick and (every eight
hours) a funding stamp per step. After every tick no position is at or below
maintenance; per currency, the traders' FUTURES balances plus FEES, INSURANCE and CLEARING
are what was deposited, and CLEARING is exactly what the open positions are owed plus the
funding collected; each liquidation and each funding charge happens once (ticks, funding
runs and fills replayed); ``wallets_reconcile`` is clean at the end.

The CI run is short (``SIM_*`` below); ``-m slow`` runs the full one: 1,000 traders."""
import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.db import transaction

from apps.core.errors import Conflict
from apps.futures import margin, selectors, services
from apps.futures.models import AppliedFill, FundingCharge, FundingRate, Liquidation, Position
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind, SystemAccount
from apps.wallets.models import Journal, Wallet
from tests.factories import ContractFactory
from tests.futures.helpers import (
    SYSTEMS,
    clearing_owed,
    fill_pair,
    index_quote,
    many_traders,
    system,
)

D = Decimal
T0 = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
# The fund starts with this much per trader: gaps of 8 % at up to 50x cost it more than a
# fund of 50 per trader (ADL, which a negative fund would call for, is not built).
INSURANCE_PER_TRADER = D(1000)


def _price(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_EVEN)


def simulate(*, seed: int, traders: int, steps: int, trades_per_step: int) -> dict:
    rng = random.Random(seed)
    contract = ContractFactory()
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    seed_fund = INSURANCE_PER_TRADER * traders
    ledger.post(key="seed:insurance", kind=JournalKind.DEPOSIT, legs=[
        ledger.Leg("FUTURES", "USDT", -seed_fund, system=SystemAccount.EXTERNAL),
        ledger.Leg("FUTURES", "USDT", seed_fund, system=SystemAccount.INSURANCE)])
    amounts = [D(rng.randrange(500, 20000)) for _ in range(traders)]
    users = many_traders(amounts)
    deposited = seed_fund + sum(amounts)
    price, trades, refused, replays = D(60000), 0, 0, []
    for step in range(steps):
        now = T0 + timedelta(hours=step)
        gap = rng.random() < 0.1
        move = D(rng.uniform(-0.08, 0.08) if gap else rng.uniform(-0.006, 0.006))
        price = _price(price * (1 + move.quantize(D("0.00001"))))
        for n in range(trades_per_step):
            buyer, seller = rng.sample(users, 2)
            amount = D(rng.randrange(1, 300)) * D("0.001")
            at = _price(price * (1 + D(rng.randrange(-20, 21)) / 10000))
            trade = dict(buyer=buyer, seller=seller, amount=amount, price=at,
                         key=f"s{step}t{n}", now=now, buyer_leverage=rng.randint(1, 50),
                         seller_leverage=rng.randint(1, 50))
            try:
                with transaction.atomic():  # a trade settles both sides or neither
                    fill_pair(contract, **trade)
                trades += 1
                replays.append(trade)
            except Conflict:  # insufficient funds for the margin and fee: nothing happened
                refused += 1
        index_quote(str(price), now=now)
        tick = services.mark_refresh(contract=contract, now=now)
        liquidations = Liquidation.objects.count()
        assert services.mark_refresh(contract=contract, now=now) is not None  # a repeat
        assert Liquidation.objects.count() == liquidations
        for position in Position.objects.filter(contract=contract, status="OPEN",
                                                user__isnull=False):
            assert not margin.below_maintenance(
                side=position.side, size=position.size, value=position.value,
                margin=position.margin, price=tick.mark, tiers=tiers), position
        # Funding's beat runs every 8 hours, but is down at step 16: step 24 charges the
        # stamp it missed too.
        if now.hour % 8 == 0 and step != 16:
            services.funding_run(contract_id=contract.pk, now=now)
            charges = FundingCharge.objects.count()
            services.funding_run(contract_id=contract.pk, now=now + timedelta(minutes=1))
            assert FundingCharge.objects.count() == charges
        if replays and step % 5 == 0:  # a fill delivered again changes nothing
            before = AppliedFill.objects.count(), system(SystemAccount.CLEARING)
            fill_pair(contract, **rng.choice(replays))
            assert (AppliedFill.objects.count(), system(SystemAccount.CLEARING)) == before
        check_books(contract, users, deposited, price)
    return {"trades": trades, "refused": refused,
            "liquidations": Liquidation.objects.count(),
            # closed by a fill past the bankruptcy price, before a tick saw the gap
            "bankrupt_fills": Liquidation.objects.filter(evidence__has_key="fill").count(),
            "fundings": FundingRate.objects.count(),
            "charges": FundingCharge.objects.count(),
            "insurance": system(SystemAccount.INSURANCE) - seed_fund}


def check_books(contract, users, deposited, price) -> None:
    balances = sum(Wallet.objects.filter(user__in=users, type="FUTURES", currency_id="USDT")
                   .values_list("balance", flat=True), D(0))
    assert balances + sum((system(s) for s in SYSTEMS), D(0)) == deposited
    assert system(SystemAccount.CLEARING) == clearing_owed(contract, price)
    assert system(SystemAccount.CLEARING) == clearing_owed(contract, price * 2)
    held = dict(Wallet.objects.filter(user__in=users, type="FUTURES")
                .values_list("user_id", "held"))
    margins = dict(Position.objects.filter(contract=contract, user__in=users)
                   .values_list("user_id", "margin"))
    assert {u: h for u, h in held.items() if h} == {u: m for u, m in margins.items() if m}


def check_once() -> None:
    liquidations = Liquidation.objects.count()
    fees = Liquidation.objects.filter(fee__gt=0).count()  # a journal of its own each
    assert Journal.objects.filter(kind=JournalKind.LIQUIDATION).count() == liquidations + fees
    assert Journal.objects.filter(kind=JournalKind.FUNDING).count() == \
        FundingCharge.objects.exclude(amount=0).count()
    assert wallet_selectors.reconcile() == []


@pytest.mark.django_db
def test_a_short_seeded_simulation_keeps_the_books(currencies):
    result = simulate(seed=7, traders=60, steps=26, trades_per_step=8)
    check_once()
    assert result["trades"] > 150 and result["liquidations"] > 5, result
    assert result["bankrupt_fills"] > 0 and result["insurance"] < 0, result
    # Stamps 08:00, 16:00 (charged late) and 00:00; the first 00:00 stamp's interval had
    # no mark tick (the path starts at 00:30): nothing prices it.
    assert result["fundings"] == 3 and result["charges"] > 0, result


@pytest.mark.slow
@pytest.mark.django_db
def test_the_full_simulation_of_1000_traders_keeps_the_books(currencies):
    result = simulate(seed=42, traders=1000, steps=120, trades_per_step=25)
    check_once()
    assert result["liquidations"] > 50, result
