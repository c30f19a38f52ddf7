"""The payment chain's webhook end to end (HTTP, verification, the event, the task after
commit, the credit): what it credits, once, and what it refuses, writing nothing."""
import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.deposits.models import DepositEvent, DepositIntent
from apps.wallets.models import Entry, Journal, Wallet
from tests.deposits.conftest import SECRETS, deliver, payment, signed_headers

pytestmark = pytest.mark.django_db(transaction=True)


def spot_balance(user) -> Decimal:
    wallet = Wallet.objects.filter(user=user, type="SPOT", currency_id="USDT").first()
    return wallet.balance if wallet else Decimal(0)


def assert_credited_once(intent) -> None:
    intent.refresh_from_db()
    assert intent.status == "CONFIRMED"
    journal = Journal.objects.get(key=f"deposit:{intent.pk}")
    assert Journal.objects.filter(kind="DEPOSIT").count() == 1
    assert Entry.objects.filter(journal=journal).count() == 2
    assert spot_balance(intent.user) == intent.amount == Decimal("100")
    call_command("wallets_reconcile", verbosity=0)


def test_the_same_delivery_ten_times_in_sequence_credits_once(intent):
    body = payment(intent)
    headers = signed_headers(body)
    answers = [deliver(body, headers=headers) for _ in range(10)]
    assert [a.status_code for a in answers] == [202] * 10
    assert answers[0].json() == {"event": answers[0].json()["event"], "status": "accepted"}
    assert_credited_once(intent)
    verdicts = list(DepositEvent.objects.order_by("pk").values_list("verdict", flat=True))
    assert verdicts == ["CREDITED"] + ["DUPLICATE"] * 9
    assert intent.tx_hash == "0xabc123def4567890" and intent.paid_amount == Decimal("50")


def test_a_delivery_signed_with_the_rotated_out_secret_still_verifies(intent):
    body = payment(intent)
    assert deliver(body, headers=signed_headers(body, secret=SECRETS[0])).status_code == 202
    assert DepositEvent.objects.get().signed_with == 0
    assert_credited_once(intent)


def refused(intent, body: bytes, headers: dict, *, status: int, code: str) -> None:
    answer = deliver(body, headers=headers)
    assert answer.status_code == status, answer.content
    assert answer.json()["error"]["code"] == code
    assert not DepositEvent.objects.exists() and not Journal.objects.exists()
    intent.refresh_from_db()
    assert intent.status == "PENDING" and intent.tx_hash is None


@pytest.mark.parametrize("case", ["another secret", "no signature", "no timestamp",
                                  "signature of another timestamp", "upper-case hex",
                                  "the body changed", "an amount added to"])
def test_a_delivery_not_signed_by_the_chain_is_refused_and_nothing_is_written(intent, case):
    body = payment(intent)
    headers = signed_headers(body)
    now = int(headers["HTTP_X_DEPOSIT_TIMESTAMP"])
    if case == "another secret":
        headers = signed_headers(body, secret="guessed-secret")
    elif case == "no signature":
        del headers["HTTP_X_DEPOSIT_SIGNATURE"]
    elif case == "no timestamp":
        del headers["HTTP_X_DEPOSIT_TIMESTAMP"]
    elif case == "signature of another timestamp":
        headers["HTTP_X_DEPOSIT_TIMESTAMP"] = str(now + 1)
    elif case == "upper-case hex":
        headers["HTTP_X_DEPOSIT_SIGNATURE"] = headers["HTTP_X_DEPOSIT_SIGNATURE"].upper()
    elif case == "the body changed":
        body = payment(intent, amount="5000")
    else:
        body = body.replace(b'"amount": "50"', b'"amount": "500"')
    refused(intent, body, headers, status=401, code="invalid_signature")


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_an_old_or_future_timestamp_is_refused_though_signed(intent, age):
    body = payment(intent)
    refused(intent, body, signed_headers(body, at=int(time.time()) - age), status=401,
            code="stale_timestamp")


def test_a_source_outside_the_allowlist_is_refused(intent, settings):
    settings.DEPOSIT_WEBHOOK_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7/32"]
    body = payment(intent)
    refused(intent, body, signed_headers(body), status=403, code="forbidden_source")
    settings.DEPOSIT_WEBHOOK_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.1/32"]
    assert deliver(body).status_code == 202
    assert_credited_once(intent)


def test_a_body_over_the_limit_is_413_and_nothing_is_written(intent, settings):
    settings.DEPOSIT_WEBHOOK_MAX_BODY_BYTES = 200
    body = json.dumps({**json.loads(payment(intent)), "memo": "x" * 300}).encode()
    refused(intent, body, signed_headers(body), status=413, code="too_large")


def test_no_secret_configured_verifies_nothing(intent, settings):
    settings.DEPOSIT_WEBHOOK_SECRETS = []
    body = payment(intent)
    refused(intent, body, signed_headers(body), status=401, code="invalid_signature")


