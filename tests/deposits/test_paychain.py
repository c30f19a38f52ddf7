"""A deposit end to end through the payment chain emulator `make run` uses
(devtools/paychain): an intent made through the API, its payment link opened on the
emulator, "Pay" pressed, the emulator's signed webhook (delivered three times, as a chain
retries) to the platform over HTTP, the credit once."""
import re
import urllib.error
import urllib.request
from collections import Counter
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.deposits.models import DepositEvent, DepositIntent
from apps.wallets.models import Journal, Wallet
from devtools.paychain import PayChainConfig, running
from exchange_platform.celery import app as celery_app
from tests.deposits.conftest import SECRETS

pytestmark = pytest.mark.django_db(transaction=True)
LINK_SECRET = "dev-link-secret-for-the-test"


@pytest.fixture
def chain(live_server, settings, monkeypatch):
    """The emulator, pointed at the live server's webhook; the platform's payment link
    pointing at the emulator; the webhook's task run at once (as in `make run`)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    settings.DEPOSIT_LINK_SECRET = LINK_SECRET
    with running(PayChainConfig(
            webhook_url=f"{live_server.url}/api/v1/deposits/webhook/",
            link_secret=LINK_SECRET, webhook_secret=SECRETS[1], port=0,
            deliveries=3)) as pay_url:
        settings.DEPOSIT_PAYMENT_URL = pay_url
        yield pay_url


def fetch(url: str, form: dict | None = None) -> tuple[int, str]:
    data = urlencode(form).encode() if form is not None else None
    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def pay(page: str, pay_url: str, *, amount: str | None = None) -> str:
    token = re.search(r"name='token' value='([^']+)'", page).group(1)
    asked = re.search(r"<strong id='asked'>([^<]+)</strong>", page).group(1)
    status, paid = fetch(pay_url, {"token": token, "amount": amount or asked})
    assert status == 200, paid
    return paid


def test_an_intent_paid_on_the_emulator_is_credited_once(chain, depositor):
    api = APIClient()
    api.force_authenticate(depositor)
    created = api.post("/api/v1/deposits/intents/", {"amount": "100"}, format="json")
    assert created.status_code == 201
    link = created.json()["payment_url"]
    assert link.startswith(chain + "?token=")
    status, page = fetch(link)
    assert status == 200 and "<strong id='asked'>50</strong> SGC" in page  # 100 at 2/SGC
    paid = pay(page, chain)
    assert paid.count("<li class='delivery'>202 ") == 3
    intent = DepositIntent.objects.get()
    assert intent.status == "CONFIRMED" and intent.credited_amount == Decimal("100")
    assert intent.tx_hash in paid
    assert Counter(DepositEvent.objects.values_list("verdict", flat=True)) == Counter(
        {"CREDITED": 1, "DUPLICATE": 2})
    # Paying the same link again is a second transaction: recorded, not credited.
    pay(page, chain)
    assert DepositEvent.objects.filter(verdict="NOT_PENDING").count() == 3
    assert Journal.objects.filter(kind="DEPOSIT").count() == 1
    assert Wallet.objects.get(user=depositor, type="SPOT", currency_id="USDT").balance == \
        Decimal("100")
    call_command("wallets_reconcile", verbosity=0)


def test_an_underpayment_on_the_emulator_fails_the_intent_with_its_transaction(chain,
                                                                               depositor):
    api = APIClient()
    api.force_authenticate(depositor)
    link = api.post("/api/v1/deposits/intents/", {"amount": "100"},
                    format="json").json()["payment_url"]
    paid = pay(fetch(link)[1], chain, amount="20")
    intent = DepositIntent.objects.get()
    assert (intent.status, intent.paid_amount) == ("FAILED", Decimal("20"))
    assert intent.tx_hash in paid and not Journal.objects.exists()


def test_the_emulator_refuses_a_link_not_signed_by_the_platform(chain):
    status, page = fetch(f"{chain}?token=forged:abc")
    assert status == 400 and "not signed by the platform" in page
    status, page = fetch(chain, {"token": "forged:abc", "amount": "1"})
    assert status == 400 and not DepositEvent.objects.exists()
