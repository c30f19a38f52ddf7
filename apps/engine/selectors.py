"""Reads of the engine: which markets a runner runs."""
from apps.core import conf
from apps.engine.venues import engine_venues
from apps.trading.constants import MarketStatus
from apps.trading.models import Market


def markets_of_runner(*, runner: str, symbols: list[str] | None = None) -> list[Market]:
    """The enabled or halted markets of the engine's venues that ``runner`` runs:
    ``symbols`` ("venue:SYMBOL") if given, else those ENGINE_RUNNER_MARKETS maps to it
    (an unmapped market runs on "default")."""
    markets = list(Market.objects.filter(
        venue__in=engine_venues(),
        status__in=[MarketStatus.ENABLED, MarketStatus.HALTED]).order_by("pk"))
    if symbols:
        wanted = set(symbols)
        return [m for m in markets if str(m) in wanted]
    mapping = conf.ENGINE_RUNNER_MARKETS
    return [m for m in markets if mapping.get(str(m), "default") == runner]
