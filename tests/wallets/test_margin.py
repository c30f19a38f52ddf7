"""Futures margin in the ledger: position margin, PnL and funding through CLEARING,
liquidation with INSURANCE; every step exactly once per key and reconciled."""
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.wallets import selectors, services
from apps.wallets.constants import JournalKind, SystemAccount
from apps.wallets.models import Hold, HoldChange, Journal, Wallet
from apps.wallets.services import ClearingFlow, InsufficientFunds
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _ledger_alone(monkeypatch):
    """The primitives as a venue calls them, without the positions they settle: the
    futures venue's CLEARING check (registered with reconcile) is left out."""
    monkeypatch.setattr(selectors, "_reconcile_checks", {})


def futures_trader(amount="1000"):
    user = UserFactory()
    services.deposit(user_id=user.pk, wallet_type="FUTURES", currency="USDT",
                     amount=D(amount), key=f"dep:{user.pk}")
    return user


def futures(user):
    wallet = Wallet.objects.get(user=user, type="FUTURES", currency_id="USDT")
    return wallet.balance, wallet.held


def account(system):
    return selectors.system_balance(system=system, wallet_type="FUTURES", currency="USDT")


def add(user, position, amount, key):
    return services.margin_add(user_id=user.pk, currency="USDT", position=position,
                               amount=D(amount), key=key)


def test_margin_opens_grows_and_is_released_once_per_key(currencies):
    alice = futures_trader()
    add(alice, "p1", "100", "open")
    assert add(alice, "p1", "100", "open").amount == D("100")  # a replay
    add(alice, "p1", "50", "more")
    assert futures(alice) == (D("1000"), D("150"))
    services.margin_release(position="p1", amount=D("30"), key="part")
    services.margin_release(position="p1", amount=D("30"), key="part")  # a replay
    assert futures(alice) == (D("1000"), D("120"))
    with pytest.raises(Conflict, match="only 120"):
        services.margin_release(position="p1", amount=D("121"), key="too-much")
    closed = services.margin_release(position="p1", key="close")
    assert (closed.status, closed.remaining, closed.amount) == (Hold.Status.CLOSED, 0, 150)
    assert services.margin_release(position="p1", key="close").pk == closed.pk
    assert futures(alice) == (D("1000"), 0)
    with pytest.raises(Conflict) as reopened:
        add(alice, "p1", "10", "again")
    assert reopened.value.code == "margin_closed"
    assert list(HoldChange.objects.order_by("pk").values_list("amount", flat=True)) == [
        D("100"), D("50"), D("-30"), D("-120")]
    assert selectors.reconcile() == []


def test_a_margin_key_reused_for_another_change_is_a_logged_conflict(currencies):
    alice = futures_trader()
    add(alice, "p1", "100", "k")
    with capture_logs() as logs, pytest.raises(Conflict) as raised:
        add(alice, "p1", "101", "k")
    assert raised.value.code == "idempotency_conflict"
    assert [e["event"] for e in logs] == ["hold_change_replay_conflict"]
    with pytest.raises(Conflict) as release:
        services.margin_release(position="p1", amount=D("5"), key="k")
    assert release.value.code == "idempotency_conflict"
    assert futures(alice) == (D("1000"), D("100"))


@pytest.mark.parametrize(("call", "error"), [
    (lambda u: add(u, "p1", "1000.01", "k"), InsufficientFunds),
    (lambda u: add(u, "p1", "0.000000001", "k"), InvalidInput),
    (lambda u: add(u, "p1", "-1", "k"), InvalidInput),
    (lambda u: add(u, "", "1", "k"), InvalidInput),
    (lambda u: add(u, "x" * 200, "1", "k"), InvalidInput),
    (lambda u: services.margin_release(position="nope", key="k"), NotFound),
])
def test_bad_margin_requests_change_nothing(currencies, call, error):
    alice = futures_trader()
    with pytest.raises(error):
        call(alice)
    assert futures(alice) == (D("1000"), 0)
    assert not Hold.objects.exists()


def test_pnl_and_funding_move_between_traders_through_clearing(currencies):
    alice, bob = futures_trader(), futures_trader()
    add(alice, "a1", "100", "a-open")
    add(bob, "b1", "100", "b-open")
    services.settle_clearing(key="pnl:1", kind=JournalKind.PNL, currency="USDT", flows=[
        ClearingFlow(user_id=alice.pk, position="a1", amount=D("-40")),
        ClearingFlow(user_id=bob.pk, position="b1", amount=D("40"))])
    assert futures(alice) == (D("960"), D("60")) and futures(bob) == (D("1040"), D("100"))
    assert account(SystemAccount.CLEARING) == 0
    services.settle_clearing(key="fund:1", kind=JournalKind.FUNDING, currency="USDT", flows=[
        ClearingFlow(user_id=bob.pk, position="b1", amount=D("-1.5"))])
    assert account(SystemAccount.CLEARING) == D("1.5")  # alice's side comes in another run
    services.settle_clearing(key="fund:1", kind=JournalKind.FUNDING, currency="USDT", flows=[
        ClearingFlow(user_id=bob.pk, position="b1", amount=D("-1.5"))])
    assert futures(bob) == (D("1038.5"), D("98.5"))
    with pytest.raises(Conflict) as beyond:  # more than the margin: a liquidation's case
        services.settle_clearing(key="pnl:2", kind=JournalKind.PNL, currency="USDT", flows=[
            ClearingFlow(user_id=alice.pk, position="a1", amount=D("-61"))])
    assert beyond.value.code == "hold_exhausted"
    with pytest.raises(InvalidInput):
        services.settle_clearing(key="pnl:3", kind=JournalKind.TRADE, currency="USDT",
                                 flows=[ClearingFlow(user_id=bob.pk, position="b1",
                                                     amount=D("1"))])
    assert selectors.reconcile() == []


