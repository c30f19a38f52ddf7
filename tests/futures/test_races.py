"""Races against a real MariaDB: the same fill delivered by several workers at once, a
liquidation run by several ticks at once while the trader adds margin, or removes it."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.futures import services
from apps.futures.models import AppliedFill, Liquidation, Position
from apps.futures.services import MarkTick
from apps.wallets import selectors as wallet_selectors
from tests.factories import ContractFactory
from tests.futures.helpers import fill_pair, futures_trader, index_quote, wallet
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_one_fill_delivered_by_eight_workers_at_once_applies_once(currencies):
    contract, alice = ContractFactory(), futures_trader()
    outcomes = run_threads(8, lambda i: services.position_apply_fill(
        key="trade-1:b", user_id=alice.pk, contract_id=contract.pk, side="BUY", amount=D(1),
        price=D(60000), fee_rate=D("0.0005"), leverage=10))
    assert outcomes == {"ok": 8}
    assert AppliedFill.objects.count() == 1 and Position.objects.count() == 1
    assert wallet(alice) == (D(9970), D(6000))
    services.position_apply_fill(  # the counterparty's fill
        key="trade-1:s", user_id=futures_trader().pk, contract_id=contract.pk, side="SELL",
        amount=D(1), price=D(60000), fee_rate=D("0.0005"), leverage=10)
    assert wallet_selectors.reconcile() == []


def test_a_liquidation_raced_by_ticks_and_margin_happens_at_most_once(currencies):
    contract = ContractFactory()
    alice, bob = futures_trader(), futures_trader()
    fill_pair(contract, buyer=alice, seller=bob, amount="1", price="60000", key="t")
    position = Position.objects.get(user=alice)
    tick = MarkTick(contract_id=contract.pk, symbol="BTC/USDT", mark=D(54000), index=D(54000),
                    premium=D(0), timestamp=datetime.now(UTC))

    def work(i: int) -> None:
        if i % 4 == 3:  # the trader tops up meanwhile: before the lock it saves the position
            services.position_margin_add(user_id=alice.pk, position_id=position.pk,
                                         amount=D(500), key=f"top-{i}")
        else:
            services.position_liquidate(position_id=position.pk, tick=tick)

    outcomes = run_threads(8, work)
    assert set(outcomes) <= {"ok", "Conflict"}  # a top-up after the liquidation: closed
    position.refresh_from_db()
    liquidations = Liquidation.objects.count()
    assert liquidations <= 1
    if liquidations:
        assert position.status == "FLAT" and wallet(alice)[1] == 0
    else:
        assert position.margin == wallet(alice)[1] >= D(6000)  # ticks before removals
    assert wallet_selectors.reconcile() == []


def test_a_liquidation_raced_by_margin_removals_happens_at_most_once(currencies):
    """The trader takes margin out (judged at the stored mark) while ticks at a lower mark
    liquidate: every writer locks the position first, so neither deadlocks, the margin
    leaves once per key, and a position liquidated is flat with nothing held."""
    contract = ContractFactory()
    alice, bob = futures_trader(), futures_trader()
    fill_pair(contract, buyer=alice, seller=bob, amount="1", price="60000", key="t")
    position = Position.objects.get(user=alice)
    services.position_margin_add(user_id=alice.pk, position_id=position.pk, amount=D(2000),
                                 key="top")
    now = datetime.now(UTC)
    index_quote("60000", now=now)
    services.mark_refresh(contract=contract, now=now)
    # At 54,100 the position is below maintenance only with all four removals made (margin
    # 6,000, equity 100): a liquidation then, and never a gap past bankruptcy (INSURANCE
    # would pay it: a race outcome this test does not look for).
    tick = MarkTick(contract_id=contract.pk, symbol="BTC/USDT", mark=D(54100), index=D(54100),
                    premium=D(0), timestamp=now)

    def work(i: int) -> None:
        if i % 2:  # 2,000 of margin is removable at 60,000: four removals of 500
            services.position_margin_remove(user_id=alice.pk, position_id=position.pk,
                                            amount=D(500), key=f"out-{i}", now=now)
        else:
            services.position_liquidate(position_id=position.pk, tick=tick)

    outcomes = run_threads(8, work)
    assert outcomes == {"ok": 8}, outcomes
    position.refresh_from_db()
    assert Liquidation.objects.count() <= 1
    if Liquidation.objects.exists():  # a tick after all four removals
        assert position.status == "FLAT" and wallet(alice)[1] == 0
    else:
        assert position.margin == wallet(alice)[1] >= D(6000)  # ticks before removals
    assert wallet_selectors.reconcile() == []


def test_mark_ticks_counted_at_once_each_count_and_the_latest_is_the_windows(currencies):
    """Eight ticks of one funding interval counted by eight workers at once, in any order:
    the first ones race to create the window, every tick counts once, and the window's
    mark is the latest tick's, whichever finished last."""
    from apps.futures.models import FundingWindow
    from apps.futures.services.mark import funding_window_add

    contract = ContractFactory()
    start = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    ticks = [MarkTick(contract_id=contract.pk, symbol="BTC/USDT", mark=D(60000 + i),
                      index=D(60000), premium=D(i) / 10000,
                      timestamp=start.replace(minute=i)) for i in range(8)]
    outcomes = run_threads(8, lambda i: funding_window_add(contract=contract,
                                                           tick=ticks[7 - i]))
    assert outcomes == {"ok": 8}
    (window,) = FundingWindow.objects.all()
    assert (window.ticks, window.premium_sum) == (8, D("0.0028"))
    assert (window.mark, window.last_tick_at) == (D(60007), ticks[7].timestamp)
    assert window.funding_time == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    funding_window_add(contract=contract, tick=ticks[0])  # a late one counts, not its mark
    window.refresh_from_db()
    assert (window.ticks, window.mark, window.index) == (9, D(60007), D(60000))


