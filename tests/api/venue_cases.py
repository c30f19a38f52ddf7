"""Hostile requests to the venues' endpoints (ecosystem, spot, futures) and the shared order
views: the case generator of tests/api/test_hostile_venues.py, built from the value families
of tests/api/cases.py.

The world these cases refer to (``VenueWorld``): the user owns a resting ecosystem order
(client id ``e-existing``), a canceled one, a spot order and an open futures position;
another user owns a resting ecosystem order, a spot order and a position; the user also has
a closed futures position (``position_closed``).

Left out on purpose, as in cases.py: what a correct server accepts (``abc/usdt`` is
ABC/USDT: symbols are case-insensitive in ASCII; a client id that differs from an existing
one only in case is another id, placed as a new order: see test_hostile_venues's MariaDB
test).
"""
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from tests.api.cases import (
    Case,
    _auth_cases,
    _body_cases,
    _field_cases,
    _fullwidth,
    _method_cases,
    choices,
    containers,
    encodings,
    numbers,
    scalars,
    sizes,
)

ECO = "/api/v1/ecosystem/"
ECO_ORDERS = ECO + "orders/"
ECO_CANCEL = ECO + "orders/{order_id}/cancel/"
ECO_TRADES = ECO + "trades/"
SPOT_ORDERS = "/api/v1/spot/orders/"
SPOT_CANCEL = "/api/v1/spot/orders/{order_id}/cancel/"
FUTURES = "/api/v1/futures/"
PREVIEW = FUTURES + "preview/"
FUNDING = FUTURES + "funding/"
MARGIN = FUTURES + "positions/{position_id}/margin/"


@dataclass(frozen=True)
class VenueWorld:
    token: str
    eco_own_open: int
    eco_own_canceled: int
    eco_other_open: int
    spot_own: int
    spot_other: int
    paper_own: int
    position_own: int
    position_other: int
    position_closed: int
    eco_client_order_id: str
    margin_client_id: str  # a margin add of 10 already made under it


def _symbol_lookalikes(valid: str, *, elsewhere: str) -> list[tuple[str, str]]:
    """``valid`` (BASE/QUOTE) spoiled: look-alike letters and slashes, padding, an encoded
    slash, wildcards, another venue's symbol."""
    base, quote_code = valid.split("/")
    return [
        ("fullwidth", _fullwidth(valid)), ("fullwidth-slash", f"{base}\uff0f{quote_code}"),
        ("division-slash", f"{base}\u2215{quote_code}"),
        ("cyrillic-first", "\u0410" + valid[1:] if valid[0] == "A" else "\u0412" + valid[1:]),
        ("accented-first", "\u00c0" + valid[1:]), ("leading-space", f" {valid}"),
        ("trailing-space", f"{valid} "), ("spaces-around-slash", f"{base} / {quote_code}"),
        ("percent-encoded-slash", f"{base}%2F{quote_code}"), ("no-slash", base + quote_code),
        ("sql-wildcard", f"{base}/%"), ("like-underscore", f"{base}/{quote_code[:-1]}_"),
        ("long-s", valid.lower().replace("s", "\u017f")),
        ("another-venues-market", elsewhere), ("unknown", "XXX/YYY"),
    ]


