"""The margin arithmetic of a linear (quote-margined) perpetual, one-way and isolated.

Pure functions on ``Decimal`` (no database, no settings): the services and the preview
call them, the tests check them against the reference's worked example (docs/FUTURES.md)
and, with hypothesis, against their definitions. Names follow the reference
(``/work/shared/reference/futures.md`` §3-4): ``size`` Q (base units, > 0), ``value`` V
the entry value (Q x entry price, kept exact so that realised plus unrealised PnL always
add up to the same money), ``margin`` WB the position's isolated margin, ``side`` LONG or
SHORT (s = +1 / -1).

Guarantees:
- ``tier_for``: a notional n falls in the tier with floor <= n < cap (beyond the last cap:
  the last tier). ``maintenance(n) = n x MMR - cum``; ``tiers_check`` refuses tiers whose
  maintenance jumps at an edge (cum_n = floor_n x (MMR_n - MMR_n-1) + cum_n-1).
- ``liquidation_price`` solves WB + s(Q p - V) = maintenance(Q p) in the tier p's own
  notional falls in, and rounds it toward the position (a long's up, a short's down) to
  ``PRICE_PLACES``: every price at or beyond the exact solution is at or beyond the stored
  one (a range query on it never misses a position), and at any price strictly better than
  the stored one the margin balance is above maintenance (the margin balance minus
  maintenance is strictly monotonic in the price: its slope is Q(1 - MMR) for a long,
  -Q(1 + MMR) for a short). Between the two (less than 1e-18 apart) a position is found
  and then spared by the recheck. None where no positive price reaches it (a long with margin
  at or above its value).
- ``funding_payment`` rounds toward the platform: what a position pays is rounded up, what
  it receives rounded down, so the payments of an interval never create money.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from apps.core.money import ROUNDING, round_up
from apps.futures.constants import FUNDING_CLAMP, PositionSide, sign

# Prices kept on a position (the money columns' places).
PRICE_PLACES = 18
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)
ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class Tier:
    """One maintenance bracket: notionals from ``floor`` to below ``cap`` (None: no cap)."""

    floor: Decimal
    cap: Decimal | None
    max_leverage: int
    mmr: Decimal
    cum: Decimal


def tiers_check(tiers: Sequence[Tier]) -> list[str]:
    """What is wrong with ``tiers`` (sorted by floor), as messages; empty if sound: the
    first starts at 0, each cap is the next floor, rates rise and leverage falls, and the
    maintenance is continuous at every edge."""
    problems = []
    if not tiers:
        return ["A contract needs at least one margin tier."]
    if tiers[0].floor != 0:
        problems.append("The first tier starts at a notional of 0.")
    for low, high in zip(tiers, tiers[1:], strict=False):
        if low.cap != high.floor:
            problems.append(f"The tier from {low.floor} ends at {low.cap}, not at the next "
                            f"floor {high.floor}.")
        if high.mmr <= low.mmr or high.max_leverage > low.max_leverage:
            problems.append(f"The tier from {high.floor} must have a higher rate and no "
                            "higher leverage than the one below.")
        expected = ROUNDING.add(ROUNDING.multiply(high.floor, high.mmr - low.mmr), low.cum)
        if high.cum != expected:
            problems.append(f"The tier from {high.floor} has maintenance amount {high.cum}; "
                            f"continuity needs {expected.normalize():f}.")
    for tier in tiers:
        if not (0 < tier.mmr < 1) or tier.max_leverage < 1 or tier.cum < 0:
            problems.append(f"The tier from {tier.floor}: rate in (0, 1), leverage >= 1, "
                            "maintenance amount >= 0.")
        if tier.cap is not None and tier.cap <= tier.floor:
            problems.append(f"The tier from {tier.floor} has a cap below its floor.")
    if tiers[-1].cap is not None:
        problems.append("The last tier has no cap.")
    return problems


def tier_for(tiers: Sequence[Tier], notional: Decimal) -> Tier:
    """The tier ``notional`` falls in (``tiers`` sorted by floor, the first from 0)."""
    for tier in tiers:
        if tier.cap is None or notional < tier.cap:
            return tier
    return tiers[-1]


def maintenance(tiers: Sequence[Tier], notional: Decimal) -> Decimal:
    """The maintenance margin of a position of ``notional`` (exact)."""
    tier = tier_for(tiers, notional)
    return ROUNDING.multiply(notional, tier.mmr) - tier.cum


def unrealised(*, side: str, size: Decimal, value: Decimal, price: Decimal) -> Decimal:
    """The PnL of the position if it closed at ``price`` (exact)."""
    return sign(side) * (ROUNDING.multiply(size, price) - value)


def margin_balance(*, side: str, size: Decimal, value: Decimal, margin: Decimal,
                   price: Decimal) -> Decimal:
    """The position's margin plus its unrealised PnL at ``price``."""
    return margin + unrealised(side=side, size=size, value=value, price=price)


