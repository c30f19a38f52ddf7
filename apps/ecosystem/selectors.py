"""Reads of the ecosystem venue."""
from django.db.models import QuerySet

from apps.ecosystem.models import EcoMarket
from apps.matching import StpMode
from apps.trading import selectors as trading_selectors
from apps.trading.constants import Venue
from apps.trading.models import Market


def stp_default(market: Market) -> StpMode:
    """The engine's default self-trade prevention in ``market``."""
    mode = EcoMarket.objects.filter(pk=market.pk).values_list("stp_default", flat=True).first()
    return StpMode[mode] if mode else StpMode.CANCEL_TAKER


def markets_enabled() -> QuerySet[Market]:
    """The enabled ecosystem markets with their token and chain (``market.eco``)."""
    return (trading_selectors.markets_enabled(venue=Venue.ECOSYSTEM)
            .select_related("eco__base_token__chain").order_by("symbol"))


def market_get_enabled(*, symbol: str) -> Market:
    """The enabled ecosystem market ``symbol``. Raises NotFound."""
    return trading_selectors.market_get_enabled(venue=Venue.ECOSYSTEM, symbol=symbol)
