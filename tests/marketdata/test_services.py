import enum
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.marketdata import selectors, services
from apps.marketdata.quotes import VENUE_PATTERN, Quote


@pytest.fixture
def listeners(monkeypatch):
    registered: dict = {}
    monkeypatch.setattr(services, "_listeners", registered)
    return registered


def quote(symbol="EUR/USD", price="1.10000", bid="1.09990", ask="1.10010", *,
          venue="paper", bid_size=None, ask_size=None) -> Quote:
    return Quote(venue=venue, symbol=symbol, price=Decimal(price), bid=Decimal(bid),
                 ask=Decimal(ask), bid_size=bid_size, ask_size=ask_size,
                 timestamp=datetime(2026, 11, 22, 10, 0, tzinfo=UTC), source="test")


def test_publish_stores_latest_and_round_trips_exactly(listeners):
    services.publish(quote=quote(price="1.10000"))
    services.publish(quote=quote(price="1.12345"))
    latest = selectors.latest_quote(venue="paper", symbol="EUR/USD")
    assert latest == quote(price="1.12345")
    assert type(latest.price) is Decimal
    assert selectors.latest_quote(venue="paper", symbol="GBP/USD") is None


def test_one_symbol_on_two_venues_keeps_two_latest_quotes(listeners):
    """A CCXT BTC/USD and a TwelveData BTC/USD are two markets: neither overwrites the
    other's latest quote, and each ticker numbers its own ticks."""
    spot = quote("BTC/USD", "90000.5", "90000", "90001", venue="spot",
                 bid_size=Decimal("0.25"), ask_size=Decimal("1.5"))
    paper = quote("BTC/USD", "89990", "89980", "90000", venue="paper")
    services.publish(quote=spot)
    services.publish(quote=paper)
    services.publish(quote=paper)
    assert selectors.latest_quote(venue="spot", symbol="BTC/USD") == spot
    assert selectors.latest_quote(venue="paper", symbol="BTC/USD") == paper
    assert selectors.latest_quotes(venue="spot", symbols=["BTC/USD", "ETH/USD"]) == {
        "BTC/USD": spot}
    assert selectors.latest_quote(venue="futures", symbol="BTC/USD") is None
    [(spot_seq, _)] = selectors.latest_ticks(venue="spot", symbols=["BTC/USD"]).values()
    [(paper_seq, _)] = selectors.latest_ticks(venue="paper", symbols=["BTC/USD"]).values()
    services.publish(quote=spot)
    [(next_spot_seq, _)] = selectors.latest_ticks(venue="spot", symbols=["BTC/USD"]).values()
    assert next_spot_seq == spot_seq + 1  # the paper ticks did not advance spot's counter
    assert paper_seq != next_spot_seq


def test_a_failing_listener_does_not_starve_the_others(listeners):
    seen = []

    def broken(q):
        raise RuntimeError("bug in one venue")

    services.register_listener(broken, venues=["paper"])
    services.register_listener(seen.append, venues=["paper"])
    services.register_listener(seen.append, venues=("paper",))  # registering twice calls once
    services.publish(quote=quote())
    assert seen == [quote()]


def test_a_listener_hears_only_its_venues(listeners):
    paper, spot, both = [], [], []
    services.register_listener(paper.append, venues=["paper"])
    services.register_listener(spot.append, venues={"spot"})
    services.register_listener(both.append, venues=["spot"])
    services.register_listener(both.append, venues=["paper"])  # venues add up
    on_spot, on_paper = quote("BTC/USD", venue="spot"), quote("BTC/USD", venue="paper")
    on_futures = quote("BTC/USD", venue="futures")
    for q in (on_spot, on_paper, on_futures):
        services.publish(quote=q)
    assert paper == [on_paper]
    assert spot == [on_spot]
    assert both == [on_spot, on_paper]


@pytest.mark.parametrize("venues", ["paper", [], ["Paper"], ["paper", "sp ot"], [""], [None]])
def test_a_listener_must_name_valid_venues(listeners, venues):
    """A bare string would be its letters' venues; no venue at all would hear nothing."""
    with pytest.raises(ValueError):
        services.register_listener(print, venues=venues)
    assert listeners == {}


@pytest.mark.parametrize("venue", ["", "Paper", "PAPER", "spot ", "1spot", "sp-ot", "sp:ot",
                                   "s" * 17, "pap\u0435r", "paper\n", None, 5])
def test_a_quote_names_a_well_formed_venue(venue):
    with pytest.raises(ValueError):
        quote(venue=venue)


class Venue(enum.StrEnum):  # what a venue passes: a member of the trading core's choices
    SPOT = "spot"


def test_a_quote_keeps_its_venue_as_a_plain_string():
    """The latest quote is pickled into the cache: an enum member there would tie every
    reader to the enum's module."""
    venue = quote(venue=Venue.SPOT).venue
    assert (venue, type(venue)) == ("spot", str)


sizes = st.none() | st.decimals(min_value=0, allow_nan=False, allow_infinity=False, places=8)


@given(venue=st.from_regex(VENUE_PATTERN, fullmatch=True),
       bid_size=sizes, ask_size=sizes)
def test_to_dict_and_from_dict_carry_venue_and_sizes_exactly(venue, bid_size, ask_size):
    original = quote(venue=venue, bid_size=bid_size, ask_size=ask_size)
    data = original.to_dict()
    assert (data["venue"], data["bid_size"], data["ask_size"]) == (
        venue, None if bid_size is None else str(bid_size),
        None if ask_size is None else str(ask_size))
    assert Quote.from_dict(data) == original


def test_a_late_older_tick_never_replaces_a_newer_latest_quote(listeners):
    """A tick that reaches the bus after a newer one (a second feed connection, a
    redelivery) is still streamed and offered to the listeners, who judge it, but the
    latest price stays the newer one; an equal or newer tick replaces it."""
    heard = []
    services.register_listener(heard.append, venues=["paper"])
    newer = replace(quote(price="1.10300"), timestamp=datetime(2026, 11, 22, 10, 0, 1,
                                                                tzinfo=UTC))
    older = replace(quote(price="1.09700"), timestamp=datetime(2026, 11, 22, 10, 0, 0,
                                                               999_999, tzinfo=UTC))
    services.publish(quote=newer)
    services.publish(quote=older)
    assert selectors.latest_quote(venue="paper", symbol="EUR/USD") == newer
    assert heard == [newer, older]
    same_time = replace(newer, price=Decimal("1.10400"))
    services.publish(quote=same_time)
    assert selectors.latest_quote(venue="paper", symbol="EUR/USD") == same_time
