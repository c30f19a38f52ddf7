"""Rule 6 on MariaDB, whose default collation (utf8mb4_unicode_ci) folds case, accents,
width and ignorable marks: a look-alike of a currency code is refused at the edge and a
client id differing only in case is another id."""
from decimal import Decimal
from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import call_command

from apps.wallets import services
from apps.wallets.models import Currency, Entry, Journal, Wallet

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db]
TRANSFER = "/api/v1/wallets/transfer/"

# Each of these equals "USDT" under utf8mb4_unicode_ci (and MariaDB's PAD SPACE).
LOOK_ALIKES = [
    "ＵＳＤＴ",  # full-width
    "ÜSDT",  # accented
    "USDŤ",
    "\u200fUSDT",  # right-to-left mark
    "\u200eUSDT",  # left-to-right mark
    "\u200bUSDT",  # zero-width space
    "USDT\u00ad",  # soft hyphen
    "USDT ",  # trailing space
]


@pytest.fixture
def funded(user, currencies):
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                     amount=Decimal("100"), key="dep")
    return user


def reconciled() -> str:
    out = StringIO()
    call_command("wallets_reconcile", stdout=out)  # raises CommandError on a violation
    return out.getvalue()


@pytest.mark.parametrize("code", LOOK_ALIKES)
def test_look_alike_currency_transfer_is_refused(api, funded, code):
    response = api.post(TRANSFER, {"currency": code, "amount": "5", "from_type": "SPOT",
                                   "to_type": "ECO"}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and "currency" in error["fields"]
    assert list(Journal.objects.values_list("key", flat=True)) == ["dep"]
    assert list(Wallet.objects.filter(user=funded).values_list("type", "currency_id")) == [
        ("SPOT", "USDT")]
    assert "no violations" in reconciled()


def test_lower_case_code_is_canonicalised_from_the_stored_row(api, funded):
    response = api.post(TRANSFER, {"currency": "usdt", "amount": "5", "from_type": "SPOT",
                                   "to_type": "ECO"}, format="json")
    assert response.status_code == 201, response.content
    assert {w["currency"] for w in response.json()} == {"USDT"}
    assert set(Wallet.objects.values_list("currency_id", flat=True)) == {"USDT"}
    assert "no violations" in reconciled()


def test_no_currency_row_is_found_by_a_look_alike(currencies):
    # The column itself compares byte-exact, whatever the edge lets through.
    assert not Currency.objects.filter(code__in=LOOK_ALIKES + ["usdt"]).exists()
    assert Currency.objects.filter(code="USDT").count() == 1


@pytest.mark.parametrize("code", LOOK_ALIKES)
def test_look_alike_currency_in_the_ledger_path_reads_nothing(api, funded, code):
    response = api.get(f"/api/v1/wallets/SPOT/{quote(code)}/ledger/")
    assert 400 <= response.status_code < 500, response.content
    body = response.json()
    assert "results" not in body and body["error"]["message"]


def test_look_alike_wallet_type_in_the_ledger_path_reads_nothing(api, funded):
    # 'ſ' (long s) upper-cases to 'S' in Python: only ASCII may be folded.
    response = api.get(f"/api/v1/wallets/{quote('ſpot')}/USDT/ledger/")
    assert response.status_code == 404 and "results" not in response.json()


def test_client_transfer_ids_differing_in_case_are_two_transfers(api, funded):
    for client_id in ("move-a", "MOVE-A", "Move-A"):
        response = api.post(TRANSFER, {"currency": "USDT", "amount": "5", "from_type": "SPOT",
                                       "to_type": "ECO", "client_transfer_id": client_id},
                            format="json")
        assert response.status_code == 201, response.content
    assert Journal.objects.filter(kind="TRANSFER").count() == 3
    assert Wallet.objects.get(user=funded, type="ECO").balance == Decimal("15")
    assert Entry.objects.filter(wallet__type="ECO").count() == 3
    assert "no violations" in reconciled()
