"""Hostile requests to every write endpoint: the case generator of tests/api/test_hostile.py.

Each ``Case`` is one request that must be refused: one field (or the path parameter, the
whole body, the media type or the credentials) replaced by a bad value, everything else as
in a request that would succeed. The values come in families:

- encodings: NUL, lone and reversed surrogates, direction and zero-width marks, a BOM,
  combining marks, bytes that are not UTF-8 (invalid, overlong, CESU-8, truncated, Latin-1),
  overlong strings;
- look-alikes: full-width, accented, homoglyph (Cyrillic, Greek, Armenian, Cherokee),
  letters that Python folds into ASCII (``ſ``, ``ı``, ``K``), mixed case where case matters;
- numbers in every odd form: NaN, infinities, -0, exponents, hex/binary/octal, ``1_000``,
  spaces, signs, non-ASCII digits, huge, tiny, too many decimals, negative, zero, bool, null;
- containers: a list or an object where a scalar belongs, deep nesting, a body that is a
  list, string or number;
- sizes: huge strings, huge bodies, many keys;
- ids of other users: another user's order, and every malformed form of an id;
- the request around them: credentials that look like the user's token, other methods.

Values that a correct server must accept are left out on purpose (``usd`` is USD: codes
and symbols are case-insensitive in ASCII; a number sent as a JSON integer is a valid
amount; a client id may be any ``[A-Za-z0-9_-]{1,64}``).
"""
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

TRANSFER = "/api/v1/wallets/transfer/"
ORDERS = "/api/v1/twd/orders/"
CANCEL = "/api/v1/twd/orders/{order_id}/cancel/"
ORDER_LISTS = "/api/v1/twd/order-lists/"
LIST_CANCEL = "/api/v1/twd/order-lists/{list_id}/cancel/"
TOKEN = "/api/v1/auth/token/"
FIXEDTIME = "/api/v1/fixedtime/trades/"

JSON = "application/json"

# The user every case acts as (or logs in as), and another user.
USERNAME, PASSWORD = "hostile.trader", "pw-for-tests-only"
OTHER_USERNAME, OTHER_PASSWORD = "other.trader", "the-other-users-own-pw"


class Raw(str):
    """JSON text put into the body as it is (``NaN``, ``-0``, ``"\\ud800"``, deep nesting)."""


class RawBytes(bytes):
    """Bytes put into the body as they are, inside a JSON string (not UTF-8, mostly)."""


@dataclass(frozen=True)
class World:
    """What a case may refer to: the facts of the fixture the tests set up."""

    token: str
    own_open: int
    own_canceled: int
    own_filled: int
    other_open: int
    own_client_order_id: str
    own_client_transfer_id: str
    own_list: int  # a live OCO of the user's
    other_list: int  # a live OCO of the other user's


Value = Any  # a JSON value, Raw, RawBytes, or a callable of the World giving one


@dataclass(frozen=True)
class Case:
    id: str
    endpoint: str  # "transfer", "order", "cancel", "token" or "fixedtime"
    field: str  # the field, path parameter or part of the request that is bad
    family: str
    path: str
    method: str = "POST"
    body: dict | Value | None = None  # a dict is encoded field by field, see encode_body()
    content_type: str | None = JSON
    auth: Callable[[World], str | None] | None = None  # None: the user's own valid token
    path_args: Callable[[World], dict] = field(default=lambda world: {})

    def url(self, world: World) -> str:
        return self.path.format(**self.path_args(world))


# --- encoding a body ----------------------------------------------------------------------


def _value_bytes(value: Value, world: World) -> bytes:
    if callable(value):
        value = value(world)
    if isinstance(value, RawBytes):
        return b'"' + bytes(value) + b'"'
    if isinstance(value, Raw):
        return str(value).encode()
    return json.dumps(value, ensure_ascii=False).encode()


def encode_body(body: dict | Value | None, world: World) -> bytes:
    """The request body: a dict field by field (so one field may be raw), else one value."""
    if callable(body):
        body = body(world)
    if body is None:
        return b""
    if isinstance(body, RawBytes):
        return bytes(body)
    if isinstance(body, dict):
        return b"{" + b", ".join(
            json.dumps(name).encode() + b": " + _value_bytes(value, world)
            for name, value in body.items()) + b"}"
    return _value_bytes(body, world)


# --- value families ------------------------------------------------------------------------

# Far deeper than Python's recursion limit (1000), and yet well under the body size limit
# (API_MAX_BODY_BYTES), so that the parser, not the size check, meets them.
DEEP = 5_000


def deep_list() -> Raw:
    return Raw("[" * DEEP + "]" * DEEP)


def deep_object() -> Raw:
    return Raw('{"a":' * DEEP + "1" + "}" * DEEP)


def encodings(valid: str) -> list[tuple[str, Value]]:
    """``valid`` spoiled by encoding tricks; every one is refused for any field here."""
    head, tail = valid[0], valid[1:]
    return [
        ("nul", "\u0000"),
        ("nul-inside", f"{head}\u0000{tail}"),
        ("nul-suffix", f"{valid}\u0000"),
        ("lone-high-surrogate", Raw(json.dumps(valid)[:-1] + '\\ud800"')),
        ("lone-low-surrogate", Raw('"\\udc00' + json.dumps(valid)[1:])),
        ("reversed-surrogate-pair", Raw('"\\ude00\\ud83d' + json.dumps(valid)[1:])),
        ("rtl-mark-prefix", f"\u200f{valid}"),
        ("rtl-override-prefix", f"\u202e{valid}"),
        ("zero-width-space-prefix", f"\u200b{valid}"),
        ("zero-width-space-suffix", f"{valid}\u200b"),
        ("zero-width-joiner-inside", f"{head}\u200d{tail}"),
        ("bom-prefix", f"\ufeff{valid}"),
        ("combining-acute-suffix", f"{valid}\u0301"),
        ("nbsp-suffix", f"{valid}\u00a0"),
        ("non-utf8-ff", RawBytes(b"\xff" + valid.encode())),
        ("non-utf8-inside", RawBytes(head.encode() + b"\xfe\xff" + tail.encode())),
        ("overlong-utf8-slash", RawBytes(valid.encode() + b"\xc0\xaf")),
        ("overlong-utf8-letter", RawBytes(b"\xc1\x81" + valid.encode())),
        ("cesu8-surrogate-bytes", RawBytes(valid.encode() + b"\xed\xa0\x80")),
        ("truncated-utf8", RawBytes(valid.encode() + b"\xe2\x82")),
        ("latin1-byte", RawBytes(valid.encode() + b"\xdc")),
    ]


