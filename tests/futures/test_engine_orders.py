"""Futures orders on the internal engine: placed with leverage and reduce-only, held as
margin plus fee, settled by the runner into positions (docs/FUTURES.md "Orders")."""
import random
from decimal import Decimal

import pytest

from apps.core.errors import InvalidInput
from apps.engine.runner import Runner
from apps.futures.models import AppliedFill, OrderTerms, Position
from apps.futures.services.orders import futures_order_place
from apps.trading.constants import OrderStatus
from apps.trading.models import Order
from apps.wallets.constants import SystemAccount
from apps.wallets.models import Hold
from tests.factories import ContractFactory
from tests.futures.helpers import SYSTEMS, clearing_owed, futures_trader, system, wallet
from tests.trading.helpers import books_clean, fresh, identity_reviewed

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
SYMBOL = "BTC/USDT"


@pytest.fixture
def contract(currencies):
    return ContractFactory()


@pytest.fixture
def engine(contract):
    r = Runner(name="futures-test", markets=[contract.market])
    r.start()
    return r


def trader(amount="100000"):
    user = futures_trader(amount)
    identity_reviewed(user)
    return user


def place(user, side, amount, price=None, *, leverage=10, type="LIMIT", **kwargs):
    return futures_order_place(user_id=user.pk, symbol=SYMBOL, side=side, type=type,
                               amount=D(amount), price=None if price is None else D(price),
                               leverage=leverage, **kwargs)


def drain(r: Runner) -> None:
    while r.step():
        pass


def long_one(engine):
    """Two traders: the first long 1 at 60,000 (10x), the second short."""
    a, b = trader(), trader()
    place(b, "SELL", "1", "60000")
    place(a, "BUY", "1", "60000")
    drain(engine)
    return a, b


def position(user) -> tuple[str, str, Decimal, Decimal]:
    p = Position.objects.get(user_id=user.pk)
    return p.status, p.side, p.size, p.margin


def total(users) -> Decimal:
    return sum((wallet(u)[0] for u in users), D(0)) + sum(system(s) for s in SYSTEMS)


def test_open_increase_reduce_close_and_flip_through_the_runner(engine):
    a, b = trader(), trader()
    deposited = total([a, b])
    place(b, "SELL", "1", "60000")  # resting maker
    taker = place(a, "BUY", "1", "60000")
    # The taker holds its margin (6,000 at 10x) and the taker fee (30), not the notional.
    assert wallet(a) == (D("100000"), D("6030"))
    assert OrderTerms.objects.get(order_id=taker.pk).leverage == 10
    drain(engine)
    assert fresh(taker).status == OrderStatus.FILLED
    assert position(a) == ("OPEN", "LONG", D("1"), D("6000"))
    assert position(b) == ("OPEN", "SHORT", D("1"), D("6000"))
    # The order holds are gone: what is held is the positions' margin.
    assert wallet(a) == (D("100000") - D("30"), D("6000"))
    assert wallet(b) == (D("100000") - D("12"), D("6000"))  # the maker fee, 0.02 %

    place(b, "SELL", "0.5", "62000")
    place(a, "BUY", "0.5", "62000")  # increase
    drain(engine)
    assert position(a)[:3] == ("OPEN", "LONG", D("1.5"))
    place(b, "BUY", "0.5", "62000")
    place(a, "SELL", "0.5", "62000", reduce_only=True)  # reduce
    drain(engine)
    assert position(a)[:3] == ("OPEN", "LONG", D("1.0"))
    place(b, "BUY", "3", "61000")
    place(a, "SELL", "3", "61000")  # close the long 1 and open a short 2 (flip)
    drain(engine)
    assert position(a)[:3] == ("OPEN", "SHORT", D("2"))
    assert position(b)[:3] == ("OPEN", "LONG", D("2"))
    assert AppliedFill.objects.count() == 8  # two sides of four trades, once each
    place(a, "BUY", "2", "61000")
    place(b, "SELL", "2", "61000", reduce_only=True)  # close both
    drain(engine)
    assert position(a)[0] == position(b)[0] == "FLAT"
    assert wallet(a)[1] == 0 and wallet(b)[1] == 0
    assert not Hold.objects.filter(status="OPEN", remaining__gt=0).exists()
    assert total([a, b]) == deposited
    assert books_clean() == []


def test_a_reduce_only_order_that_would_increase_is_refused_before_anything_is_held(engine):
    a = trader()
    with pytest.raises(InvalidInput) as flat:
        place(a, "SELL", "1", "60000", reduce_only=True)
    assert flat.value.code == "reduce_only_increases"
    b = trader()
    place(b, "SELL", "1", "60000")
    place(a, "BUY", "1", "60000")
    drain(engine)
    with pytest.raises(InvalidInput) as same_side:
        place(a, "BUY", "0.1", "60000", reduce_only=True)
    assert same_side.value.code == "reduce_only_increases"
    assert Order.objects.filter(user_id=a.pk).count() == 1
    assert wallet(a)[1] == D("6000")  # the margin only


