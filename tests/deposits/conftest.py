"""Deposits under test: USDT intents paid in SGC at a fixed 1 USDT = 1 SGC... unless a test
says otherwise; two webhook secrets configured (the old one still verifying, as during a
rotation)."""
import json
import time
from decimal import Decimal

import pytest
from django.test import Client

from apps.deposits import services, signatures
from tests.factories import UserFactory

SECRETS = ["rotated-out-secret-0123456789", "current-secret-abcdefghijkl"]
WEBHOOK = "/api/v1/deposits/webhook/"


@pytest.fixture(autouse=True)
def deposit_settings(settings):
    settings.DEPOSIT_CURRENCY = "USDT"
    settings.DEPOSIT_COIN = "SGC"
    settings.DEPOSIT_COIN_DECIMALS = 8
    settings.DEPOSIT_RATE_PROVIDER = "apps.deposits.rates.fixed_rate"
    settings.DEPOSIT_FIXED_RATE = "2"  # 2 USDT per SGC
    settings.DEPOSIT_MIN_AMOUNT, settings.DEPOSIT_MAX_AMOUNT = "1", "100000"
    settings.DEPOSIT_WEBHOOK_SECRETS = SECRETS
    settings.DEPOSIT_WEBHOOK_WINDOW_SECONDS = 300
    settings.DEPOSIT_WEBHOOK_ALLOWED_IPS = []
    settings.DEPOSIT_WEBHOOK_MAX_BODY_BYTES = 8192
    settings.DEPOSIT_UNDERPAY_TOLERANCE = "0.01"
    settings.DEPOSIT_INTENT_TTL_SECONDS = 1800
    return settings


@pytest.fixture
def depositor(currencies):
    return UserFactory()


@pytest.fixture
def intent(depositor):
    """100 USDT to deposit, 50 SGC to pay."""
    return services.intent_create(user_id=depositor.pk, amount=Decimal("100"))


def payment(intent, *, tx_hash: str = "0xabc123def4567890", amount: str | None = None) -> bytes:
    """The chain's webhook body for ``intent`` (paid in full unless ``amount`` says)."""
    paid = amount if amount is not None else f"{intent.pay_amount.normalize():f}"
    return json.dumps({"intent": str(intent.public_id), "tx_hash": tx_hash,
                       "amount": paid}).encode()


def signed_headers(body: bytes, *, secret: str = SECRETS[1], at: int | None = None) -> dict:
    at = int(time.time()) if at is None else at
    return {"HTTP_X_DEPOSIT_TIMESTAMP": str(at),
            "HTTP_X_DEPOSIT_SIGNATURE": signatures.sign(secret=secret, timestamp=at, body=body)}


def deliver(body: bytes, *, headers: dict | None = None, client: Client | None = None):
    """POST ``body`` to the webhook as the chain does (signed now with the current secret
    unless ``headers`` say otherwise)."""
    client = client or Client()
    return client.post(WEBHOOK, data=body, content_type="application/json",
                       **(signed_headers(body) if headers is None else headers))