def test_engine_fills_raced_by_withdrawals_never_fail_and_conserve_money(currencies):
    """Fills settled as the engine does (``held``: what the order's hold released, here
    nothing) need the free balance while withdrawals take it: each fill reads the wallet
    locked after the position, so it opens with what is there when it runs (down to the
    insurance fund taking what nothing margins) and never fails; no deadlock."""
    from apps.wallets import services as ledger
    from apps.wallets.constants import SystemAccount
    from tests.futures.helpers import SYSTEMS, system

    contract, alice = ContractFactory(), futures_trader("2500")

    def work(i: int) -> None:
        if i % 2:
            ledger.withdraw(user_id=alice.pk, wallet_type="FUTURES", currency="USDT",
                            amount=D(900), key=f"out-{i}")
        else:
            services.position_apply_fill(
                key=f"trade-{i}:b", user_id=alice.pk, contract_id=contract.pk, side="BUY",
                amount=D(1), price=D(60000), fee_rate=D("0.0005"), leverage=10,
                held=D(0))

    outcomes = run_threads(8, work)
    assert outcomes["ok"] >= 4 and set(outcomes) <= {"ok", "InsufficientFunds"}
    assert AppliedFill.objects.count() == 4  # every fill, once
    withdrawn = system(SystemAccount.EXTERNAL) + D(2500)  # the deposit came from it too
    balance, held = wallet(alice)
    assert balance + withdrawn + sum(system(s) for s in SYSTEMS) == D(2500)
    position = Position.objects.get(user=alice)
    fund = sum(Position.objects.filter(user__isnull=True).values_list("size", flat=True),
               D(0))
    assert position.size + fund == D(4) and position.margin == held
    services.position_apply_fill(  # the counterparty's fills, at once
        key="trade:s", user_id=futures_trader("30000").pk, contract_id=contract.pk,
        side="SELL", amount=D(4), price=D(60000), fee_rate=D("0.0005"), leverage=10)
    assert wallet_selectors.reconcile() == []
