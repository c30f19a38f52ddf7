"""Hostile input to the venues' endpoints (ecosystem, spot, futures) and the shared order
views: each request is a 4xx in the JSON error format and changes nothing (no order, hold,
journal, engine command, stored order, position change, exchange submission).

The cases come from tests/api/venue_cases.py and go through the production ASGI
application as tests/api/test_hostile.py sends them. The world: an ecosystem market
ABC/USDT, a spot market BTC/USDT routed to the loopback Binance emulator, a futures
contract BTC/USDT (and ETH/USDT, where the user's position is closed); the user and another
user each own orders on every venue and a futures position. The same tests run on SQLite
and on MariaDB (DATABASE_URL).
"""
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from rest_framework.authtoken.models import Token

from apps.engine.models import EngineCommand, EngineOutbox
from apps.futures.models import AppliedFill, Position
from apps.futures.services import mark_refresh
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.orderstore.models import StoredOrder, StoredTrade
from apps.spot import exchange, prices
from apps.spot import services as spot_services
from apps.spot.models import SpotProvider, SpotSubmission
from apps.trading import services as trading_services
from apps.trading.constants import MarketStatus
from apps.trading.models import Market, Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.models import Entry, Hold, HoldChange, Journal, Wallet
from devtools.binance import running_emulator
from tests.api.state import rows_of
from tests.api.test_hostile import Answer, api_client, describe, post, quote_again, send
from tests.api.venue_cases import (
    CASES,
    ECO_CANCEL,
    ECO_ORDERS,
    MARGIN,
    SPOT_ORDERS,
    Case,
    VenueWorld,
)
from tests.engine.helpers import eco_market
from tests.engine.helpers import trader as eco_trader
from tests.factories import ContractFactory, OrderFactory
from tests.futures.helpers import fill_pair, futures_trader, index_quote

pytestmark = pytest.mark.django_db
D = Decimal


def fund_spot(user) -> None:
    wallet_services.currencies_ensure(currencies=[("USDT", "USDT", 8), ("BTC", "BTC", 8)])
    for code, amount in (("USDT", "100000"), ("BTC", "2")):
        wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency=code,
                                amount=D(amount), key=f"hostile:spot:{user.pk}:{code}")


def fresh_quotes() -> None:
    """The futures index (the spot venue's BTC/USDT) and its mark, now."""
    now = datetime.now(UTC)
    index_quote("60000", now=now)
    prices.poll(publish=lambda quote: publish(quote=quote))
    for contract_symbol in ("BTC/USDT", "ETH/USDT"):
        from apps.futures.models import Contract
        mark_refresh(contract=Contract.objects.get(market__symbol=contract_symbol), now=now)


