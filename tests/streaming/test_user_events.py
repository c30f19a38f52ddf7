"""Paper orders and wallet changes reach their owner's private streams, after commit."""
from decimal import Decimal

import pytest

from apps.marketdata import streams
from apps.twelvedata import services
from apps.wallets import services as wallet_services
from tests.factories import UserFactory
from tests.streaming.conftest import make_market, tick


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(streams, "send_to_group", lambda group, message: calls.append(
        (group, message["stream"], message["data"])) or True)
    return calls


def by_stream(sent, stream):
    return [data for _, name, data in sent if name == stream]


@pytest.mark.django_db
def test_an_order_placed_filled_and_another_canceled(sent, currencies,
                                                     django_capture_on_commit_callbacks):
    make_market("EUR/USD")
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        resting = services.order_place(user_id=user.pk, symbol="EUR/USD", side="BUY",
                                       type="LIMIT", amount=Decimal("100"),
                                       price=Decimal("1.00000"))
        other = services.order_place(user_id=user.pk, symbol="EUR/USD", side="BUY",
                                     type="LIMIT", amount=Decimal("10"),
                                     price=Decimal("0.90000"))
    assert {group for group, _, _ in sent} == {f"user.{user.pk}"}
    placed = by_stream(sent, "orders")
    assert [(o["event"], o["id"], o["status"]) for o in placed] == [
        ("placed", resting.pk, "OPEN"), ("placed", other.pk, "OPEN")]
    assert placed[0]["symbol"] == "EUR/USD" and placed[0]["price"] == "1"
    balances = by_stream(sent, "balances")
    assert (balances[0]["balance"], balances[0]["held"]) == ("100000", "0")
    assert Decimal(balances[-1]["held"]) > 0  # the second order's hold
    assert all(b["wallet_type"] == "PAPER" for b in balances)

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.fill_crossing(quote=tick("EUR/USD", "0.99000")) == 1
    filled = by_stream(sent, "orders")
    assert [(o["event"], o["id"], o["status"]) for o in filled] == [
        ("filled", resting.pk, "CLOSED")]
    assert (filled[0]["fill_price"], filled[0]["remaining"]) == ("1", "0")
    assert {b["currency"] for b in by_stream(sent, "balances")} == {"USD", "EUR"}

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(user_id=user.pk, order_id=other.pk)
    assert [(o["event"], o["status"]) for o in by_stream(sent, "orders")] == [
        ("canceled", "CANCELED")]
    [released] = by_stream(sent, "balances")
    assert released["held"] == "0"


@pytest.mark.django_db
def test_a_failed_order_publishes_nothing(sent, currencies, django_capture_on_commit_callbacks):
    make_market("EUR/USD")
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(
            wallet_services.InsufficientFunds):
        services.order_place(user_id=user.pk, symbol="EUR/USD", side="SELL", type="LIMIT",
                             amount=Decimal("5"), price=Decimal("1.10000"))
    # Only the demo grant (its own committed journal) was told; no order, no hold.
    assert by_stream(sent, "orders") == []
    assert [b["currency"] for b in by_stream(sent, "balances")] == ["USD"]


@pytest.mark.django_db
def test_system_accounts_publish_nothing_and_replays_publish_nothing(
        sent, currencies, django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                                amount=Decimal("5"), key="dep-1")
        wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                                amount=Decimal("5"), key="dep-1")
    assert sent == [(f"user.{user.pk}", "balances", {
        "wallet_type": "SPOT", "currency": "USD", "balance": sent[0][2]["balance"],
        "held": sent[0][2]["held"], "available": sent[0][2]["available"]})]
    assert Decimal(sent[0][2]["balance"]) == Decimal(sent[0][2]["available"]) == 5
