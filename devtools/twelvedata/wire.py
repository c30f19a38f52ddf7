"""TwelveData's wire shapes: REST bodies, WebSocket events and error bodies.

Everything here is pure: instruments, ticks and bars in, JSON-ready dicts or strings out.
REST numbers are strings formatted to the request's ``dp``; WebSocket ``price``/``bid``/
``ask`` are JSON numbers written straight from ``Decimal`` (see :func:`encode_event`), so no
price ever passes through ``float`` on the way out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .catalog import Instrument, Kind
from .market import DAILY_MINUTES, INTERVAL_MINUTES, Bar, Tick, bar_start, from_units, history

# The interval list the real API prints in its error message.
SUPPORTED_INTERVALS_TEXT = "1min, 5min, 15min, 30min, 45min, 1h, 2h, 4h, 8h, 1day, 1week, 1month"
MAX_OUTPUTSIZE = 5000
# /time_series' default ``dp``: as many places as the symbol is quoted with.
AUTO_DP = -1
MAX_BATCH_SYMBOLS = 120
# How far back the date filters of /time_series may reach, in bars of the asked interval.
HISTORY_HORIZON_BARS = 20_000

INVALID_APIKEY_MESSAGE = (
    "**apikey** parameter is incorrect or not specified. You can get your free API key "
    "instantly following this link: https://twelvedata.com/pricing. If you believe that "
    "everything is correct, you can contact us at https://twelvedata.com/contact/customer"
)


class ApiError(Exception):
    """An error TwelveData reports in the body: ``{"code", "message", "status": "error"}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": "error"}


def symbol_not_found(symbol: str) -> ApiError:
    return ApiError(
        404,
        f"**symbol** not found: {symbol}. Please specify it correctly according to API "
        "Documentation.",
    )


# ---------------------------------------------------------------------------------------
# Numbers


def format_units(units: int, decimals: int, dp: int) -> str:
    """A REST number: the exact price rounded half-even to ``dp`` places, as a string."""
    return format_decimal(from_units(units, decimals), dp)


def format_decimal(value: Decimal, dp: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-dp), ROUND_HALF_EVEN):f}"


def json_number(value: Decimal) -> str:
    """A WebSocket number: the shortest exact decimal literal (``1.10000`` -> ``1.1``)."""
    return f"{value.normalize():f}"


def encode_event(event: Mapping[str, Any]) -> str:
    """Serialises a flat event, writing ``Decimal`` values as JSON numbers verbatim.

    The stdlib encoder can only emit ``Decimal`` through ``float``; the feed's events are
    flat, so each member is encoded on its own.
    """
    members = (
        json.dumps(key) + ":"
        + (json_number(value) if isinstance(value, Decimal) else json.dumps(value))
        for key, value in event.items()
    )
    return "{" + ",".join(members) + "}"


# ---------------------------------------------------------------------------------------
# Request parameters


def parse_dp(raw: str | None, default: int, allow_auto: bool = False) -> int:
    """``dp``: 0..11 decimal places; ``-1`` (time series only) means the symbol's own."""
    if raw is None:
        return default
    try:
        dp = int(raw)
    except ValueError:
        dp = -2
    if not (0 <= dp <= 11 or (allow_auto and dp == AUTO_DP)):
        raise ApiError(400, f"Invalid **dp** provided: {raw}. Should be in range [0, 11]")
    return dp


def parse_interval(raw: str | None, required: bool) -> str:
    if raw is None and not required:
        return "1day"
    if raw not in INTERVAL_MINUTES:
        if raw is None:
            raise ApiError(400, "**interval** parameter is missing or invalid.")
        raise ApiError(
            400, f"Invalid **interval** provided: {raw}. Supported intervals: "
            f"{SUPPORTED_INTERVALS_TEXT}",
        )
    return raw


def parse_outputsize(raw: str | None) -> int:
    if raw is None:
        return 30
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_OUTPUTSIZE:
        raise ApiError(
            400, f"Invalid **outputsize** provided: {raw}. Should be in range [1, 5000]"
        )
    return size


def parse_order(raw: str | None) -> str:
    order = (raw or "desc").lower()
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid **order** provided: {raw}. Supported values: asc, desc")
    return order


def display_zone(raw: str | None, instrument: Instrument) -> ZoneInfo:
    """``timezone``: ``Exchange`` (the default: the instrument's own), ``UTC`` or IANA."""
    name = instrument.timezone if raw is None or raw.lower() == "exchange" else raw
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, f"Invalid **timezone** provided: {raw}") from None


def parse_symbols(raw: str | None) -> list[str]:
    """The ``symbol`` param: one symbol, or a comma-separated batch of up to 120."""
    symbols = [s.strip() for s in (raw or "").split(",") if s.strip()]
    if not symbols:
        raise ApiError(
            400, "**symbol** parameter is missing or invalid. Please provide a valid symbol "
            "according to API documentation: https://twelvedata.com/docs",
        )
    if len(symbols) > MAX_BATCH_SYMBOLS:
        raise ApiError(
            414, f"**symbol** parameter array is too long: {len(symbols)} symbols given, "
            f"the maximum is {MAX_BATCH_SYMBOLS}",
        )
    return symbols


