"""Identifiers that must match exactly: currency codes, market symbols and client ids.

Two halves keep rule 6 of DESIGN.md ("Identifiers are exact"):

- At the edge, ``parse_identifier`` checks a code or symbol against a strict ASCII pattern
  (``CURRENCY_CODE``, ``MARKET_SYMBOL``, ``CLIENT_ID``) and ``IdentifierField`` does it for
  DRF serializers, so a full-width ``ＵＳＤ``, an accented ``ÜSD`` or a ``\\u200bUSD`` with an
  invisible mark is a 400, never a lookup. Codes and symbols are case-insensitive in ASCII
  only: ``usd`` becomes ``USD`` (as the API always accepted), and because only ASCII letters
  are upper-cased nothing else can fold into a real code. Client ids are case-sensitive:
  ``a1`` and ``A1`` are two ids. Whatever a service then writes comes from the stored row
  (``Currency.code``, ``TwdMarket.symbol``), never from the request.
- In the database, ``apps.core.fields.ExactCharField`` gives the column a binary
  collation wherever the default would fold case, accents or width (MariaDB/MySQL
  ``utf8mb4_*_ci``), chosen per connection so one migration serves every backend; a
  lookup then matches byte for byte.

The alphabets are derived from the real data: ``fixtures/currencies.json`` (``USD``,
``USDT``, ``BTC``), TwelveData's catalog (pairs ``EUR/USD``, ``BTC/USD``; stocks and ETFs
``AAPL``, ``BRK.A``, ``BF-B``; indices ``SPX``, ``GDAXI``), whose non-pair symbols are also
the base currency of their market, so a code may carry ``.`` and ``-`` as well.
"""
import re

from django.core.validators import RegexValidator
from rest_framework import serializers

# A code: upper-case ASCII letters and digits, with inner '.', '-' or '_' (``BRK.A``).
_CODE = r"[A-Z0-9](?:[A-Z0-9._-]*[A-Z0-9])?"
CURRENCY_CODE = re.compile(rf"{_CODE}", re.ASCII)
CURRENCY_CODE_MAX = 16
# A symbol: one code (stocks, ETFs, indices) or BASE/QUOTE (forex, crypto).
MARKET_SYMBOL = re.compile(rf"{_CODE}(?:/{_CODE})?", re.ASCII)
MARKET_SYMBOL_MAX = 32
# A client's own id for an order or transfer: case-sensitive, as the client sent it.
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
CLIENT_ID_MAX = 64

_KINDS = {
    # kind: (pattern, max length, upper-case ASCII input?, example)
    "currency": (CURRENCY_CODE, CURRENCY_CODE_MAX, True, "USD"),
    "symbol": (MARKET_SYMBOL, MARKET_SYMBOL_MAX, True, "EUR/USD"),
    "client_id": (CLIENT_ID, CLIENT_ID_MAX, False, "order-42_a"),
}


class IdentifierError(ValueError):
    """A value that is not a well-formed identifier of its kind; ``str()`` says why."""


def parse_identifier(value: object, *, kind: str) -> str:
    """``value`` as the canonical identifier of ``kind`` ("currency", "symbol",
    "client_id"), or IdentifierError. Only ASCII is accepted; codes and symbols are
    upper-cased (ASCII letters only), client ids are kept as sent."""
    pattern, max_length, upper, example = _KINDS[kind]
    what = kind.replace("_", " ")
    if not isinstance(value, str):
        raise IdentifierError(f"A {what} must be a string.")
    if not value:
        raise IdentifierError(f"A {what} must not be empty.")
    if len(value) > max_length:
        raise IdentifierError(f"A {what} has at most {max_length} characters.")
    if not value.isascii():
        raise IdentifierError(
            f"A {what} must be plain ASCII (no look-alike, accented, full-width or invisible "
            f"characters), e.g. {example!r}.")
    canonical = value.upper() if upper else value
    if not pattern.fullmatch(canonical):
        allowed = ("letters, digits, '_' and '-'" if kind == "client_id" else
                   "letters and digits with inner '.', '-' or '_'"
                   + (", BASE/QUOTE for a pair" if kind == "symbol" else ""))
        raise IdentifierError(f"{value!r} is not a valid {what}: use {allowed}, "
                              f"e.g. {example!r}.")
    return canonical


def accepted_pattern(kind: str) -> str:
    """The anchored regular expression of the input ``parse_identifier`` accepts for
    ``kind`` (lower case included where it is upper-cased), for the OpenAPI schema."""
    pattern, _, upper, _ = _KINDS[kind]
    return "^" + (pattern.pattern.replace("A-Z", "A-Za-z") if upper else pattern.pattern) + "$"


def is_canonical(value: object, *, kind: str) -> bool:
    """Whether ``value`` is already the canonical identifier of ``kind`` (what a stored
    row may hold): ``parse_identifier`` would accept it and give it back unchanged."""
    try:
        return parse_identifier(value, kind=kind) == value
    except IdentifierError:
        return False


class IdentifierField(serializers.CharField):
    """A serializer field for a currency code, market symbol or client id: the value
    ``parse_identifier`` returns, or a 400 that says what is wrong."""

    default_error_messages = {"identifier": "{message}"}

    def __init__(self, *, kind: str, **kwargs):
        if kind not in _KINDS:
            raise ValueError(f"unknown identifier kind {kind!r}")
        self.kind = kind
        # Whitespace is part of the value: a padded code is refused, not silently trimmed.
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", _KINDS[kind][1])
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(accepted_pattern(kind)))  # for the schema

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return parse_identifier(data, kind=self.kind)
        except IdentifierError as exc:
            self.fail("identifier", message=str(exc))