def test_a_reduce_only_order_larger_than_the_position_is_sized_down(engine):
    a, b = long_one(engine)
    order = place(a, "SELL", "5", "61000", reduce_only=True)
    assert order.amount == D("1")
    # A reduce-only order holds its fee alone: it opens nothing.
    assert wallet(a)[1] == D("6000") + D("30.50")


def test_leverage_above_the_tier_is_refused_before_anything_is_held(engine):
    a = trader()
    # 1 BTC at 60,000 is tier 2 (50k to 600k): at most 100x, though the contract allows 125.
    with pytest.raises(InvalidInput) as above:
        place(a, "BUY", "1", "60000", leverage=110)
    assert above.value.code == "leverage_above_tier"
    with pytest.raises(InvalidInput) as out:
        place(a, "BUY", "0.1", "60000", leverage=126)
    assert out.value.code == "invalid_leverage"
    assert not Order.objects.exists() and wallet(a) == (D("100000"), D(0))
    place(a, "BUY", "0.5", "60000", leverage=125)  # 30,000: tier 1 allows 125x


def test_ioc_leftover_expires_and_post_only_that_would_take_is_refused(engine):
    a, b = trader(), trader()
    place(b, "SELL", "1", "60000")
    post = place(a, "BUY", "1", "60000", post_only=True)
    drain(engine)
    post = fresh(post)
    assert post.status != OrderStatus.OPEN and post.filled == 0
    ioc = place(a, "BUY", "2", "60000", time_in_force="IOC")
    drain(engine)
    ioc = fresh(ioc)
    assert (ioc.status, ioc.filled) == (OrderStatus.EXPIRED, D("1"))
    assert position(a)[:3] == ("OPEN", "LONG", D("1"))
    assert wallet(a) == (D("100000") - D("30"), D("6000"))  # both holds gone


def test_a_seeded_random_run_conserves_the_books(engine):
    rng = random.Random(15)
    users = [trader("50000") for _ in range(6)]
    deposited = total(users)
    for _ in range(60):
        user = rng.choice(users)
        side = rng.choice(["BUY", "SELL"])
        price = D(60000 + rng.randint(-20, 20) * 50)
        amount = D(rng.randint(1, 400)) / 1000
        tif = rng.choice(["GTC", "GTC", "IOC"])
        try:
            place(user, side, str(amount), str(price), leverage=rng.choice([1, 5, 20, 50]),
                  time_in_force=tif)
        except Exception as exc:  # refused input writes nothing; the funds may be short
            assert getattr(exc, "status", 400) < 500
        if rng.random() < 0.3:
            drain(engine)
    drain(engine)
    assert AppliedFill.objects.exists()
    assert total(users) == deposited
    assert books_clean() == []


def test_the_cores_own_order_path_without_a_leverage_is_refused_writing_nothing(engine):
    from apps.trading import services

    a = trader()
    with pytest.raises(InvalidInput) as refused:
        services.order_place(user_id=a.pk, venue="futures", symbol=SYMBOL, side="BUY",
                             type="LIMIT", amount=D("1"), price=D("60000"))
    assert refused.value.code == "invalid_leverage"
    assert not Order.objects.exists() and wallet(a) == (D("100000"), D(0))


def test_a_runner_runs_the_futures_markets_as_configured(contract, settings):
    from apps.engine.selectors import markets_of_runner

    assert contract.market in markets_of_runner(runner="default")
    settings.ENGINE_RUNNER_MARKETS = {"futures:BTC/USDT": "futures-1"}
    assert markets_of_runner(runner="futures-1") == [contract.market]
    assert contract.market not in markets_of_runner(runner="default")


def clearing_balanced(contract) -> bool:
    """CLEARING holds what every open position (the insurance fund's too) is owed at any
    price (docs/FUTURES.md "Money"): checked at two prices."""
    return all(system(SystemAccount.CLEARING) == clearing_owed(contract, p)
               for p in ("1000", "90000"))


