"""The REST API through the real ``twelvedata`` SDK (and raw HTTP where the SDK hides it)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from twelvedata import TDClient
from twelvedata.exceptions import BadRequestError, InvalidApiKeyError, TwelveDataError

from devtools.twelvedata import EmulatorHandle, running_emulator

from .conftest import APIKEY, START, FakeClock

# -- reference data ---------------------------------------------------------------------


def test_forex_pairs_list_and_filters(td: TDClient) -> None:
    pairs = td.get_forex_pairs_list().as_json()

    assert len(pairs) >= 20
    assert {"symbol": "EUR/USD", "currency_group": "Major", "currency_base": "Euro",
            "currency_quote": "US Dollar"} in pairs
    euro_based = td.get_forex_pairs_list(currency_base="EUR").as_json()
    assert {p["symbol"] for p in euro_based} >= {"EUR/USD", "EUR/JPY", "EUR/GBP"}
    assert {p["currency_base"] for p in euro_based} == {"Euro"}
    # Full names filter too, and a symbol filter picks one pair.
    assert td.get_forex_pairs_list(currency_quote="Japanese Yen").as_json()
    assert [p["symbol"] for p in td.get_forex_pairs_list(symbol="USD/JPY").as_json()] == [
        "USD/JPY"
    ]


def test_stocks_list_shape_and_filters(td: TDClient) -> None:
    stocks = td.get_stocks_list().as_json()
    aapl = next(s for s in stocks if s["symbol"] == "AAPL")

    assert len(stocks) >= 20
    assert aapl == {"symbol": "AAPL", "name": "Apple Inc", "currency": "USD",
                    "exchange": "NASDAQ", "mic_code": "XNGS", "country": "United States",
                    "type": "Common Stock", "figi_code": "BBG000B9Y5X2", "cfi_code": "ESVUFR",
                    "isin": "US0378331005", "cusip": "037833100"}
    nyse = td.get_stocks_list(exchange="NYSE").as_json()
    assert nyse and {s["exchange"] for s in nyse} == {"NYSE"}
    assert "AAPL" not in {s["symbol"] for s in nyse}
    assert td.get_stocks_list(country="Germany").as_json() == []
    with_plan = td.get_stocks_list(symbol="MSFT", show_plan="true").as_json()
    assert [s["access"]["global"] for s in with_plan] == ["Level A"]


def test_etf_list_on_both_paths(td: TDClient, emulator: EmulatorHandle) -> None:
    etfs = td.get_etf_list().as_json()
    spy = next(e for e in etfs if e["symbol"] == "SPY")

    assert len(etfs) >= 10
    assert "type" not in spy  # ETF entries are the stock fields minus ``type``
    assert spy["name"] == "SPDR S&P 500 ETF Trust"
    # Older clients call /etf; it serves the same list.
    legacy = requests.get(f"{emulator.base_url}/etf", params={"apikey": APIKEY}, timeout=5)
    assert legacy.json() == {"data": etfs, "count": len(etfs), "status": "ok"}


def test_indices_and_cryptocurrencies(td: TDClient) -> None:
    indices = td.get_indices_list().as_json()
    cryptos = td.get_cryptocurrencies_list(exchange="Kraken", currency_base="BTC").as_json()

    assert {"SPX", "NDX", "DJI"} <= {i["symbol"] for i in indices}
    assert next(i for i in indices if i["symbol"] == "SPX") == {
        "symbol": "SPX", "name": "S&P 500", "country": "United States", "currency": "USD",
        "exchange": "NYSE", "mic_code": "XNYS"}
    assert cryptos == [{"symbol": "BTC/USD",
                        "available_exchanges": ["Binance", "Coinbase Pro", "Kraken"],
                        "currency_base": "Bitcoin", "currency_quote": "US Dollar"}]


def test_technical_indicators_is_what_the_sdk_constructor_reads(
        emulator: EmulatorHandle) -> None:
    # TDClient() fetches it only once per process, so it is checked over raw HTTP.
    body = requests.get(f"{emulator.base_url}/technical_indicators",
                        params={"format": "JSON", "apikey": APIKEY, "source": "python"},
                        timeout=5).json()

    assert body == {"data": {}, "status": "ok"}


# -- quotes and prices ------------------------------------------------------------------


def test_quote_of_a_stock(td: TDClient, emulator: EmulatorHandle) -> None:
    emulator.set_price("AAPL", Decimal("201.5"))

    quote = td.quote(symbol="AAPL").as_json()

    assert quote["symbol"] == "AAPL"
    assert (quote["exchange"], quote["mic_code"], quote["currency"]) == ("NASDAQ", "XNGS", "USD")
    # The SDK asks dp=5: REST numbers are strings with five places.
    assert quote["close"] == "201.50000"
    # 17:13 in New York on 2023-11-14: the daily bar is that day's.
    assert quote["datetime"] == "2023-11-14"
    assert quote["last_quote_at"] == START
    assert quote["is_market_open"] is True
    assert int(quote["volume"]) > 0 and int(quote["average_volume"]) > 0
    low, high, close = (Decimal(quote[k]) for k in ("low", "high", "close"))
    assert low <= close <= high
    change = close - Decimal(quote["previous_close"])
    assert Decimal(quote["change"]) == change
    year = quote["fifty_two_week"]
    assert Decimal(year["low"]) <= close <= Decimal(year["high"])
    assert Decimal(year["low_change"]) == close - Decimal(year["low"])


def test_quote_of_a_forex_pair_has_no_volume(td: TDClient) -> None:
    quote = td.quote(symbol="EUR/USD").as_json()

    assert quote["name"] == "Euro / US Dollar"
    assert not {"volume", "average_volume", "mic_code"} & quote.keys()
    assert len(quote["close"].split(".")[1]) == 5


def test_quote_agrees_with_the_daily_series(td: TDClient) -> None:
    quote = td.quote(symbol="MSFT").as_json()
    bars = td.time_series(symbol="MSFT", interval="1day", outputsize=2).as_json()

    assert quote["close"] == bars[0]["close"]
    assert quote["open"] == bars[0]["open"]
    assert quote["previous_close"] == bars[1]["close"]


def test_batch_quote_keys_by_symbol_with_per_symbol_errors(td: TDClient) -> None:
    batch = td.quote(symbol="AAPL,EUR/USD,NOPE").as_json()

    assert batch["AAPL"]["symbol"] == "AAPL"
    assert batch["EUR/USD"]["symbol"] == "EUR/USD"
    assert batch["NOPE"]["status"] == "error"
    assert batch["NOPE"]["code"] == 400
    assert "**symbol** not found: NOPE" in batch["NOPE"]["message"]


def test_price_follows_set_price(td: TDClient, emulator: EmulatorHandle) -> None:
    emulator.set_price("EUR/USD", Decimal("1.1"))

    assert td.price(symbol="EUR/USD").as_json() == {"price": "1.10000"}
    assert td.price(symbol="EUR/USD", dp=2).as_json() == {"price": "1.10"}


def test_batch_price(td: TDClient, emulator: EmulatorHandle) -> None:
    emulator.set_price("BTC/USD", "64000")
    emulator.set_price("USD/JPY", "151.234")

    assert td.price(symbol="BTC/USD,USD/JPY").as_json() == {
        "BTC/USD": {"price": "64000.00000"}, "USD/JPY": {"price": "151.23400"}}


def test_symbol_lookup_honours_exchange(td: TDClient) -> None:
    assert td.price(symbol="AAPL:NASDAQ").as_json()["price"]
    with pytest.raises(TwelveDataError, match="not found"):
        td.price(symbol="AAPL", exchange="NYSE").as_json()


# -- time series ------------------------------------------------------------------------


def test_minute_series_of_a_forex_pair(td: TDClient, emulator: EmulatorHandle) -> None:
    emulator.set_price("EUR/USD", Decimal("1.08000"))

    bars = td.time_series(symbol="EUR/USD", interval="1min", outputsize=10).as_json()

    assert len(bars) == 10
    assert bars[0]["datetime"] == "2023-11-14 22:13:00"  # forex is labelled in UTC
    assert bars[0]["close"] == "1.08000"
    moments = [datetime.fromisoformat(b["datetime"]) for b in bars]
    assert all(a - b == timedelta(minutes=1) for a, b in itertools.pairwise(moments))
    assert all("volume" not in b for b in bars)
    for newer, older in itertools.pairwise(bars):
        assert newer["open"] == older["close"]  # each bar opens at the previous close
    for bar in bars:
        low, high = Decimal(bar["low"]), Decimal(bar["high"])
        assert low <= min(Decimal(bar["open"]), Decimal(bar["close"]))
        assert high >= max(Decimal(bar["open"]), Decimal(bar["close"]))


def test_stock_series_has_volume_and_exchange_time(td: TDClient) -> None:
    endpoint = td.time_series(symbol="AAPL", interval="1h", outputsize=3).price_endpoint
    body = endpoint.execute().json()

    assert body["status"] == "ok"
    assert body["meta"] == {"symbol": "AAPL", "interval": "1h", "currency": "USD",
                            "exchange_timezone": "America/New_York", "exchange": "NASDAQ",
                            "mic_code": "XNGS", "type": "Common Stock"}
    assert [v["datetime"] for v in body["values"]] == [
        "2023-11-14 17:00:00", "2023-11-14 16:00:00", "2023-11-14 15:00:00"]
    assert all(int(v["volume"]) > 0 for v in body["values"])


def test_series_order_dp_and_long_intervals(td: TDClient) -> None:
    ascending = td.time_series(symbol="SPY", interval="1week", outputsize=3,
                               order="asc").as_json()
    months = td.time_series(symbol="SPY", interval="1month", outputsize=2, dp=2).as_json()

    # Weeks start on Monday, months on the 1st; daily-or-longer bars are labelled by date.
    assert [b["datetime"] for b in ascending] == ["2023-10-30", "2023-11-06", "2023-11-13"]
    assert [b["datetime"] for b in months] == ["2023-11-01", "2023-10-01"]
    assert len(months[0]["close"].split(".")[1]) == 2
    # dp=-1 (the API's own default) gives the symbol's natural places.
    natural = td.time_series(symbol="SPY", interval="1day", outputsize=1, dp=-1).as_json()
    assert len(natural[0]["close"].split(".")[1]) == 2
    forex = td.time_series(symbol="USD/JPY", interval="1day", outputsize=1, dp=-1).as_json()
    assert len(forex[0]["close"].split(".")[1]) == 3


def test_series_date_window(td: TDClient) -> None:
    bars = td.time_series(symbol="GBP/USD", interval="1h", start_date="2023-11-13 00:00:00",
                          end_date="2023-11-13 03:00:00", timezone="UTC").as_json()

    assert [b["datetime"] for b in bars] == [
        "2023-11-13 02:00:00", "2023-11-13 01:00:00", "2023-11-13 00:00:00"]
    with pytest.raises(BadRequestError, match="No data is available"):
        td.time_series(symbol="GBP/USD", interval="1h", start_date="2030-01-01").as_json()
    # Bars are invented back to a horizon (20,000 bars: two weeks of minutes), not forever.
    with pytest.raises(BadRequestError, match="No data is available"):
        td.time_series(symbol="GBP/USD", interval="1min", end_date="2000-01-01").as_json()


def test_batch_series_skips_failed_symbols(td: TDClient, emulator: EmulatorHandle) -> None:
    endpoint = td.time_series(symbol="AAPL,EUR/USD,NOPE", interval="1day",
                              outputsize=2).price_endpoint
    raw = endpoint.execute().json()
    series = td.time_series(symbol="AAPL,EUR/USD,NOPE", interval="1day",
                            outputsize=2).as_json()

    assert raw["NOPE"]["status"] == "error"
    assert raw["AAPL"]["status"] == raw["EUR/USD"]["status"] == "ok"
    assert set(series) == {"AAPL", "EUR/USD"}
    assert len(series["AAPL"]) == 2
    assert series["EUR/USD"][0]["close"] == f"{emulator.tick('EUR/USD').price_decimal:f}"


# -- errors -------------------------------------------------------------------------------


def test_wrong_apikey_raises_the_sdk_error(emulator: EmulatorHandle) -> None:
    bad = TDClient(apikey="wrong", base_url=emulator.base_url)

    with pytest.raises(InvalidApiKeyError, match=r"\*\*apikey\*\* parameter is incorrect"):
        bad.price(symbol="EUR/USD").as_json()


def test_errors_come_with_http_200(emulator: EmulatorHandle) -> None:
    missing_key = requests.get(f"{emulator.base_url}/quote", params={"symbol": "AAPL"},
                               timeout=5)

    assert missing_key.status_code == 200
    assert missing_key.json()["code"] == 401
    assert missing_key.json()["status"] == "error"


def test_header_apikey_and_unknown_params_are_accepted(emulator: EmulatorHandle) -> None:
    response = requests.get(f"{emulator.base_url}/price",
                            params={"symbol": "EUR/USD", "whatever": "1"},
                            headers={"Authorization": f"apikey {APIKEY}"}, timeout=5)

    assert response.json()["price"]


def test_bad_parameters_raise_bad_request(td: TDClient) -> None:
    with pytest.raises(BadRequestError, match=r"Invalid \*\*interval\*\* provided: 0.99min"):
        td.time_series(symbol="AAPL", interval="0.99min").as_json()
    with pytest.raises(BadRequestError, match="outputsize"):
        td.time_series(symbol="AAPL", interval="1min", outputsize=5001).as_json()


def test_unknown_symbol_is_a_plain_twelvedata_error(td: TDClient) -> None:
    with pytest.raises(TwelveDataError) as raised:
        td.quote(symbol="NOPE").as_json()

    # 404 maps to neither BadRequestError nor InvalidApiKeyError in the SDK.
    assert type(raised.value) is TwelveDataError
    assert "**symbol** not found: NOPE" in str(raised.value)


def test_per_minute_credit_limit(clock: FakeClock) -> None:
    with running_emulator(apikey=APIKEY, paused=True, clock=clock,
                          credits_per_minute=3) as emulator:
        td = TDClient(apikey=APIKEY, base_url=emulator.base_url)
        clock.now += 60  # a fresh minute, whether or not the constructor spent a credit

        td.price(symbol="EUR/USD,AAPL").as_json()  # one credit per symbol
        td.price(symbol="EUR/USD").as_json()
        with pytest.raises(TwelveDataError, match="run out of API credits"):
            td.price(symbol="EUR/USD").as_json()

        clock.now += 60
        assert td.price(symbol="EUR/USD").as_json()["price"]


# -- determinism --------------------------------------------------------------------------


def test_same_seed_same_market(clock: FakeClock) -> None:
    def snapshot(seed: int) -> tuple[object, ...]:
        with running_emulator(apikey=APIKEY, paused=True, seed=seed, clock=clock) as emu:
            td = TDClient(apikey=APIKEY, base_url=emu.base_url)
            emu.step(5)
            return (td.price(symbol="EUR/USD,AAPL,BTC/USD").as_json(),
                    td.time_series(symbol="AAPL", interval="5min", outputsize=5).as_json())

    assert snapshot(1) == snapshot(1)
    assert snapshot(1) != snapshot(2)