def build_world(binance) -> VenueWorld:
    call_command("loaddata", "fixtures/currencies.json", verbosity=0)
    # The spot venue through the emulator (as tests/spot/conftest.py sets it up).
    provider, _ = SpotProvider.objects.get_or_create(
        name="binance", defaults={"title": "Binance", "exchange_id": "binance"})
    spot_services.provider_activate(provider_id=provider.pk)
    provider.refresh_from_db()
    spot_services.provider_record_opening_balances(provider=provider)
    spot_services.markets_import()
    spot_market = Market.objects.get(venue="spot", symbol="BTC/USDT")
    trading_services.markets_set_flags(market_ids=[spot_market.pk],
                                       status=MarketStatus.ENABLED)
    eco_market()
    # The import made the exchange's linear perpetuals futures markets: the contracts'.
    for symbol in ("BTC/USDT", "ETH/USDT"):
        futures_market = Market.objects.get(venue="futures", symbol=symbol)
        trading_services.markets_set_flags(market_ids=[futures_market.pk],
                                           status=MarketStatus.ENABLED)
        ContractFactory(market=futures_market)
    fresh_quotes()

    user, other = eco_trader(), eco_trader()
    token = Token.objects.create(user=user).key
    for someone in (user, other):
        fund_spot(someone)
        futures_trader(user=someone)
    client = api_client()
    eco_open = post(client, ECO_ORDERS, {"symbol": "ABC/USDT", "side": "BUY", "type": "LIMIT",
                                         "amount": "1", "price": "8.00",
                                         "client_order_id": "e-existing"}, token)
    eco_canceled = post(client, ECO_ORDERS, {"symbol": "ABC/USDT", "side": "BUY",
                                             "type": "LIMIT", "amount": "1", "price": "7.00"},
                        token)
    post(client, ECO_CANCEL.format(order_id=eco_canceled["id"]), {}, token)
    eco_other = trading_services.order_place(user_id=other.pk, venue="ecosystem",
                                             symbol="ABC/USDT", side="BUY", type="LIMIT",
                                             amount=D("1"), price=D("8.00"))
    spot_own = post(client, SPOT_ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT",
                                          "amount": "0.01", "price": "50000.00",
                                          "client_order_id": "s-existing"}, token)
    spot_other = trading_services.order_place(user_id=other.pk, venue="spot",
                                              symbol="BTC/USDT", side="BUY", type="LIMIT",
                                              amount=D("0.01"), price=D("50000.00"))
    paper = OrderFactory(user=user)
    from apps.futures.models import Contract
    btc, eth = (Contract.objects.get(market__symbol=s) for s in ("BTC/USDT", "ETH/USDT"))
    own_position, other_position = fill_pair(btc, buyer=user, seller=other, amount="1",
                                             price="60000", key="hostile:btc")
    fill_pair(eth, buyer=user, seller=other, amount="1", price="3000", key="hostile:eth:1")
    closed, _ = fill_pair(eth, buyer=other, seller=user, amount="1", price="3000",
                          key="hostile:eth:2")
    margin = post(client, MARGIN.format(position_id=own_position.pk),
                  {"action": "add", "amount": "10", "client_id": "m-existing"}, token)
    assert margin["margin"] == "6010", margin
    return VenueWorld(token=token, eco_own_open=eco_open["id"],
                      eco_own_canceled=eco_canceled["id"], eco_other_open=eco_other.pk,
                      spot_own=spot_own["id"], spot_other=spot_other.pk, paper_own=paper.pk,
                      position_own=own_position.pk, position_other=other_position.pk,
                      position_closed=Position.objects.get(user=user, contract=eth).pk,
                      eco_client_order_id="e-existing", margin_client_id="m-existing")


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker):
    """The world, built once for the module in a transaction that each test's own
    (rolled-back) transaction nests in; nothing commits, so no order is ever sent on."""
    with running_emulator(paused=True) as binance:
        binance.set_book("BTCUSDT", bids=[["59990", "1"]], asks=[["60010", "1"]])
        with override_settings(SPOT_EXCHANGE_URL=binance.url,
                               SPOT_EXCHANGE_WS_URL=binance.ws_url,
                               SPOT_API_KEY=binance.api_key,
                               SPOT_API_SECRET=binance.api_secret,
                               SPOT_REQUEST_TIMEOUT_MS=1500), \
                django_db_blocker.unblock(), transaction.atomic():
            exchange.reset()
            try:
                yield build_world(binance)
            finally:
                transaction.set_rollback(True)
                exchange.reset()


def eco_quote() -> Quote:
    """ABC/USDT's book as the engine would publish it: a MARKET BUY has asks to walk."""
    return Quote(venue="ecosystem", symbol="ABC/USDT", price=D("10.00"), bid=D("8.00"),
                 ask=D("12.00"), timestamp=datetime.now(UTC), source="engine")


@pytest.fixture
def world(module_world) -> VenueWorld:
    for cache in caches.all(initialized_only=True):
        cache.clear()
    quote_again(eco_quote())
    yield module_world
    for cache in caches.all(initialized_only=True):
        cache.clear()


STATE = rows_of(
    Wallet, Hold, HoldChange, Journal, Entry, Order, EngineCommand, EngineOutbox, StoredOrder,
    StoredTrade, Position, AppliedFill, SpotSubmission,
    wallets=Wallet.objects.order_by("pk").values_list(
        "pk", "type", "currency_id", "balance", "held"),
    holds=Hold.objects.order_by("pk").values_list("pk", "key", "remaining", "status"),
    orders=Order.objects.order_by("pk").values_list(
        "pk", "user_id", "client_order_id", "status", "remaining", "updated_at"),
    positions=Position.objects.order_by("pk").values_list(
        "pk", "status", "size", "margin", "leverage", "liquidation_price"),
)


