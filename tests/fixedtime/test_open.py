"""Opening a trade: what is fixed, what is held, and every refusal writing nothing."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.fixedtime.models import Trade
from apps.wallets.models import Hold, Wallet
from apps.wallets.services import InsufficientFunds
from tests.fixedtime.helpers import fund, make_instrument, open_trade, quote

pytestmark = pytest.mark.django_db


def test_a_trade_fixes_its_terms_holds_its_stake_and_is_scheduled(
        instrument, user, django_capture_on_commit_callbacks):
    fund(user)
    quote("1.23450")
    scheduled = []
    with django_capture_on_commit_callbacks(execute=True):
        trade = open_trade(user, direction="DOWN", stake="25.50", expiry=300,
                           scheduled=scheduled)
    assert scheduled == [trade]  # after commit only
    assert (trade.status, trade.mode, trade.wallet_type, trade.currency) == (
        "OPEN", "LIVE", "SPOT", "USD")
    assert (trade.entry_price, trade.payout_percent) == (D("1.23450"), D("85"))
    assert trade.entry_evidence["source"] == "test"
    assert trade.expires_at - trade.opened_at == timedelta(seconds=300)
    wallet = Wallet.objects.get(user=user, type="SPOT", currency_id="USD")
    assert (wallet.balance, wallet.held) == (D("1000"), D("25.50"))
    assert Hold.objects.get(key=trade.hold_key).amount == D("25.50")


def test_a_demo_trade_is_staked_from_the_demo_balance(instrument, user):
    quote("1.23450")
    trade = open_trade(user, mode="DEMO")
    paper = Wallet.objects.get(user=user, type="PAPER", currency_id="USD")
    assert paper.held == D("10") and paper.balance > 0
    assert not Wallet.objects.filter(user=user, type="SPOT").exclude(balance=0).exists()
    assert trade.wallet_type == "PAPER"


def _refused(user, error, code, **kwargs):
    with pytest.raises(error) as exc:
        open_trade(user, **kwargs)
    assert exc.value.code == code, exc.value.message
    assert not Trade.objects.exists()
    assert not Hold.objects.exists()
    return exc.value


@pytest.mark.parametrize(("kwargs", "error", "code"), [
    ({"stake": "0.99"}, InvalidInput, "stake_out_of_bounds"),
    ({"stake": "1000.01"}, InvalidInput, "stake_out_of_bounds"),
    ({"stake": "1.001"}, InvalidInput, "invalid"),  # beyond the cent
    ({"expiry": 61}, InvalidInput, "expiry_not_allowed"),
    ({"symbol": "eur/usd"}, NotFound, "unknown_instrument"),
    ({"symbol": "GBP/USD"}, NotFound, "unknown_instrument"),
    ({"direction": "SIDEWAYS"}, InvalidInput, "invalid"),
    ({"mode": "live"}, InvalidInput, "invalid"),
    ({"stake": "1001"}, InvalidInput, "stake_out_of_bounds"),
])
def test_bad_terms_are_refused(instrument, user, kwargs, error, code):
    fund(user)
    quote("1.10000")
    _refused(user, error, code, **kwargs)


def test_short_funds_are_refused(instrument, user):
    fund(user, spot="9.99")
    quote("1.10000")
    _refused(user, InsufficientFunds, "insufficient_funds")


@pytest.mark.parametrize("age", [31, 3600])
def test_a_stale_quote_is_refused(instrument, user, age):
    fund(user)
    quote("1.10000", at=timezone.now() - timedelta(seconds=age))
    _refused(user, Conflict, "stale_quote")


def test_no_quote_at_all_is_refused(instrument, user):
    fund(user)
    _refused(user, Conflict, "stale_quote")


@pytest.mark.parametrize("change", [
    {"enabled": False},
    {"market_status": "disabled"},
    {"market_status": "halted"},
])
def test_a_disabled_instrument_or_market_is_refused(instrument, user, change):
    fund(user)
    quote("1.10000")
    if "enabled" in change:
        instrument.enabled = False
        instrument.save()
    else:
        instrument.market.status = change["market_status"]
        instrument.market.save()
    _refused(user, NotFound, "unknown_instrument")


def test_a_market_without_fixed_time_settings_is_refused(currencies, user):
    make_instrument(symbol="GBP/USD")
    from tests.factories import MarketFactory
    MarketFactory(symbol="EUR/USD")
    fund(user)
    quote("1.10000")
    _refused(user, NotFound, "unknown_instrument")


def test_outside_the_trading_hours_is_refused(instrument, user):
    fund(user)
    quote("1.10000")
    now = timezone.now().astimezone(UTC)
    # A session that ended a minute ago (today, UTC), and one that closes before expiry.
    start = (now - timedelta(minutes=30)).strftime("%H:%M")
    ended = (now - timedelta(minutes=1)).strftime("%H:%M")
    closes_soon = (now + timedelta(seconds=59)).strftime("%H:%M")
    if not start < ended < closes_soon:  # the test runs around midnight UTC
        pytest.skip("the sessions would wrap around midnight")
    instrument.sessions = [{"days": [now.weekday()], "open": start, "close": ended}]
    instrument.save()
    error = _refused(user, Conflict, "market_closed")
    assert "now" in error.message
    instrument.sessions = [{"days": [now.weekday()], "open": start, "close": closes_soon}]
    instrument.save()
    error = _refused(user, Conflict, "market_closed", expiry=300)
    assert "expiry" in error.message


def test_the_open_trade_limit_counts_per_mode(instrument, user):
    fund(user)
    quote("1.10000")
    for _ in range(3):
        open_trade(user)
    with pytest.raises(Conflict) as exc:
        open_trade(user)
    assert exc.value.code == "too_many_open_trades"
    assert Trade.objects.count() == 3
    assert Wallet.objects.get(user=user, type="SPOT").held == D("30")
    open_trade(user, mode="DEMO")  # demo trades have their own count


def test_sessions_decide_by_the_instruments_timezone(instrument, user):
    fund(user)
    quote("1.10000")
    now = datetime.now(UTC)
    # Open all day in Tokyo on Tokyo's weekday only.
    tokyo = now.astimezone(timezone.zoneinfo.ZoneInfo("Asia/Tokyo"))
    instrument.timezone = "Asia/Tokyo"
    instrument.sessions = [{"days": [tokyo.weekday()], "open": "00:00", "close": "24:00"}]
    instrument.save()
    if (tokyo + timedelta(seconds=60)).weekday() == tokyo.weekday():
        assert open_trade(user).status == "OPEN"
    instrument.sessions = [{"days": [(tokyo.weekday() + 3) % 7], "open": "00:00",
                            "close": "24:00"}]
    instrument.save()
    with pytest.raises(Conflict):
        open_trade(user)
