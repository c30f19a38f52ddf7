"""Settlement: the outcome and payout of each case, on the recorded prices alone."""
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import Conflict
from apps.fixedtime import services
from apps.fixedtime.models import Trade
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Entry, Journal, Wallet
from tests.factories import UserFactory
from tests.fixedtime.helpers import due, fund, open_trade, quote

pytestmark = pytest.mark.django_db

TOLERANCE = timedelta(seconds=30)


def spot(user) -> Wallet:
    return Wallet.objects.get(user=user, type="SPOT", currency_id="USD")


def house() -> D:
    return wallet_selectors.system_balance(system="FIXED_TIME_HOUSE", wallet_type="SPOT",
                                           currency="USD")


# entry, exit (None: no quote near the expiry), direction -> status, paid back on 10 USD
# at 85% (a win: 10 + 8.50).
CASES = [
    ("1.10000", "1.10010", "UP", "WON", "18.50"),
    ("1.10000", "1.09990", "UP", "LOST", "0"),
    ("1.10000", "1.10000", "UP", "DRAW", "10"),
    ("1.10000", "1.09990", "DOWN", "WON", "18.50"),
    ("1.10000", "1.10010", "DOWN", "LOST", "0"),
    ("1.10000", "1.10000", "DOWN", "DRAW", "10"),
    ("1.10000", None, "UP", "VOID", "10"),
    ("1.10000", None, "DOWN", "VOID", "10"),
]


@pytest.mark.parametrize(("entry", "exit", "direction", "status", "paid"), CASES)
def test_outcome_and_payout_table(instrument, user, entry, exit, direction, status, paid):
    fund(user)
    quote(entry)
    trade = open_trade(user, direction=direction)
    assert spot(user).available == D("990")  # the stake is held at once
    if exit is not None:
        quote(exit, at=trade.expires_at - timedelta(seconds=1))
    trade = services.trade_settle(trade_id=trade.pk, now=due(trade))
    assert (trade.status, trade.payout) == (status, D(paid))
    wallet = spot(user)
    assert (wallet.balance, wallet.held) == (D("990") + D(paid), 0)
    assert house() == D("10") - D(paid)
    if status == "VOID":
        assert trade.exit_price is None and trade.exit_evidence is None
        assert "void" in trade.reason and "refunded" in trade.reason
    else:
        assert trade.exit_price == D(exit)
        assert D(trade.exit_evidence["price"]) == D(exit)
        assert D(trade.entry_evidence["price"]) == D(entry)
    assert wallet_selectors.reconcile() == []


def test_the_exit_is_the_last_quote_at_or_before_the_expiry_not_the_latest(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user, direction="UP")
    quote("1.09000", at=trade.expires_at - timedelta(seconds=5))
    quote("1.10500", at=trade.expires_at)  # at the instant: counts, and is the last
    quote("1.00000", at=trade.expires_at + timedelta(milliseconds=1))  # after: ignored
    trade = services.trade_settle(trade_id=trade.pk, now=due(trade) + timedelta(hours=1))
    assert (trade.status, trade.exit_price) == ("WON", D("1.10500"))
    assert trade.exit_evidence["timestamp"] == trade.expires_at.isoformat()


def test_a_quote_older_than_the_tolerance_voids_the_trade(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user, direction="UP")
    quote("1.20000", at=trade.expires_at - TOLERANCE - timedelta(milliseconds=1))
    assert services.trade_settle(trade_id=trade.pk, now=due(trade)).status == "VOID"
    cache.clear()  # back to now: the future tick above would stay the latest price
    quote("1.10000")
    second = open_trade(user, direction="UP")
    quote("1.20000", at=second.expires_at - TOLERANCE)  # exactly the tolerance: in time
    assert services.trade_settle(trade_id=second.pk, now=due(second)).status == "WON"


