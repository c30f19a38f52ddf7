"""The API contract: every error under /api/ is the JSON error body, whatever the client
sends, and pages outside /api/ keep their HTML."""
import asyncio
import base64
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.test import Client, override_settings
from django.urls import path
from rest_framework import serializers
from rest_framework.views import APIView

from apps.core.api import AmountField, InputSerializer, OutputSerializer
from apps.core.middleware import BodyLimitMiddleware
from apps.wallets import services
from apps.wallets.models import Journal, Wallet

pytestmark = pytest.mark.django_db

TRANSFER = "/api/v1/wallets/transfer/"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "fields"}
    assert body["error"]["message"] and not body["error"]["message"].startswith("detail:")
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def funded(user, currencies):
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                     amount=Decimal("100"), key="dep")
    return user


def unchanged(user) -> tuple:
    return (Journal.objects.count(),
            sorted(Wallet.objects.filter(user=user).values_list("currency_id", "balance")))


# --- Unknown URLs --------------------------------------------------------------------------

@pytest.mark.parametrize("method,url", [
    ("get", "/api/v1/nothing/"),
    ("get", "/api/"),
    ("post", "/api/v1/twd/orders/abc/cancel/"),  # a malformed id in a path
    ("post", "/api/v1/twd/orders/-1/cancel/"),
    ("post", "/api/v1/twd/orders/1/cancel"),  # no trailing slash: no redirect
    ("delete", "/api/v1/wallets/SPOT/USDT/"),
])
def test_unknown_api_url_is_a_json_404(api, method, url):
    error = assert_error(getattr(api, method)(url), 404, "not_found")
    assert url in error["message"]


def test_missing_slash_is_pointed_out(api):
    error = assert_error(api.post("/api/v1/wallets/transfer"), 404)
    assert "Did you mean /api/v1/wallets/transfer/ ?" in error["message"]


def test_pages_outside_the_api_keep_html(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- Bodies -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,  # a RecursionError in the decoder: was a 500
    '{"a":' * 50_000 + "1" + "}" * 50_000,
])
def test_json_nested_too_deep_is_a_400(api, funded, body):
    before = unchanged(funded)
    error = assert_error(api.post(TRANSFER, body, content_type="application/json"), 400,
                         "parse_error")
    assert "nested too deeply" in error["message"]
    assert unchanged(funded) == before


@pytest.mark.parametrize("body", [
    b"\xff\xfe{}",  # not UTF-8
    b'{"amount": "1', b"", b"nul", b'{"amount": NaN}',
    b'{"amount": ' + b"9" * 5000 + b"}",  # over Python's int digit limit
    b'{"from_type": "\\ud800"}', b'{"\\udfff": 1}', b'[["\\ud83d"]]',  # lone surrogates: were 500s
])
def test_malformed_json_is_a_400(api, funded, body):
    before = unchanged(funded)
    assert_error(api.post(TRANSFER, body, content_type="application/json"), 400)
    assert unchanged(funded) == before


@pytest.mark.parametrize("body", ["[1, 2]", '"USDT"', "12", "null", "true",
                                  '{"amount": 1e999999}'])
def test_json_that_is_not_an_object_is_a_400_with_fields(api, funded, body):
    before = unchanged(funded)
    error = assert_error(api.post(TRANSFER, body, content_type="application/json"), 400,
                         "invalid")
    assert isinstance(error["fields"], dict)
    assert unchanged(funded) == before


@pytest.mark.parametrize("url", [TRANSFER, "/api/v1/twd/orders/", "/api/v1/twd/orders/1/cancel/",
                                 "/api/v1/auth/token/"])