@pytest.mark.parametrize("body", [
    b"[]", b"not json", b'{"intent": "x"}', b'{"amount": NaN}', b"\xff\xfe",
    b"[" * 4000 + b"]" * 4000,
])
def test_a_signed_but_malformed_body_is_recorded_invalid_and_credits_nothing(intent, body):
    answer = deliver(body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_body"
    event = DepositEvent.objects.get()
    assert (event.verdict, event.intent_id) == ("INVALID", None)
    assert not Journal.objects.exists()


@pytest.mark.parametrize("field,value", [
    ("intent", "00000000-0000-0000-0000-00000000000G"), ("intent", 7),
    ("tx_hash", "short"), ("tx_hash", "0xé" + "a" * 20), ("tx_hash", ["0xabc123def"]),
    ("amount", True), ("amount", None), ("amount", "-50"), ("amount", "1e3"),
    ("amount", "0.000000001"), ("amount", "Infinity"), ("amount", "9" * 40),
])
def test_a_signed_body_with_a_bad_field_is_recorded_invalid(intent, field, value):
    data = json.loads(payment(intent))
    data[field] = value
    answer = deliver(json.dumps(data).encode())
    assert answer.status_code == 400, answer.content
    assert DepositEvent.objects.get().verdict == "INVALID"
    assert not Journal.objects.exists()


def test_a_json_number_amount_is_read_as_its_exact_text(intent):
    data = json.loads(payment(intent))
    data["amount"] = 50.00000001
    assert deliver(json.dumps(data).encode()).status_code == 202
    assert DepositEvent.objects.get().amount_paid == Decimal("50.00000001")
    assert_credited_once(intent)


def test_the_intent_id_in_another_spelling_is_not_the_intent(intent):
    data = json.loads(payment(intent))
    data["intent"] = data["intent"].upper()
    assert deliver(json.dumps(data).encode()).status_code == 400
    assert not Journal.objects.exists()


def test_underpaid_expired_and_unknown_are_recorded_and_not_credited(depositor, settings):
    from apps.deposits import services

    underpaid = services.intent_create(user_id=depositor.pk, amount=Decimal("100"))
    # 1% tolerance of 50 SGC: 49.5 credits, 49.49 does not.
    assert deliver(payment(underpaid, tx_hash="0xunderpaid01", amount="49.49")).status_code \
        == 202
    settings.DEPOSIT_INTENT_TTL_SECONDS = -1
    expired = services.intent_create(user_id=depositor.pk, amount=Decimal("100"))
    assert deliver(payment(expired, tx_hash="0xexpired0001")).status_code == 202
    unknown = DepositIntent(public_id="3f1c2b7e-4d5a-4e6f-8a9b-0c1d2e3f4a5b",
                            pay_amount=Decimal("1"))
    assert deliver(payment(unknown, tx_hash="0xunknown0001")).status_code == 202
    verdicts = dict(DepositEvent.objects.values_list("tx_hash", "verdict"))
    assert verdicts == {"0xunderpaid01": "UNDERPAID", "0xexpired0001": "EXPIRED",
                        "0xunknown0001": "UNKNOWN_INTENT"}
    underpaid.refresh_from_db()
    expired.refresh_from_db()
    # Each transaction is kept on the intent it paid: it can credit no other.
    assert (underpaid.status, underpaid.tx_hash) == ("FAILED", "0xunderpaid01")
    assert (expired.status, expired.tx_hash) == ("EXPIRED", "0xexpired0001")
    assert not Journal.objects.exists() and spot_balance(depositor) == 0
    call_command("wallets_reconcile", verbosity=0)


def test_within_the_tolerance_credits_the_intents_amount(intent):
    assert deliver(payment(intent, amount="49.5")).status_code == 202
    assert_credited_once(intent)


def test_a_source_address_that_is_no_ip_is_recorded_as_unknown(intent, settings):
    # Behind a proxy the address comes from X-Forwarded-For, which may hold anything.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    body = payment(intent)
    answer = deliver(body, headers={**signed_headers(body),
                                    "HTTP_X_FORWARDED_FOR": "not-an-address-" + "x" * 100})
    assert answer.status_code == 202
    assert DepositEvent.objects.get().source_ip is None
    assert_credited_once(intent)


def test_a_flood_from_one_address_is_throttled_and_writes_nothing(intent, settings):
    settings.DEPOSIT_WEBHOOK_RATE = "3/min"
    body = payment(intent)
    forged = {**signed_headers(body), "HTTP_X_DEPOSIT_SIGNATURE": "sha256=" + "0" * 64}
    assert [deliver(body, headers=forged).status_code for _ in range(3)] == [401] * 3
    throttled = deliver(body)
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert throttled.json()["error"]["code"] == "throttled"
    assert not DepositEvent.objects.exists() and not Journal.objects.exists()


def test_a_delivery_signed_as_the_readme_documents_it_is_accepted(intent):
    """Signed here by hand, as the chain would from the README, not by our own sign():
    the scheme itself is what is checked."""
    body = payment(intent)
    stamp = str(int(time.time()))
    digest = hmac.new(SECRETS[1].encode(), stamp.encode() + b"." + body,
                      hashlib.sha256).hexdigest()
    answer = deliver(body, headers={"HTTP_X_DEPOSIT_TIMESTAMP": stamp,
                                    "HTTP_X_DEPOSIT_SIGNATURE": f"sha256={digest}"})
    assert answer.status_code == 202
    assert_credited_once(intent)
