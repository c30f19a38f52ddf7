"""Instrument settings: validated as the admin validates them, set by a command."""
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from apps.core.errors import InvalidInput, NotFound
from apps.fixedtime import services
from apps.fixedtime.models import Instrument
from tests.factories import MarketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(currencies):
    return MarketFactory()


def configure(**fields):
    values = {"venue": "paper", "symbol": "EUR/USD", "enabled": True, "min_stake": D("1"),
              "max_stake": D("100"), "payout_percent": D("80")}
    return services.instrument_configure(**{**values, **fields})


def test_a_market_gets_settings_and_they_change_in_place(market):
    first = configure()
    second = configure(enabled=False, payout_percent=D("70"))
    assert first.pk == second.pk
    assert Instrument.objects.get().payout_percent == D("70")


@pytest.mark.parametrize(("fields", "problem"), [
    ({"expiries": []}, "Expiries"),
    ({"expiries": [60, 60]}, "Expiries"),
    ({"expiries": [4]}, "Expiries"),
    ({"expiries": ["60"]}, "Expiries"),
    ({"expiries": [True]}, "Expiries"),
    ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
    ({"sessions": {"days": [0]}}, "Sessions are a list"),
    ({"sessions": [{"days": [7], "open": "08:00", "close": "17:00"}]}, "weekday"),
    ({"sessions": [{"days": [0], "open": "17:00", "close": "08:00"}]}, "open comes before"),
    ({"sessions": [{"days": [0], "open": "8:00", "close": "17:00"}]}, "HH:MM"),
    ({"sessions": [{"days": [0], "open": "24:00", "close": "24:00"}]}, "HH:MM"),
    ({"sessions": [{"days": [0], "open": "08:00"}]}, "exactly days"),
    ({"min_stake": D("0")}, "Stakes"),
    ({"max_stake": D("0.5")}, "Stakes"),
    ({"payout_percent": D("0")}, "payout percentage"),
])
def test_bad_settings_are_refused_and_name_the_problem(market, fields, problem):
    with pytest.raises(InvalidInput) as exc:
        configure(**fields)
    assert problem in exc.value.message
    assert not Instrument.objects.exists()


def test_an_unknown_or_look_alike_market_is_not_found(market):
    for symbol in ("GBP/USD", "eur/usd"):
        with pytest.raises(NotFound):
            configure(symbol=symbol)


def test_the_command_enables_and_disables(market, capsys):
    call_command("fixedtime_instrument", "paper", "EUR/USD", "--expiries", "5,60",
                 "--payout-percent", "90")
    instrument = Instrument.objects.get()
    assert (instrument.enabled, instrument.expiries, instrument.payout_percent) == (
        True, [5, 60], D("90"))
    call_command("fixedtime_instrument", "paper", "EUR/USD", "--disable")
    assert not Instrument.objects.get().enabled
    with pytest.raises(CommandError, match="GBP/USD"):
        call_command("fixedtime_instrument", "paper", "GBP/USD")
