"""The deposits' settings: a host that sets none gets the documented defaults; a bad value
is reported by the system checks at start-up, not met by the chain's first delivery."""
from decimal import Decimal

import pytest
from django.core.checks import run_checks

from apps.core import conf
from apps.deposits import services

NAMES = [name for name in conf.SETTINGS if name.startswith("DEPOSIT_")]


def test_every_deposit_setting_has_a_default_that_passes_its_check():
    assert len(NAMES) == 19
    for name in NAMES:
        setting = conf.SETTINGS[name]
        assert setting.valid(setting.default), name


@pytest.mark.django_db
def test_without_any_deposit_setting_an_intent_takes_the_defaults(depositor, settings):
    for name in NAMES:
        if hasattr(settings, name):
            delattr(settings, name)
    intent = services.intent_create(user_id=depositor.pk, amount=Decimal("25"))
    assert (intent.currency, intent.coin, intent.rate, intent.pay_amount) == (
        "USDT", "SGC", Decimal("1"), Decimal("25"))
    assert (intent.expires_at - intent.created_at).total_seconds() == pytest.approx(1800, abs=5)


@pytest.mark.parametrize("name, value", [
    ("DEPOSIT_WEBHOOK_SECRETS", "one-secret"), ("DEPOSIT_WEBHOOK_SECRETS", ["ok", ""]),
    ("DEPOSIT_WEBHOOK_ALLOWED_IPS", ["10.0.0.0/33"]), ("DEPOSIT_WEBHOOK_ALLOWED_IPS", "any"),
    ("DEPOSIT_UNDERPAY_TOLERANCE", "1"), ("DEPOSIT_UNDERPAY_TOLERANCE", "-0.1"),
    ("DEPOSIT_FIXED_RATE", "0"), ("DEPOSIT_COIN_DECIMALS", 19), ("DEPOSIT_CURRENCY", "usdt"),
    ("DEPOSIT_PAYMENT_URL", "javascript:alert(1)"), ("DEPOSIT_INTENT_TTL_SECONDS", 0),
    ("DEPOSIT_RATE_PROVIDER", "fixed_rate"), ("DEPOSIT_WEBHOOK_RATE", "600"),
    ("DEPOSIT_WEBHOOK_RATE", "0/min"), ("DEPOSIT_WEBHOOK_MAX_BODY_BYTES", 0),
    ("DEPOSIT_WEBHOOK_MAX_BODY_BYTES", 64 * 1024 + 1),
    ("DEPOSIT_WEBHOOK_MAX_BODY_BYTES", 2**32), ("DEPOSIT_MAX_PENDING_INTENTS", 0),
    ("DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT", "yes"),
])
def test_a_bad_value_is_reported_at_start_up(settings, name, value):
    setattr(settings, name, value)
    found = [m for m in run_checks(include_deployment_checks=False)
             if m.id == "exchange.E001"]
    assert [m.msg.split(" = ")[0] for m in found] == [name]


def test_the_largest_webhook_body_allowed_passes(settings):
    settings.DEPOSIT_WEBHOOK_MAX_BODY_BYTES = 64 * 1024
    assert not [m for m in run_checks(include_deployment_checks=False)
                if m.id == "exchange.E001"]
