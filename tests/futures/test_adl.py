"""Auto-deleveraging (docs/FUTURES.md "Auto-deleveraging"): a gap the insurance fund cannot
pay, and a fund position the book does not close, are closed at the bankruptcy price
against the opposing traders ranked by Binance's score."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import NotFound
from apps.engine.models import EngineCommand
from apps.engine.runner import Runner
from apps.futures import margin, selectors, services
from apps.futures.models import AutoDeleverage, Liquidation, OrderTerms, Position
from apps.futures.services import MarkTick
from apps.futures.services.insurance import engine_user_id
from apps.futures.services.orders import futures_order_place
from apps.marketdata import streams
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind, SystemAccount
from tests.factories import ContractFactory
from tests.futures import test_engine_orders
from tests.futures.helpers import (
    SYSTEMS,
    clearing_owed,
    fill_pair,
    futures_trader,
    index_quote,
    system,
    wallet,
)
from tests.futures.test_insurance import NoPremium
from tests.trading.helpers import identity_reviewed
from tests.wallets.test_concurrency import run_threads

pytestmark = pytest.mark.django_db
D = Decimal


def tick(contract, index: str):
    now = datetime.now(UTC)
    index_quote(index, now=now, symbol=contract.index_sources[0]["symbol"])
    return services.mark_refresh(contract=contract, now=now)


def seed_insurance(amount: str, *, key="seed") -> None:
    ledger.post(key=f"{key}:insurance", kind=JournalKind.DEPOSIT, legs=[
        ledger.Leg("FUTURES", "USDT", -D(amount), system=SystemAccount.EXTERNAL),
        ledger.Leg("FUTURES", "USDT", D(amount), system=SystemAccount.INSURANCE)])


def fund() -> D:
    """The insurance fund: INSURANCE and the liquidation engine's float."""
    try:
        engine = wallet_selectors.wallet_get(user_id=engine_user_id(), wallet_type="FUTURES",
                                             currency="USDT").balance
    except NotFound:  # it never had a float
        engine = D(0)
    return system(SystemAccount.INSURANCE) + engine


def books(users) -> D:
    """The FUTURES money of ``users`` and the fund's, FEES and CLEARING."""
    return sum((wallet(u)[0] for u in users), D(0)) + sum(system(s) for s in SYSTEMS)


def queue_setup():
    """A long 0.5 at 60,000, 10x (margin 3,000, bankrupt at 54,000) against three shorts
    at 60,000: B 0.3 at 10x, C 0.3 at 2x, D 0.4 at 20x; and a long E 0.5 at 1x."""
    contract = ContractFactory(liquidation_fee_rate=D("0.003"))
    a, b, c, d, e = (futures_trader("100000") for _ in range(5))
    fill_pair(contract, buyer=a, seller=b, amount="0.3", price="60000", key="t1")
    fill_pair(contract, buyer=a, seller=c, amount="0.2", price="60000", key="t2",
              seller_leverage=2)
    fill_pair(contract, buyer=e, seller=c, amount="0.1", price="60000", key="t3",
              buyer_leverage=1, seller_leverage=2)
    fill_pair(contract, buyer=e, seller=d, amount="0.4", price="60000", key="t4",
              buyer_leverage=1, seller_leverage=20)
    return contract, (a, b, c, d, e)


