import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from apps.wallets import services
from apps.wallets.models import Currency, Journal, Wallet
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, currencies):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def wallet(user, currencies):
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT", amount=Decimal("50"),
                     key="dep")
    return Wallet.objects.get(user=user)


def test_wallets_and_journals_are_read_only(admin_client, wallet):
    assert admin_client.get(f"/admin/wallets/wallet/{wallet.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/wallets/wallet/{wallet.pk}/change/",
                                 {"balance": "1000000"})
    assert response.status_code == 403
    assert admin_client.get("/admin/wallets/wallet/add/").status_code == 403
    journal = Journal.objects.get()
    assert admin_client.post(f"/admin/wallets/journal/{journal.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("50")


WALLETS = "/admin/wallets/wallet/"


def adjust_form_token(admin_client, wallet) -> str:
    """Open the adjustment form for ``wallet``; the token its page carries."""
    form = admin_client.post(WALLETS, {"action": "adjust_balance",
                                       ACTION_CHECKBOX_NAME: [wallet.pk]})
    assert form.status_code == 200 and b"reason" in form.content
    return re.search(rb'name="token" value="([0-9a-f-]{36})"', form.content)[1].decode()


def test_adjust_action_asks_for_a_reason_then_calls_the_service(admin_client, wallet):
    url = WALLETS
    token = adjust_form_token(admin_client, wallet)
    missing_reason = admin_client.post(url, {"action": "adjust_balance", "apply": "1",
                                             ACTION_CHECKBOX_NAME: [wallet.pk], "amount": "5",
                                             "token": token})
    assert missing_reason.status_code == 200
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("50")
    done = admin_client.post(url, {"action": "adjust_balance", "apply": "1", "amount": "-20",
                                   "reason": "chargeback", ACTION_CHECKBOX_NAME: [wallet.pk],
                                   "token": token})
    assert done.status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("30")
    adjustment = Journal.objects.get(kind="ADJUSTMENT")
    assert adjustment.memo == "chargeback" and adjustment.created_by.is_superuser


def test_a_form_submitted_twice_adjusts_once(admin_client, wallet):
    submit = {"action": "adjust_balance", "apply": "1", "amount": "7", "reason": "goodwill",
              ACTION_CHECKBOX_NAME: [wallet.pk], "token": adjust_form_token(admin_client, wallet)}
    first = admin_client.post(WALLETS, submit)
    again = admin_client.post(WALLETS, submit, follow=True)  # a double click, a resent POST
    assert first.status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("57")
    assert Journal.objects.filter(kind="ADJUSTMENT").count() == 1
    assert "already adjusted by this form" in again.content.decode()
    # A new form is a new adjustment.
    admin_client.post(WALLETS, {**submit, "token": adjust_form_token(admin_client, wallet)})
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("64")


def test_an_adjustment_without_its_form_token_is_not_applied(admin_client, wallet):
    response = admin_client.post(WALLETS, {"action": "adjust_balance", "apply": "1",
                                           "amount": "7", "reason": "r",
                                           ACTION_CHECKBOX_NAME: [wallet.pk]})
    assert response.status_code == 200  # the form again, not an adjustment
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("50")


def test_reverse_action(admin_client, wallet):
    journal = Journal.objects.get()
    response = admin_client.post("/admin/wallets/journal/", {
        "action": "reverse", "apply": "1", "reason": "test deposit",
        ACTION_CHECKBOX_NAME: [journal.pk]})
    assert response.status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance == 0
    assert Journal.objects.get(kind="REVERSAL").reverses_id == journal.pk


@pytest.mark.parametrize("code", ["usdc", "ＵＳＤＣ", "\u200bUSDC", "US DC", "USDC-"])
def test_currency_codes_added_by_hand_must_be_canonical(admin_client, code):
    response = admin_client.post("/admin/wallets/currency/add/",
                                 {"code": code, "name": "USD Coin", "decimals": "6"})
    assert response.status_code == 200 and b"upper-case ASCII" in response.content
    assert not Currency.objects.filter(name="USD Coin").exists()
    created = admin_client.post("/admin/wallets/currency/add/",
                                {"code": "USDC", "name": "USD Coin", "decimals": "6"})
    assert created.status_code == 302 and Currency.objects.get(name="USD Coin").code == "USDC"


def test_a_system_wallet_shows_the_balance_of_its_entries(admin_client, wallet):
    services.deposit(user_id=wallet.user_id, wallet_type="SPOT", currency="USDT",
                     amount=Decimal("2.5"), key="dep2")
    external = Wallet.objects.get(system="EXTERNAL")
    page = admin_client.get(WALLETS, {"system": "EXTERNAL"}).content.decode()
    assert external.balance == 0  # the row is never written: the entries are the balance
    assert re.search(r'<td class="field-ledger_balance">-52\.50*</td>', page), page


def test_wallet_list_shows_amounts_with_the_currency_decimals_and_what_is_available(
        admin_client, user, currencies):
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                     amount=Decimal("1234.5"), key="dep-usd")
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="JPY",
                     amount=Decimal("700"), key="dep-jpy")
    services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USD",
                         amount=Decimal("200.25"), key="hold-usd")
    page = admin_client.get(WALLETS).content.decode()
    rows = {re.search(r'field-currency[^"]*">(\w+)<', row)[1]: row
            for row in re.findall(r"<tr>.*?</tr>", page, re.S) if "field-currency" in row}

    def column(currency: str, name: str) -> str:
        return re.search(rf'class="field-{name}[^"]*">([^<]*)<', rows[currency])[1]

    assert "000000000" not in page  # not the columns' 18 places
    assert [column("USD", name) for name in ("ledger_balance", "held_amount", "available")] == [
        "1234.50", "200.25", "1034.25"]
    assert [column("JPY", name) for name in ("ledger_balance", "held_amount", "available")] == [
        "700", "0", "700"]
    assert '<th scope="col" class="column-available">' in page
