"""The trading core's admin: one market list across venues (the admin decides status,
flags, fees and limits; the venue's import decides the rest), orders and fills read-only,
set-aside orders retried."""
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission

from apps.trading.models import Market, Order, OrderList
from tests.factories import MarketFactory, OrderFactory, UserFactory
from tests.trading.helpers import fresh

pytestmark = pytest.mark.django_db
D = Decimal
MARKETS, ORDERS = "/admin/trading/market/", "/admin/trading/order/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def two_venues(currencies):
    return {"paper": MarketFactory(symbol="GBP/USD"),
            "spot": MarketFactory(venue="spot", symbol="BTC/USDT", status="disabled")}


def test_one_market_list_filters_across_venues(admin_client, two_venues):
    page = admin_client.get(f"{MARKETS}?venue__exact=spot")
    assert page.status_code == 200
    assert b"BTC/USDT" in page.content and b"GBP/USD" not in page.content
    page = admin_client.get(f"{MARKETS}?status__exact=enabled&q=GBP")
    assert b"GBP/USD" in page.content and b"BTC/USDT" not in page.content


@pytest.mark.parametrize(("action", "field", "value"), [
    ("enable", "status", "enabled"), ("disable", "status", "disabled"),
    ("halt", "status", "halted"), ("delist", "status", "delisted"),
    ("mark_trending", "is_trending", True), ("mark_hot", "is_hot", True),
])
def test_bulk_actions_set_status_and_flags_on_every_venue(admin_client, two_venues, action,
                                                          field, value):
    ids = [m.pk for m in two_venues.values()]
    response = admin_client.post(MARKETS, {"action": action, ACTION_CHECKBOX_NAME: ids})
    assert response.status_code == 302
    assert {getattr(m, field) for m in Market.objects.all()} == {value}


def test_markets_come_from_their_venue_and_are_never_deleted(admin_client, two_venues):
    assert admin_client.get(f"{MARKETS}add/").status_code == 403
    market = two_venues["paper"]
    assert admin_client.get(f"{MARKETS}{market.pk}/delete/").status_code == 403
    assert b'value="delete_selected"' not in admin_client.get(MARKETS).content


def test_the_admin_sets_fees_and_limits_but_not_the_venues_facts(admin_client, two_venues):
    market = two_venues["paper"]
    response = admin_client.post(f"{MARKETS}{market.pk}/change/", {
        "symbol": "HACK/USD", "status": "enabled", "venue": "spot", "is_hot": "on",
        "tick_size": "0.0001", "lot_size": "1", "min_amount": "5", "max_amount": "",
        "min_notional": "10", "max_notional": "100000", "maker_fee": "0.0002",
        "taker_fee": "0.0005"})
    assert response.status_code == 302
    market.refresh_from_db()
    assert (market.symbol, market.venue, market.tick_size, market.lot_size) == (
        "GBP/USD", "paper", D("0.00001"), D("0.01"))
    assert (market.maker_fee, market.taker_fee, market.min_amount, market.max_notional,
            market.is_hot) == (D("0.0002"), D("0.0005"), D("5"), D("100000"), True)


def test_orders_and_fills_are_read_only(admin_client, currencies):
    order = OrderFactory()
    assert admin_client.get(f"{ORDERS}{order.pk}/change/").status_code == 200
    response = admin_client.post(f"{ORDERS}{order.pk}/change/", {"status": "FILLED"})
    assert response.status_code == 403 and fresh(order).status == "OPEN"
    assert admin_client.get(f"{ORDERS}add/").status_code == 403
    assert admin_client.get("/admin/trading/fill/add/").status_code == 403


def test_set_aside_orders_are_listed_and_retried(admin_client, currencies):
    aside = OrderFactory(settle_error="InsufficientFunds: hold exhausted")
    clean = OrderFactory(market=aside.market)
    page = admin_client.get(f"{ORDERS}?set_aside=yes")
    assert b"hold exhausted" in page.content
    listed = {o.pk for o in page.context["cl"].result_list}
    assert listed == {aside.pk}
    admin_client.post(ORDERS, {"action": "retry_settlement",
                               ACTION_CHECKBOX_NAME: [aside.pk, clean.pk]})
    assert fresh(aside).settle_error == ""
    assert not Order.objects.exclude(settle_error="").exists()