def sizes(valid: str) -> list[tuple[str, Value]]:
    """Strings far over any field's length: under the body size limit, and over it."""
    return [
        ("overlong-10k", valid * (10_000 // len(valid) + 1)),
        ("overlong-1m", "A" * 1_000_000),
    ]


def containers(valid: Value) -> list[tuple[str, Value]]:
    return [
        ("list-empty", []),
        ("list-of-valid", [valid]),
        ("object-empty", {}),
        ("object-of-valid", {"value": valid}),
        ("object-operator", {"$gt": ""}),
        ("object-many-keys", {f"k{n}": n for n in range(2_000)}),
        ("deep-list", deep_list()),
        ("deep-object", deep_object()),
    ]


def scalars(*, numbers: bool) -> list[tuple[str, Value]]:
    """Wrong JSON types for a string field (numbers only where a number cannot pass)."""
    cases: list[tuple[str, Value]] = [("null", None), ("true", True), ("false", False),
                                      ("empty", "")]
    if numbers:
        cases += [("int", 1), ("float", Raw("1.5")), ("nan-token", Raw("NaN"))]
    return cases


def numbers(*, decimals: int, too_big: str) -> list[tuple[str, Value]]:
    """Amounts that are not a positive plain decimal within ``decimals`` places, or that
    are (``too_big``) but more than the account can pay."""
    return [
        ("nan", "NaN"), ("nan-lower", "nan"), ("nan-signaling", "sNaN"),
        ("nan-negative", "-NaN"), ("nan-token", Raw("NaN")),
        ("infinity", "Infinity"), ("infinity-short", "inf"),
        ("infinity-negative", "-Infinity"), ("infinity-token", Raw("Infinity")),
        ("infinity-negative-token", Raw("-Infinity")),
        ("minus-zero", "-0"), ("minus-zero-token", Raw("-0")),
        ("minus-zero-float-token", Raw("-0.0")),
        ("zero", "0"), ("zero-int", 0), ("zero-decimal", "0.00"), ("zero-float-token", Raw("0.0")),
        ("exponent", "1e3"), ("exponent-upper", "1E3"), ("exponent-token", Raw("1e3")),
        ("exponent-negative", "1e-2"), ("exponent-huge", "1e400"),
        ("hex", "0x10"), ("binary", "0b1"), ("octal", "0o7"), ("underscore", "1_000"),
        ("leading-space", " 1"), ("trailing-space", "1 "), ("plus-sign", "+1"),
        ("unicode-minus", "\u22121"), ("trailing-dot", "1."), ("leading-dot", ".5"),
        ("double-dot", "1..0"), ("decimal-comma", "1,5"), ("thousands-comma", "1,000"),
        ("arabic-indic-digit", "\u0661"), ("arabic-indic-digits", "\u0661\u0660"),
        ("fullwidth-digit", "\uff11"), ("devanagari-digit", "\u0967"),
        ("superscript-digit", "\u00b9"), ("vulgar-fraction", "\u00bd"),
        ("roman-numeral", "\u216b"),
        ("huge", "9" * 40), ("huge-int-token", Raw("9" * 40)), ("at-max", str(10 ** 18)),
        ("too-long", "0" * 100 + "1"),
        ("tiny", "0." + "0" * 30 + "1"),
        ("too-many-decimals", "1." + "0" * decimals + "1"),
        ("negative", "-1"), ("negative-token", Raw("-1")), ("negative-small", "-0.01"),
        ("true", True), ("false", False), ("null", None), ("empty", ""), ("whitespace", "  "),
        ("nul-suffix", "1\u0000"), ("zero-width-suffix", "1\u200b"), ("nbsp-suffix", "1\u00a0"),
        ("more-than-the-balance", too_big),
    ]


def choices(valid: str, *, lookalikes: Iterable[tuple[str, str]],
            wrong: Iterable[tuple[str, str]]) -> list[tuple[str, Value]]:
    """For a field with a fixed set of values (exact, case-sensitive)."""
    return [
        ("lower-case", valid.lower()), ("title-case", valid.title()),
        ("fullwidth", _fullwidth(valid)),
        ("leading-space", f" {valid}"), ("trailing-space", f"{valid} "),
        *lookalikes, *wrong,
    ]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- the endpoints --------------------------------------------------------------------------


def _field_cases(endpoint: str, path: str, base: dict, name: str,
                 values: Iterable[tuple[str, Value]], family: str, *,
                 path_args: Callable[[World], dict] | None = None) -> list[Case]:
    extra = {"path_args": path_args} if path_args else {}
    return [Case(id=f"{endpoint}-{name}-{label}", endpoint=endpoint, field=name, family=family,
                 path=path, body={**base, name: value}, **extra)
            for label, value in values]


def _body_cases(endpoint: str, path: str, base: dict) -> list[Case]:
    """The body as a whole: wrong shape, broken JSON, wrong media type, too big. ``base``
    is the valid body (its values may be callables of the World)."""
    shapes: list[tuple[str, Callable[[dict, str], Value], str | None]] = [
        ("list", lambda body, text: [body], JSON),
        ("string", lambda body, text: "x", JSON),
        ("number", lambda body, text: 1, JSON),
        ("null", lambda body, text: None, JSON),
        ("true", lambda body, text: True, JSON),
        ("empty-list", lambda body, text: [], JSON),
        ("empty-object", lambda body, text: {}, JSON),
        ("json-in-a-string", lambda body, text: text, JSON),
        ("empty", lambda body, text: RawBytes(b""), JSON),
        ("truncated", lambda body, text: RawBytes(text[:-1].encode()), JSON),
        ("trailing-garbage", lambda body, text: RawBytes(text.encode() + b"x"), JSON),
        ("two-objects", lambda body, text: RawBytes(f"{text} {text}".encode()), JSON),
        ("non-utf8", lambda body, text: RawBytes(b"\xff\xfe" + text.encode()), JSON),
        ("utf16", lambda body, text: RawBytes(text.encode("utf-16")), JSON),
        ("deep-list", lambda body, text: deep_list(), JSON),
        ("deep-object", lambda body, text: deep_object(), JSON),
        ("text-plain", lambda body, text: RawBytes(text.encode()), "text/plain"),
        ("form-urlencoded", lambda body, text: RawBytes(urlencode(body).encode()),
         "application/x-www-form-urlencoded"),
        ("multipart", lambda body, text: RawBytes(_multipart(body)),
         "multipart/form-data; boundary=BoUnDaRy"),
        ("xml", lambda body, text: RawBytes(b"<request/>"), "application/xml"),
        ("no-content-type", lambda body, text: RawBytes(text.encode()), None),
        ("duplicate-key-bad-last", lambda body, text: RawBytes(
            text[:-1].encode() + f', "{next(iter(body))}": null}}'.encode()), JSON),
        ("many-keys-no-fields", lambda body, text: {f"k{n}": n for n in range(3_000)}, JSON),
        ("many-keys-over-the-size-limit",
         lambda body, text: {f"k{n}": n for n in range(200_000)}, JSON),
        ("just-over-the-size-limit", lambda body, text: {
            **body, "padding": "x" * (settings.API_MAX_BODY_BYTES - len(text))}, JSON),
        ("far-over-the-size-limit",
         lambda body, text: {**body, "padding": "x" * 3_000_000}, JSON),
    ]

    def whole(shape: Callable[[dict, str], Value]) -> Callable[[World], Value]:
        def build(world: World) -> Value:
            body = {name: value(world) if callable(value) else value
                    for name, value in base.items()}
            value = shape(body, json.dumps(body))
            return value if isinstance(value, (Raw, RawBytes)) else Raw(json.dumps(value))
        return build

    return [Case(id=f"{endpoint}-body-{label}", endpoint=endpoint, field="(body)",
                 family="body", path=path, body=whole(shape), content_type=content_type)
            for label, shape, content_type in shapes]


def _multipart(fields: dict) -> bytes:
    parts = [f'--BoUnDaRy\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in fields.items()]
    return ("".join(parts) + "--BoUnDaRy--\r\n").encode()


def _auth_cases(endpoint: str, path: str, base: dict, **extra) -> list[Case]:
    """The credentials: missing, or a look-alike of the user's own token."""
    def header(spoil: Callable[[str], str]) -> Callable[[World], str]:
        # A server reads header bytes as Latin-1: UTF-8 look-alikes arrive as their bytes.
        return lambda world: spoil(world.token).encode().decode("latin-1")

    variants: list[tuple[str, Callable[[World], str | None]]] = [
        ("missing", lambda world: None),
        ("empty", lambda world: ""),
        ("keyword-only", lambda world: "Token"),
        ("bearer-keyword", header(lambda t: f"Bearer {t}")),
        ("upper-case-token", header(lambda t: f"Token {t.upper()}")),
        ("fullwidth-token", header(lambda t: f"Token {_fullwidth(t)}")),
        ("zero-width-in-token", header(lambda t: f"Token {t[:20]}\u200b{t[20:]}")),
        ("token-with-trailing-nbsp", header(lambda t: f"Token {t}\u00a0")),
        ("truncated-token", header(lambda t: f"Token {t[:-1]}")),
        ("token-and-extra-word", header(lambda t: f"Token {t} x")),
        ("non-latin1-bytes", lambda world: "Token \u00ff\u00fe"),
    ]
    return [Case(id=f"{endpoint}-auth-{label}", endpoint=endpoint, field="Authorization",
                 family="credentials", path=path, body=base, auth=auth, **extra)
            for label, auth in variants]


def _method_cases(endpoint: str, path: str, base: dict | None, *, get: bool,
                  **extra) -> list[Case]:
    """The valid request with another method (GET only where the path has no GET)."""
    methods = ["PUT", "PATCH", "DELETE", *(["GET"] if get else [])]
    return [Case(id=f"{endpoint}-method-{method.lower()}", endpoint=endpoint, field="(method)",
                 family="method", path=path, method=method, body=base, **extra)
            for method in methods]


def transfer_cases() -> list[Case]:
    base = {"currency": "USD", "amount": "10", "from_type": "SPOT", "to_type": "FUTURES",
            "client_transfer_id": "t-new-1"}
    wallet_types = {
        "lookalikes": [("cyrillic-o", "SP\u041eT"), ("greek-omicron", "SP\u039fT"),
                       ("accented", "SP\u00d6T"), ("long-s", "\u017fPOT"),
                       ("zero-width-inside", "SP\u200bOT")],
        "wrong": [("paper", "PAPER"), ("unknown", "MARGIN")],
    }
    cases = []
    for name in ("from_type", "to_type"):
        cases += _field_cases("transfer", TRANSFER, base, name, choices(
            base[name], lookalikes=wallet_types["lookalikes"],
            wrong=[*wallet_types["wrong"],
                   ("same-as-other", base["to_type" if name == "from_type" else "from_type"])]),
            "look-alike")
    for name in ("currency", "from_type", "to_type", "client_transfer_id"):
        cases += _field_cases("transfer", TRANSFER, base, name, encodings(base[name]),
                              "encoding")
        cases += _field_cases("transfer", TRANSFER, base, name, sizes(base[name]), "size")
        cases += _field_cases("transfer", TRANSFER, base, name, containers(base[name]),
                              "container")
        cases += _field_cases("transfer", TRANSFER, base, name,
                              scalars(numbers=name != "client_transfer_id"), "type")
    cases += _field_cases("transfer", TRANSFER, base, "currency", [
        ("fullwidth", "\uff35\uff33\uff24"), ("accented-u", "\u00daSD"),
        ("caron-s", "U\u0160D"), ("stroke-d", "US\u0110"),
        ("cyrillic-es", "U\u0405D"), ("armenian-se", "\u054dSD"),
        ("cherokee-d", "US\u13a0"), ("long-s-lower", "u\u017fd"),
        ("math-bold", "\U0001d414\U0001d412\U0001d403"), ("circled", "\u24ca\u24c8\u24b9"),
        ("leading-space", " USD"), ("trailing-space", "USD "), ("inner-space", "US D"),
        ("newline-suffix", "USD\n"), ("tab-inside", "US\tD"),
        ("unknown", "XXX"), ("sql-quote", "USD' OR '1'='1"), ("like-wildcard", "US%"),
        ("slash", "USD/EUR"), ("dollar-sign", "$"), ("percent-encoded", "US%44"),
    ], "look-alike")
    cases += _field_cases("transfer", TRANSFER, base, "amount",
                          numbers(decimals=2, too_big="1000000"), "number")
    cases += _field_cases("transfer", TRANSFER, base, "amount", containers("10"), "container")
    cases += _field_cases("transfer", TRANSFER, base, "client_transfer_id", [
        ("fullwidth", "\uff54-new-1"), ("unicode-hyphen", "t\u2010new\u20101"),
        ("dotless-i", "t-\u0131d"), ("kelvin", "\u212a-1"), ("space-inside", "t new"),
        ("slash", "t/../1"), ("emoji", "t-\U0001f680"), ("one-too-long", "t" * 65),
        ("replay-with-other-amount", lambda world: world.own_client_transfer_id),
    ], "look-alike")
    for name in ("currency", "amount", "from_type", "to_type"):
        cases.append(Case(id=f"transfer-{name}-missing", endpoint="transfer", field=name,
                          family="missing", path=TRANSFER,
                          body={k: v for k, v in base.items() if k != name}))
    cases += _body_cases("transfer", TRANSFER, base)
    cases += _auth_cases("transfer", TRANSFER, base)
    cases += _method_cases("transfer", TRANSFER, base, get=True)
    return cases


def order_cases() -> list[Case]:
    # A BUY LIMIT below the ask: it would rest (201), nothing fills.
    base = {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT", "amount": "1",
            "price": "1.00000", "time_in_force": "GTC", "post_only": False,
            "client_order_id": "o-new-1"}
    cases = []
    cases += _field_cases("order", ORDERS, base, "side", choices("BUY", lookalikes=[
        ("cyrillic-ve", "\u0412UY"), ("greek-upsilon", "BU\u03a5"), ("accented", "B\u00dcY"),
        ("zero-width-inside", "BU\u200bY")], wrong=[("unknown", "HOLD"), ("short", "B")]),
        "look-alike")
    cases += _field_cases("order", ORDERS, base, "type", choices("LIMIT", lookalikes=[
        ("cyrillic-te", "LIMI\u0422"), ("dotless-i", "L\u0131M\u0131T"),
        ("accented", "L\u00cdMIT")], wrong=[("unknown", "STOP")]), "look-alike")
    cases += _field_cases("order", ORDERS, base, "time_in_force", choices("GTC", lookalikes=[
        ("cyrillic-es", "GT\u0421"), ("greek-tau", "G\u03a4C"), ("accented", "GT\u00c7"),
        ("zero-width-inside", "G\u200bTC")], wrong=[("unknown", "DAY"), ("spelled-out",
                                                                      "GOOD_TILL_CANCEL")]),
        "look-alike")
    cases += _field_cases("order", ORDERS, base, "post_only", [
        # Not one of the words a boolean field takes ("true", "yes", "1", "on", ...).
        ("maybe", "maybe"), ("two", 2), ("minus-one", -1), ("float-token", Raw("1.5")),
        ("fullwidth-true", _fullwidth("true")), ("true-zero-width", "true\u200b"),
        ("true-trailing-space", "true "), ("cyrillic-e-yes", "y\u0435s"),
        ("dotless-i-on", "\u0131n"), ("null", None), ("empty", ""), ("nul", "\u0000"),
        ("overlong", "true" * 10_000), ("nan-token", Raw("NaN")),
    ], "look-alike")
    cases += _field_cases("order", ORDERS, base, "post_only", containers(True), "container")
    # Valid, and yet refused: a post-only order the price would fill at once (409), a
    # post-only or priced MARKET order (400).
    cases += _field_cases("order", ORDERS, {**base, "price": "1.20000"}, "post_only", [
        ("crossing-limit", True)], "conflict")
    cases += _field_cases("order", ORDERS, {k: v for k, v in base.items() if k != "price"}
                          | {"type": "MARKET"}, "post_only", [("on-a-market-order", True)],
                          "conflict")
    for name in ("symbol", "side", "type", "time_in_force", "client_order_id"):
        cases += _field_cases("order", ORDERS, base, name, encodings(base[name]), "encoding")
        cases += _field_cases("order", ORDERS, base, name, sizes(base[name]), "size")
        cases += _field_cases("order", ORDERS, base, name, containers(base[name]),
                              "container")
        cases += _field_cases("order", ORDERS, base, name,
                              scalars(numbers=name != "client_order_id"), "type")
    cases += _field_cases("order", ORDERS, base, "symbol", [
        ("fullwidth", _fullwidth("EUR/USD")), ("fullwidth-slash", "EUR\uff0fUSD"),
        ("division-slash", "EUR\u2215USD"), ("fraction-slash", "EUR\u2044USD"),
        ("cyrillic-ie", "\u0415UR/USD"), ("accented", "E\u00dcR/USD"),
        ("long-s-lower", "eur/u\u017fd"), ("backslash", "EUR\\USD"),
        ("no-slash", "EURUSD"), ("double-slash", "EUR//USD"), ("trailing-slash", "EUR/USD/"),
        ("spaces-around-slash", "EUR / USD"), ("leading-space", " EUR/USD"),
        ("trailing-space", "EUR/USD "), ("percent-encoded", "EUR%2FUSD"),
        ("disabled-market", "GBP/USD"), ("halted-market", "CHF/USD"),
        ("delisted-market", "AUD/USD"), ("unknown-market", "XXX/YYY"),
        ("sql-wildcard", "EUR/%"), ("sql-quote", "EUR/USD' --"),
    ], "look-alike")
    cases += _field_cases("order", ORDERS, base, "amount",
                          numbers(decimals=2, too_big="99999999"), "number")
    cases += _field_cases("order", ORDERS, base, "amount", containers("1"), "container")
    cases += _field_cases("order", ORDERS, base, "price",
                          [(label, value) for label, value in numbers(
                              decimals=5, too_big="99999999999.00000")
                           if label != "null"], "number")
    cases += _field_cases("order", ORDERS, base, "price", [
        ("below-one-unit-of-value", "0.00001"), ("null-on-a-limit", None)], "number")
    cases += _field_cases("order", ORDERS, base, "price", containers("1.00000"), "container")
    cases += _field_cases("order", ORDERS, {**base, "type": "MARKET"}, "price", [
        ("on-a-market-order", "1.00000")], "number")
    # A MARKET BUY by quote budget (it would fill at the ask, 201).
    by_budget = {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET", "quote_amount": "10",
                 "client_order_id": "o-new-1"}
    cases += _field_cases("order", ORDERS, by_budget, "quote_amount",
                          numbers(decimals=2, too_big="99999999"), "number")
    cases += _field_cases("order", ORDERS, by_budget, "quote_amount", containers("10"),
                          "container")
    cases += _field_cases("order", ORDERS, by_budget, "quote_amount", [
        ("below-one-lot", "0.01")], "number")
    cases += _field_cases("order", ORDERS, base, "quote_amount", [("beside-amount", "10")],
                          "conflict")
    cases += _field_cases("order", ORDERS, {**by_budget, "side": "SELL"}, "quote_amount", [
        ("on-a-sell", "10")], "conflict")
    cases += _field_cases("order", ORDERS, {**by_budget, "type": "LIMIT", "price": "1.00000"},
                          "quote_amount", [("on-a-limit", "10")], "conflict")
    cases += _field_cases("order", ORDERS, base, "client_order_id", [
        ("fullwidth", "\uff4f-new-1"), ("unicode-hyphen", "o\u2010new"),
        ("dotless-i", "o-\u0131d"), ("kelvin", "\u212a-1"), ("space-inside", "o new"),
        ("slash", "o/../1"), ("emoji", "o-\U0001f680"), ("one-too-long", "o" * 65),
        ("replay-with-other-content", lambda world: world.own_client_order_id),
    ], "look-alike")
    for name in ("symbol", "side", "type", "amount", "price"):
        cases.append(Case(id=f"order-{name}-missing", endpoint="order", field=name,
                          family="missing", path=ORDERS,
                          body={k: v for k, v in base.items() if k != name}))
    cases += conditional_order_cases(base)
    cases += _body_cases("order", ORDERS, base)
    cases += _auth_cases("order", ORDERS, base)
    cases += _method_cases("order", ORDERS, base, get=False)  # GET lists the orders
    return cases


def conditional_order_cases(base: dict) -> list[Case]:
    """The trigger fields, each on an order of the type that takes it (which would be
    placed PENDING, 201) or on one that does not."""
    # A buy stop-limit above the market (1.10000) and a buy trailing stop that starts
    # trailing once the price falls to 1.09000.
    stop = {**base, "type": "STOP_LIMIT", "price": "1.12500", "stop_price": "1.12000",
            "trigger_source": "LAST"}
    trailing = {k: v for k, v in base.items() if k != "price"} | {
        "type": "TRAILING_STOP", "trailing_delta": "0.00500", "activation_price": "1.09000"}
    by_rate = {k: v for k, v in trailing.items() if k != "trailing_delta"} | {
        "trailing_rate": "0.01"}
    cases = []
    cases += _field_cases("order", ORDERS, stop, "type", choices("STOP_LIMIT", lookalikes=[
        ("cyrillic-o", "ST\u041eP_LIMIT"), ("hyphen", "STOP-LIMIT"),
        ("no-underscore", "STOPLIMIT")], wrong=[("unknown", "STOP_LOSS"),
                                                ("oco", "OCO")]), "look-alike")
    cases += _field_cases("order", ORDERS, stop, "trigger_source", choices("LAST", lookalikes=[
        ("cyrillic-a", "L\u0410ST"), ("zero-width-inside", "LA\u200bST")],
        wrong=[("mark-on-paper", "MARK"), ("unknown", "CLOSE"), ("bid-only", "BID")]),
        "look-alike")
    cases += _field_cases("order", ORDERS, stop, "trigger_source", encodings("LAST"),
                          "encoding")
    cases += _field_cases("order", ORDERS, stop, "trigger_source", containers("LAST"),
                          "container")
    priced = [(label, value) for label, value in numbers(decimals=5, too_big="")
              if label != "more-than-the-balance"]
    cases += _field_cases("order", ORDERS, stop, "stop_price", [
        *priced, ("below-the-market", "1.09000"), ("at-the-market", "1.10000")], "number")
    cases += _field_cases("order", ORDERS, stop, "stop_price", containers("1.12000"),
                          "container")
    cases += _field_cases("order", ORDERS, base, "stop_price", [("on-a-limit", "1.12000")],
                          "number")
    cases += _field_cases("order", ORDERS, trailing, "trailing_delta",
                          [(label, value) for label, value in priced if label != "null"],
                          "number")
    cases += _field_cases("order", ORDERS, by_rate, "trailing_delta", [
        ("with-a-rate-too", "0.00500")], "number")
    cases += _field_cases("order", ORDERS, trailing, "trailing_delta", containers("0.005"),
                          "container")
    cases += _field_cases("order", ORDERS, by_rate, "trailing_rate", [
        *[(label, value) for label, value in numbers(decimals=6, too_big="")
          if label not in ("more-than-the-balance", "null")],
        ("above-20-percent", "0.21"), ("below-0.1-percent", "0.0009"), ("one", "1")],
        "number")
    cases += _field_cases("order", ORDERS, by_rate, "trailing_rate", containers("0.01"),
                          "container")
    cases += _field_cases("order", ORDERS, trailing, "activation_price", [
        *[(label, value) for label, value in priced if label != "null"],
        ("already-reached", "1.11000")], "number")
    cases += _field_cases("order", ORDERS, trailing, "activation_price", containers("1.09"),
                          "container")
    return cases


def cancel_cases() -> list[Case]:
    def other(form: Callable[[int], str]) -> Callable[[World], dict]:
        return lambda world: {"order_id": form(world.other_open)}

    def fixed(text: str) -> Callable[[World], dict]:
        return lambda world: {"order_id": text}

    ids: list[tuple[str, Callable[[World], dict]]] = [
        ("other-users-order", other(str)),
        ("other-users-order-leading-zeros", other(lambda pk: f"000{pk}")),
        ("other-users-order-plus", other(lambda pk: f"%2B{pk}")),
        ("other-users-order-decimal", other(lambda pk: f"{pk}.0")),
        ("other-users-order-exponent", other(lambda pk: f"{pk}e0")),
        ("other-users-order-space", other(lambda pk: f"%20{pk}")),
        ("other-users-order-nul", other(lambda pk: f"{pk}%00")),
        ("other-users-order-fullwidth", other(lambda pk: _fullwidth(str(pk)))),
        ("other-users-order-arabic-indic", other(
            lambda pk: "".join(chr(0x0660 + int(d)) for d in str(pk)))),
        ("own-canceled-order", lambda world: {"order_id": world.own_canceled}),
        ("own-filled-order", lambda world: {"order_id": world.own_filled}),
        ("zero", fixed("0")), ("minus-one", fixed("-1")), ("minus-zero", fixed("-0")),
        ("int32-max", fixed(str(2 ** 31 - 1))), ("int32-overflow", fixed(str(2 ** 31))),
        ("int64-max", fixed(str(2 ** 63 - 1))), ("int64-overflow", fixed(str(2 ** 63))),
        ("uint64-overflow", fixed(str(2 ** 64))), ("googol", fixed(str(10 ** 100))),
        ("letters", fixed("abc")), ("hex", fixed("0x10")), ("exponent", fixed("1e3")),
        ("underscore", fixed("1_000")), ("nan", fixed("NaN")), ("null-word", fixed("null")),
        ("empty", fixed("")), ("traversal", fixed("..%2F1")), ("sql", fixed("1%20OR%201=1")),
    ]
    cases = [Case(id=f"cancel-order_id-{label}", endpoint="cancel", field="order_id",
                  family="path-id", path=CANCEL, path_args=args)
             for label, args in ids]
    own_open = {"path_args": lambda world: {"order_id": world.own_open}}
    cases += _auth_cases("cancel", CANCEL, None, **own_open)
    cases += _method_cases("cancel", CANCEL, None, get=True, **own_open)
    return cases


def token_cases() -> list[Case]:
    base = {"username": USERNAME, "password": PASSWORD}
    cases = []
    # Every look-alike of the user's own name, with the right password: one account has one
    # name (a look-alike that logs in also counts its failures apart from the real name's,
    # which defeats the per-account lockout).
    cases += _field_cases("token", TOKEN, base, "username", [
        ("upper-case", USERNAME.upper()), ("title-case", USERNAME.title()),
        ("fullwidth", _fullwidth(USERNAME)), ("accented", USERNAME.replace("o", "\u00f6")),
        ("cyrillic-o", USERNAME.replace("o", "\u043e")),
        ("dotless-i", USERNAME.replace("i", "\u0131")),
        ("other-users-name", OTHER_USERNAME), ("sql-quote", f"{USERNAME}' OR '1'='1"),
        ("wildcard", USERNAME[:-1] + "%"),
    ], "look-alike")
    cases += _field_cases("token", TOKEN, base, "password", [
        ("upper-case", PASSWORD.upper()), ("fullwidth", _fullwidth(PASSWORD)),
        ("leading-space", f" {PASSWORD}"), ("trailing-space", f"{PASSWORD} "),
        ("truncated", PASSWORD[:-1]), ("other-users-password", OTHER_PASSWORD),
    ], "look-alike")
    for name in ("username", "password"):
        # A username is trimmed of whitespace (NBSP too) before the lookup, as Django's own
        # login form does: that is the same name, not a look-alike.
        cases += _field_cases("token", TOKEN, base, name, [
            (label, value) for label, value in encodings(base[name])
            if not (name == "username" and label == "nbsp-suffix")], "encoding")
        cases += _field_cases("token", TOKEN, base, name, sizes(base[name]), "size")
        cases += _field_cases("token", TOKEN, base, name, containers(base[name]), "container")
        cases += _field_cases("token", TOKEN, base, name, scalars(numbers=True), "type")
        cases.append(Case(id=f"token-{name}-missing", endpoint="token", field=name,
                          family="missing", path=TOKEN,
                          body={k: v for k, v in base.items() if k != name}))
    cases += _body_cases("token", TOKEN, base)
    cases += _method_cases("token", TOKEN, base, get=True)
    return cases


def fixedtime_cases() -> list[Case]:
    # A LIVE 10 USD up/down trade on EUR/USD, 60 s: it would open (201), its stake held.
    base = {"venue": "paper", "symbol": "EUR/USD", "mode": "LIVE", "direction": "UP",
            "stake": "10", "expiry_seconds": 60}
    cases = []
    cases += _field_cases("fixedtime", FIXEDTIME, base, "venue", [
        ("upper-case", "PAPER"), ("title-case", "Paper"), ("fullwidth", _fullwidth("paper")),
        ("cyrillic-a", "p\u0430per"), ("leading-space", " paper"),
        ("trailing-space", "paper "), ("zero-width-inside", "pa\u200bper"),
        ("no-instrument-there", "spot"), ("unknown", "moon")], "look-alike")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "mode", choices("LIVE", lookalikes=[
        ("cyrillic-ie", "LIV\u0415"), ("dotless-i", "L\u0131VE"), ("accented", "L\u00cdVE")],
        wrong=[("unknown", "REAL"), ("spot", "SPOT")]), "look-alike")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "direction", choices("UP", lookalikes=[
        ("cyrillic-er", "U\u0420"), ("greek-upsilon", "\u03a5P"),
        ("zero-width-inside", "U\u200bP")], wrong=[("unknown", "SIDEWAYS"),
                                                   ("arrow", "\u2191")]), "look-alike")
    for name in ("venue", "symbol", "mode", "direction"):
        cases += _field_cases("fixedtime", FIXEDTIME, base, name, encodings(base[name]),
                              "encoding")
        cases += _field_cases("fixedtime", FIXEDTIME, base, name, sizes(base[name]), "size")
        cases += _field_cases("fixedtime", FIXEDTIME, base, name, containers(base[name]),
                              "container")
        cases += _field_cases("fixedtime", FIXEDTIME, base, name, scalars(numbers=True),
                              "type")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "symbol", [
        ("fullwidth", _fullwidth("EUR/USD")), ("fraction-slash", "EUR\u2044USD"),
        ("cyrillic-ie", "\u0415UR/USD"), ("no-slash", "EURUSD"),
        ("leading-space", " EUR/USD"), ("trailing-space", "EUR/USD "),
        ("disabled-market", "GBP/USD"), ("halted-market", "CHF/USD"),
        ("unknown-market", "XXX/YYY"), ("sql-wildcard", "EUR/%"),
    ], "look-alike")
    # Stakes: bounds 1..1000, the user's SPOT USD 995: "999" is within bounds, not funds.
    cases += _field_cases("fixedtime", FIXEDTIME, base, "stake",
                          numbers(decimals=2, too_big="999"), "number")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "stake", [
        ("below-the-minimum", "0.99"), ("above-the-maximum", "1000.01")], "number")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "stake", containers("10"),
                          "container")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "expiry_seconds", [
        ("not-offered", 61), ("zero", 0), ("negative", -60), ("huge", 10 ** 30),
        ("fraction-token", Raw("60.5")), ("exponent-token", Raw("6e1")),
        ("nan-token", Raw("NaN")), ("word", "sixty"), ("true", True), ("null", None),
        ("fullwidth-digits", _fullwidth("60")), ("arabic-indic-digits", "\u0666\u0660"),
        ("string", "60"), ("string-decimal", "60.0"), ("decimal-token", Raw("60.0")),
    ], "number")
    cases += _field_cases("fixedtime", FIXEDTIME, base, "expiry_seconds", containers(60),
                          "container")
    for name in ("symbol", "mode", "direction", "stake", "expiry_seconds"):
        cases.append(Case(id=f"fixedtime-{name}-missing", endpoint="fixedtime", field=name,
                          family="missing", path=FIXEDTIME,
                          body={k: v for k, v in base.items() if k != name}))
    cases += _body_cases("fixedtime", FIXEDTIME, base)
    cases += _auth_cases("fixedtime", FIXEDTIME, base)
    cases += _method_cases("fixedtime", FIXEDTIME, base, get=False)  # GET lists the trades
    return cases


