"""The rules of a fixed-time trade, as pure functions (no database, no clock).

- ``outcome``: UP wins if the exit price is above the entry price, DOWN if below; equal is
  a DRAW. Nothing else takes part: not the user, the stake, the time the job ran, nor any
  setting. The platform's only edge is the payout percentage.
- ``payout``: what the user gets back: a win stake + stake x payout% (the profit rounded
  down to the currency's precision), a draw or a void the stake, a loss nothing.
- ``is_open``: trading hours. A session is ``{"days": [0..6], "open": "HH:MM",
  "close": "HH:MM"}`` in the instrument's timezone (Monday is 0, ``close`` may be
  ``24:00``, ``open`` < ``close``); an instant is open if it falls in one session, and no
  sessions at all means always open.
"""
import re
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apps.fixedtime.constants import Direction, TradeStatus

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00", re.ASCII)
HUNDRED = Decimal(100)


def outcome(*, direction: str, entry: Decimal, exit: Decimal) -> str:
    """WON, LOST or DRAW for a trade in ``direction`` entered at ``entry``, exited at
    ``exit``."""
    if exit == entry:
        return TradeStatus.DRAW
    rose = exit > entry
    if direction == Direction.UP:
        return TradeStatus.WON if rose else TradeStatus.LOST
    if direction == Direction.DOWN:
        return TradeStatus.LOST if rose else TradeStatus.WON
    raise ValueError(f"unknown direction {direction!r}")


def payout(*, status: str, stake: Decimal, payout_percent: Decimal, decimals: int) -> Decimal:
    """What a trade settled as ``status`` pays back to the user (see the module)."""
    if status == TradeStatus.WON:
        profit = (stake * payout_percent / HUNDRED).quantize(
            Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
        return stake + profit
    if status in (TradeStatus.DRAW, TradeStatus.VOID):
        return stake
    if status == TradeStatus.LOST:
        return Decimal(0)
    raise ValueError(f"{status!r} is not a settled status")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def check_sessions(sessions: object, timezone: object) -> list[str]:
    """The problems of a trading-hours setting, one line each (empty when it is valid)."""
    problems = []
    if not isinstance(timezone, str) or not timezone:
        problems.append("The timezone is a name such as Europe/London or UTC.")
    else:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"Unknown timezone {timezone!r}.")
    if not isinstance(sessions, list):
        return [*problems, "Sessions are a list (empty: always open)."]
    for number, session in enumerate(sessions, 1):
        if not isinstance(session, dict) or set(session) != {"days", "open", "close"}:
            problems.append(f"Session {number} has exactly days, open and close.")
            continue
        days, start, end = session["days"], session["open"], session["close"]
        if (not isinstance(days, list) or not days
                or any(type(day) is not int or not 0 <= day <= 6 for day in days)):
            problems.append(f"Session {number}: days are weekday numbers, Monday 0 to "
                            "Sunday 6.")
        times = [t for t in (start, end) if isinstance(t, str) and _HHMM.fullmatch(t)]
        if len(times) != 2 or start == "24:00":
            problems.append(f"Session {number}: open and close are HH:MM (close may be "
                            "24:00).")
        elif _minutes(start) >= _minutes(end):
            problems.append(f"Session {number}: open comes before close.")
    return problems


def is_open(*, sessions: list[dict], timezone: str, at: datetime) -> bool:
    """Whether ``at`` (aware) falls in one of ``sessions`` (valid: ``check_sessions``)."""
    if not sessions:
        return True
    local = at.astimezone(ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    return any(local.weekday() in session["days"]
               and _minutes(session["open"]) <= minute < _minutes(session["close"])
               for session in sessions)