def _parse_moment(raw: str, param: str) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, pattern)
        except ValueError:
            continue
    raise ApiError(400, f"Invalid **{param}** provided: {raw}. Expected 2006-01-02 15:04:05")


def parse_window(params: Mapping[str, str], now: datetime) -> tuple[datetime | None,
                                                                    datetime | None]:
    """``start_date`` (inclusive), ``end_date`` (exclusive) or a single ``date``.

    Moments are wall-clock times in the display timezone; ``date`` also takes ``today`` and
    ``yesterday``.
    """
    if "date" in params:
        raw = params["date"].lower()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day = {"today": today, "yesterday": today - timedelta(days=1)}.get(raw)
        if day is None:
            day = _parse_moment(params["date"], "date")
        return day, day + timedelta(days=1)
    start = _parse_moment(params["start_date"], "start_date") if "start_date" in params else None
    end = _parse_moment(params["end_date"], "end_date") if "end_date" in params else None
    return start, end


# ---------------------------------------------------------------------------------------
# Catalog entries


def _plan(show_plan: bool) -> dict[str, Any]:
    return {"access": {"global": "Level A", "plan": "Basic"}} if show_plan else {}


def catalog_entry(instrument: Instrument, show_plan: bool = False) -> dict[str, Any]:
    """One ``data`` element of the list endpoint serving the instrument's kind."""
    i = instrument
    if i.kind is Kind.FOREX:
        return {"symbol": i.symbol, "currency_group": i.currency_group,
                "currency_base": i.currency_base, "currency_quote": i.currency_quote}
    if i.kind is Kind.CRYPTO:
        return {"symbol": i.symbol, "available_exchanges": list(i.available_exchanges),
                "currency_base": i.currency_base, "currency_quote": i.currency_quote}
    if i.kind is Kind.INDEX:
        return {"symbol": i.symbol, "name": i.name, "country": i.country,
                "currency": i.currency, "exchange": i.exchange, "mic_code": i.mic_code,
                **_plan(show_plan)}
    entry = {"symbol": i.symbol, "name": i.name, "currency": i.currency,
             "exchange": i.exchange, "mic_code": i.mic_code, "country": i.country,
             "type": i.type, "figi_code": i.figi_code, "cfi_code": i.cfi_code,
             "isin": i.isin, "cusip": i.cusip, **_plan(show_plan)}
    if i.kind is Kind.ETF:
        # ETF entries are the stock fields minus ``type``.
        del entry["type"]
    return entry


# ---------------------------------------------------------------------------------------
# Market data


@dataclass(frozen=True)
class SeriesRequest:
    """The parsed parameters of one ``/time_series`` or ``/quote`` symbol."""

    interval: str
    zone: ZoneInfo
    dp: int
    now: datetime
    seed: int


def local_now(clock_seconds: float, zone: ZoneInfo) -> datetime:
    """Wall-clock time in ``zone``, naive, as bars are labelled."""
    return datetime.fromtimestamp(clock_seconds, zone).replace(tzinfo=None)


def _label(bar: Bar, interval: str) -> str:
    if INTERVAL_MINUTES[interval] >= DAILY_MINUTES:
        return bar.label.strftime("%Y-%m-%d")
    return bar.label.strftime("%Y-%m-%d %H:%M:%S")


def series_meta(instrument: Instrument, interval: str) -> dict[str, Any]:
    i = instrument
    if i.kind in (Kind.FOREX, Kind.CRYPTO):
        meta = {"symbol": i.symbol, "interval": interval, "currency_base": i.currency_base,
                "currency_quote": i.currency_quote}
        if i.kind is Kind.CRYPTO:
            meta["exchange"] = i.exchange
        meta["type"] = i.type
        return meta
    return {"symbol": i.symbol, "interval": interval, "currency": i.currency,
            "exchange_timezone": i.timezone, "exchange": i.exchange, "mic_code": i.mic_code,
            "type": i.type}


def time_series_body(instrument: Instrument, tick: Tick, request: SeriesRequest,
                     outputsize: int, order: str, start: datetime | None,
                     end: datetime | None) -> dict[str, Any]:
    """``/time_series`` for one symbol: ``meta``, ``values`` (newest first unless asc)."""
    dp = instrument.decimals if request.dp == AUTO_DP else request.dp
    newest = bar_start(request.now, request.interval)
    bars: list[Bar] = []
    for scanned, bar in enumerate(
        history(instrument, tick.price, request.interval, newest, request.seed)
    ):
        if len(bars) == outputsize or scanned == HISTORY_HORIZON_BARS:
            break
        if start is not None and bar.label < start:
            break
        if end is None or bar.label < end:
            bars.append(bar)
    if not bars:
        raise ApiError(
            400, "No data is available on the specified dates. Try setting different "
            "start/end dates.",
        )
    if order == "asc":
        bars.reverse()
    values = []
    for bar in bars:
        value = {
            "datetime": _label(bar, request.interval),
            "open": format_units(bar.open, instrument.decimals, dp),
            "high": format_units(bar.high, instrument.decimals, dp),
            "low": format_units(bar.low, instrument.decimals, dp),
            "close": format_units(bar.close, instrument.decimals, dp),
        }
        if instrument.has_volume:
            value["volume"] = str(bar.volume)
        values.append(value)
    return {"meta": series_meta(instrument, request.interval), "values": values, "status": "ok"}