def _order_cases(endpoint: str, path: str, base: dict, *, amount_decimals: int,
                 price_decimals: int, elsewhere: str, replay: Callable,
                 parser: bool) -> list[Case]:
    """``parser``: also the families the shared parser meets before the venue does
    (encodings, sizes, containers, types, the body as a whole): once per input class."""
    cases = []
    cases += _field_cases(endpoint, path, base, "symbol",
                          _symbol_lookalikes(base["symbol"], elsewhere=elsewhere), "look-alike")
    cases += _field_cases(endpoint, path, base, "side", choices("BUY", lookalikes=[
        ("cyrillic-ve", "\u0412UY")], wrong=[("unknown", "HOLD")]), "look-alike")
    cases += _field_cases(endpoint, path, base, "type", choices("LIMIT", lookalikes=[
        ("dotless-i", "L\u0131M\u0131T")], wrong=[("unknown", "ICEBERG")]), "look-alike")
    # Encodings where the value is looked up or stored (the choices' parser is the paper
    # venue's, attacked in cases.py); the other families on every field.
    for name in ("symbol", "client_order_id") if parser else ():
        cases += _field_cases(endpoint, path, base, name, encodings(base[name]), "encoding")
    for name in ("symbol", "side", "type", "client_order_id") if parser else ():
        cases += _field_cases(endpoint, path, base, name, sizes(base[name]), "size")
        cases += _field_cases(endpoint, path, base, name, containers(base[name]),
                              "container")
        cases += _field_cases(endpoint, path, base, name,
                              scalars(numbers=name != "client_order_id"), "type")
    cases += _field_cases(endpoint, path, base, "amount",
                          numbers(decimals=amount_decimals, too_big="99999999"), "number")
    cases += _field_cases(endpoint, path, base, "price", [
        (label, value) for label, value in numbers(decimals=price_decimals, too_big="")
        if label not in ("more-than-the-balance", "null")], "number")
    cases += _field_cases(endpoint, path, base, "price", [("off-tick", "9.005")], "number")
    for name in ("amount", "price"):
        cases += _field_cases(endpoint, path, base, name, containers("1"), "container")
    cases += _field_cases(endpoint, path, base, "client_order_id", [
        ("fullwidth", _fullwidth("e-new-1")), ("accented", "\u00e9-new-1"),
        ("dotless-i", "e-\u0131d"), ("kelvin", "\u212a-1"), ("space-inside", "e new"),
        ("slash", "e/../1"), ("one-too-long", "e" * 65),
        ("replay-with-other-content", replay),
    ], "look-alike")
    for name in ("symbol", "side", "type", "amount"):
        cases.append(Case(id=f"{endpoint}-{name}-missing", endpoint=endpoint, field=name,
                          family="missing", path=path,
                          body={k: v for k, v in base.items() if k != name}))
    if parser:
        cases += _body_cases(endpoint, path, base)
    cases += _auth_cases(endpoint, path, base)
    cases += _method_cases(endpoint, path, base, get=False)  # GET lists the orders
    return cases


def eco_order_cases() -> list[Case]:
    # A BUY LIMIT at 9.00 on ABC/USDT (ticks 0.01, lots 0.001): it would rest (201).
    base = {"symbol": "ABC/USDT", "side": "BUY", "type": "LIMIT", "amount": "1",
            "price": "9.00", "time_in_force": "GTC", "client_order_id": "e-new-1",
            "stp": "NONE"}
    cases = _order_cases("eco_order", ECO_ORDERS, base, amount_decimals=3, price_decimals=2,
                         elsewhere="BTC/USDT", replay=lambda world: world.eco_client_order_id,
                         parser=True)
    cases += _field_cases("eco_order", ECO_ORDERS, base, "stp", choices("NONE", lookalikes=[
        ("cyrillic-o", "N\u041eNE"), ("zero-width-inside", "NO\u200bNE")],
        wrong=[("unknown", "CANCEL_ALL"), ("hyphenated", "CANCEL-TAKER")]), "look-alike")
    cases += _field_cases("eco_order", ECO_ORDERS, base, "stp", [
        *encodings("NONE"), *containers("NONE"),
        *[(label, value) for label, value in scalars(numbers=True) if value is not None]],
        "encoding")  # null is the market's default
    # An amount whose hold is beyond the user's ECO USDT (100,000 at 9.00).
    cases += _field_cases("eco_order", ECO_ORDERS, base, "amount", [
        ("beyond-the-balance", "20000")], "number")
    # A MARKET BUY by quote budget (it would walk the book, 201).
    by_budget = {"symbol": "ABC/USDT", "side": "BUY", "type": "MARKET", "quote_amount": "10",
                 "client_order_id": "e-new-1"}
    cases += _field_cases("eco_order", ECO_ORDERS, by_budget, "quote_amount",
                          numbers(decimals=8, too_big="1000000"), "number")
    cases += _field_cases("eco_order", ECO_ORDERS, by_budget, "quote_amount",
                          containers("10"), "container")
    cases += _field_cases("eco_order", ECO_ORDERS, base, "quote_amount",
                          [("beside-amount", "10")], "conflict")
    cases += _field_cases("eco_order", ECO_ORDERS, {**by_budget, "side": "SELL"},
                          "quote_amount", [("on-a-sell", "10")], "conflict")
    cases += _field_cases("eco_order", ECO_ORDERS, {**base, "amount": None}, "quote_amount",
                          [("on-a-limit", "10")], "conflict")
    return cases


