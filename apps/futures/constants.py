"""Names of the futures venue."""
from decimal import Decimal
from typing import Final

from django.db import models

from apps.marketdata import streams

# The mark prices are quotes of their own pseudo-venue on the quote bus (cached and
# streamed as ``mark@<SYMBOL>``), never mixed with the futures venue's last trades
# (``futures``), which feed the premium.
MARK_VENUE: Final = streams.MARK_VENUE
# The default bound of the interest-rate clamp of the funding formula (the reference's
# ±0.05 %).
FUNDING_CLAMP: Final = Decimal("0.0005")
# The liquidation engine's bot account, which closes the insurance fund's positions in
# the book (services/insurance.py).
LIQUIDATION_ENGINE_USERNAME: Final = "liquidation-engine"


class PositionSide(models.TextChoices):
    LONG = "LONG", "Long"
    SHORT = "SHORT", "Short"


class PositionStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    FLAT = "FLAT", "Flat (no size)"


def sign(side: str) -> int:
    """+1 for a long, -1 for a short."""
    return 1 if side == PositionSide.LONG else -1
