import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.wallets import services
from apps.wallets.models import Journal, Wallet
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(user, currencies):
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                     amount=Decimal("100"), key="dep")
    return user


def test_anonymous_gets_401_in_the_error_format(db):
    response = APIClient().get("/api/v1/wallets/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_token_auth_lists_own_wallets_only(funded):
    other = UserFactory()
    services.deposit(user_id=other.pk, wallet_type="SPOT", currency="BTC", amount=Decimal("1"),
                     key="other")
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": funded.username,
                                                 "password": "pw-for-tests-only"},
                        format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = client.get("/api/v1/wallets/").json()
    assert body == [{"type": "SPOT", "currency": "USDT", "balance": "100", "held": "0",
                     "available": "100", "updated_at": body[0]["updated_at"]}]


def test_bad_login_is_a_400(db):
    response = APIClient().post("/api/v1/auth/token/", {"username": "x", "password": "y"},
                                format="json")
    assert response.status_code == 400
    assert "Unable to log in" in response.json()["error"]["message"]


def test_ledger_cursor_pagination(api, funded):
    for i in range(5):
        services.transfer(user_id=funded.pk, currency="USDT", amount=Decimal("1"),
                          from_type="SPOT", to_type="FUTURES", key=f"t{i}")
    page = api.get("/api/v1/wallets/spot/usdt/ledger/?limit=4").json()
    assert [e["amount"] for e in page["results"]] == ["-1"] * 4
    assert [e["balance_after"] for e in page["results"]] == ["95", "96", "97", "98"]
    rest = api.get(page["next"]).json()
    assert [(e["kind"], e["amount"]) for e in rest["results"]] == [("TRANSFER", "-1"),
                                                                   ("DEPOSIT", "100")]
    assert rest["next"] is None


def test_ledger_of_missing_or_foreign_wallet_is_404(api, funded):
    other = UserFactory()
    services.deposit(user_id=other.pk, wallet_type="SPOT", currency="BTC", amount=Decimal("1"),
                     key="other")
    for url in ("/api/v1/wallets/SPOT/BTC/ledger/", "/api/v1/wallets/NOPE/USDT/ledger/"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["message"]


def test_transfer_is_idempotent_on_client_id(api, funded):
    payload = {"currency": "USDT", "amount": "12.5", "from_type": "SPOT", "to_type": "ECO",
               "client_transfer_id": "abc-1"}
    first = api.post("/api/v1/wallets/transfer/", payload, format="json")
    second = api.post("/api/v1/wallets/transfer/", payload, format="json")
    assert first.status_code == second.status_code == 201
    assert Wallet.objects.get(user=funded, type="ECO").balance == Decimal("12.5")


BAD_AMOUNTS = [
    ("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ('"-5"', "negative"),
    ("-5", "negative"), ('"0"', "greater than zero"), ("0", "greater than zero"),
    ('"1.123456789"', "decimal places"), ("1e2", "exponent"), ('"1e2"', "exponent"),
    ("true", "decimal number"), ("[1]", "decimal number"), ('{"v": 1}', "decimal number"),
    ('"١٢"', "plain decimal"), ('"1' + "0" * 30 + '"', "too large"), ("null", "null"),
    ('"abc"', "plain decimal"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_AMOUNTS)
def test_bad_amounts_through_the_api_write_nothing(api, funded, raw, message):
    journals = Journal.objects.count()
    body = ('{"currency": "USDT", "from_type": "SPOT", "to_type": "FUTURES", "amount": '
            + raw + "}")
    response = api.post("/api/v1/wallets/transfer/", body, content_type="application/json")
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert message.lower() in json.dumps(error).lower()
    assert Journal.objects.count() == journals
    assert not Wallet.objects.filter(type="FUTURES").exists()


@pytest.mark.parametrize(("payload", "status", "message"), [
    ({"currency": "USDT", "amount": "1000", "from_type": "SPOT", "to_type": "ECO"}, 409,
     "Insufficient"),
    ({"currency": "USDT", "amount": "1", "from_type": "SPOT", "to_type": "PAPER"}, 400, "Paper"),
    ({"currency": "USDT", "amount": "1", "from_type": "SPOT", "to_type": "SPOT"}, 400, "differ"),
    ({"currency": "ZZZ", "amount": "1", "from_type": "SPOT", "to_type": "ECO"}, 400,
     "Unknown currency"),
    ({"currency": "USDT", "amount": "1", "from_type": "SPOT", "to_type": "MOON"}, 400,
     "to_type"),
    ({"currency": "USDT", "amount": "1", "from_type": "SPOT", "to_type": "ECO",
      "client_transfer_id": "has space"}, 400, "client_transfer_id"),
])
def test_refused_transfers_change_nothing(api, funded, payload, status, message):
    response = api.post("/api/v1/wallets/transfer/", payload, format="json")
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert Wallet.objects.get(user=funded, type="SPOT").balance == Decimal("100")
    assert Journal.objects.count() == 1


def test_malformed_json_is_a_400(api, funded):
    response = api.post("/api/v1/wallets/transfer/", "{not json",
                        content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_openapi_schema_and_docs(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/wallets/{wallet_type}/{currency}/ledger/" in schema.json()["paths"]
    assert api.get("/api/docs/").status_code == 200