def order_list_cases() -> list[Case]:
    # A buy OCO: a limit below the market (1.10000) and a stop-limit above it (201).
    base = {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY", "amount": "1",
            "price": "1.09000", "stop_price": "1.11000", "stop_limit_price": "1.11100",
            "trigger_source": "LAST", "client_order_id": "l-new-1"}
    bracket = {k: v for k, v in base.items() if k != "stop_limit_price"} | {
        "kind": "BRACKET", "stop_price": "1.08000", "take_profit_price": "1.12000",
        "entry_type": "LIMIT"}
    cases = []
    cases += _field_cases("order_list", ORDER_LISTS, base, "kind", choices("OCO", lookalikes=[
        ("cyrillic-o", "\u041eCO"), ("greek-omicron", "OC\u039f"), ("zero", "0CO"),
        ("zero-width-inside", "O\u200bCO")], wrong=[("unknown", "OTO"),
                                                    ("a-type", "STOP_LIMIT")]),
        "look-alike")
    cases += _field_cases("order_list", ORDER_LISTS, base, "side", choices("BUY", lookalikes=[
        ("cyrillic-ve", "\u0412UY")], wrong=[("unknown", "HOLD")]), "look-alike")
    cases += _field_cases("order_list", ORDER_LISTS, bracket, "entry_type", choices(
        "LIMIT", lookalikes=[("dotless-i", "L\u0131M\u0131T")],
        wrong=[("stop", "STOP_MARKET"), ("unknown", "ICEBERG")]), "look-alike")
    cases += _field_cases("order_list", ORDER_LISTS, base, "entry_type", [
        ("market-on-an-oco", "MARKET")], "look-alike")
    cases += _field_cases("order_list", ORDER_LISTS, base, "trigger_source", choices(
        "LAST", lookalikes=[("cyrillic-a", "L\u0410ST")], wrong=[("mark-on-paper", "MARK")]),
        "look-alike")
    cases += _field_cases("order_list", ORDER_LISTS, base, "symbol", [
        ("fullwidth-slash", "EUR\uff0fUSD"), ("cyrillic-ie", "\u0415UR/USD"),
        ("disabled-market", "GBP/USD"), ("halted-market", "CHF/USD"),
        ("unknown-market", "XXX/YYY")], "look-alike")
    cases += _field_cases("order_list", ORDER_LISTS, base, "client_order_id", [
        ("fullwidth", "\uff4c-new-1"), ("one-too-long", "l" * 65), ("slash", "l/../1")],
        "look-alike")
    for name in ("symbol", "kind", "side", "client_order_id"):
        cases += _field_cases("order_list", ORDER_LISTS, base, name, encodings(base[name]),
                              "encoding")
        cases += _field_cases("order_list", ORDER_LISTS, base, name, sizes(base[name]),
                              "size")
        cases += _field_cases("order_list", ORDER_LISTS, base, name, containers(base[name]),
                              "container")
    priced = [(label, value) for label, value in numbers(decimals=5, too_big="")
              if label not in ("more-than-the-balance", "null")]
    cases += _field_cases("order_list", ORDER_LISTS, base, "amount",
                          numbers(decimals=2, too_big="99999999"), "number")
    cases += _field_cases("order_list", ORDER_LISTS, base, "price", [
        *priced, ("null", None), ("limit-above-the-market", "1.11500")], "number")
    cases += _field_cases("order_list", ORDER_LISTS, base, "stop_price", [
        *priced, ("null", None), ("stop-below-the-market", "1.09500")], "number")
    cases += _field_cases("order_list", ORDER_LISTS, base, "stop_limit_price", priced,
                          "number")
    cases += _field_cases("order_list", ORDER_LISTS, base, "take_profit_price", [
        ("on-an-oco", "1.12000")], "number")
    cases += _field_cases("order_list", ORDER_LISTS, bracket, "take_profit_price", [
        *priced, ("null", None), ("below-the-entry", "1.08500")], "number")
    for name in ("amount", "price", "stop_price"):
        cases += _field_cases("order_list", ORDER_LISTS, base, name, containers("1"),
                              "container")
    for name in ("symbol", "kind", "side", "amount", "stop_price"):
        cases.append(Case(id=f"order_list-{name}-missing", endpoint="order_list", field=name,
                          family="missing", path=ORDER_LISTS,
                          body={k: v for k, v in base.items() if k != name}))
    cases += _body_cases("order_list", ORDER_LISTS, base)
    cases += _auth_cases("order_list", ORDER_LISTS, base)
    cases += _method_cases("order_list", ORDER_LISTS, base, get=False)  # GET lists them
    return cases