def spot_order_cases() -> list[Case]:
    # A BUY LIMIT at 49,000 on BTC/USDT (ticks 0.01, lots 0.00001): it would rest (the
    # order s-existing is one at 50,000: the same id is a replay with other content). Its
    # input class is the ecosystem's parent (VenueOrdersApi.PlaceInput): the parser's
    # families are the ecosystem's cases.
    base = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "amount": "0.01",
            "price": "49000.00", "time_in_force": "GTC", "client_order_id": "s-new-1"}
    cases = _order_cases("spot_order", SPOT_ORDERS, base, amount_decimals=5,
                         price_decimals=2, elsewhere="ABC/USDT",
                         replay=lambda world: "s-existing", parser=False)
    # The spot venue takes no quote budget: refused, whatever the budget.
    return cases + _field_cases("spot_order", SPOT_ORDERS, {
        "symbol": "BTC/USDT", "side": "BUY", "type": "MARKET", "quote_amount": "100",
        "client_order_id": "s-new-1"}, "quote_amount", [("unsupported", "100")], "conflict")


def _id_forms(name: str, other: Callable[[object], int]) -> list[tuple[str, Callable]]:
    """Every malformed form of an id, and another user's id in look-alike forms."""
    def of(form: Callable[[int], str]) -> Callable:
        return lambda world: {name: form(other(world))}

    def fixed(text: str) -> Callable:
        return lambda world: {name: text}

    return [
        ("other-users", of(str)), ("other-users-leading-zeros", of(lambda pk: f"000{pk}")),
        ("other-users-plus", of(lambda pk: f"%2B{pk}")),
        ("other-users-decimal", of(lambda pk: f"{pk}.0")),
        ("other-users-fullwidth", of(lambda pk: _fullwidth(str(pk)))),
        ("other-users-arabic-indic", of(
            lambda pk: "".join(chr(0x0660 + int(d)) for d in str(pk)))),
        ("zero", fixed("0")), ("minus-one", fixed("-1")),
        ("int32-overflow", fixed(str(2 ** 31))), ("int64-max", fixed(str(2 ** 63 - 1))),
        ("int64-overflow", fixed(str(2 ** 63))), ("googol", fixed(str(10 ** 100))),
        ("letters", fixed("abc")), ("nan", fixed("NaN")), ("empty", fixed("")),
        ("traversal", fixed("..%2F1")),
    ]


def _cancel_cases(endpoint: str, path: str, *, other: Callable,
                  wrong_venue: list[tuple[str, Callable]], own: Callable) -> list[Case]:
    def by(pick: Callable) -> Callable:
        return lambda world: {"order_id": pick(world)}

    ids = [*_id_forms("order_id", other), *[(label, by(pick)) for label, pick in wrong_venue]]
    cases = [Case(id=f"{endpoint}-order_id-{label}", endpoint=endpoint, field="order_id",
                  family="path-id", path=path, path_args=args) for label, args in ids]
    own_args = {"path_args": lambda world: {"order_id": own(world)}}
    cases += _auth_cases(endpoint, path, None, **own_args)
    cases += _method_cases(endpoint, path, None, get=True, **own_args)
    return cases


def eco_cancel_cases() -> list[Case]:
    # (A second cancel of an order whose cancel waits for the engine is a 200 that writes
    # nothing: tests/ecosystem/test_races.py.)
    return _cancel_cases("eco_cancel", ECO_CANCEL, other=lambda w: w.eco_other_open, wrong_venue=[
        ("own-spot-order", lambda w: w.spot_own), ("own-paper-order", lambda w: w.paper_own),
    ], own=lambda w: w.eco_own_open)


def spot_cancel_cases() -> list[Case]:
    return _cancel_cases("spot_cancel", SPOT_CANCEL, other=lambda w: w.spot_other, wrong_venue=[
        ("own-eco-order", lambda w: w.eco_own_open), ("own-paper-order", lambda w: w.paper_own),
    ], own=lambda w: w.spot_own)


