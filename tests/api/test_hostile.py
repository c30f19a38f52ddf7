"""Hostile input to every write endpoint: each request is a 4xx in the JSON error format and
changes nothing (no row, no balance, no hold, no order, no token).

The cases come from tests/api/cases.py; each goes through the production ASGI application
(exchange_platform.asgi), as uvicorn would hand it over. The state is a realistic one: the
user has funded SPOT, FUTURES and PAPER wallets, an earlier transfer, an open, a canceled
and a filled paper order; EUR/USD is enabled with a fresh quote, GBP/USD disabled; another
user has an open order. The same tests run on SQLite and on MariaDB (DATABASE_URL).
"""
import json
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock
from urllib.parse import unquote, urlsplit

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.handlers import asgi as django_asgi
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer

from apps.fixedtime import services as fixedtime_services
from apps.fixedtime import tasks as fixedtime_tasks
from apps.fixedtime.apis import TradeListCreateApi
from apps.fixedtime.models import Trade
from apps.marketdata import services as quote_services
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.trading import services as trading_services
from apps.trading.models import Fill, Market, Order, OrderList
from apps.twelvedata.apis import OrderListCreateApi, OrderListsApi
from apps.twelvedata.models import TwdMarket
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.apis import TransferInput
from apps.wallets.models import Currency, Entry, Hold, Journal, Wallet
from exchange_platform.asgi import application
from exchange_platform.celery import app as celery_app
from tests.api.cases import (
    CANCEL,
    CASES,
    FIXEDTIME,
    LIST_CANCEL,
    ORDER_LISTS,
    ORDERS,
    OTHER_PASSWORD,
    OTHER_USERNAME,
    PASSWORD,
    TOKEN,
    TRANSFER,
    USERNAME,
    Case,
    World,
    encode_body,
)
from tests.api.state import rows_of
from tests.factories import UserFactory
from tests.twelvedata.fixtures import paper_market

pytestmark = pytest.mark.django_db

ANSWER_TIMEOUT = 30  # seconds; a loaded CI machine, not an expectation

def api_client() -> Client:
    # A 500 is an answer to assert on, not an exception in the test.
    return Client(raise_request_exception=False)