def snapshot() -> dict[str, list[tuple]]:
    return STATE.read()


def assert_refused(response: Answer) -> None:
    assert 400 <= response.status_code < 500, describe(response)
    assert response.content_type.split(";")[0] == "application/json", describe(response)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hostile_input_to_the_venues_is_refused_and_changes_nothing(case, world):
    before = snapshot()
    assert_refused(send(case, world))
    assert snapshot() == before
    assert wallet_selectors.reconcile() == []


# --- the suite can fail: the requests the cases spoil, made valid, succeed and are seen ---

VALID = [
    ("eco_order", ECO_ORDERS, {"symbol": "ABC/USDT", "side": "BUY", "type": "LIMIT",
                               "amount": "1", "price": "9.00", "client_order_id": "e-new-1",
                               "stp": "NONE"}, None, 201),
    ("eco_order_by_budget", ECO_ORDERS, {"symbol": "ABC/USDT", "side": "BUY",
                                         "type": "MARKET", "quote_amount": "10",
                                         "client_order_id": "e-new-1"}, None, 201),
    ("spot_order", SPOT_ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT",
                                 "amount": "0.01", "price": "50000.00",
                                 "client_order_id": "s-new-1"}, None, 201),
    ("eco_cancel", ECO_CANCEL, None, "eco_own_open", 200),
    ("margin_add", MARGIN, {"action": "add", "amount": "11", "client_id": "m-new-1"},
     "position_own", 200),
]


@pytest.mark.parametrize(("endpoint", "path", "body", "target", "status"), VALID,
                         ids=[row[0] for row in VALID])
def test_the_valid_request_each_case_spoils_succeeds_and_is_seen(endpoint, path, body, target,
                                                                 status, world):
    before = snapshot()
    args = {"order_id": getattr(world, target), "position_id": getattr(world, target)} \
        if target else {}
    case = Case(id=f"valid-{endpoint}", endpoint=endpoint, field="", family="valid", path=path,
                body=body, path_args=lambda world: args)
    response = send(case, world)
    assert response.status_code == status, describe(response)
    assert snapshot() != before
    assert wallet_selectors.reconcile() == []


def test_the_read_endpoints_answer_their_valid_queries(world):
    """The GET cases spoil one parameter of these; each of these is answered."""
    for path in ("/api/v1/ecosystem/trades/?symbol=ABC/USDT&limit=10",
                 "/api/v1/futures/preview/?symbol=BTC/USDT&side=BUY&amount=1&price=60000"
                 "&leverage=10", "/api/v1/futures/funding/?symbol=BTC/USDT",
                 "/api/v1/ecosystem/orders/?status=NEW&symbol=ABC/USDT&limit=2",
                 "/api/v1/spot/orders/?status=NEW&symbol=BTC/USDT&limit=2"):
        case = Case(id="valid-read", endpoint="read", field="", family="valid", path=path,
                    method="GET", content_type=None)
        response = send(case, world)
        assert response.status_code == 200, (path, describe(response))
        json.loads(response.content)


def test_every_endpoint_and_field_is_attacked():
    from apps.ecosystem.apis import OrderListCreateApi
    from apps.futures.apis import PositionMarginApi
    from apps.spot.apis import SpotOrdersApi
    attacked = {(case.endpoint, case.field) for case in CASES}
    for endpoint, names in (
            ("eco_order", {"symbol", "side", "type", "amount", "quote_amount", "price",
                           "client_order_id", "stp"}
             & set(OrderListCreateApi.PlaceInput().fields)),
            ("spot_order", {"symbol", "side", "type", "amount", "quote_amount", "price",
                            "client_order_id"} & set(SpotOrdersApi.PlaceInput().fields)),
            ("margin", set(PositionMarginApi.MarginInput().fields) | {"position_id"}),
            ("eco_cancel", {"order_id"}), ("spot_cancel", {"order_id"}),
            ("eco_trades", {"symbol", "limit", "page"}),
            ("preview", {"symbol", "side", "amount", "price", "leverage"})):
        assert {(endpoint, name) for name in names} <= attacked, endpoint
