"""Partner API keys: made through the API (two-factor and KYC first), signed requests
(HMAC-SHA256), their scopes, allowlist, window and nonce, revocation and expiry.

Each refusal is checked for its documented status and code and for changing nothing: the
refused request is a wallet transfer that would otherwise move funds.
"""
import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.api_keys import services as key_services
from apps.accounts.models import ApiKey, AuditEvent
from apps.wallets import services as wallet_services
from apps.wallets.models import Journal, Wallet
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOTP_SECRET = "JBSWY3DPEHPK3PXP"
TRANSFER = {"currency": "USDT", "amount": "5", "from_type": "SPOT", "to_type": "ECO"}


def signed_headers(*, key_id: str, secret: str, method: str, url: str, body: bytes = b"",
                   timestamp: int | None = None, nonce: str | None = None) -> dict:
    """The client side, written out as the README's example does it (not the server's
    code): the test fails if the two disagree."""
    parts = urlsplit(url)
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                     for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True)))
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(16)
    message = "\n".join([timestamp, nonce, method, parts.path, query]).encode() + b"\n" + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"HTTP_X_API_KEY": key_id, "HTTP_X_API_TIMESTAMP": timestamp,
            "HTTP_X_API_NONCE": nonce, "HTTP_X_API_SIGNATURE": signature}


def call(method: str, url: str, key: ApiKey, secret: str, body: bytes = b"",
         remote: str = "127.0.0.1", **overrides):
    headers = signed_headers(key_id=key.key_id, secret=secret, method=method, url=url,
                             body=body, **overrides)
    return APIClient().generic(method, url, data=body, content_type="application/json",
                               REMOTE_ADDR=remote, **headers)


@pytest.fixture
def partner(currencies):
    user = UserFactory()
    TOTP.activate(user, TOTP_SECRET)
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                            amount=Decimal("100"), key="dep")
    return user


def make_key(user, scopes=("read", "trade", "transfer"), **kwargs) -> tuple[ApiKey, str]:
    return key_services.api_key_create(user_id=user.pk, label="bot", scopes=list(scopes),
                                       **kwargs)


def transfer(key, secret, **kwargs):
    return call("POST", "/api/v1/wallets/transfer/", key, secret,
                body=json.dumps(TRANSFER).encode(), **kwargs)


def unchanged(user) -> bool:
    return (Wallet.objects.get(user=user, type="SPOT", currency="USDT").balance
            == Decimal("100")
            and not Wallet.objects.filter(user=user, type="ECO").exists()
            and Journal.objects.count() == 1)


def test_a_valid_signed_request_passes(partner):
    key, secret = make_key(partner)
    listed = call("GET", "/api/v1/wallets/?x=1&a=b%20c", key, secret)
    assert listed.status_code == 200, listed.json()
    assert listed.json()[0]["balance"] == "100"
    moved = transfer(key, secret)
    assert moved.status_code == 201, moved.json()
    assert Wallet.objects.get(user=partner, type="ECO").balance == Decimal("5")
    key.refresh_from_db()
    assert key.last_used_ip == "127.0.0.1"
    assert AuditEvent.objects.filter(kind="api_key_used", object_id=str(key.pk)).exists()


