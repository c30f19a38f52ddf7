"""The up/down page as the server renders it (the browser test drives it in Chromium)."""
import pytest
from django.test import Client

from apps.fixedtime.models import Instrument
from tests.fixedtime.helpers import quote

pytestmark = pytest.mark.django_db
URL = "/fixedtime/paper/EUR/USD/"


@pytest.fixture
def client_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_page_offers_the_instruments_terms(instrument, client_in):
    quote("1.23450")
    html = client_in.get(URL).content.decode()
    for part in ('data-testid="up"', 'data-testid="down"', 'data-testid="result"',
                 '<option value="60">60 s</option>', '<option value="300">300 s</option>',
                 "pays 85%", "1.23450", '"stream": "ticker@EUR/USD"'):
        assert part in html, part


def test_a_disabled_or_unknown_instrument_has_no_page(instrument, client_in):
    assert client_in.get("/fixedtime/paper/GBP/USD/").status_code == 404
    assert client_in.get("/fixedtime/PAPER/EUR/USD/").status_code == 404
    Instrument.objects.update(enabled=False)
    assert client_in.get(URL).status_code == 404


def test_the_page_is_for_logged_in_traders(instrument):
    response = Client().get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