def test_liquidation_sends_what_margin_is_left_to_insurance(currencies):
    alice = futures_trader()
    add(alice, "a1", "100", "open")
    journal = services.liquidate_position(key="liq:a1", user_id=alice.pk, currency="USDT",
                                          position="a1", loss=D("70"))
    assert futures(alice) == (D("900"), 0)
    assert account(SystemAccount.CLEARING) == D("70")
    assert account(SystemAccount.INSURANCE) == D("30")
    assert Hold.objects.get(key="margin:a1").status == Hold.Status.CLOSED
    again = services.liquidate_position(key="liq:a1", user_id=alice.pk, currency="USDT",
                                        position="a1", loss=D("70"))
    assert again.pk == journal.pk
    with pytest.raises(Conflict) as other:
        services.liquidate_position(key="liq:a1", user_id=alice.pk, currency="USDT",
                                    position="a1", loss=D("71"))
    assert other.value.code == "idempotency_conflict"
    assert selectors.reconcile() == []


def test_a_loss_beyond_the_margin_is_paid_by_insurance_and_a_deficit_is_reported(currencies):
    alice, bob = futures_trader(), futures_trader()
    add(alice, "a1", "100", "a-open")
    add(bob, "b1", "50", "b-open")
    services.liquidate_position(key="liq:a1", user_id=alice.pk, currency="USDT",
                                position="a1", loss=D("90"))  # INSURANCE gets 10
    services.liquidate_position(key="liq:b1", user_id=bob.pk, currency="USDT",
                                position="b1", loss=D("80"))  # INSURANCE pays 30
    assert futures(bob) == (D("950"), 0)
    assert account(SystemAccount.CLEARING) == D("170")
    assert account(SystemAccount.INSURANCE) == D("-20")
    (problem,) = selectors.reconcile()
    assert "INSURANCE is negative (-20" in problem


def test_reconcile_names_a_margin_hold_changed_behind_the_services(currencies):
    alice = futures_trader()
    add(alice, "a1", "100", "open")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE wallets_hold SET amount = amount + 1, remaining = remaining + 1")
        cursor.execute("UPDATE wallets_wallet SET held = held + 1 WHERE user_id = %s",
                       [alice.pk])
    (problem,) = selectors.reconcile()
    assert problem.startswith("hold margin:a1: amount 101") and "margin added 100" in problem


OPS = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 2), st.integers(0, 1), st.integers(1, 400)),
    st.tuples(st.just("release"), st.integers(0, 2), st.integers(0, 1), st.integers(0, 150)),
    st.tuples(st.just("pnl"), st.integers(0, 2), st.integers(0, 1), st.integers(-200, 200)),
    st.tuples(st.just("funding"), st.integers(0, 2), st.integers(0, 1), st.integers(-20, 20)),
    st.tuples(st.just("liquidate"), st.integers(0, 2), st.integers(0, 1), st.integers(0, 300)),
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=1, max_size=25))
def test_any_sequence_of_margin_operations_keeps_the_books(currencies, ops):
    """Whatever the venue asks, in any order (refused requests included): every reconcile
    invariant holds, and the money deposited is exactly what the traders, CLEARING and
    INSURANCE hold between them."""
    users = [futures_trader() for _ in range(3)]
    run = f"{users[0].pk}"
    deposited = D(3000)
    before = {s: account(s) for s in (SystemAccount.CLEARING, SystemAccount.INSURANCE)}
    for n, (op, who, pos, value) in enumerate(ops):
        user, position, key = users[who], f"{run}:{who}:{pos}", f"{run}:{n}"
        try:
            if op == "add":
                add(user, position, value, key)
            elif op == "release":
                services.margin_release(position=position, key=key,
                                        amount=D(value) if value else None)
            elif op in ("pnl", "funding") and value:
                kind = JournalKind.PNL if op == "pnl" else JournalKind.FUNDING
                services.settle_clearing(key=key, kind=kind, currency="USDT", flows=[
                    ClearingFlow(user_id=user.pk, position=position, amount=D(value))])
            elif op == "liquidate":
                services.liquidate_position(key=key, user_id=user.pk, currency="USDT",
                                            position=position, loss=D(value))
        except (Conflict, NotFound):
            pass  # refused, and so must have changed nothing: the books below say so
    held = sum((futures(u)[0] for u in users), D(0))
    moved = sum((account(s) - before[s] for s in before), D(0))
    assert held + moved == deposited
    problems = selectors.reconcile()
    assert [p for p in problems if "INSURANCE is negative" not in p] == []
    assert len(problems) == (account(SystemAccount.INSURANCE) < 0)
    assert all(Journal.objects.filter(key=f"{run}:{n}").count() <= 1 for n in range(len(ops)))
