"""Paper orders and wallet changes reach their owner's private streams, after commit."""
from decimal import Decimal

import pytest

from apps.marketdata import streams
from apps.trading import services
from apps.trading.constants import Venue
from apps.trading.models import Market
from apps.twelvedata.paper import fill_crossing
from apps.wallets import services as wallet_services
from tests.factories import UserFactory
from tests.streaming.conftest import make_market, tick
from tests.twelvedata.fixtures import make_quote


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(streams, "send_to_groups", lambda messages: calls.extend(
        (group, message["stream"], message["data"]) for group, message in messages) or True)
    return calls


def by_stream(sent, stream):
    return [data for _, name, data in sent if name == stream]


def balance(currency: str, balance: str, held: str, available: str,
            wallet_type: str = "PAPER") -> dict:
    """A ``balances`` frame, written out by hand."""
    return {"wallet_type": wallet_type, "currency": currency, "balance": balance,
            "held": held, "available": available}


def order_frame(frame: dict) -> dict:
    """An ``orders`` frame without the fields no test can know in advance."""
    assert frame["updated_at"] and frame["client_order_id"]
    return {key: value for key, value in frame.items()
            if key not in ("updated_at", "client_order_id")}


@pytest.mark.django_db
def test_an_order_placed_filled_and_another_canceled(sent, currencies, settings,
                                                     django_capture_on_commit_callbacks):
    # Every number below follows from these: a 100000 USD grant, fees 0.08% maker and
    # 0.10% taker (a BUY holds cost plus the higher one), USD has 2 decimals, rounded up.
    settings.PAPER_DEMO_BALANCE = "100000"
    make_market("EUR/USD")
    Market.objects.filter(venue=Venue.PAPER, symbol="EUR/USD").update(
        maker_fee=Decimal("0.0008"), taker_fee=Decimal("0.0010"))
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        resting = services.order_place(user_id=user.pk, venue=Venue.PAPER, symbol="EUR/USD",
                                       side="BUY", type="LIMIT", amount=Decimal("100"),
                                       price=Decimal("1.00000"))
        other = services.order_place(user_id=user.pk, venue=Venue.PAPER, symbol="EUR/USD",
                                     side="BUY", type="LIMIT", amount=Decimal("10"),
                                     price=Decimal("0.90000"))
    assert {group for group, _, _ in sent} == {f"user.{user.pk}"}
    opened = {"venue": "paper", "symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
              "status": "OPEN", "filled": "0", "fill_price": None, "cost": "0", "fee": "0",
              "fee_currency": "", "liquidity": "", "reason": "",
              # A plain order's conditional fields, empty (issue #18).
              "stop_price": None, "trigger_direction": "", "trigger_source": "",
              "trailing_delta": None, "trailing_rate": None, "activation_price": None,
              "trailing_best": None, "triggered_at": None, "group_id": None, "role": ""}
    assert [order_frame(o) for o in by_stream(sent, "orders")] == [
        {"event": "placed", "id": resting.pk, "price": "1", "amount": "100",
         "remaining": "100", **opened},
        {"event": "placed", "id": other.pk, "price": "0.9", "amount": "10",
         "remaining": "10", **opened}]
    assert by_stream(sent, "balances") == [
        balance("USD", "100000", "0", "100000"),  # the demo grant
        balance("USD", "100000", "100.1", "99899.9"),  # 100 x 1 + 0.1 fee
        balance("USD", "100000", "109.11", "99890.89"),  # + 10 x 0.9 + 0.009 -> 0.01 fee
    ]

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert fill_crossing(quote=tick("EUR/USD", "0.99000")) == 1
    assert {group for group, _, _ in sent} == {f"user.{user.pk}"}  # no system account's
    [filled] = by_stream(sent, "orders")
    assert order_frame(filled) == {
        **opened, "event": "filled", "id": resting.pk, "status": "FILLED", "price": "1",
        "amount": "100", "filled": "100", "remaining": "0", "fill_price": "1", "cost": "100",
        "fee": "0.08", "fee_currency": "USD", "liquidity": "MAKER"}
    # The resting order paid 100 + 0.08 maker fee out of its 100.1 hold; the other order's
    # 9.01 is still held.
    assert sorted(by_stream(sent, "balances"), key=lambda b: b["currency"]) == [
        balance("EUR", "100", "0", "100"),
        balance("USD", "99899.92", "9.01", "99890.91")]

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(user_id=user.pk, venue=Venue.PAPER, order_id=other.pk)
    assert [(o["event"], o["id"], o["status"]) for o in by_stream(sent, "orders")] == [
        ("canceled", other.pk, "CANCELED")]
    assert by_stream(sent, "balances") == [balance("USD", "99899.92", "0", "99899.92")]


@pytest.mark.django_db
def test_a_failed_order_publishes_nothing(sent, currencies, django_capture_on_commit_callbacks):
    make_market("EUR/USD")
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(
            wallet_services.InsufficientFunds):
        services.order_place(user_id=user.pk, venue=Venue.PAPER, symbol="EUR/USD",
                             side="SELL", type="LIMIT", amount=Decimal("5"),
                             price=Decimal("1.10000"))
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
    assert sent == [(f"user.{user.pk}", "balances", balance("USD", "5", "0", "5", "SPOT"))]

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        wallet_services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USD",
                                    amount=Decimal("1.25"), key="hold-1")
        wallet_services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USD",
                                    amount=Decimal("1.25"), key="hold-1")
    assert sent == [(f"user.{user.pk}", "balances", balance("USD", "5", "1.25", "3.75", "SPOT"))]


@pytest.mark.django_db
def test_each_partial_fill_is_told_with_what_is_left(sent, currencies, settings,
                                                     django_capture_on_commit_callbacks):
    settings.PAPER_DEMO_BALANCE = "100000"
    make_market("EUR/USD")
    user = UserFactory()
    resting = services.order_place(user_id=user.pk, venue=Venue.PAPER, symbol="EUR/USD",
                                   side="BUY", type="LIMIT", amount=Decimal("100"),
                                   price=Decimal("1.00000"))
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert fill_crossing(quote=make_quote("EUR/USD", "0.99", bid="0.98", ask="0.99",
                                              ask_size="30")) == 1
    [partial] = by_stream(sent, "orders")
    assert {k: partial[k] for k in ("event", "id", "status", "filled", "remaining",
                                    "fill_price", "cost", "fee", "liquidity")} == {
        "event": "filled", "id": resting.pk, "status": "PARTIALLY_FILLED", "filled": "30",
        "remaining": "70", "fill_price": "1", "cost": "30", "fee": "0.03",
        "liquidity": "MAKER"}  # 0.08% of 30 = 0.024, rounded up
    assert sorted(by_stream(sent, "balances"), key=lambda b: b["currency"]) == [
        balance("EUR", "30", "0", "30"),
        balance("USD", "99969.97", "70.07", "99899.9")]  # the hold keeps 100.1 - 30.03

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert fill_crossing(quote=make_quote("EUR/USD", "0.99", bid="0.98", ask="0.99")) == 1
    [rest] = by_stream(sent, "orders")
    assert (rest["status"], rest["filled"], rest["remaining"], rest["cost"], rest["fee"]) == (
        "FILLED", "100", "0", "100", "0.08")  # cumulative: never more than one fill of all
    assert sorted(by_stream(sent, "balances"), key=lambda b: b["currency"]) == [
        balance("EUR", "100", "0", "100"),
        balance("USD", "99899.92", "0", "99899.92")]