def test_the_score_and_the_lights_rank_the_opposing_positions(currencies):
    contract, (a, b, c, d, e) = queue_setup()
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    pos = {u: Position.objects.get(user=u) for u in (a, b, c, d, e)}
    # D at 53,900: uPnL 0.4 x 6,100 = 2,440, WB 1,200 -> PnL% 2.0333...; MM 0.4 x 53,900
    # x 0.4 % = 86.24 over equity 3,640 -> score 0.048174...
    score = margin.adl_score(side="SHORT", size=D("0.4"), value=D(24000), margin=D(1200),
                             price=D(53900), tiers=tiers)
    assert score.quantize(D("0.000001")) == D("0.048174")
    assert margin.adl_score(side="LONG", size=D("0.5"), value=D(30000), margin=D(30000),
                            price=D(53900), tiers=tiers) == 0  # a loss: not in the queue
    ranked = selectors.adl_ranking([pos[b], pos[c], pos[d]], price=D(53900), tiers=tiers)
    assert [p.user_id for p, _ in ranked] == [d.pk, b.pk, c.pk]  # 20x, 10x, 2x
    lights = selectors.adl_quantiles(list(pos.values()), mark=D(53900), tiers=tiers)
    assert [lights[pos[u].pk] for u in (d, b, c, a, e)] == [5, 4, 2, 0, 0]
    assert [margin.adl_lights(rank, 10) for rank in range(1, 11)] == \
        [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_a_gap_the_empty_fund_cannot_pay_is_deleveraged_at_the_bankruptcy_price(
        currencies, sent, django_capture_on_commit_callbacks):
    contract, users = queue_setup()
    a, b, c, d, e = users
    before = books(users)
    tick(contract, "60000")
    identity_reviewed(d)
    order = futures_order_place(user_id=d.pk, symbol="BTC/USDT", side="BUY", type="LIMIT",
                                amount=D("0.1"), price=D(55000), leverage=20)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tick(contract, "53900")  # past A's bankruptcy price (54,000); the fund is empty

    liquidation = Liquidation.objects.get()
    assert (liquidation.mark, liquidation.loss, liquidation.insurance_delta) == (
        D(53900), D(3000), D(0))  # closed at 54,000: its whole margin, nothing from the fund
    adls = list(AutoDeleverage.objects.order_by("rank"))
    assert [(x.counterparty.user_id, x.rank, x.size, x.price, x.realised_pnl)
            for x in adls] == [(d.pk, 1, D("0.4"), D(54000), D(2400)),
                               (b.pk, 2, D("0.1"), D(54000), D(600))]
    assert all(x.liquidation == liquidation and x.mark == D(53900) for x in adls)
    assert not Position.objects.filter(user__isnull=True, status="OPEN").exists()
    after = {u: Position.objects.get(user=u) for u in users}
    assert [(after[u].status, after[u].size) for u in (a, b, c, d)] == [
        ("FLAT", 0), ("OPEN", D("0.2")), ("OPEN", D("0.3")), ("FLAT", 0)]
    assert wallet(d)[0] == D(100000) - D(12) + D(2400)  # less its fee at t4
    assert EngineCommand.objects.filter(order_id=order.pk, kind=EngineCommand.Kind.CANCEL).exists()
    assert fund() == 0 and books(users) == before
    assert system(SystemAccount.CLEARING) == clearing_owed(contract, "50000")
    assert wallet_selectors.reconcile() == []
    items = [m["data"] for _, m in sent if m.get("stream") == streams.POSITIONS]
    assert any(item["id"] == after[d].pk and item["status"] == "FLAT" for item in items)
    lights = {item["id"]: item["adl_quantile"] for item in items if item["status"] == "OPEN"}
    assert lights == {after[b].pk: 5, after[c].pk: 3, after[e].pk: 0}


def test_a_gap_the_fund_can_pay_with_its_float_is_paid_by_the_fund(currencies):
    contract, users = queue_setup()
    seed_insurance("102")
    ledger.insurance_float(key="float", user_id=engine_user_id(), currency="USDT",
                           amount=D(100))  # INSURANCE 2, the engine's float 100
    tick(contract, "60000")
    tick(contract, "53990")  # 0.5 x 10 = 5 beyond the margin: the fund pays it
    assert not AutoDeleverage.objects.exists()
    assert Liquidation.objects.get().insurance_delta == D(-5)
    # INSURANCE had 2: 3 of the float came back to it first, so it is not negative.
    assert system(SystemAccount.INSURANCE) == 0 and fund() == 97
    tick(contract, "53700")  # nothing more to liquidate
    assert wallet_selectors.reconcile() == []


def test_a_fund_position_the_book_cannot_close_is_deleveraged_after_its_wait(currencies):
    contract, users = queue_setup()
    before = books(users)
    tick(contract, "60000")
    tick(contract, "54200")  # above A's bankruptcy price: the fund takes it at the mark
    liquidation = Liquidation.objects.get()
    inherited = Position.objects.get(taken_over_from=liquidation)
    assert fund() == D(100)  # 3,000 less the loss at the mark, 2,900
    tick(contract, "54200")  # no book: it waits (adl_after_seconds, 60 by default)
    inherited.refresh_from_db()
    assert inherited.status == "OPEN" and not AutoDeleverage.objects.exists()

    contract.adl_after_seconds = 0
    contract.save()
    tick(contract, "54300")
    inherited.refresh_from_db()
    assert (inherited.status, inherited.size) == ("FLAT", 0)
    adls = list(AutoDeleverage.objects.order_by("rank"))
    b, d = users[1], users[3]
    assert [(x.counterparty.user_id, x.size, x.price, x.source_id, x.liquidation_id)
            for x in adls] == [(d.pk, D("0.4"), D(54000), inherited.pk, liquidation.pk),
                               (b.pk, D("0.1"), D(54000), inherited.pk, liquidation.pk)]
    assert fund() == 0  # it gives back what it took beyond the bankruptcy price
    assert books(users) == before
    assert system(SystemAccount.CLEARING) == clearing_owed(contract, "50000")
    assert wallet_selectors.reconcile() == []


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_deleverage_once(currencies):
    contract, users = queue_setup()
    before = books(users)
    now = datetime.now(UTC)
    position = Position.objects.get(user=users[0])
    at = MarkTick(contract_id=contract.pk, symbol="BTC/USDT", mark=D(53900), index=D(53900),
                  premium=D(0), timestamp=now)
    outcomes = run_threads(4, lambda i: services.position_liquidate(position_id=position.pk,
                                                                    tick=at))
    assert outcomes == {"ok": 4}, outcomes
    assert Liquidation.objects.count() == 1
    assert AutoDeleverage.objects.count() == 2
    assert sum(AutoDeleverage.objects.values_list("size", flat=True)) == D("0.5")
    assert books(users) == before and fund() == 0
    assert wallet_selectors.reconcile() == []


LEVERAGES = st.sampled_from([1, 2, 5, 10, 20, 50, 100])


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(trades=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5),
                                 st.integers(1, 400), st.integers(-30, 30),
                                 LEVERAGES, LEVERAGES), min_size=1, max_size=8),
       gap=st.integers(-1500, 1500), seed_fund=st.sampled_from(["0", "5", "500"]))
