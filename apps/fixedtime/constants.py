"""The vocabulary of fixed-time trades."""
from django.db import models

from apps.wallets.constants import WalletType


class Mode(models.TextChoices):
    DEMO = "DEMO", "Demo (paper money)"
    LIVE = "LIVE", "Live (spot wallet)"


# Where each mode's stake is held: demo money never meets real money.
WALLET_TYPE = {Mode.DEMO: WalletType.PAPER, Mode.LIVE: WalletType.SPOT}


class Direction(models.TextChoices):
    UP = "UP", "Up (exit above entry)"
    DOWN = "DOWN", "Down (exit below entry)"


class TradeStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    WON = "WON", "Won"
    LOST = "LOST", "Lost"
    DRAW = "DRAW", "Draw (stake returned)"
    VOID = "VOID", "Void (no price at expiry: refunded)"


SETTLED = frozenset({TradeStatus.WON, TradeStatus.LOST, TradeStatus.DRAW, TradeStatus.VOID})