@pytest.mark.parametrize(("tamper", "status", "code"), [
    ("signature", 401, "signature_invalid"),
    ("old_timestamp", 401, "timestamp_outside_window"),
    ("future_timestamp", 401, "timestamp_outside_window"),
    ("malformed", 401, "signature_malformed"),
    ("unknown_key", 401, "api_key_invalid"),
    ("body_changed", 401, "signature_invalid"),
])
def test_a_tampered_request_is_refused_and_changes_nothing(partner, tamper, status, code):
    key, secret = make_key(partner)
    body = json.dumps(TRANSFER).encode()
    headers = signed_headers(key_id=key.key_id, secret=secret, method="POST",
                             url="/api/v1/wallets/transfer/", body=body)
    if tamper == "signature":
        headers = signed_headers(key_id=key.key_id, secret=secret + "x", method="POST",
                                 url="/api/v1/wallets/transfer/", body=body)
    elif tamper == "old_timestamp":
        headers = signed_headers(key_id=key.key_id, secret=secret, method="POST",
                                 url="/api/v1/wallets/transfer/", body=body,
                                 timestamp=int(time.time()) - 31)
    elif tamper == "future_timestamp":
        headers = signed_headers(key_id=key.key_id, secret=secret, method="POST",
                                 url="/api/v1/wallets/transfer/", body=body,
                                 timestamp=int(time.time()) + 31)
    elif tamper == "malformed":
        headers["HTTP_X_API_NONCE"] = "short"
    elif tamper == "unknown_key":
        headers["HTTP_X_API_KEY"] = "ak_" + "0" * 32
    elif tamper == "body_changed":
        body = json.dumps({**TRANSFER, "amount": "50"}).encode()
    response = APIClient().generic("POST", "/api/v1/wallets/transfer/", data=body,
                                   content_type="application/json", **headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert unchanged(partner)


def test_a_replayed_nonce_is_refused(partner):
    key, secret = make_key(partner)
    body = json.dumps({**TRANSFER, "client_transfer_id": "t-1"}).encode()
    headers = signed_headers(key_id=key.key_id, secret=secret, method="POST",
                             url="/api/v1/wallets/transfer/", body=body)
    first = APIClient().generic("POST", "/api/v1/wallets/transfer/", data=body,
                                content_type="application/json", **headers)
    assert first.status_code == 201
    again = APIClient().generic("POST", "/api/v1/wallets/transfer/", data=body,
                                content_type="application/json", **headers)
    assert again.status_code == 401 and again.json()["error"]["code"] == "nonce_reused"
    assert Journal.objects.count() == 2  # the deposit and the one transfer


def test_a_refused_request_burns_no_nonce(partner):
    key, secret = make_key(partner, allowed_ips=["10.0.0.0/8"])
    nonce = secrets.token_urlsafe(16)
    refused = call("GET", "/api/v1/wallets/", key, secret, nonce=nonce, remote="192.0.2.1")
    assert refused.status_code == 403
    passed = call("GET", "/api/v1/wallets/", key, secret, nonce=nonce, remote="10.1.2.3")
    assert passed.status_code == 200


@pytest.mark.parametrize(("scopes", "method", "url", "needed"), [
    (["read"], "POST", "/api/v1/wallets/transfer/", "transfer"),
    (["read", "trade"], "POST", "/api/v1/wallets/transfer/", "transfer"),
    (["read", "transfer"], "POST", "/api/v1/twd/orders/", "trade"),
    (["read", "transfer"], "POST", "/api/v1/twd/orders/1/cancel/", "trade"),
    (["trade"], "GET", "/api/v1/wallets/", "read"),
])
def test_a_key_without_the_scope_gets_403(partner, scopes, method, url, needed):
    key, secret = make_key(partner, scopes=scopes)
    body = json.dumps(TRANSFER).encode() if method == "POST" else b""
    response = call(method, url, key, secret, body=body)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "api_key_scope" and repr(needed) in error["message"]
    assert unchanged(partner)


def test_a_disallowed_address_gets_403(partner):
    key, secret = make_key(partner, allowed_ips=["10.0.0.0/8", "2001:db8::/32"])
    refused = transfer(key, secret, remote="192.0.2.1")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ip_not_allowed"
    assert unchanged(partner)
    assert AuditEvent.objects.filter(kind="api_key_refused", message="ip_not_allowed").exists()
    assert call("GET", "/api/v1/wallets/", key, secret, remote="2001:db8::1").status_code == 200


def test_a_revoked_key_gets_401_from_the_next_request_on(partner):
    key, secret = make_key(partner)
    assert call("GET", "/api/v1/wallets/", key, secret).status_code == 200
    client = APIClient()
    client.force_authenticate(partner)
    revoked = client.post(f"/api/v1/accounts/api-keys/{key.key_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = transfer(key, secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"
    assert unchanged(partner)


def test_an_expired_key_gets_401(partner):
    key, secret = make_key(partner, expires_at=timezone.now() + timedelta(seconds=60))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = transfer(key, secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"
    assert unchanged(partner)


def test_another_users_key_cannot_be_revoked(partner):
    key, _ = make_key(partner)
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.post(f"/api/v1/accounts/api-keys/{key.key_id}/revoke/")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_rate_limit_answers_429_with_retry_after(partner, settings):
    # An hour's window: the requests below fall in one window (one turning over during
    # them would be a chance of a few milliseconds in 3600 s).
    settings.API_KEY_RATE_WINDOW_SECONDS = 3600
    settings.API_KEY_RATE_LIMIT = 5
    settings.API_KEY_REQUEST_WEIGHTS = {"wallet-list": 2}
    key, secret = make_key(partner)
    responses = [call("GET", "/api/v1/wallets/", key, secret) for _ in range(4)]
    # Weight 2 each: two fit in 5, a third would make 6; a refusal gives its weight back,
    # so a request of weight 1 still fits.
    assert [response.status_code for response in responses] == [200, 200, 429, 429]
    assert 0 < int(responses[2]["Retry-After"]) <= 3600
    assert responses[2].json()["error"]["code"] == "throttled"
    assert call("GET", "/api/v1/accounts/api-keys/", key, secret).status_code == 401
    settings.API_KEY_REQUEST_WEIGHTS = {}
    assert call("GET", "/api/v1/wallets/", key, secret).status_code == 200
    assert call("GET", "/api/v1/wallets/", key, secret).status_code == 429
    other, other_secret = make_key(partner)  # the limit is per key
    assert call("GET", "/api/v1/wallets/", other, other_secret).status_code == 200


# --- Making keys -----------------------------------------------------------------------


def test_a_key_is_made_through_the_api_and_its_secret_shown_once(partner):
    client = APIClient()
    client.force_authenticate(partner)
    made = client.post("/api/v1/accounts/api-keys/", {
        "label": "bot", "scopes": ["read", "trade"], "allowed_ips": ["192.0.2.0/24"]},
        format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["scopes"] == ["read", "trade"] and body["allowed_ips"] == ["192.0.2.0/24"]
    stored = ApiKey.objects.get(key_id=body["key_id"])
    assert body["secret"] not in stored.secret_encrypted
    listed = client.get("/api/v1/accounts/api-keys/").json()
    assert [item["key_id"] for item in listed] == [body["key_id"]]
    assert "secret" not in listed[0]
    assert call("GET", "/api/v1/wallets/", stored, body["secret"],
                remote="192.0.2.7").status_code == 200
    assert AuditEvent.objects.filter(kind="api_key_created", actor_id=partner.pk).exists()


def test_making_a_key_needs_two_factor(currencies):
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/v1/accounts/api-keys/", {"label": "b", "scopes": ["read"]},
                           format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mfa_required"
    assert not ApiKey.objects.exists()


def test_making_a_key_needs_its_kyc_level(currencies):
    user = UserFactory(email_verified=False)
    TOTP.activate(user, TOTP_SECRET)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/v1/accounts/api-keys/", {"label": "b", "scopes": ["read"]},
                           format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "kyc_required"
    assert not ApiKey.objects.exists()


def test_an_api_key_cannot_make_keys(partner):
    key, secret = make_key(partner)
    body = json.dumps({"label": "x", "scopes": ["read"]}).encode()
    response = call("POST", "/api/v1/accounts/api-keys/", key, secret, body=body)
    assert response.status_code == 401
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("payload", [
    {"label": "b", "scopes": []},
    {"label": "b", "scopes": ["admin"]},
    {"label": "b", "scopes": ["READ"]},
    {"label": " ", "scopes": ["read"]},
    {"label": "b", "scopes": ["read"], "allowed_ips": ["10.0.0.1/8"]},
    {"label": "b", "scopes": ["read"], "allowed_ips": ["not-an-ip"]},
    {"label": "b", "scopes": ["read"], "allowed_ips": ["10.0.0.0/8"] * 21},
    {"label": "b", "scopes": ["read"], "expires_at": "2000-01-01T00:00:00Z"},
    {"label": "b", "scopes": "read"},
])
def test_bad_key_input_is_a_400(partner, payload):
    client = APIClient()
    client.force_authenticate(partner)
    response = client.post("/api/v1/accounts/api-keys/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert not ApiKey.objects.exists()


def test_keys_per_user_are_limited(partner, settings):
    settings.API_KEY_MAX_PER_USER = 2
    make_key(partner)
    second, _ = make_key(partner)
    client = APIClient()
    client.force_authenticate(partner)
    payload = {"label": "b", "scopes": ["read"]}
    assert client.post("/api/v1/accounts/api-keys/", payload, format="json").status_code == 409
    key_services.api_key_revoke(user_id=partner.pk, key_id=second.key_id)
    assert client.post("/api/v1/accounts/api-keys/", payload, format="json").status_code == 201


# --- The account page -----------------------------------------------------------------


def test_the_account_page_makes_a_key_shows_its_secret_once_and_revokes_it(partner):
    from django.test import Client

    client = Client()
    client.force_login(partner)
    made = client.post("/account/api-keys/", {"label": "desk bot", "scopes": ["read"],
                                              "allowed_ips": "10.0.0.0/8, 192.0.2.1",
                                              "expires_in_days": "30"})
    assert made.status_code == 200
    key = ApiKey.objects.get(user=partner)
    secret = made.context["new_secret"]
    assert secret in made.content.decode() and key.allowed_ips == ["10.0.0.0/8",
                                                                   "192.0.2.1/32"]
    assert made["Cache-Control"].startswith("max-age=0")
    page = client.get("/account/").content.decode()
    assert key.key_id in page and secret not in page
    assert call("GET", "/api/v1/wallets/", key, secret, remote="10.9.9.9").status_code == 200
    client.post(f"/account/api-keys/{key.key_id}/revoke/")
    assert call("GET", "/api/v1/wallets/", key, secret, remote="10.9.9.9").status_code == 401


def test_the_account_page_refuses_a_key_without_two_factor(currencies):
    from django.test import Client

    user = UserFactory()
    client = Client()
    client.force_login(user)
    refused = client.post("/account/api-keys/", {"label": "b", "scopes": ["read"]})
    assert refused.status_code == 400 and "two-factor" in refused.content.decode()
    assert not ApiKey.objects.exists()


def test_every_view_a_key_reaches_enforces_its_scopes():
    """A view that sets its own permission_classes drops the default scope check: only
    public reads (AllowAny, safe methods) may, since any key may read them anyway."""
    from django.urls import get_resolver
    from rest_framework.permissions import AllowAny
    from rest_framework.views import APIView

    from apps.accounts.api_keys.authentication import (
        ApiKeyAuthentication,
        ApiKeyScopePermission,
    )

    def views(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern.url_patterns)
            else:
                cls = getattr(pattern.callback, "view_class", None)
                if cls is not None and issubclass(cls, APIView):
                    yield cls

    checked = 0
    for view in set(views(get_resolver().url_patterns)):
        if not any(isinstance(a, ApiKeyAuthentication) for a in view().get_authenticators()):
            continue
        checked += 1
        permissions = view().get_permissions()
        if any(isinstance(p, ApiKeyScopePermission) for p in permissions):
            continue
        unsafe = {"post", "put", "patch", "delete"} & set(dir(view))
        assert all(isinstance(p, AllowAny) for p in permissions) and not unsafe, view
    assert checked > 10


@pytest.mark.parametrize(("header", "value"), [
    ("HTTP_X_API_KEY", "ak_" + "0" * 10_000),
    ("HTTP_X_API_KEY", "AK_" + "0" * 32),
    ("HTTP_X_API_KEY", "ak_" + "０" * 32),  # full-width digits
    ("HTTP_X_API_TIMESTAMP", "9" * 20),
    ("HTTP_X_API_TIMESTAMP", "-1"),
    ("HTTP_X_API_TIMESTAMP", "١٧٠٠٠٠٠٠٠٠"),  # Arabic-Indic digits
    ("HTTP_X_API_TIMESTAMP", "1e9"),
    ("HTTP_X_API_NONCE", "n" * 65),
    ("HTTP_X_API_NONCE", "nonce with spaces ok?"),
    ("HTTP_X_API_SIGNATURE", "A" * 64),
    ("HTTP_X_API_SIGNATURE", ""),
])
def test_hostile_headers_are_a_401_and_change_nothing(partner, header, value):
    key, secret = make_key(partner)
    body = json.dumps(TRANSFER).encode()
    headers = signed_headers(key_id=key.key_id, secret=secret, method="POST",
                             url="/api/v1/wallets/transfer/", body=body)
    headers[header] = value
    response = APIClient().generic("POST", "/api/v1/wallets/transfer/", data=body,
                                   content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"signature_malformed", "api_key_invalid"}
    assert unchanged(partner)


@pytest.mark.parametrize("key_id", ["AK_{}", "{} ", "{}\u200b", "{}" + "x" * 50])
def test_look_alike_key_ids_revoke_nothing(partner, key_id):
    key, _ = make_key(partner)
    client = APIClient()
    client.force_authenticate(partner)
    look_alike = key_id.format(key.key_id[3:] if key_id.startswith("AK_") else key.key_id)
    response = client.post(f"/api/v1/accounts/api-keys/{quote(look_alike)}/revoke/")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.parametrize("payload", [
    {"label": 123, "scopes": ["read"]},
    {"label": "b", "scopes": ["read"], "allowed_ips": [167772160]},
])
def test_key_fields_take_strings_only(partner, payload):
    client = APIClient()
    client.force_authenticate(partner)
    response = client.post("/api/v1/accounts/api-keys/", payload, format="json")
    assert response.status_code == 400
    assert not ApiKey.objects.exists()
