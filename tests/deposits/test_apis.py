"""The intents API: a user creates, lists and reads their own intents; hostile input is a
4xx in the API's error format and creates nothing."""
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from rest_framework.authtoken.models import Token

from apps.deposits import selectors, services
from apps.deposits.models import DepositIntent
from tests.api.cases import (
    Raw,
    RawBytes,
    containers,
    encode_body,
    encodings,
    numbers,
    scalars,
    sizes,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
INTENTS = "/api/v1/deposits/intents/"


@pytest.fixture
def client(depositor) -> Client:
    token = Token.objects.create(user=depositor).key
    # A 500 is an answer to assert on, not an exception in the test.
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


def create(client: Client, body) -> "object":
    data = body if isinstance(body, bytes) else encode_body(body, None)
    return client.post(INTENTS, data=data, content_type="application/json")


def link(body: dict) -> tuple[str, str]:
    """The payment page's address and the token the link carries."""
    url = urlsplit(body["payment_url"])
    (token,) = parse_qs(url.query, strict_parsing=True)["token"]
    return f"{url.scheme}://{url.netloc}{url.path}", token


def test_an_intent_is_created_with_its_terms_and_a_signed_payment_link(client, depositor,
                                                                       settings):
    answer = create(client, {"amount": "100.01"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    intent = DepositIntent.objects.get()
    assert body["id"] == str(intent.public_id) and intent.user == depositor
    assert {k: body[k] for k in ("amount", "currency", "coin", "rate", "pay_amount", "status",
                                 "tx_hash", "confirmed_at")} == {
        "amount": "100.01", "currency": "USDT", "coin": "SGC", "rate": "2",
        "pay_amount": "50.005", "status": "PENDING", "tx_hash": None, "confirmed_at": None}
    url, query = link(body)
    assert url == settings.DEPOSIT_PAYMENT_URL
    payload = signing.loads(query, salt=selectors.LINK_SALT)
    assert payload == {"intent": body["id"], "coin": "SGC", "pay_amount": "50.005",
                       "expires_at": int(intent.expires_at.timestamp())}
    # Altered, the link does not verify.
    forged = query.replace(query[:8], query[:7] + ("A" if query[7] != "A" else "B"))
    with pytest.raises(signing.BadSignature):
        signing.loads(forged, salt=selectors.LINK_SALT)


def test_the_link_is_signed_with_the_secret_shared_with_the_chain(client, settings):
    settings.DEPOSIT_LINK_SECRET = "shared-with-the-chain"
    _, token = link(create(client, {"amount": "10"}).json())
    assert signing.loads(token, key="shared-with-the-chain", salt=selectors.LINK_SALT)
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt=selectors.LINK_SALT)


def test_fields_a_client_may_not_set_are_ignored(client, depositor):
    other = UserFactory()
    answer = create(client, {"amount": "10", "user": other.pk, "status": "CONFIRMED",
                             "rate": "1000", "pay_amount": "0.01", "currency": "BTC"})
    assert answer.status_code == 201
    intent = DepositIntent.objects.get()
    assert (intent.user, intent.status, intent.rate, intent.pay_amount, intent.currency) == (
        depositor, "PENDING", Decimal("2"), Decimal("5"), "USDT")


def test_a_user_lists_and_reads_only_their_own_intents(client, depositor):
    other = UserFactory()
    mine = [services.intent_create(user_id=depositor.pk, amount=Decimal(n)) for n in "123"]
    theirs = services.intent_create(user_id=other.pk, amount=Decimal("5"))
    page = client.get(INTENTS, {"limit": "2"}).json()
    assert [i["id"] for i in page["results"]] == [str(mine[2].public_id),
                                                  str(mine[1].public_id)]
    rest = client.get(page["next"]).json()
    assert [i["id"] for i in rest["results"]] == [str(mine[0].public_id)]
    assert client.get(f"{INTENTS}{mine[0].public_id}/").json()["amount"] == "1"
    hidden = client.get(f"{INTENTS}{theirs.public_id}/")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", [
    "{upper}", "{hex}", "{{{id}}}", "{id}x", "12", "00000000-0000-0000-0000-000000000000",
    "../{id}", "{id}%00", "%EF%BC%A1",
])
def test_malformed_or_unknown_intent_ids_are_404(client, depositor, path):
    intent = services.intent_create(user_id=depositor.pk, amount=Decimal("1"))
    ident = str(intent.public_id)
    url = INTENTS + path.format(id=ident, upper=ident.upper(), hex=intent.public_id.hex) + "/"
    answer = client.get(url)
    assert answer.status_code == 404 and "error" in answer.json()