def list_cancel_cases() -> list[Case]:
    def other(form: Callable[[int], str]) -> Callable[[World], dict]:
        return lambda world: {"list_id": form(world.other_list)}

    def fixed(text: str) -> Callable[[World], dict]:
        return lambda world: {"list_id": text}

    ids: list[tuple[str, Callable[[World], dict]]] = [
        ("other-users-list", other(str)), ("other-users-list-leading-zeros",
                                           other(lambda pk: f"000{pk}")),
        ("other-users-list-fullwidth", other(lambda pk: _fullwidth(str(pk)))),
        ("other-users-list-decimal", other(lambda pk: f"{pk}.0")),
        ("unknown-list", lambda world: {"list_id": world.other_list + 1_000}),
        ("zero", fixed("0")), ("minus-one", fixed("-1")),
        ("int64-overflow", fixed(str(2 ** 63))), ("googol", fixed(str(10 ** 100))),
        ("letters", fixed("abc")), ("nan", fixed("NaN")), ("empty", fixed("")),
        ("traversal", fixed("..%2F1")),
    ]
    cases = [Case(id=f"list_cancel-list_id-{label}", endpoint="list_cancel", field="list_id",
                  family="path-id", path=LIST_CANCEL, path_args=args)
             for label, args in ids]
    own = {"path_args": lambda world: {"list_id": world.own_list}}
    cases += _auth_cases("list_cancel", LIST_CANCEL, None, **own)
    cases += _method_cases("list_cancel", LIST_CANCEL, None, get=True, **own)
    return cases


CASES: list[Case] = [*transfer_cases(), *order_cases(), *cancel_cases(), *token_cases(),
                     *fixedtime_cases(), *order_list_cases(), *list_cancel_cases()]