def _percent(change: Decimal, base: Decimal, dp: int) -> str:
    return format_decimal(change * 100 / base, dp)


def quote_body(instrument: Instrument, tick: Tick, request: SeriesRequest,
               volume_time_period: int) -> dict[str, Any]:
    """``/quote``: the current ``interval`` bar, the previous close and 52-week range.

    The bars come from the same invented history as ``/time_series``, so a quote agrees
    with the series: ``close`` is the live price, ``previous_close`` the prior bar's close.
    """
    i = instrument
    dp = request.dp
    units = i.decimals
    newest = bar_start(request.now, request.interval)
    bars = []
    for bar in history(i, tick.price, request.interval, newest, request.seed):
        bars.append(bar)
        if len(bars) > volume_time_period:
            break
    current, previous = bars[0], bars[1]
    days = []
    day = bar_start(request.now, "1day")
    for bar in history(i, tick.price, "1day", day, request.seed):
        days.append(bar)
        if len(days) == 365:
            break
    year_low = min(b.low for b in days)
    year_high = max(b.high for b in days)
    close = from_units(current.close, units)
    previous_close = from_units(previous.close, units)
    low = from_units(year_low, units)
    high = from_units(year_high, units)
    timestamp = int(current.label.replace(tzinfo=request.zone).timestamp())

    body: dict[str, Any] = {"symbol": i.symbol, "name": i.name}
    body["exchange"] = {Kind.FOREX: "Forex"}.get(i.kind, i.exchange)
    if i.mic_code:
        body["mic_code"] = i.mic_code
    if i.currency:
        body["currency"] = i.currency
    body.update({
        "datetime": _label(current, request.interval),
        "timestamp": timestamp,
        "last_quote_at": tick.timestamp,
        "open": format_units(current.open, units, dp),
        "high": format_units(current.high, units, dp),
        "low": format_units(current.low, units, dp),
        "close": format_decimal(close, dp),
    })
    if i.has_volume:
        body["volume"] = str(current.volume)
    body.update({
        "previous_close": format_decimal(previous_close, dp),
        "change": format_decimal(close - previous_close, dp),
        "percent_change": _percent(close - previous_close, previous_close, dp),
    })
    if i.has_volume:
        body["average_volume"] = str(sum(b.volume for b in bars[1:]) // volume_time_period)
    body["is_market_open"] = True
    body["fifty_two_week"] = {
        "low": format_decimal(low, dp),
        "high": format_decimal(high, dp),
        "low_change": format_decimal(close - low, dp),
        "high_change": format_decimal(close - high, dp),
        "low_change_percent": _percent(close - low, low, dp),
        "high_change_percent": _percent(close - high, high, dp),
        "range": f"{format_decimal(low, 6)} - {format_decimal(high, 6)}",
    }
    return body


def price_body(instrument: Instrument, tick: Tick, dp: int) -> dict[str, str]:
    return {"price": format_units(tick.price, instrument.decimals, dp)}


# ---------------------------------------------------------------------------------------
# WebSocket


def subscription_entry(instrument: Instrument) -> dict[str, str]:
    """A ``success`` element of ``subscribe-status``/``unsubscribe-status``."""
    i = instrument
    if i.kind is Kind.FOREX:
        return {"symbol": i.symbol, "exchange": "FOREX", "country": "", "type": i.type}
    if i.kind is Kind.CRYPTO:
        return {"symbol": i.symbol, "exchange": i.exchange, "country": "", "type": i.type}
    return {"symbol": i.symbol, "exchange": i.exchange, "mic_code": i.mic_code,
            "country": i.country, "type": i.type}


def price_event(instrument: Instrument, tick: Tick) -> dict[str, Any]:
    """A ``price`` event in the field set the real feed uses for the instrument's class."""
    i = instrument
    event: dict[str, Any] = {"event": "price", "symbol": i.symbol}
    if i.kind in (Kind.FOREX, Kind.CRYPTO):
        event["currency_base"] = i.currency_base
        event["currency_quote"] = i.currency_quote
        event["exchange"] = "PHYSICAL CURRENCY" if i.kind is Kind.FOREX else i.exchange
    else:
        event["currency"] = i.currency
        event["exchange"] = i.exchange
        event["mic_code"] = i.mic_code
    event["type"] = i.type
    event["timestamp"] = tick.timestamp
    event["price"] = tick.price_decimal
    if i.streams_bid_ask:
        event["bid"] = tick.bid_decimal
        event["ask"] = tick.ask_decimal
    if i.streams_day_volume:
        event["day_volume"] = tick.day_volume
    return event
