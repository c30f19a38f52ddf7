"""What a venue on the engine tells it (registered from the venue's ``AppConfig.ready``):
its markets' default self-trade prevention and its market-maker bots. The engine stays
generic over its venues (ecosystem now, futures later) and never imports them."""
from collections.abc import Callable
from dataclasses import dataclass

from apps.matching import StpMode
from apps.trading.models import Market


@dataclass(frozen=True)
class EngineVenue:
    venue: str
    stp_default: Callable[[Market], StpMode]
    bot_users: Callable[[], set[int]] = set


_venues: dict[str, EngineVenue] = {}


def register_engine_venue(venue: EngineVenue) -> None:
    _venues[venue.venue] = venue


def engine_venues() -> list[str]:
    """The venues whose markets run on the engine (those registered)."""
    return list(_venues)


def stp_default_of(market: Market) -> StpMode:
    found = _venues.get(market.venue)
    return found.stp_default(market) if found else StpMode.CANCEL_TAKER


def bot_users() -> set[int]:
    bots: set[int] = set()
    for venue in _venues.values():
        bots |= venue.bot_users()
    return bots