def below_maintenance(*, side: str, size: Decimal, value: Decimal, margin: Decimal,
                      price: Decimal, tiers: Sequence[Tier]) -> bool:
    """Whether the margin balance at ``price`` is at or below maintenance (a margin
    ratio of 100 % or more: liquidation)."""
    balance = margin_balance(side=side, size=size, value=value, margin=margin, price=price)
    return balance <= maintenance(tiers, ROUNDING.multiply(size, price))


def liquidation_price(*, side: str, size: Decimal, value: Decimal, margin: Decimal,
                      tiers: Sequence[Tier]) -> Decimal | None:
    """The price at which the position's margin balance meets maintenance (see the module
    docstring for the rounding and None)."""
    long = side == PositionSide.LONG
    solutions = []
    for tier in tiers:
        if long:
            price = ROUNDING.divide(value - margin - tier.cum, size * (ONE - tier.mmr))
        else:
            price = ROUNDING.divide(value + margin + tier.cum, size * (ONE + tier.mmr))
        solutions.append(price)
        if price > 0 and tier_for(tiers, ROUNDING.multiply(size, price)) is tier:
            break
    else:
        # Only at an edge can no tier own its own solution: the maintenance is continuous,
        # so the solution in the entry's tier is the edge's price.
        price = solutions[tiers.index(tier_for(tiers, value))]
    if price <= 0:
        return None
    return price.quantize(_PRICE_QUANTUM, rounding=ROUND_CEILING if long else ROUND_FLOOR,
                          context=ROUNDING)


def bankruptcy_price(*, side: str, size: Decimal, value: Decimal, margin: Decimal) -> Decimal:
    """The price at which the margin balance is zero (fees ignored); 0 for a long that
    cannot lose its margin."""
    if side == PositionSide.LONG:
        price = max(ZERO, ROUNDING.divide(value - margin, size))
    else:
        price = ROUNDING.divide(value + margin, size)
    return price.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN, context=ROUNDING)


def initial_margin(*, notional: Decimal, leverage: int, decimals: int) -> Decimal:
    """notional / leverage, rounded up to the currency's places."""
    return round_up(ROUNDING.divide(notional, Decimal(leverage)), decimals=decimals)


def fee(*, notional: Decimal, rate: Decimal, decimals: int) -> Decimal:
    """A trading fee: notional x rate, rounded up to the currency's places."""
    return round_up(ROUNDING.multiply(notional, rate), decimals=decimals)


def clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, value))


def funding_rate(*, premium: Decimal, interest: Decimal, floor: Decimal, cap: Decimal,
                 band: Decimal = FUNDING_CLAMP) -> Decimal:
    """F = P + clamp(I - P, -band, +band), then clamped to [floor, cap] (reference §2)."""
    return clamp(premium + clamp(interest - premium, -band, band), floor, cap)


def funding_payment(*, side: str, size: Decimal, mark: Decimal, rate: Decimal,
                    decimals: int) -> Decimal:
    """What the position pays (> 0) or receives (< 0) at ``rate``: s x Q x mark x F, rounded
    toward the platform (a payment up, a receipt down)."""
    amount = sign(side) * ROUNDING.multiply(ROUNDING.multiply(size, mark), rate)
    return amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_CEILING,
                           context=ROUNDING)


def median(values: Sequence[Decimal]) -> Decimal:
    """The median of ``values`` (not empty): the mean of the middle two for an even count."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return ROUNDING.divide(ordered[middle - 1] + ordered[middle], Decimal(2))


def adl_score(*, side: str, size: Decimal, value: Decimal, margin: Decimal, price: Decimal,
              tiers: Sequence[Tier]) -> Decimal:
    """The position's auto-deleveraging rank score at ``price`` (the reference's §5,
    Binance's): PnL% = max(0, uPnL) / max(1, WB), ratio = MM / (WB + uPnL) (0 when that
    is not positive), score = PnL% x ratio; 0 for a position not in profit. Higher is
    deleveraged first."""
    pnl = unrealised(side=side, size=size, value=value, price=price)
    equity = margin + pnl
    if pnl <= 0 or equity <= 0:
        return ZERO
    pnl_share = ROUNDING.divide(pnl, max(ONE, margin))
    ratio = ROUNDING.divide(maintenance(tiers, ROUNDING.multiply(size, price)), equity)
    return ROUNDING.multiply(pnl_share, ratio).quantize(_PRICE_QUANTUM, context=ROUNDING)


def adl_lights(rank: int, count: int) -> int:
    """The ADL quantile shown as 1-5 lights: the position ``rank`` (1 first) among
    ``count`` ranked positions of its side; 5 lights for the first fifth."""
    return 5 - (5 * (rank - 1)) // count


def price_to_tick(price: Decimal, *, tick: Decimal, up: bool) -> Decimal:
    """``price`` rounded to a multiple of ``tick``, up or down."""
    steps = ROUNDING.divide(price, tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
    return ROUNDING.multiply(steps, tick)