def test_without_credentials_nothing_is_shown_or_created(depositor):
    anonymous = Client()
    assert anonymous.get(INTENTS).status_code == 401
    assert anonymous.post(INTENTS, {"amount": "10"}, content_type="application/json"
                          ).status_code == 401
    assert not DepositIntent.objects.exists()


HOSTILE = [
    *[(f"amount-{label}", {"amount": value})
      for label, value in numbers(decimals=8, too_big="100000.00000001")],
    *[(f"amount-{label}", {"amount": value}) for label, value in encodings("10")],
    *[(f"amount-{label}", {"amount": value}) for label, value in containers("10")],
    *[(f"amount-{label}", {"amount": value}) for label, value in scalars(numbers=False)],
    *[(f"amount-{label}", {"amount": value}) for label, value in sizes("10")],
    ("amount-below-minimum", {"amount": "0.99999999"}),
    ("amount-missing", {}), ("body-list", [{"amount": "10"}]), ("body-string", "10"),
    ("body-number", 10), ("body-null", None), ("body-deep", Raw("[" * 5000 + "]" * 5000)),
    ("body-not-utf8", RawBytes(b'{"amount": "1\xff"}')), ("body-truncated", Raw('{"amount":')),
    ("body-nan", Raw('{"amount": NaN}')),
]


@pytest.mark.parametrize("body", [case[1] for case in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_input_is_refused_and_creates_nothing(client, body):
    answer = create(client, body)
    assert 400 <= answer.status_code < 500, answer.content[:300]
    error = answer.json()["error"]
    assert error["code"] and error["message"]
    assert not DepositIntent.objects.exists()


def test_a_body_that_is_not_json_is_415(client):
    answer = client.post(INTENTS, data="amount=10",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415 and not DepositIntent.objects.exists()


def test_the_schema_documents_the_endpoints_and_the_webhooks_refusals(client):
    schema = json.loads(Client().get("/api/schema/?format=json").content)
    paths = schema["paths"]
    assert {"/api/v1/deposits/intents/", "/api/v1/deposits/intents/{intent_id}/",
            "/api/v1/deposits/webhook/"} <= set(paths)
    statuses = {f"{method.upper()} {path}": sorted(operation["responses"])
                for path, item in paths.items() if "/deposits/" in path
                for method, operation in item.items()}
    assert statuses == {
        "GET /api/v1/deposits/intents/": ["200", "400", "401", "429"],
        "POST /api/v1/deposits/intents/": ["201", "400", "401", "403", "409", "413", "415",
                                           "429"],
        "GET /api/v1/deposits/intents/{intent_id}/": ["200", "401", "404", "429"],
        "POST /api/v1/deposits/webhook/": ["202", "400", "401", "403", "413", "415", "429"],
    }
    webhook = paths["/api/v1/deposits/webhook/"]["post"]
    assert "stale_timestamp" in webhook["responses"]["401"]["description"]
    assert {p["name"] for p in webhook["parameters"]} == {"X-Deposit-Timestamp",
                                                         "X-Deposit-Signature"}


def test_past_the_pending_limit_a_create_is_a_409_with_a_clear_message(client, settings):
    settings.DEPOSIT_MAX_PENDING_INTENTS = 1
    assert create(client, {"amount": "10"}).status_code == 201
    refused = create(client, {"amount": "10"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_pending_intents"
    assert "the most allowed" in refused.json()["error"]["message"]
    assert DepositIntent.objects.count() == 1