def margin_cases() -> list[Case]:
    # An add of 11 (the world's m-existing was an add of 10).
    base = {"action": "add", "amount": "11", "client_id": "m-new-1"}
    own = {"path_args": lambda world: {"position_id": world.position_own}}
    cases = [Case(id=f"margin-position_id-{label}", endpoint="margin", field="position_id",
                  family="path-id", path=MARGIN, body=base,
                  path_args=(lambda a: lambda world: {"position_id": a(world)["order_id"]})(args))
             for label, args in _id_forms("order_id", lambda w: w.position_other)]
    cases.append(Case(id="margin-position_id-own-closed", endpoint="margin",
                      field="position_id", family="path-id", path=MARGIN, body=base,
                      path_args=lambda world: {"position_id": world.position_closed}))
    cases += _field_cases("margin", MARGIN, base, "action", [
        (label, value) for label, value in choices("add", lookalikes=[
            ("cyrillic-a", "\u0430dd"), ("upper-case", "ADD")], wrong=[("unknown", "withdraw")])
        if value != "add"], "look-alike", **own)
    cases += _field_cases("margin", MARGIN, base, "amount", numbers(
        decimals=8, too_big="999999"), "number", **own)
    cases += _field_cases("margin", MARGIN, base, "amount", containers("10"), "container",
                          **own)
    cases += _field_cases("margin", MARGIN, base, "client_id", encodings(base["client_id"]),
                          "encoding", **own)
    for name in ("action", "client_id"):
        cases += _field_cases("margin", MARGIN, base, name, sizes(base[name]), "size", **own)
        cases += _field_cases("margin", MARGIN, base, name, containers(base[name]),
                              "container", **own)
        cases += _field_cases("margin", MARGIN, base, name,
                              scalars(numbers=name != "client_id"), "type", **own)
    cases += _field_cases("margin", MARGIN, base, "client_id", [
        ("fullwidth", _fullwidth("m-new-1")), ("accented", "m-n\u00e9w-1"),
        ("one-too-long", "m" * 65),
        ("replay-with-other-amount", lambda world: world.margin_client_id)], "look-alike",
        **own)
    # A removal: more than the initial margin at the mark lets go, and the key of an add.
    remove = {**base, "action": "remove"}
    cases += _field_cases("margin", MARGIN, remove, "amount", [
        ("all-of-it", "999999"), ("beyond-the-initial-margin", "5000")], "number", **own)
    cases += _field_cases("margin", MARGIN, remove, "client_id", [
        ("the-key-of-an-add", lambda world: world.margin_client_id)], "look-alike", **own)
    for name in ("action", "amount", "client_id"):
        cases.append(Case(id=f"margin-{name}-missing", endpoint="margin", field=name,
                          family="missing", path=MARGIN, **own,
                          body={k: v for k, v in base.items() if k != name}))
    cases += [Case(id=case.id, endpoint="margin", field=case.field, family=case.family,
                   path=MARGIN, body=case.body, content_type=case.content_type, **own)
              for case in _body_cases("margin", MARGIN, base)]
    cases += _auth_cases("margin", MARGIN, base, **own)
    cases += _method_cases("margin", MARGIN, base, get=True, **own)
    return cases


def _query_cases(endpoint: str, path: str, base: dict, name: str,
                 values: list[tuple[str, object]], family: str) -> list[Case]:
    """GET ``path`` with ``base``'s parameters, ``name`` replaced by each value (as text;
    a list repeats the parameter)."""
    cases = []
    for label, value in values:
        query = {**base, name: value}
        text = urlencode({k: v for k, v in query.items() if not isinstance(v, list)},
                         quote_via=quote)
        for item in (value if isinstance(value, list) else []):
            text += "&" + urlencode({name: item}, quote_via=quote)
        cases.append(Case(id=f"{endpoint}-{name}-{label}", endpoint=endpoint, field=name,
                          family=family, path=f"{path}?{text}".replace("{", "{{").replace(
                              "}", "}}"), method="GET", content_type=None))
    return cases