def test_only_who_may_change_orders_may_retry_them(client, currencies):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(staff)
    aside = OrderFactory(settle_error="boom")
    page = client.get(ORDERS)
    assert page.status_code == 200 and b"retry_settlement" not in page.content
    client.post(ORDERS, {"action": "retry_settlement", ACTION_CHECKBOX_NAME: [aside.pk]})
    assert fresh(aside).settle_error == "boom"


def test_conditional_orders_and_their_lists_are_shown_and_filtered(admin_client,
                                                                   currencies):
    market = MarketFactory()
    oco = OrderList.objects.create(user=UserFactory(), market=market, venue="paper",
                                   kind="OCO", client_order_id="pair-1")
    stop = OrderFactory(market=market, user=oco.user, group=oco, role="STOP",
                        type="STOP_MARKET", price=None, status="PENDING",
                        stop_price=D("1.09800"), trigger_direction="FALL",
                        trigger_source="LAST")
    limit = OrderFactory(market=market, user=oco.user, group=oco, role="LIMIT",
                         hold_key=stop.hold_key)
    OrderFactory(market=market)  # a plain order, in neither filter
    page = admin_client.get(f"{ORDERS}?status__exact=PENDING&type__exact=STOP_MARKET")
    assert {o.pk for o in page.context["cl"].result_list} == {stop.pk}
    assert b"market / stop 1.09800" in page.content
    page = admin_client.get(f"{ORDERS}?role__exact=LIMIT")
    assert {o.pk for o in page.context["cl"].result_list} == {limit.pk}
    detail = admin_client.get(f"{ORDERS}{stop.pk}/change/")
    assert detail.status_code == 200 and b"Trigger direction" in detail.content
    lists = "/admin/trading/orderlist/"
    page = admin_client.get(lists)
    assert b"pair-1" in page.content
    detail = admin_client.get(f"{lists}{oco.pk}/change/")
    assert detail.status_code == 200
    # Its two legs, each with its role and state: which one executed shows there.
    assert b"Stop leg" in detail.content and b"Limit (take-profit) leg" in detail.content
    assert b"PENDING" in detail.content or b"Pending" in detail.content
    assert admin_client.post(f"{lists}{oco.pk}/change/", {}).status_code == 403
    assert admin_client.get(f"{lists}add/").status_code == 403


def test_an_admin_cancels_a_users_open_order_with_a_reason_recorded(admin_client, markets,
                                                                      user):
    from apps.accounts.models import AuditEvent
    from apps.trading import services
    from apps.wallets.models import Wallet

    order = services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD",
                                 side="BUY", type="LIMIT", amount=D("10"), price=D("1.01"))
    usd = Wallet.objects.get(user=user, type="PAPER", currency="USD")
    assert usd.held > 0
    asked = admin_client.post(ORDERS, {"action": "cancel_orders",
                                       ACTION_CHECKBOX_NAME: [order.pk]})
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    blank = admin_client.post(ORDERS, {"action": "cancel_orders", "apply": "1", "reason": " ",
                                       ACTION_CHECKBOX_NAME: [order.pk]})
    assert blank.status_code == 200  # asked again: a reason is required
    order.refresh_from_db()
    assert order.status == "OPEN"

    done = admin_client.post(ORDERS, {"action": "cancel_orders", "apply": "1",
                                      "reason": "Market data error",
                                      ACTION_CHECKBOX_NAME: [order.pk]}, follow=True)
    assert b"cancelled" in done.content
    order.refresh_from_db()
    usd.refresh_from_db()
    assert order.status == "CANCELED" and usd.held == 0
    assert order.reason == "Canceled by an administrator: Market data error"
    event = AuditEvent.objects.get(kind="order_cancelled_by_admin")
    assert (event.object_id, event.message) == (str(order.pk), "Market data error")
    # An order no longer open is not offered again.
    again = admin_client.post(ORDERS, {"action": "cancel_orders",
                                       ACTION_CHECKBOX_NAME: [order.pk]})
    assert b"nothing (no open order)" in again.content


def test_order_list_shows_amounts_with_the_markets_decimals(admin_client, currencies):
    OrderFactory(price=D("1.1"), amount=D("10"), cost=D("11.5"))
    page = admin_client.get(ORDERS).content.decode()
    assert "000000000" not in page
    for cell in ('field-price_and_stop">1.10000<', 'field-amount_shown">10.00<',
                 'field-cost_shown">11.50<'):
        assert cell in page
