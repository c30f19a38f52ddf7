"""The ecosystem venue as the trading core sees it: a queued venue on the internal
engine (``apps.engine.gateway.EngineGateway``).

The runner settles its trades through the CLEARING account: each trade is two fills, the
buyer's and the seller's, which net to zero there since a market's quote unit, one tick
times one lot, is exact in its quote currency.
"""
from apps.engine.gateway import EngineGateway
from apps.trading.constants import Venue


class EcosystemGateway(EngineGateway):
    venue = Venue.ECOSYSTEM
