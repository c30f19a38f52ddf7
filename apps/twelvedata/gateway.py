"""The only code that talks to TwelveData, through the official ``twelvedata`` library.

Every call goes to ``conf.TWELVEDATA_BASE_URL`` (the real API, or the loopback
emulator in tests and ``make run``). Library errors become ``GatewayError`` so callers
never leak a third-party exception as a 500.
"""
from decimal import Decimal

from twelvedata import TDClient
from twelvedata.exceptions import TwelveDataError

from apps.core import conf
from apps.core.errors import DomainError

CATALOG_KINDS = ("forex", "stocks", "indices", "etf", "crypto")


class GatewayError(DomainError):
    status = 502
    code = "upstream_error"


def client(*, apikey: str) -> TDClient:
    """A TDClient on the configured base URL. Its constructor already makes a request
    (``/technical_indicators``), so this raises GatewayError when the API is unreachable."""
    try:
        return TDClient(apikey=apikey, base_url=conf.TWELVEDATA_BASE_URL)
    except (TwelveDataError, OSError) as exc:
        raise GatewayError(f"TwelveData is unreachable: {exc}") from exc


def _call(fn, **params) -> list | dict:
    try:
        return fn(**params).as_json()
    except (TwelveDataError, OSError, ValueError) as exc:
        raise GatewayError(f"TwelveData request failed: {exc}") from exc


def fetch_catalog(*, td: TDClient, kind: str) -> list[dict]:
    """The raw catalog entries of one kind, as TwelveData returns them."""
    fetch = {
        "forex": td.get_forex_pairs_list,
        "stocks": td.get_stocks_list,
        "indices": td.get_indices_list,
        "etf": td.get_etf_list,
        "crypto": td.get_cryptocurrencies_list,
    }[kind]
    data = _call(fetch)
    return list(data) if isinstance(data, list | tuple) else []


def fetch_time_series(*, td: TDClient, symbol: str, interval: str, outputsize: int) -> list[dict]:
    """OHLC(V) bars, oldest first, with Decimal prices."""
    rows = _call(td.time_series, symbol=symbol, interval=interval, outputsize=outputsize,
                 order="ASC", timezone="UTC")
    bars = []
    for row in rows:
        bar = {"datetime": row["datetime"]}
        for field in ("open", "high", "low", "close"):
            bar[field] = Decimal(row[field])
        if "volume" in row:
            bar["volume"] = Decimal(row["volume"])
        bars.append(bar)
    return bars


def probe(*, td: TDClient) -> int:
    """An authenticated request that proves the key works; returns the forex pair count."""
    return len(fetch_catalog(td=td, kind="forex"))
