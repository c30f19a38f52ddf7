"""``ccxt`` exchange objects pointed at the emulator (for tests, benchmarks and ``make run``).

ccxt has no single base URL for Binance: every API family has its own entry in
``exchange.urls["api"]``. :func:`redirect` rewrites each REST entry's host
(``https://api.binance.com``, ``fapi.``, ``dapi.``, ``eapi.``, ``papi.``) to the emulator,
keeping the path (``/api/v3``, ``/sapi/v1``, ``/fapi/v1``...), and for ccxt.pro the
``ws.spot`` / ``ws.margin`` market streams and the ``ws.ws-api.spot`` WebSocket API.
"""

from __future__ import annotations

from typing import Any, TypeVar

import ccxt
import ccxt.async_support
import ccxt.pro

REST_HOSTS = ("https://api.binance.com", "https://fapi.binance.com",
              "https://dapi.binance.com", "https://eapi.binance.com",
              "https://papi.binance.com")

# What load_markets needs against the emulator: no sapi currencies or margin pairs, and the
# spot plus USDT-perpetual listings (the platform imports the perpetuals as futures markets).
DEFAULT_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["spot", "linear"]},
}

E = TypeVar("E", bound=ccxt.Exchange)


def redirect(exchange: E, url: str, ws_url: str | None = None,
             ws_api_url: str | None = None) -> E:
    """Points every Binance REST URL of ``exchange`` at ``url`` (``http://127.0.0.1:P``),
    and ccxt.pro's spot streams at ``ws_url`` / its WebSocket API at ``ws_api_url``."""
    api = exchange.urls["api"]
    for key, value in list(api.items()):
        if isinstance(value, str):
            for host in REST_HOSTS:
                if value.startswith(host):
                    api[key] = url + value[len(host):]
    streams = api.get("ws")
    if isinstance(streams, dict):
        if ws_url is not None:
            streams["spot"] = ws_url
            streams["margin"] = ws_url
        if ws_api_url is not None:
            streams["ws-api"]["spot"] = ws_api_url
    return exchange


def _config(handle: Any, options: dict[str, Any] | None, config: dict[str, Any]
            ) -> dict[str, Any]:
    merged = {"apiKey": handle.api_key, "secret": handle.api_secret,
              # The emulator does not limit rates (faults do that on demand).
              "enableRateLimit": False,
              "options": {**DEFAULT_OPTIONS, **(options or {})}}
    merged.update(config)
    return merged


def sync_exchange(handle: Any, options: dict[str, Any] | None = None,
                  **config: Any) -> ccxt.binance:
    """A ``ccxt.binance`` on the emulator ``handle`` (an :class:`EmulatorHandle` or anything
    with ``url``, ``api_key`` and ``api_secret``), with its key."""
    return redirect(ccxt.binance(_config(handle, options, config)), handle.url)


def async_exchange(handle: Any, options: dict[str, Any] | None = None,
                   **config: Any) -> ccxt.async_support.binance:
    """A ``ccxt.async_support.binance`` on the emulator (close it: ``await ex.close()``)."""
    return redirect(ccxt.async_support.binance(_config(handle, options, config)), handle.url)


def pro_exchange(handle: Any, options: dict[str, Any] | None = None,
                 **config: Any) -> ccxt.pro.binance:
    """A ``ccxt.pro.binance`` on the emulator's REST, streams and WebSocket API."""
    exchange = ccxt.pro.binance(_config(handle, options, config))
    return redirect(exchange, handle.url, handle.ws_url, handle.ws_api_url)
