"""The only code that builds ``ccxt`` exchange objects.

One exchange object per process, created lazily for the active provider with the
configured URLs and keys, and built again when the provider (its row, its keys) or the
settings change: ``client()`` compares a stamp of them on every call, so an admin's
change reaches every worker without a restart. Creation and ``load_markets`` run under a
lock (two threads never build two objects or load the markets twice); the object's
calls are then shared by the process's threads (ccxt's synchronous exchanges keep no
per-call state that two calls could mix up beyond the last response's headers, which
nothing here reads).
"""
import asyncio
import threading
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import ccxt
import structlog

from apps.core import conf
from apps.spot import selectors
from apps.spot.models import SpotProvider

log = structlog.get_logger(__name__)

# The markets the import reads: spot, and the linear perpetuals the futures venue lists.
MARKET_TYPES = ["spot", "linear"]

_lock = threading.Lock()
_client: tuple[tuple, ccxt.Exchange] | None = None


def _stamp(provider: SpotProvider, key: str, secret: str) -> tuple:
    return (provider.pk, provider.exchange_id, provider.sandbox, provider.updated_at, key,
            secret, conf.SPOT_EXCHANGE_URL, conf.SPOT_EXCHANGE_WS_URL,
            conf.SPOT_EXCHANGE_WS_API_URL, conf.SPOT_REQUEST_TIMEOUT_MS, conf.SPOT_RECV_WINDOW_MS)


def _rebase(url: str, origin: str) -> str:
    """``url`` with its scheme and host replaced by ``origin``'s (its path kept)."""
    target = urlsplit(origin)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def _redirect(urls: dict, *, http: str) -> dict:
    """Every http(s) URL of ccxt's ``urls["api"]`` moved to ``http``'s origin (its path
    kept)."""
    out = {}
    for name, value in urls.items():
        if isinstance(value, dict):
            out[name] = _redirect(value, http=http)
        elif isinstance(value, str) and value.startswith("http"):
            out[name] = _rebase(value, http)
        else:
            out[name] = value
    return out


def options(provider: SpotProvider, *, key: str, secret: str) -> dict:
    """The constructor options of a ccxt exchange object for ``provider``."""
    return {
        "apiKey": key, "secret": secret, "timeout": conf.SPOT_REQUEST_TIMEOUT_MS,
        "enableRateLimit": True,
        "options": {
            "recvWindow": conf.SPOT_RECV_WINDOW_MS,
            # load_markets reads the markets only (no wallet or margin endpoints).
            "fetchCurrencies": False, "fetchMargins": False,
            "fetchMarkets": {"types": MARKET_TYPES},
            "defaultType": "spot",
            "fetchOpenOrders": {"warnWithoutSymbol": False},
        },
    }


def build(provider: SpotProvider, *, module=ccxt) -> ccxt.Exchange:
    """A new exchange object for ``provider`` from ``module`` (``ccxt`` or ``ccxt.pro``),
    markets not loaded. Raises Conflict for an exchange id ccxt does not know."""
    from apps.core.errors import Conflict

    cls = getattr(module, provider.exchange_id, None)
    if cls is None:
        raise Conflict(f"ccxt has no exchange {provider.exchange_id!r}.",
                       code="spot_unknown_exchange")
    key, secret = selectors.provider_credentials(provider)
    exchange = cls(options(provider, key=key, secret=secret))
    if provider.sandbox:
        exchange.set_sandbox_mode(True)
    if conf.SPOT_EXCHANGE_URL:
        exchange.urls["api"] = _redirect(exchange.urls["api"], http=conf.SPOT_EXCHANGE_URL)
    streams = exchange.urls["api"].get("ws")
    if conf.SPOT_EXCHANGE_WS_URL and isinstance(streams, dict):
        # ccxt.pro's spot market streams (the one socket URL the price stream uses).
        streams["spot"] = streams["margin"] = conf.SPOT_EXCHANGE_WS_URL
    if conf.SPOT_EXCHANGE_WS_API_URL and isinstance((streams or {}).get("ws-api"), dict):
        # Where ccxt.pro logs in for the account's private streams.
        streams["ws-api"]["spot"] = conf.SPOT_EXCHANGE_WS_API_URL
    return exchange


def client() -> ccxt.Exchange:
    """The process's exchange object for the active provider, its markets loaded. Raises
    Conflict (no active provider), ccxt's errors (the exchange unreachable)."""
    global _client
    provider = selectors.provider_active()
    stamp = _stamp(provider, *selectors.provider_credentials(provider))
    current = _client
    if current is not None and current[0] == stamp:
        return current[1]
    with _lock:
        if _client is None or _client[0] != stamp:
            exchange = build(provider)
            exchange.load_markets()
            _client = (stamp, exchange)
        return _client[1]


def reset() -> None:
    """Forget the process's exchange object (the next ``client()`` builds a new one)."""
    global _client
    with _lock:
        _client = None


def run_streaming(stream: Callable[["ccxt.pro.Exchange", threading.Event], Awaitable[None]],
                  *, stop: threading.Event, event: str,
                  max_backoff_seconds: float = 30) -> None:
    """Run ``stream(pro, stop)`` with a ccxt.pro exchange object of the active provider
    (a new one for each attempt, closed after it) until ``stop`` is set. No error ends
    it: each is logged as ``event`` and the stream started again after a backoff (1 s,
    doubling up to ``max_backoff_seconds``). Blocks; runs its own event loop."""
    asyncio.run(_supervise(stream, stop=stop, event=event,
                           max_backoff_seconds=max_backoff_seconds))


async def _supervise(stream, *, stop: threading.Event, event: str,
                     max_backoff_seconds: float) -> None:
    import ccxt.pro

    backoff = 1.0
    while not stop.is_set():
        try:
            provider = await asyncio.to_thread(selectors.provider_active)
            pro = build(provider, module=ccxt.pro)
            try:
                await stream(pro, stop)
            finally:
                await pro.close()
            backoff = 1.0
        except Exception:
            log.warning(event, exc_info=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_seconds)