def test_any_positions_and_a_gap_conserve_money_and_keep_the_fund_whole(
        currencies, trades, gap, seed_fund):
    """Six traders trade at prices within 0.05 % of 60,000 (amounts in lots of 0.001; no
    fill bankrupts a position: a fill past the bankruptcy price is the fund's loss, which
    ADL does not cover), then the mark gaps by ``gap`` x 0.01 % (up to 15 %) and, the
    fund's wait 0, ticks again: every
    FUTURES balance plus FEES, INSURANCE and CLEARING is unchanged, CLEARING is what the
    open positions are owed, no trader's position is at or below maintenance at the mark,
    the fund is never negative, the books reconcile."""
    with transaction.atomic():
        contract = ContractFactory(market__symbol="ADL/USDT", adl_after_seconds=0)
        users = [futures_trader("20000") for _ in range(6)]
        seed_insurance(seed_fund, key=f"seed{contract.pk}")
        before = books(users)
        for n, (buyer, seller, lots, offset, buy_lev, sell_lev) in enumerate(trades):
            if buyer == seller:
                continue
            try:
                with transaction.atomic():
                    fill_pair(contract, buyer=users[buyer], seller=users[seller],
                              amount=str(D(lots) / 1000), price=str(60000 + offset),
                              key=f"h{contract.pk}:{n}", buyer_leverage=buy_lev,
                              seller_leverage=sell_lev)
            except ledger.InsufficientFunds:
                continue
        tick(contract, "60000")
        mark = (D(60000) * (1 + D(gap) / 10000)).quantize(D("0.01"))
        tick(contract, str(mark))
        assert fund() >= 0
        tick(contract, str(mark))  # the fund's positions, if any, deleveraged
        assert books(users) == before
        assert fund() >= 0 and system(SystemAccount.INSURANCE) >= 0
        assert system(SystemAccount.CLEARING) == clearing_owed(contract, "50000")
        tiers = selectors.contract_tiers(contract_id=contract.pk)
        for p in Position.objects.filter(contract=contract, status="OPEN", user__isnull=False):
            assert not margin.below_maintenance(side=p.side, size=p.size, value=p.value,
                                                margin=p.margin, price=mark, tiers=tiers)
        assert wallet_selectors.reconcile() == []
        transaction.set_rollback(True)


def test_the_positions_api_shows_the_adl_lights(currencies, api, user):
    contract = ContractFactory()
    futures_trader("100000", user=user)
    other = futures_trader("100000")
    fill_pair(contract, buyer=user, seller=other, amount="0.1", price="60000", key="t")
    tick(contract, "61000")
    (mine,) = api.get("/api/v1/futures/positions/").json()
    assert mine["adl_quantile"] == 5  # the only long, in profit
    index_quote("59000", now=datetime.now(UTC) + timedelta(seconds=1))
    services.mark_refresh(contract=contract, now=datetime.now(UTC) + timedelta(seconds=1))
    (mine,) = api.get("/api/v1/futures/positions/").json()
    assert mine["adl_quantile"] == 0


@pytest.fixture
def engine_contract(currencies):
    contract = ContractFactory()  # BTC/USDT, test_engine_orders' market
    engine = Runner(name="futures-adl-test", markets=[contract.market])
    engine.start()
    previous = services.premium_source_set(NoPremium())
    yield contract, engine
    services.premium_source_set(previous)


@pytest.mark.django_db(transaction=True)
def test_a_fund_position_with_a_live_close_order_is_not_deleveraged(engine_contract):
    """The book goes first: a fund position whose close order is still queued is left to
    it, however long the position has waited (its close order's fill would find nothing
    to close otherwise)."""
    contract, engine = engine_contract
    a, b, c = (test_engine_orders.trader() for _ in range(3))
    test_engine_orders.place(b, "SELL", "1", "60000")
    test_engine_orders.place(a, "BUY", "1", "60000")  # 10x: bankrupt at 54,000
    test_engine_orders.place(c, "BUY", "1", "54150")
    test_engine_orders.drain(engine)
    tick(contract, "54200")  # liquidated; the fund's close order queued for the engine
    inherited = Position.objects.get(user__isnull=True, status="OPEN")
    assert OrderTerms.objects.filter(closes=inherited).count() == 1
    contract.adl_after_seconds = 0
    contract.save()
    tick(contract, "54200")  # B's short is in profit at 54,000, but the order is live
    assert not AutoDeleverage.objects.exists()
    test_engine_orders.drain(engine)
    inherited.refresh_from_db()
    assert inherited.status == "FLAT" and not AutoDeleverage.objects.exists()
    assert wallet_selectors.reconcile() == []
