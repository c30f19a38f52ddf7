"""Reads for the paper-trading API and pages."""
from django.core.cache import cache
from django.db.models import QuerySet

from apps.core import conf
from apps.core.crypto import decrypt_secret
from apps.core.errors import Conflict, NotFound
from apps.trading.constants import MarketStatus
from apps.twelvedata import gateway
from apps.twelvedata.models import TwdMarket, TwdProvider


def market_list_enabled(*, type: str | None = None) -> QuerySet[TwdMarket]:
    """The instruments whose paper market is enabled (with it), hot and trending first."""
    markets = (TwdMarket.objects.filter(market__status=MarketStatus.ENABLED)
               .select_related("market")
               .order_by("-market__is_hot", "-market__is_trending", "symbol"))
    return markets.filter(type=type) if type else markets


def market_get_enabled(*, symbol: str) -> TwdMarket:
    """The instrument ``symbol`` (exactly) with its enabled paper market. Raises
    NotFound."""
    market = (TwdMarket.objects.filter(symbol=symbol, market__status=MarketStatus.ENABLED)
              .select_related("market").first())
    if market is None or market.symbol != symbol:
        raise NotFound(f"No enabled paper market {symbol!r}.", code="unknown_market")
    return market


def provider_api_key() -> str:
    """The API key of the enabled provider (``TWELVEDATA_API_KEY`` wins over the stored
    one). Raises Conflict when no provider is enabled or none has a key."""
    provider = TwdProvider.objects.filter(status=True).order_by("pk").first()
    if provider is None:
        raise Conflict("No TwelveData provider is enabled.", code="provider_disabled")
    if conf.TWELVEDATA_API_KEY:
        return conf.TWELVEDATA_API_KEY
    if not provider.api_key_encrypted:
        raise Conflict(f"Provider {provider} has no API key.", code="provider_no_key")
    return decrypt_secret(provider.api_key_encrypted)


CANDLE_INTERVALS = ("1min", "5min", "15min", "30min", "45min", "1h", "2h", "4h", "1day",
                    "1week", "1month")


def candles(*, symbol: str, interval: str, outputsize: int) -> list[dict]:
    """OHLC bars from TwelveData's ``time_series``, cached PAPER_CANDLES_CACHE_SECONDS per
    (symbol, interval, size) so many viewers cost one upstream call."""
    market = market_get_enabled(symbol=symbol)
    key = f"twd:candles:{market.symbol}:{interval}:{outputsize}"
    bars = cache.get(key)
    if bars is None:
        td = gateway.client(apikey=provider_api_key())
        bars = gateway.fetch_time_series(td=td, symbol=market.symbol, interval=interval,
                                         outputsize=outputsize)
        cache.set(key, bars, conf.PAPER_CANDLES_CACHE_SECONDS)
    return bars

