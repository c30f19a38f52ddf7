"""Reads of the ecosystem venue."""
from apps.ecosystem.models import EcoMarket
from apps.matching import StpMode
from apps.trading.models import Market


def stp_default(market: Market) -> StpMode:
    """The engine's default self-trade prevention in ``market``."""
    mode = EcoMarket.objects.filter(pk=market.pk).values_list("stp_default", flat=True).first()
    return StpMode[mode] if mode else StpMode.CANCEL_TAKER
