"""The ecosystem admin: tokens and markets are added through their services (a token's
symbol checked and made a wallet currency, a market's steps checked), a refusal is the
form's error with nothing written."""
import html

import pytest

from apps.ecosystem.models import Blockchain, EcoMarket, Token
from apps.trading.models import Market
from apps.wallets.models import Currency
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, currencies):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def chain(db):
    return Blockchain.objects.create(name="Testnet", chain_id=31337)


def token_form(chain, symbol, *, contract="0x" + "ab" * 20, decimals="8"):
    return {"chain": chain.pk, "symbol": symbol, "name": "Abc token",
            "contract_address": contract, "decimals": decimals}


def add_token(admin_client, chain, symbol, **kwargs):
    return admin_client.post("/admin/ecosystem/token/add/", token_form(chain, symbol, **kwargs))


def test_the_add_pages_show_the_services_fields(admin_client):
    token_page = admin_client.get("/admin/ecosystem/token/add/").content.decode()
    market_page = admin_client.get("/admin/ecosystem/ecomarket/add/").content.decode()
    assert 'name="symbol"' in token_page and 'name="decimals"' in token_page
    for field in ("base_token", "quote_currency", "tick_size", "lot_size", "maker_fee",
                  "stp_default", "enabled"):
        assert f'name="{field}"' in market_page


def test_an_added_token_is_listed_with_its_wallet_currency(admin_client, chain):
    response = add_token(admin_client, chain, "ABC")
    assert response.status_code == 302
    token = Token.objects.get()
    assert (token.symbol, token.decimals) == ("ABC", 8)
    assert Currency.objects.filter(pk="ABC").values_list("decimals", flat=True).get() == 8


@pytest.mark.parametrize("symbol", [
    "Abc",            # mixed case: the currency is ABC, never folded silently
    "abc",            # lower case
    "АВС",            # Cyrillic look-alikes
    "ＡＢＣ",          # full-width
    "AB\u200bC",      # an invisible character inside
    "ÀBC",            # accented
    "AB C",
])
def test_a_hostile_symbol_is_a_form_error_and_writes_nothing(admin_client, chain, symbol):
    currencies = set(Currency.objects.values_list("pk", flat=True))
    response = add_token(admin_client, chain, symbol)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert not Token.objects.exists()
    assert set(Currency.objects.values_list("pk", flat=True)) == currencies


def test_a_symbol_listed_already_in_any_case_is_refused(admin_client, chain):
    assert add_token(admin_client, chain, "ABC").status_code == 302
    for symbol in ("ABC", "abc"):  # the column compares byte-exact: "abc" is its own refusal
        response = add_token(admin_client, chain, symbol, contract="0x" + "cd" * 20)
        assert response.status_code == 200
        assert response.context["adminform"].form.non_field_errors()
    assert list(Token.objects.values_list("symbol", flat=True)) == ["ABC"]


def test_a_contract_listed_already_creates_no_currency(admin_client, chain):
    assert add_token(admin_client, chain, "ABC").status_code == 302
    response = add_token(admin_client, chain, "XYZ")  # the same contract on the same chain
    assert response.status_code == 200
    assert "already listed" in response.content.decode()
    assert not Currency.objects.filter(pk="XYZ").exists()


def market_form(token, **overrides):
    return {"base_token": token.pk, "quote_currency": "USDT", "tick_size": "0.01",
            "lot_size": "0.001", "maker_fee": "0.001", "taker_fee": "0.002",
            "min_amount": "0", "min_notional": "0", "stp_default": "CANCEL_TAKER",
            "enabled": "on", **overrides}


def test_a_market_is_created_from_the_admin(admin_client, chain):
    assert add_token(admin_client, chain, "ABC").status_code == 302
    token = Token.objects.get()
    response = admin_client.post("/admin/ecosystem/ecomarket/add/", market_form(token))
    assert response.status_code == 302
    eco = EcoMarket.objects.select_related("market").get()
    assert (eco.market.venue, eco.market.symbol, eco.base_token) == (
        "ecosystem", "ABC/USDT", token)
    assert admin_client.get(f"/admin/ecosystem/ecomarket/{eco.pk}/change/").status_code == 200


@pytest.mark.parametrize("overrides, message", [
    ({"quote_currency": "usdt"}, "must be written 'USDT'"),
    ({"quote_currency": "UЅDT"}, "plain ASCII"),  # a Cyrillic Ѕ
    ({"quote_currency": "NOPE"}, "Unknown currency"),
    ({"tick_size": "0.0000001", "lot_size": "0.0000001"}, "must be a multiple"),
    ({"tick_size": "1000000", "lot_size": "0.000000001"}, "multiple of one unit of ABC"),
    ({"tick_size": "NaN"}, "Enter a number"),
    ({"tick_size": "-1"}, "positive amount"),
    ({"stp_default": "NOPE"}, "Select a valid choice"),
])
def test_a_bad_market_is_a_form_error_and_writes_nothing(admin_client, chain, overrides,
                                                         message):
    assert add_token(admin_client, chain, "ABC").status_code == 302
    response = admin_client.post("/admin/ecosystem/ecomarket/add/",
                                 market_form(Token.objects.get(), **overrides))
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not EcoMarket.objects.exists()
    assert not Market.objects.filter(venue="ecosystem").exists()


def test_a_market_created_twice_is_refused(admin_client, chain):
    assert add_token(admin_client, chain, "ABC").status_code == 302
    token = Token.objects.get()
    assert admin_client.post("/admin/ecosystem/ecomarket/add/",
                             market_form(token)).status_code == 302
    again = admin_client.post("/admin/ecosystem/ecomarket/add/", market_form(token))
    assert again.status_code == 200 and "already exists" in again.content.decode()
    assert EcoMarket.objects.count() == 1
