"""Money and amount helpers: the one parser for amounts that come from outside.

Rules (DESIGN.md rule 1 and 5): amounts are ``Decimal``; input is a plain decimal string
or an integer, never a float; nothing is rounded silently. A value with more decimals
than allowed is refused, not rounded.
"""
import re
from collections.abc import Sequence
from decimal import (
    ROUND_DOWN,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from django.db import connection, models
from django.db.models import QuerySet, Sum

MONEY_MAX_DIGITS = 36
MONEY_DECIMAL_PLACES = 18
# 10**18 leaves the 18 integer digits a MONEY column can hold.
MAX_AMOUNT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)

# ASCII digits only: \d would accept Arabic-Indic and other Unicode digits.
# Python's default context keeps 28 digits and rounds silently past that; money needs 36
# digits and a product of two amounts 72. EXACT traps any rounding (sums and products of
# money must be exact); ROUNDING is for the explicit roundings below.
EXACT = Context(prec=80, traps=[InvalidOperation, Inexact, Overflow, DivisionByZero])
ROUNDING = Context(prec=80, traps=[InvalidOperation, Overflow, DivisionByZero])

_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
_MAX_INPUT_LENGTH = 64


class AmountError(ValueError):
    """An amount that cannot be accepted; ``str()`` is a message fit for the user."""


def money_field(**kwargs) -> models.DecimalField:
    """The one column type for money and prices."""
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs
    )


def parse_amount(
    value: object, *, decimals: int = MONEY_DECIMAL_PLACES, allow_zero: bool = False
) -> Decimal:
    """Turn API input into a ``Decimal`` or raise ``AmountError``.

    Accepts a string of ASCII digits with an optional fractional part (``"12.50"``) or a
    plain ``int``. Refuses floats (already lossy), booleans, containers, signs, exponent
    forms, NaN and infinities, more than ``decimals`` fractional digits, zero unless
    ``allow_zero``, and values of ``MAX_AMOUNT`` or more. The returned value equals the
    input exactly.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AmountError("must be a decimal number written as a string, e.g. \"12.50\"")
    if isinstance(value, int):
        text = str(value)
    else:
        text = value
        if len(text) > _MAX_INPUT_LENGTH:
            raise AmountError("is too long")
    if text.startswith("-"):
        raise AmountError("must not be negative")
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise AmountError(
            'must be a plain decimal number like "12.50" (no sign, exponent or spaces)'
        )
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid text
        raise AmountError("is not a number") from exc
    fraction = text.partition(".")[2]
    if len(fraction) > decimals:
        raise AmountError(f"has more than {decimals} decimal places")
    if amount >= MAX_AMOUNT:
        raise AmountError("is too large")
    if amount == 0 and not allow_zero:
        raise AmountError("must be greater than zero")
    return amount


def decimal_text(value: Decimal | int | None) -> str | None:
    """``value`` as the plain decimal string clients get (None stays None): normalised, so
    a fresh value and one re-read from an 18-place column read the same (``"1"``, not
    ``"1.000000000000000000"``), and exact, as amounts have up to 36 digits."""
    return None if value is None else f"{EXACT.normalize(Decimal(value)):f}"


def positive_decimal(value: object) -> Decimal | None:
    """A number a library parsed from a feed's JSON (a float, or a string) as the exact
    decimal that was sent (``str`` of a float is its shortest exact form), or None unless
    it is finite and above zero."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() and result > 0 else None


def quantize_exact(amount: Decimal, *, decimals: int) -> Decimal:
    """``amount`` with exactly ``decimals`` places; raises ``AmountError`` if that would
    change its value (rounding must be an explicit decision, never a side effect)."""
    quantum = Decimal(1).scaleb(-decimals)
    try:
        quantized = amount.quantize(quantum, context=ROUNDING)
    except InvalidOperation as exc:
        raise AmountError("is too large") from exc
    if quantized != amount:
        raise AmountError(f"has more than {decimals} decimal places")
    return quantized


def split_fee(*, gross: Decimal, rate: Decimal, decimals: int) -> tuple[Decimal, Decimal]:
    """Split ``gross`` into ``(net, fee)`` at ``rate``, the fee rounded up to ``decimals``.

    Guarantees ``net + fee == gross``, ``0 <= fee <= gross``, both with ``decimals``
    places. Rounding the fee up means the platform never gives away a fraction of the
    smallest unit.
    """
    if rate < 0 or rate > 1:
        raise AmountError("fee rate must be between 0 and 1")
    gross = quantize_exact(gross, decimals=decimals)
    fee = min(round_up(EXACT.multiply(gross, rate), decimals=decimals), gross)
    return EXACT.subtract(gross, fee), fee


def round_up(value: Decimal, *, decimals: int) -> Decimal:
    """``value`` rounded away from zero to ``decimals`` places (what a payer owes)."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_UP, context=ROUNDING)


def round_down(value: Decimal, *, decimals: int) -> Decimal:
    """``value`` truncated to ``decimals`` places (what a payee receives)."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN, context=ROUNDING)


def exact_mul(a: Decimal, b: Decimal) -> Decimal:
    """``a * b`` with every digit kept (raises rather than round)."""
    return EXACT.multiply(a, b)


def exact_sums(rows: QuerySet, *, by: Sequence[str], fields: Sequence[str]
               ) -> dict[tuple, list[Decimal]]:
    """``{(the by values): [the sum of each of fields]}`` over ``rows`` (``{(): [...]}``
    with no ``by``; ``{}`` when there is no row), exact, in one query: a GROUP BY on
    MariaDB (it sums DECIMAL(36, 18) exactly); SQLite's SUM over a decimal column is a
    float, so there the rows are streamed and summed here."""
    sums: dict[tuple, list[Decimal]] = {}
    if connection.vendor == "sqlite":
        with localcontext(EXACT):
            for row in rows.values_list(*by, *fields).iterator(chunk_size=10_000):
                found = sums.setdefault(tuple(row[:len(by)]), [Decimal(0)] * len(fields))
                for n, amount in enumerate(row[len(by):]):
                    found[n] += amount
        return sums
    totals = {f"sum_{f}": Sum(f) for f in fields}
    if not by:
        row = rows.order_by().aggregate(**totals, count=models.Count("pk"))
        return {(): [row[f"sum_{f}"] for f in fields]} if row["count"] else {}
    for row in rows.order_by().values(*by).annotate(**totals):
        sums[tuple(row[b] for b in by)] = [row[f"sum_{f}"] for f in fields]
    return sums