@pytest.mark.parametrize("content_type,body", [
    ("multipart/form-data; boundary=x",
     "--x\r\nContent-Disposition: form-data; name=\"currency\"\r\n\r\nUSDT\r\n--x--\r\n"),
    ("multipart/form-data; boundary=x", "--x\r\nbroken"),
    ("application/x-www-form-urlencoded", "currency=USDT&amount=1"),
    ("text/plain", '{"currency": "USDT"}'),
    ("", '{"currency": "USDT"}'),
])
def test_a_body_that_is_not_json_is_a_415_on_every_endpoint(api, funded, url, content_type,
                                                              body):
    before = unchanged(funded)
    assert_error(api.generic("POST", url, body, content_type=content_type), 415,
                 "unsupported_media_type")
    assert unchanged(funded) == before


def test_session_user_with_a_form_body_gets_415_not_a_csrf_parse(funded):
    client = Client(enforce_csrf_checks=True)
    client.force_login(funded)
    assert_error(client.generic("POST", TRANSFER, "--x\r\nbroken",
                                content_type="multipart/form-data; boundary=x"), 415)


def test_json_with_a_charset_is_accepted(api, funded):
    body = json.dumps({"currency": "USDT", "amount": "1", "from_type": "SPOT",
                       "to_type": "FUTURES"})
    response = api.generic("POST", TRANSFER, body, content_type="application/json; charset=utf-8")
    assert response.status_code == 201


# --- Body size (the ASGI guard, as uvicorn serves it) ----------------------------------------

def run_asgi(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]):
    """Drive BodyLimitMiddleware around a recording app; returns (app calls, sent messages)."""
    calls = []

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        calls.append((dict(scope["headers"]), body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": headers}
    asyncio.run(BodyLimitMiddleware(app)(scope, receive, send))
    return calls, sent


@override_settings(API_MAX_BODY_BYTES=100)
def test_a_declared_body_over_the_limit_is_a_413_before_it_is_read():
    calls, sent = run_asgi(TRANSFER, [b"x" * 101], [(b"content-length", b"101"),
                                                    (b"content-type", b"application/json")])
    assert calls == []
    assert sent[0]["status"] == 413
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"]["code"] == "too_large"


@override_settings(API_MAX_BODY_BYTES=100)
def test_a_chunked_body_over_the_limit_is_a_413():
    calls, sent = run_asgi(TRANSFER, [b"x" * 60, b"x" * 60, b"x" * 60],
                           [(b"transfer-encoding", b"chunked")])
    assert calls == []
    assert sent[0]["status"] == 413


@override_settings(API_MAX_BODY_BYTES=100)
def test_a_chunked_body_within_the_limit_reaches_the_app_with_its_length():
    calls, sent = run_asgi(TRANSFER, [b"x" * 50, b"y" * 50], [(b"transfer-encoding", b"chunked")])
    assert calls == [({b"content-length": b"100"}, b"x" * 50 + b"y" * 50)]
    assert sent[0]["status"] == 200


@override_settings(API_MAX_BODY_BYTES=100)
def test_the_body_limit_is_for_the_api_only():
    calls, sent = run_asgi("/login/", [b"x" * 500], [(b"content-length", b"500")])
    assert len(calls) == 1 and sent[0]["status"] == 200


@pytest.mark.django_db(transaction=True)  # the ASGI handler runs the view on its own thread
def test_chunked_json_through_the_asgi_app_is_read(funded, settings):
    """Django's ASGI request sees no Content-Length for a chunked body, and DRF would read
    it as empty: the guard gives it one."""
    from rest_framework.authtoken.models import Token

    from exchange_platform.asgi import application

    token = Token.objects.create(user=funded)
    body = json.dumps({"currency": "USDT", "amount": "1", "from_type": "SPOT",
                       "to_type": "FUTURES"}).encode()
    messages = [{"type": "http.request", "body": body[:10], "more_body": True},
                {"type": "http.request", "body": body[10:], "more_body": False}]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a client that stays connected: no disconnect

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": TRANSFER, "method": "POST", "query_string": b"",
             "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked"),
                         (b"authorization", f"Token {token.key}".encode())],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80), "scheme": "http"}
    settings.SECURE_SSL_REDIRECT = False
    asyncio.run(application(scope, receive, send))
    assert sent[0]["status"] == 201, sent