@pytest.mark.parametrize("leverage, free, margin, fee, recorded", [
    # The hold (5,000 margin at 50,000 and a 25 fee) pays the 60 fee; its 4,965 left is
    # the margin: 120,000 / 4,965 is 25x, within the tier's 100x.
    (10, "0", D("4965"), D("60"), 25),
    # 1,025 held: 965 would be 125x, above the tier's 100x: 1,200 (100x), the 235
    # short taken from the free balance.
    (50, "500", D("1200"), D("60"), 100),
    # Nothing free: all of the 1,025 becomes the margin (above 100x: the next mark tick's
    # to liquidate), and the fee is not charged.
    (50, "0", D("1025"), D("0"), 100),
])
def test_a_sell_filling_far_above_what_it_held_opens_with_what_there_is(
        contract, engine, leverage, free, margin, fee, recorded):
    b, c, d = trader(), trader(), trader()
    hold = D(50000) / leverage + D(25)
    a = trader(str(hold + D(free)))
    deposited = total([a, b, c, d])
    place(b, "BUY", "1", "120000")  # rests: the sell below takes it at 120,000
    drain(engine)
    sell = place(a, "SELL", "1", "50000", leverage=leverage)  # held at 50,000 (no asks)
    assert wallet(a) == (hold + D(free), hold)
    drain(engine)  # the batch settles: it used to fail (InsufficientFunds) and stop
    assert fresh(sell).status == OrderStatus.FILLED
    assert position(a) == ("OPEN", "SHORT", D("1"), margin)
    assert Position.objects.get(user_id=a.pk).leverage == recorded
    assert wallet(a) == (hold + D(free) - fee, margin)
    # The market keeps matching.
    place(c, "SELL", "0.5", "60000")
    later = place(d, "BUY", "0.5", "60000")
    drain(engine)
    assert fresh(later).status == OrderStatus.FILLED
    assert position(d)[:3] == ("OPEN", "LONG", D("0.5"))
    assert total([a, b, c, d]) == deposited
    assert clearing_balanced(contract)
    assert books_clean() == []


def test_a_reduce_only_fill_after_its_position_closed_never_opens_one(contract, engine,
                                                                     monkeypatch):
    # The trim that cancels it after the close is lost (a crash after the commit): the
    # settlement alone must keep the order from opening a position.
    monkeypatch.setattr("apps.futures.services.positions.reduce_only_trim_on_commit",
                        lambda **kwargs: None, raising=False)
    a, b = long_one(engine)
    c = trader()
    deposited = total([a, b, c])
    guard = place(a, "SELL", "1", "61000", reduce_only=True)
    place(a, "SELL", "1", "60000")  # a plain sell closes the long
    place(b, "BUY", "1", "60000")
    drain(engine)
    place(c, "BUY", "1", "61000")  # then the reduce-only order fills
    drain(engine)
    assert fresh(guard).status == OrderStatus.FILLED
    assert position(a)[0] == "FLAT" and wallet(a)[1] == 0
    # The insurance fund holds what the reduce-only fill would have opened.
    fund = Position.objects.get(user__isnull=True)
    assert (fund.status, fund.side, fund.size, fund.value) == ("OPEN", "SHORT", D("1"),
                                                               D("61000"))
    assert position(c)[:3] == ("OPEN", "LONG", D("1"))
    assert AppliedFill.objects.get(position__user=a, price=D("61000")).fee == 0
    assert total([a, b, c]) == deposited
    assert clearing_balanced(contract)
    assert books_clean() == []


def test_resting_reduce_only_orders_are_cancelled_when_the_position_shrinks(engine):
    a, b = long_one(engine)
    first = place(a, "SELL", "0.6", "70000", reduce_only=True)
    second = place(a, "SELL", "0.4", "71000", reduce_only=True)
    place(b, "BUY", "0.5", "60000")
    place(a, "SELL", "0.5", "60000")  # the long is 0.5 now
    drain(engine)
    # Oldest first: 0.6 no longer fits in 0.5 and is cancelled; 0.4 does and rests.
    assert fresh(first).status == OrderStatus.CANCELED
    assert fresh(second).status == OrderStatus.OPEN
    place(b, "BUY", "0.5", "60000")
    place(a, "SELL", "0.5", "60000")  # closed
    drain(engine)
    assert position(a)[0] == "FLAT"
    assert fresh(second).status == OrderStatus.CANCELED
    assert wallet(a)[1] == 0  # nothing held for orders that cannot fill


def test_the_tier_check_counts_the_open_orders_that_would_increase_the_position(engine):
    a = trader()
    place(a, "BUY", "0.5", "60000", leverage=20)  # 30,000: tier 1
    # Alone 0.5 (30,000) would allow 125x; with the open 0.5 it is 60,000: tier 2, 100x.
    with pytest.raises(InvalidInput) as above:
        place(a, "BUY", "0.5", "60000", leverage=110)
    assert above.value.code == "leverage_above_tier"
    place(a, "BUY", "0.5", "60000", leverage=100)
    # The other side's orders do not count.
    place(a, "SELL", "0.8", "61000", leverage=125)


def test_a_liquidation_cancels_the_reduce_only_orders_of_the_position(contract, engine):
    from datetime import UTC, datetime

    from apps.futures.services import MarkTick, position_liquidate

    a, _ = long_one(engine)
    guard = place(a, "SELL", "1", "70000", reduce_only=True)
    drain(engine)
    tick = MarkTick(contract_id=contract.pk, symbol=SYMBOL, mark=D(54000), index=D(54000),
                    premium=D(0), timestamp=datetime.now(UTC))
    assert position_liquidate(position_id=Position.objects.get(user=a).pk, tick=tick)
    drain(engine)
    assert fresh(guard).status == OrderStatus.CANCELED
    assert wallet(a)[1] == 0
