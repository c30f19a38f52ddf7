"""The fixed-time API: open, list (open and history), one trade, the instruments; the
fixedtime stream's events; hostile input refused with a 4xx and nothing written."""
from datetime import timedelta
from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from apps.fixedtime import apis, services
from apps.fixedtime.models import Trade
from apps.marketdata import streams
from apps.wallets.models import Hold
from tests.factories import UserFactory
from tests.fixedtime.helpers import due, fund, open_trade, quote

pytestmark = pytest.mark.django_db
URL = "/api/v1/fixedtime/trades/"


@pytest.fixture
def scheduled(monkeypatch):
    """What the API scheduled (no timer thread or broker in these tests)."""
    calls = []
    monkeypatch.setattr(apis.tasks, "settlement_schedule", calls.append)
    return calls


def body(**fields):
    return {"symbol": "EUR/USD", "mode": "LIVE", "direction": "UP", "stake": "10",
            "expiry_seconds": 60, **fields}


def test_open_then_list_and_read_a_trade(instrument, user, api, scheduled,
                                         django_capture_on_commit_callbacks):
    fund(user)
    quote("1.10000")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, body(), format="json")
    assert response.status_code == 201, response.json()
    trade = response.json()
    assert (trade["status"], trade["stake"], trade["entry_price"], trade["payout_percent"]) == (
        "OPEN", "10", "1.1", "85.00")
    assert [t.pk for t in scheduled] == [trade["id"]]
    assert api.get(f"{URL}?state=open").json()["results"][0]["id"] == trade["id"]
    assert api.get(f"{URL}?state=settled").json()["results"] == []

    settled = services.trade_settle(trade_id=trade["id"], now=due(Trade.objects.get()))
    detail = api.get(f"{URL}{trade['id']}/").json()
    assert (detail["status"], detail["payout"], detail["reason"]) == ("VOID", "10", settled.reason)
    assert api.get(f"{URL}?state=settled").json()["results"][0]["id"] == trade["id"]


def test_the_history_pages_with_a_cursor(instrument, user, api):
    fund(user)
    quote("1.10000")
    ids = []
    for _ in range(3):
        trade = open_trade(user)
        ids.append(services.trade_settle(trade_id=trade.pk, now=due(trade)).pk)
    page = api.get(f"{URL}?state=settled&limit=2").json()
    assert [t["id"] for t in page["results"]] == ids[::-1][:2]
    rest = APIClient()
    rest.force_authenticate(user)
    assert [t["id"] for t in rest.get(page["next"]).json()["results"]] == ids[:1]


def test_another_users_trade_is_not_found(instrument, user, api):
    fund(user)
    quote("1.10000")
    theirs = open_trade(user)
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.get(f"{URL}{theirs.pk}/").status_code == 404
    for trade_id in ("0", str(2 ** 63), "9" * 40):
        assert other.get(f"{URL}{trade_id}/").status_code == 404
    assert other.get(URL).json()["results"] == []


def test_the_instruments_are_public(instrument):
    rows = APIClient().get("/api/v1/fixedtime/instruments/").json()
    assert [(r["venue"], r["symbol"], r["expiries"], r["payout_percent"]) for r in rows] == [
        ("paper", "EUR/USD", [60, 300], "85.00")]


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"stake": "NaN"}, 400, "invalid"),
    ({"stake": "-10"}, 400, "invalid"),
    ({"stake": "1e400"}, 400, "invalid"),
    ({"stake": "0.5"}, 400, "stake_out_of_bounds"),
    ({"stake": "99999999999999999999"}, 400, "invalid"),
    ({"stake": "10.001"}, 400, "invalid"),
    ({"expiry_seconds": 61}, 400, "expiry_not_allowed"),
    ({"expiry_seconds": True}, 400, "invalid"),
    ({"expiry_seconds": 10 ** 30}, 400, "invalid"),
    ({"expiry_seconds": -60}, 400, "invalid"),
    ({"symbol": "GBP/USD"}, 404, "unknown_instrument"),
    ({"symbol": "EUR\u2044USD"}, 400, "invalid"),  # a fraction slash, not "/"
    ({"symbol": "ＥUR/USD"}, 400, "invalid"),
    ({"symbol": "EUR/USD "}, 400, "invalid"),
    ({"venue": "PAPER"}, 400, "invalid"),
    ({"venue": "spot"}, 404, "unknown_instrument"),
    ({"mode": "demo"}, 400, "invalid"),
    ({"direction": ["UP"]}, 400, "invalid"),
])
def test_hostile_input_is_refused_and_writes_nothing(instrument, user, api, scheduled,
                                                     fields, status, code):
    fund(user)
    quote("1.10000")
    response = api.post(URL, body(**fields), format="json")
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert not Trade.objects.exists() and not Hold.objects.exists() and scheduled == []


@pytest.mark.parametrize("query", ["state=OPEN", "state=", "limit=0", "cursor=zz"])
def test_bad_list_parameters_are_400(user, api, query):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_anonymous_users_cannot_trade(instrument):
    response = APIClient().post(URL, body(), format="json")
    assert response.status_code in (401, 403)


def test_the_owner_hears_the_opening_and_the_settlement(instrument, user, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(streams, "send_to_groups", lambda messages: sent.extend(messages))
    fund(user)
    quote("1.10000")
    with django_capture_on_commit_callbacks(execute=True):
        trade = open_trade(user)
    quote("1.00000", at=trade.expires_at - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.trade_settle(trade_id=trade.pk, now=due(trade))
    events = [m["data"] for group, m in sent
              if m["stream"] == "fixedtime" and group == streams.user_group(user.pk)]
    assert [(e["event"], e["status"]) for e in events] == [("opened", "OPEN"), ("settled", "LOST")]
    assert (events[1]["exit_price"], events[1]["payout"]) == ("1", "0")
    assert D(events[0]["stake"]) == D("10")