def test_a_settlement_before_it_is_due_writes_nothing(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    quote("1.20000", at=trade.expires_at)
    with pytest.raises(Conflict) as exc:
        services.trade_settle(trade_id=trade.pk, now=due(trade) - timedelta(milliseconds=1))
    assert exc.value.code == "not_due"
    assert Trade.objects.get(pk=trade.pk).status == "OPEN"
    assert not Journal.objects.filter(kind="FIXED_TIME").exists()


def test_the_payout_percentage_is_fixed_at_opening(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user, stake="3.33")
    instrument.payout_percent = D("10")
    instrument.save()
    quote("1.20000", at=trade.expires_at)
    trade = services.trade_settle(trade_id=trade.pk, now=due(trade))
    # 85% of 3.33 is 2.8305: the profit is rounded down to the cent.
    assert (trade.payout_percent, trade.payout) == (D("85"), D("6.16"))


def test_settling_again_changes_nothing(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    quote("1.20000", at=trade.expires_at)
    first = services.trade_settle(trade_id=trade.pk, now=due(trade))
    quote("1.00000", at=trade.expires_at)  # a later-recorded quote at the same instant
    again = services.trade_settle(trade_id=trade.pk, now=due(trade) + timedelta(days=1))
    assert (again.status, again.payout, again.settled_at) == (
        first.status, first.payout, first.settled_at)
    assert Journal.objects.filter(kind="FIXED_TIME").count() == 1


def test_demo_and_live_money_never_mix(instrument, user):
    """A DEMO trade moves PAPER money between the user and the demo house only; a LIVE
    trade SPOT money between the user and the live house only."""
    fund(user)
    quote("1.10000")
    demo = open_trade(user, mode="DEMO", direction="UP")
    live = open_trade(user, mode="LIVE", direction="DOWN")
    assert (demo.wallet_type, live.wallet_type) == ("PAPER", "SPOT")
    spot_before = spot(user).balance
    quote("1.20000", at=demo.expires_at)
    demo = services.trade_settle(trade_id=demo.pk, now=due(demo))
    assert spot(user).balance == spot_before and spot(user).held == D("10")
    live = services.trade_settle(trade_id=live.pk, now=due(live))
    assert (demo.status, live.status) == ("WON", "LOST")
    demo_entries = Entry.objects.filter(journal__key=demo.journal_key).select_related("wallet")
    live_entries = Entry.objects.filter(journal__key=live.journal_key).select_related("wallet")
    assert {(e.wallet.type, e.wallet.system) for e in demo_entries} == {
        ("PAPER", None), ("PAPER", "PAPER_FIXED_TIME_HOUSE")}
    assert {(e.wallet.type, e.wallet.system) for e in live_entries} == {
        ("SPOT", None), ("SPOT", "FIXED_TIME_HOUSE")}
    assert house() == D("10")
    assert wallet_selectors.system_balance(
        system="PAPER_FIXED_TIME_HOUSE", wallet_type="PAPER", currency="USD") == D("-8.50")
    assert wallet_selectors.reconcile() == []


prices = st.decimals(min_value=D("0.00001"), max_value=D("99999"), places=5)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=prices, exit=prices, direction=st.sampled_from(["UP", "DOWN"]),
       stake=st.decimals(min_value=D("1"), max_value=D("1000"), places=2))
def test_outcomes_follow_the_recorded_prices_alone(instrument, entry, exit, direction, stake):
    user = UserFactory()
    fund(user)
    cache.clear()  # back to now: the last example's tick at its expiry is still the latest
    quote(str(entry))
    trade = open_trade(user, direction=direction, stake=str(stake))
    quote(str(exit), at=trade.expires_at)
    trade = services.trade_settle(trade_id=trade.pk, now=due(trade))
    rose, fell = exit > entry, exit < entry
    expected = ("DRAW" if not (rose or fell)
                else "WON" if (rose and direction == "UP") or (fell and direction == "DOWN")
                else "LOST")
    assert trade.status == expected
    profit = (stake * D("0.85")).quantize(D("0.01"), rounding="ROUND_DOWN")
    assert trade.payout == {"WON": stake + profit, "DRAW": stake, "LOST": 0}[expected]
    assert spot(user).balance == D("1000") - stake + trade.payout