def post(client: Client, path: str, body: dict, token: str) -> dict:
    response = client.post(path, json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code in (200, 201), response.content
    return response.json()


def fresh_quote() -> Quote:
    """EUR/USD quoted now (a BUY LIMIT below 1.10010 rests, a MARKET order fills)."""
    return Quote(venue="paper", symbol="EUR/USD", price=Decimal("1.10000"),
                 bid=Decimal("1.09990"), ask=Decimal("1.10010"), timestamp=datetime.now(UTC),
                 source="test")


def quote_again(quote: Quote) -> None:
    """``quote`` the latest price again, in the caches a case's fixture emptied. Its
    listeners (the paper executor, the fixed-time recorder...) heard the world's first
    quote; hearing one more per case would only make every case slower."""
    with mock.patch.dict(quote_services._listeners, clear=True):
        publish(quote=quote)


def build_world() -> World:
    call_command("loaddata", "fixtures/currencies.json", verbosity=0)
    user = UserFactory(username=USERNAME, password=PASSWORD)
    other = UserFactory(username=OTHER_USERNAME, password=OTHER_PASSWORD)
    token = Token.objects.create(user=user).key
    paper_market("EUR/USD", name="Euro / Dollar")
    paper_market("GBP/USD", name="Pound / Dollar", enabled=False)
    paper_market("CHF/USD", name="Franc / Dollar", status="halted")
    paper_market("AUD/USD", name="Aussie / Dollar", status="delisted")
    fixedtime_services.instrument_configure(
        venue="paper", symbol="EUR/USD", enabled=True, min_stake=Decimal("1"),
        max_stake=Decimal("1000"), payout_percent=Decimal("85"), expiries=[60, 300])
    publish(quote=fresh_quote())
    for wallet_type, amount in (("SPOT", "1000"), ("FUTURES", "500")):
        wallet_services.deposit(user_id=user.pk, wallet_type=wallet_type, currency="USD",
                                amount=Decimal(amount), key=f"hostile:deposit:{wallet_type}")
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="BTC",
                            amount=Decimal("0.5"), key="hostile:deposit:btc")
    client = api_client()
    post(client, TRANSFER, {"currency": "USD", "amount": "5", "from_type": "SPOT",
                            "to_type": "FUTURES", "client_transfer_id": "t-existing"}, token)
    # The first order grants the PAPER demo balance.
    own_open = post(client, ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                     "amount": "2", "price": "1.00000",
                                     "client_order_id": "o-existing"}, token)
    own_canceled = post(client, ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                         "amount": "3", "price": "0.90000"}, token)
    post(client, CANCEL.format(order_id=own_canceled["id"]), {}, token)
    own_filled = post(client, ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET",
                                       "amount": "1"}, token)
    assert own_filled["status"] == "FILLED" and len(own_filled["fills"]) == 1
    other_open = trading_services.order_place(user_id=other.pk, venue="paper",
                                              symbol="EUR/USD", side="BUY", type="LIMIT",
                                              amount=Decimal("1"), price=Decimal("0.95000"))
    # A live OCO of each user's (a buy limit below the market, a buy stop above it).
    own_list = post(client, ORDER_LISTS, {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY",
                                          "amount": "1", "price": "1.08000",
                                          "stop_price": "1.12000"}, token)
    other_list = trading_services.order_list_place(
        user_id=other.pk, venue="paper", symbol="EUR/USD", kind="OCO", side="BUY",
        amount=Decimal("1"), price=Decimal("1.08000"), stop_price=Decimal("1.12000"))
    assert {w.type for w in wallet_selectors.wallet_list(user_id=user.pk)} == {
        "SPOT", "FUTURES", "PAPER"}
    return World(token=token, own_open=own_open["id"],
                 own_canceled=own_canceled["id"], own_filled=own_filled["id"],
                 other_open=other_open.pk, own_client_order_id="o-existing",
                 own_client_transfer_id="t-existing", own_list=own_list["id"],
                 other_list=other_list.pk)


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker):
    """The world, built once for the module in a transaction that each test's own
    (rolled-back) transaction nests in, and that is rolled back at the end."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    # A fixed-time trade opened by a case is never settled: no timer thread outlives it.
    with django_db_blocker.unblock(), transaction.atomic(), mock.patch.object(
            fixedtime_tasks, "settlement_schedule", lambda trade: None):
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            celery_app.conf.task_always_eager = eager


@pytest.fixture
def world(module_world) -> World:
    """The world, with every cache emptied (the root conftest clears only the default one:
    no throttle or lockout counter carries from one case to the next) and a fresh quote."""
    for cache in caches.all(initialized_only=True):
        cache.clear()
    quote_again(fresh_quote())
    yield module_world
    for cache in caches.all(initialized_only=True):
        cache.clear()


STATE = rows_of(
    Currency, Wallet, Hold, Journal, Entry, Market, TwdMarket, Order, OrderList, Fill, Token,
    Trade, get_user_model(),
    wallets=Wallet.objects.order_by("pk").values_list(
        "pk", "user_id", "system", "type", "currency_id", "balance", "held"),
    holds=Hold.objects.order_by("pk").values_list("pk", "key", "remaining", "status"),
    orders=Order.objects.order_by("pk").values_list(
        "pk", "user_id", "client_order_id", "status", "amount", "remaining", "filled",
        "cost", "fee", "reason", "settle_error", "updated_at"),
    tokens=Token.objects.order_by("pk").values_list("pk", "user_id"),
    users=get_user_model().objects.order_by("pk").values_list(
        "pk", "username", "password", "is_active"),
    markets=Market.objects.order_by("pk").values_list(
        "pk", "venue", "symbol", "status", "maker_fee", "taker_fee", "tick_size",
        "lot_size", "updated_at"),
)


def snapshot() -> dict[str, list[tuple]]:
    """Every row a write endpoint could add, and every value it could change (read-only)."""
    return STATE.read()


@dataclass(frozen=True)
class Answer:
    status_code: int
    content_type: str
    content: bytes

    def json(self):
        return json.loads(self.content)


@contextmanager
def in_the_tests_transaction():
    """The request sees and writes the test's (uncommitted) rows, as with Django's test
    client: it runs its synchronous parts on this thread and its connection (Django would
    give each request a thread of its own) and does not close that connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with mock.patch.object(django_asgi, "ThreadSensitiveContext", nullcontext):
            yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def send(case: Case, world: World) -> Answer:
    """``case`` as a server hands it to the production ASGI application (exchange_platform
    .asgi: the body limit, then Django): the path percent-decoded, header values as bytes
    (a UTF-8 look-alike arrives as its bytes), the body as sent."""
    url = urlsplit(case.url(world))
    body = encode_body(case.body, world)
    headers = [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())]
    if case.content_type:
        headers.append((b"content-type", case.content_type.encode()))
    if case.endpoint != "token":
        authorization = case.auth(world) if case.auth else f"Token {world.token}"
        if authorization is not None:
            headers.append((b"authorization", authorization.encode("latin-1")))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": case.method, "scheme": "http", "path": unquote(url.path),
             "raw_path": url.path.encode(), "query_string": url.query.encode(),
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80)}

    async def exchange() -> Answer:
        app = ApplicationCommunicator(application, scope)
        await app.send_input({"type": "http.request", "body": body, "more_body": False})
        start = await app.receive_output(ANSWER_TIMEOUT)
        content = b""
        while True:
            message = await app.receive_output(ANSWER_TIMEOUT)
            content += message.get("body", b"")
            if not message.get("more_body"):
                break
        await app.send_input({"type": "http.disconnect"})
        await app.wait(ANSWER_TIMEOUT)
        response_headers = {name.lower(): value for name, value in start.get("headers", [])}
        return Answer(start["status"], response_headers.get(b"content-type", b"").decode(),
                      content)

    with in_the_tests_transaction():
        return async_to_sync(exchange)()