# --- Methods, media types of answers, Django's own errors ----------------------------------

@pytest.mark.parametrize("method,url", [("delete", "/api/v1/wallets/"),
                                        ("put", TRANSFER), ("get", TRANSFER),
                                        ("patch", "/api/v1/twd/orders/1/cancel/")])
def test_a_method_not_allowed_is_a_json_405_with_allow(api, method, url):
    response = getattr(api, method)(url)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]


def test_an_html_accept_still_gets_json(api):
    response = api.get("/api/v1/wallets/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


class Boom(APIView):
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("a bug")


# This module is the URLconf of the next test: a view with a bug, in and outside /api/.
urlpatterns = [path("api/boom/", Boom.as_view()), path("boom/", Boom.as_view())]
handler500 = "apps.core.http.server_error"


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_under_the_api_is_json_and_html_elsewhere(db):
    client = Client(raise_request_exception=False)
    assert_error(client.get("/api/boom/"), 500, "server_error")
    assert client.get("/boom/")["Content-Type"].startswith("text/html")


def test_a_disallowed_host_under_the_api_is_a_json_400(db):
    assert_error(Client().get("/api/v1/twd/markets/", HTTP_HOST="evil.example"), 400,
                 "bad_request")


# --- Query parameters -------------------------------------------------------------------------

@pytest.mark.parametrize("query,field", [
    ("limit=abc", "limit"), ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=501", "limit"),
    ("limit=", "limit"), ("limit=1.5", "limit"), ("limit=%EF%BC%91", "limit"),  # full-width 1
    ("cursor=zzz", "cursor"), ("cursor=", "cursor"),
    ("cursor=" + base64.b64encode(b"p=abc").decode(), "cursor"),  # was a 500
    ("cursor=" + base64.b64encode(b"p=99999999999999999999").decode(), "cursor"),
    # A cursor's form with no signature (a forgery), garbage DRF's base64 reads as the
    # first page, a limit or cursor given twice.
    ("cursor=" + base64.b64encode(b"p=1").decode(), "cursor"), ("cursor=!!!", "cursor"),
    ("cursor=" + "A" * 1000, "cursor"), ("limit=1&limit=2", "limit"),
])
def test_a_bad_pagination_parameter_is_a_400(api, funded, query, field):
    for url in ("/api/v1/wallets/SPOT/USDT/ledger/", "/api/v1/twd/orders/"):
        error = assert_error(api.get(f"{url}?{query}"), 400, "invalid")
        assert field in error["fields"]


@pytest.mark.parametrize("url,field", [
    ("/api/v1/twd/markets/?type=", "type"),
    ("/api/v1/twd/markets/?type=bonds", "type"),
    ("/api/v1/twd/orders/?status=", "status"),
    ("/api/v1/twd/orders/?status=open-ish", "status"),
    ("/api/v1/twd/orders/?symbol=", "symbol"),
    ("/api/v1/twd/ticker/?symbol=", "symbol"),
    ("/api/v1/twd/candles/?symbol=EUR/USD&interval=", "interval"),
    ("/api/v1/twd/candles/?symbol=EUR/USD&outputsize=abc", "outputsize"),
    # Given twice (DRF took the last), a whole number that is not ASCII digits (int()
    # took these).
    ("/api/v1/twd/orders/?status=NEW&status=FILLED", "status"),
    ("/api/v1/twd/candles/?symbol=EUR/USD&outputsize=10.0", "outputsize"),
    ("/api/v1/twd/candles/?symbol=EUR/USD&outputsize=%D9%A1%D9%A0", "outputsize"),
])
def test_a_bad_filter_parameter_is_a_400(api, url, field):
    error = assert_error(api.get(url), 400, "invalid")
    assert field in error["fields"]


def test_a_cursor_the_server_made_pages_on(api, funded, user):
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                            amount=Decimal("1"), key="test:second-deposit")
    first = api.get("/api/v1/wallets/SPOT/USDT/ledger/?limit=1").json()
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["results"] != first["results"]


