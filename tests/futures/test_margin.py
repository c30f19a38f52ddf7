"""The margin arithmetic (apps/futures/margin.py and the pure fill plan) against its
definitions, for any position hypothesis can think of."""
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.futures import margin
from apps.futures.constants import PositionSide, PositionStatus, sign
from apps.futures.services.positions import PositionState, fill_plan
from tests.factories import BTC_TIERS

D = Decimal
TIERS = [margin.Tier(floor=D(f), cap=None if c is None else D(c), max_leverage=lev, mmr=D(m),
                     cum=D(cum)) for f, c, lev, m, cum in BTC_TIERS]
TICK = D("0.01")
sides = st.sampled_from([PositionSide.LONG, PositionSide.SHORT])
sizes = st.integers(1, 5_000_000).map(lambda n: D(n) * D("0.001"))  # up to 5,000 BTC
prices = st.integers(100_000, 20_000_000).map(lambda n: D(n) * TICK)  # 1,000-200,000
leverages = st.integers(1, 125)


def position(side, size, entry, leverage):
    value = size * entry
    return dict(side=side, size=size, value=value,
                margin=margin.initial_margin(notional=value, leverage=leverage, decimals=8))


@settings(max_examples=300, deadline=None)
@given(side=sides, size=sizes, entry=prices, leverage=leverages)
def test_the_liquidation_price_separates_safe_marks_from_liquidating_ones(side, size, entry,
                                                                          leverage):
    args = position(side, size, entry, leverage)
    price = margin.liquidation_price(**args, tiers=TIERS)
    if price is None:  # a long that no positive price liquidates
        assert side == PositionSide.LONG
        assert not margin.below_maintenance(**args, price=D("1e-8"), tiers=TIERS)
        return
    better, worse = (price + TICK, price - TICK) if side == PositionSide.LONG else \
        (price - TICK, price + TICK)
    assert not margin.below_maintenance(**args, price=better, tiers=TIERS)
    if worse > 0:
        assert margin.below_maintenance(**args, price=worse, tiers=TIERS)
    # and at the price itself the margin balance is maintenance, to the stored precision,
    # the stored price rounded toward the position: every mark at or beyond the exact
    # solution is at or beyond the stored price, so the index never misses one
    tier = margin.tier_for(TIERS, size * price)
    s = sign(side)
    exact = (args["value"] - s * args["margin"] - s * tier.cum) / (size * (1 - s * tier.mmr))
    assert abs(price - exact) < D("1e-18")
    assert (price >= exact) if side == PositionSide.LONG else (price <= exact)


@settings(max_examples=200, deadline=None)
@given(side=sides, size=sizes, entry=prices, leverage=leverages)
def test_the_bankruptcy_price_is_where_the_margin_is_gone(side, size, entry, leverage):
    args = position(side, size, entry, leverage)
    price = margin.bankruptcy_price(**args)
    if side == PositionSide.LONG and args["margin"] >= args["value"]:
        assert price == 0
    else:
        assert abs(margin.margin_balance(**args, price=price)) <= size * D("1e-18")


@given(notional=st.integers(0, 10**10).map(D))
def test_maintenance_has_no_jump_at_any_tier_edge(notional):
    assert margin.tiers_check(TIERS) == []
    edge = margin.tier_for(TIERS, notional)
    below = [t for t in TIERS if t.floor < edge.floor]
    if below:  # just under the edge, by the tier below's rule, the same maintenance
        lower = below[-1]
        assert edge.floor * lower.mmr - lower.cum == edge.floor * edge.mmr - edge.cum


def test_tiers_whose_maintenance_jumps_are_refused():
    broken = [TIERS[0], margin.Tier(floor=D(50000), cap=None, max_leverage=100,
                                    mmr=D("0.005"), cum=D(40))]
    (problem,) = margin.tiers_check(broken)
    assert "continuity needs 50" in problem


rates = st.integers(-100_000, 100_000).map(lambda n: D(n) * D("1e-8"))


@given(premium=rates, interest=st.sampled_from([D(0), D("0.0001")]))
def test_the_funding_rate_follows_the_premium_within_its_bounds(premium, interest):
    floor, cap = D("-0.0075"), D("0.0075")
    rate = margin.funding_rate(premium=premium, interest=interest, floor=floor, cap=cap)
    assert floor <= rate <= cap
    if abs(interest - premium) <= D("0.0005"):
        assert rate == interest
    else:
        assert rate == margin.clamp(premium + (D("0.0005") if interest > premium
                                               else D("-0.0005")), floor, cap)


@given(size=sizes, mark=prices, rate=rates)
def test_funding_payments_never_create_money(size, mark, rate):
    paid = margin.funding_payment(side=PositionSide.LONG, size=size, mark=mark, rate=rate,
                                  decimals=8)
    received = margin.funding_payment(side=PositionSide.SHORT, size=size, mark=mark,
                                      rate=rate, decimals=8)
    assert paid + received >= 0
    assert abs(paid - size * mark * rate) < D("1e-8")


fills = st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]),
                           st.integers(1, 3000).map(lambda n: D(n) * D("0.001")),
                           st.integers(4_000_000, 8_000_000).map(lambda n: D(n) * TICK),
                           st.integers(1, 125)),
                 min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(fills=fills, close_at=prices)
def test_realised_and_unrealised_pnl_add_up_to_the_trades(fills, close_at):
    """Whatever the fills (opens, adds, partial closes, flips), what they realised plus the
    position's PnL at any price is exactly Σ direction x amount x (price - fill price): no
    rounding leaks from the pro-rata entry value. The margin never goes below zero and a
    flat position holds none."""
    state = PositionState(PositionStatus.FLAT, PositionSide.LONG, D(0), D(0), D(0), 1)
    realised, expected = D(0), D(0)
    for side, amount, price, leverage in fills:
        plan = fill_plan(state=state, side=side, amount=amount, price=price,
                         leverage=leverage, fee_rate=D("0.0005"), decimals=8)
        if plan.bankrupt:
            return  # liquidated: the insurance fund's business (tested with the services)
        realised += plan.pnl
        expected += (1 if side == "BUY" else -1) * amount * (close_at - price)
        state = plan.after
        assert state.margin >= 0 and (state.size > 0) == (state.margin > 0)
        assert plan.fee >= amount * price * D("0.0005")
    open_pnl = sign(state.side) * (state.size * close_at - state.value) if state.size else 0
    assert realised + open_pnl == expected


@pytest.mark.parametrize(("values", "expected"), [([D(3)], D(3)), ([D(5), D(1)], D(3)),
                                                  ([D(9), D(1), D(4)], D(4))])
def test_the_index_is_the_median(values, expected):
    assert margin.median(values) == expected