QUERY_NUMBERS = [("nan", "NaN"), ("infinity", "Infinity"), ("minus-zero", "-0"),
                 ("exponent-huge", "1e400"), ("hex", "0x10"), ("huge", "9" * 40),
                 ("tiny", "0." + "0" * 30 + "1"), ("negative", "-1"), ("zero", "0"),
                 ("arabic-indic-digit", "\u0661"), ("fullwidth-digit", "\uff11"),
                 ("empty", ""), ("nul", "1\u0000"), ("repeated", ["1", "2"])]


def read_cases() -> list[Case]:
    """The read endpoints that take symbols, numbers, filters and page tokens."""
    trades = {"symbol": "ABC/USDT", "limit": "10"}
    cases = _query_cases("eco_trades", ECO_TRADES, trades, "symbol", [
        *_symbol_lookalikes("ABC/USDT", elsewhere="BTC/USDT"), ("nul", "ABC/USDT\u0000"),
        ("overlong", "A" * 10_000)], "look-alike")
    cases += _query_cases("eco_trades", ECO_TRADES, trades, "limit", [
        *QUERY_NUMBERS, ("over-the-maximum", "501"), ("decimal", "10.0")], "number")
    cases += _query_cases("eco_trades", ECO_TRADES, trades, "page", [
        ("forged", "dDox"),  # base64 of "t:1": a real token's form, not one handed out
        ("orders-token", "bzox"), ("garbage", "!!!"), ("empty", ""),
        ("negative", "dDotMQ"), ("huge", "dDo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"),
        ("overlong", "A" * 201), ("nul", "dDox\u0000"), ("padded", "dDox===="),
        ("repeated", ["dDox", "dDoy"])], "page-token")
    preview = {"symbol": "BTC/USDT", "side": "BUY", "amount": "1", "price": "60000",
               "leverage": "10"}
    cases += _query_cases("preview", PREVIEW, preview, "symbol", _symbol_lookalikes(
        "BTC/USDT", elsewhere="ABC/USDT"), "look-alike")
    cases += _query_cases("preview", PREVIEW, preview, "leverage", [
        *QUERY_NUMBERS, ("above-the-contract", "126"), ("above-the-field", "1001"),
        ("decimal", "10.0"), ("exponent", "1e1"), ("plus", "+10"), ("space", " 10"),
        ("leading-zeros", "00010"), ("true", "true")], "number")
    for name in ("amount", "price"):
        cases += _query_cases("preview", PREVIEW, preview, name, [
            *QUERY_NUMBERS, ("off-step", "1.0001" if name == "amount" else "60000.001"),
            ("forty-digits", "1" * 40)], "number")
    cases += _query_cases("preview", PREVIEW, preview, "side", [
        ("lower-case", "buy"), ("cyrillic-ve", "\u0412UY"), ("empty", "")], "look-alike")
    cases += _query_cases("funding", FUNDING, {"symbol": "BTC/USDT"}, "symbol",
                          _symbol_lookalikes("BTC/USDT", elsewhere="ABC/USDT"), "look-alike")
    for endpoint, path in (("eco_orders_list", ECO_ORDERS), ("spot_orders_list", SPOT_ORDERS)):
        cases += _query_cases(endpoint, path, {}, "status", [
            ("lower-case", "new"), ("cyrillic-e", "N\u0415W"), ("unknown", "LIVE"),
            ("repeated", ["NEW", "FILLED"])], "look-alike")
        cases += _query_cases(endpoint, path, {}, "symbol", [
            ("fullwidth", _fullwidth("ABC/USDT")), ("sql-wildcard", "ABC/%"),
            ("trailing-space", "ABC/USDT ")], "look-alike")
        cases += _query_cases(endpoint, path, {}, "cursor", [
            ("forged", "cD0x"), ("garbage", "!!!"), ("empty", ""),
            ("position-not-an-id", "cD1hYmM"), ("overlong", "A" * 10_000)], "page-token")
        cases += _query_cases(endpoint, path, {}, "limit", QUERY_NUMBERS, "number")
    return cases


CASES: list[Case] = [*eco_order_cases(), *spot_order_cases(), *eco_cancel_cases(),
                     *spot_cancel_cases(), *margin_cases(), *read_cases()]