def test_a_good_limit_still_pages(api, funded):
    page = api.get("/api/v1/wallets/SPOT/USDT/ledger/?limit=500").json()
    assert page == {"next": None, "previous": None, "results": page["results"]}
    assert len(page["results"]) == 1


def test_no_slash_hint_for_an_unknown_url(api):
    error = assert_error(api.get("/api/v1/nothing"), 404)
    assert "Did you mean" not in error["message"]


def test_an_unknown_url_posted_with_a_session_is_still_a_json_404(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert_error(client.generic("POST", "/api/v1/twd/orders/null,null/cancel/"), 404,
                 "not_found")


# --- Output serializers --------------------------------------------------------------------


class _Shown(OutputSerializer):
    name = serializers.CharField()
    amount = AmountField(allow_null=True)
    seen_by = serializers.SerializerMethodField()

    def get_seen_by(self, obj) -> str:
        return self.context["viewer"]


def test_an_output_serializer_copies_its_fields_once_not_per_instance(monkeypatch):
    copies = []
    real = serializers.Serializer.get_fields
    monkeypatch.setattr(_Shown, "get_fields", lambda self: copies.append(1) or real(self))
    monkeypatch.delattr(_Shown, "_shared", raising=False)
    rows = [SimpleNamespace(name=f"n{i}", amount=Decimal(i) if i else None) for i in range(3)]

    shown = [_Shown(row, context={"viewer": f"v{i}"}).data for i, row in enumerate(rows)]
    listed = _Shown(rows, many=True, context={"viewer": "list"}).data

    # The fields are copied once for the class, however many rows and serializers.
    assert len(copies) == 1
    assert shown == [{"name": "n0", "amount": None, "seen_by": "v0"},
                     {"name": "n1", "amount": "1", "seen_by": "v1"},
                     {"name": "n2", "amount": "2", "seen_by": "v2"}]
    assert [row["seen_by"] for row in listed] == ["list"] * 3
    # DRF's own rendering of the same rows agrees.
    assert shown == [serializers.Serializer.to_representation(
        _Shown(context={"viewer": f"v{i}"}), row) for i, row in enumerate(rows)]


def test_an_output_serializer_refuses_a_nested_serializer_field():
    class Nested(OutputSerializer):
        inner = _Shown()

    with pytest.raises(TypeError, match="inner"):
        _ = Nested(SimpleNamespace(inner=None)).data


class _Given(InputSerializer):
    name = serializers.CharField(max_length=5)
    amount = AmountField()

    def validate_name(self, value: str) -> str:
        if value == self.context.get("taken"):
            raise serializers.ValidationError("Taken.")
        return value


def test_an_input_serializer_copies_its_fields_once_and_validates_as_drf(monkeypatch):
    copies = []
    real = serializers.Serializer.get_fields
    monkeypatch.setattr(_Given, "get_fields", lambda self: copies.append(1) or real(self))
    monkeypatch.delattr(_Given, "_shared", raising=False)

    good = _Given(data={"name": "ab", "amount": "1.50"})
    assert good.is_valid() and good.validated_data == {"name": "ab", "amount": Decimal("1.5")}
    bad = _Given(data={"name": "abcdef", "amount": "-1"})
    assert not bad.is_valid()
    assert bad.errors == {"name": ["Ensure this field has no more than 5 characters."],
                          "amount": ["Amount must not be negative."]}
    # A validate_<field> method runs on the instance, with its own context.
    taken = _Given(data={"name": "ab", "amount": "1"}, context={"taken": "ab"})
    assert not taken.is_valid() and taken.errors == {"name": ["Taken."]}
    assert not _Given(data={}).is_valid()
    assert len(copies) == 1
    with pytest.raises(TypeError, match="partial"):
        _Given(data={"name": "ab"}, partial=True).is_valid()