def describe(answer: Answer) -> str:
    return f"{answer.status_code}: {answer.content[:300]!r}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hostile_input_is_refused_and_changes_nothing(case, world):
    before = snapshot()
    response = send(case, world)

    assert 400 <= response.status_code < 500, describe(response)
    assert response.content_type.split(";")[0] == "application/json", describe(response)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert set(error) <= {"code", "message", "fields"}, body

    assert snapshot() == before
    assert wallet_selectors.reconcile() == []


# --- the suite can fail: the same requests, made valid, are answered and change state ----

VALID = [
    ("transfer", TRANSFER, {"currency": "USD", "amount": "10", "from_type": "SPOT",
                            "to_type": "FUTURES", "client_transfer_id": "t-new-1"}, 201),
    ("order", ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT", "amount": "1",
                       "price": "1.00000", "client_order_id": "o-new-1"}, 201),
    ("order_by_budget", ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET",
                                 "quote_amount": "10", "client_order_id": "o-new-1"}, 201),
    ("cancel", CANCEL, None, 200),
    ("token", TOKEN, {"username": USERNAME, "password": PASSWORD}, 200),
    ("fixedtime", FIXEDTIME, {"venue": "paper", "symbol": "EUR/USD", "mode": "LIVE",
                              "direction": "UP", "stake": "10", "expiry_seconds": 60}, 201),
    ("conditional-order", ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "STOP_LIMIT",
                                   "amount": "1", "price": "1.12500", "stop_price": "1.12000",
                                   "trigger_source": "LAST", "client_order_id": "o-new-1"},
     201),
    ("trailing-order", ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "TRAILING_STOP",
                                "amount": "1", "trailing_delta": "0.00500",
                                "activation_price": "1.09000"}, 201),
    ("order_list", ORDER_LISTS, {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY",
                                 "amount": "1", "price": "1.09000", "stop_price": "1.11000",
                                 "stop_limit_price": "1.11100", "trigger_source": "LAST",
                                 "client_order_id": "l-new-1"}, 201),
    ("bracket", ORDER_LISTS, {"symbol": "EUR/USD", "kind": "BRACKET", "side": "BUY",
                              "amount": "1", "price": "1.09000", "stop_price": "1.08000",
                              "take_profit_price": "1.12000", "entry_type": "LIMIT"}, 201),
    ("list_cancel", LIST_CANCEL, None, 200),
]


@pytest.mark.parametrize(("endpoint", "path", "body", "status"), VALID,
                         ids=[row[0] for row in VALID])
def test_the_valid_request_each_case_spoils_succeeds_and_is_seen(endpoint, path, body,
                                                                 status, world):
    """Each hostile case changes one thing of this request: it must itself succeed and
    change what the snapshot reads, or the cases would prove nothing."""
    if endpoint == "token":
        Token.objects.filter(key=world.token).delete()  # a login creates the token again
    before = snapshot()
    case = Case(id=f"valid-{endpoint}", endpoint=endpoint, field="", family="valid", path=path,
                body=body, path_args=lambda world: {"order_id": world.own_open,
                                                    "list_id": world.own_list})
    response = send(case, world)
    assert response.status_code == status, describe(response)
    assert snapshot() != before
    assert wallet_selectors.reconcile() == []


def test_every_field_and_path_parameter_of_every_write_endpoint_is_attacked():
    attacked = {(case.endpoint, case.field) for case in CASES}
    fields = {
        "transfer": set(TransferInput().fields),
        "order": set(OrderListCreateApi.PlaceInput().fields),
        "cancel": {"order_id"},
        "token": set(AuthTokenSerializer().fields) - {"token"},
        "fixedtime": set(TradeListCreateApi.FixedTimeOpenInput().fields),
    }
    fields["order_list"] = set(OrderListsApi.OrderListPlaceInput().fields)
    fields["list_cancel"] = {"list_id"}
    for endpoint, names in fields.items():
        assert {(endpoint, name) for name in names} <= attacked, endpoint
        assert (endpoint, "(body)") in attacked or endpoint.endswith("cancel")
    assert len(CASES) >= 300
    families = {(case.endpoint, case.family) for case in CASES}
    for endpoint in ("transfer", "order", "fixedtime", "order_list"):
        for family in ("encoding", "look-alike", "number", "container", "size", "body",
                       "credentials"):
            assert (endpoint, family) in families, (endpoint, family)
