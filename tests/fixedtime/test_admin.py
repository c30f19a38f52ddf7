"""The admin: instruments are edited (and validated) there; trades and recorded quotes
are read-only records."""
import pytest
from django.test import Client

from apps.fixedtime.models import Instrument
from tests.factories import MarketFactory, UserFactory
from tests.fixedtime.helpers import fund, open_trade, quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_an_instrument_is_added_in_the_admin_and_bad_sessions_are_refused(
        currencies, admin_client):
    market = MarketFactory()
    form = {"market": market.pk, "enabled": "on", "min_stake": "1", "max_stake": "100",
            "payout_percent": "80", "expiries": "[60, 300]", "timezone": "Europe/London",
            "max_open_trades": "3"}
    bad = admin_client.post("/admin/fixedtime/instrument/add/",
                            {**form, "sessions": '[{"days": [0], "open": "17:00", '
                                                  '"close": "08:00"}]'})
    assert bad.status_code == 200 and "open comes before close" in bad.content.decode()
    assert not Instrument.objects.exists()
    good = admin_client.post("/admin/fixedtime/instrument/add/", {**form, "sessions": "[]"})
    assert good.status_code == 302
    assert Instrument.objects.get().timezone == "Europe/London"


def test_trades_and_quotes_are_listed_read_only(instrument, user, admin_client):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    for url in ("/admin/fixedtime/trade/", f"/admin/fixedtime/trade/{trade.pk}/change/",
                "/admin/fixedtime/recordedquote/", "/admin/fixedtime/instrument/"):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/fixedtime/trade/add/").status_code == 403
