from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core.fields import ExactCharField
from apps.core.identifiers import (
    CLIENT_ID_MAX,
    IdentifierError,
    IdentifierField,
    parse_identifier,
)
from devtools.twelvedata.catalog import INSTRUMENTS

LOOK_ALIKES = ["ＵＳＤ", "ÜSD", "USĎ", "\u200fUSD", "\u200eUSD", "\u200bUSD", "USD\u00ad",
               "ᎪUSD", "UЅD", "ſUSD", "\ufeffUSD"]
MALFORMED = ["", " USD", "USD ", "US D", "USD\n", "U$D", "USD.", "USD/", "/USD", "EUR//USD",
             "A/B/C", "USD\x00", "x" * 65, 5, None, ["USD"], {"USD": 1}]


def test_every_real_code_and_symbol_is_accepted_as_is():
    symbols = {i.symbol for i in INSTRUMENTS}
    codes = {part for s in symbols for part in s.split("/")} | {"USDT", "BRK.A", "BF-B"}
    for code in codes:
        assert parse_identifier(code, kind="currency") == code
    for symbol in symbols | {"BRK.A", "BTC/USDT"}:
        assert parse_identifier(symbol, kind="symbol") == symbol


def test_ascii_lower_case_codes_and_symbols_are_upper_cased():
    assert parse_identifier("usdt", kind="currency") == "USDT"
    assert parse_identifier("eur/usd", kind="symbol") == "EUR/USD"


@pytest.mark.parametrize("value", LOOK_ALIKES + MALFORMED, ids=repr)
@pytest.mark.parametrize("kind", ["currency", "symbol", "client_id"])
def test_look_alikes_and_malformed_values_are_refused_with_a_message(kind, value):
    with pytest.raises(IdentifierError) as refused:
        parse_identifier(value, kind=kind)
    assert str(refused.value)


@pytest.mark.parametrize("value", ["-USD", "USD-", "x" * 17, "EUR/USD"])
def test_a_code_is_short_and_starts_and_ends_with_a_letter_or_digit(value):
    with pytest.raises(IdentifierError):
        parse_identifier(value, kind="currency")


def test_client_ids_keep_their_case():
    assert parse_identifier("Order-1_a", kind="client_id") == "Order-1_a"
    assert parse_identifier("x" * CLIENT_ID_MAX, kind="client_id") == "x" * CLIENT_ID_MAX
    with pytest.raises(IdentifierError, match="at most"):
        parse_identifier("x" * (CLIENT_ID_MAX + 1), kind="client_id")


@given(st.text(max_size=40))
def test_whatever_is_accepted_is_plain_ascii_and_canonical(value):
    for kind in ("currency", "symbol", "client_id"):
        try:
            parsed = parse_identifier(value, kind=kind)
        except IdentifierError:
            continue
        assert parsed.isascii() and parsed.strip() == parsed
        assert parse_identifier(parsed, kind=kind) == parsed
        assert parsed == (value if kind == "client_id" else value.upper())


def test_serializer_field_answers_with_the_reason():
    field = IdentifierField(kind="currency")
    assert field.run_validation("usd") == "USD"
    with pytest.raises(Exception, match="plain ASCII") as refused:
        field.run_validation("ＵＳＤ")
    assert type(refused.value).__name__ == "ValidationError"


@pytest.mark.parametrize(("vendor", "mariadb", "collation"), [
    ("mysql", True, "utf8mb4_nopad_bin"),
    ("mysql", False, "utf8mb4_bin"),
    ("postgresql", False, "C"),
    ("sqlite", False, None),
])
def test_exact_columns_get_a_binary_collation_per_vendor(vendor, mariadb, collation):
    from django.db import connection

    fake = SimpleNamespace(vendor=vendor, mysql_is_mariadb=mariadb, ops=connection.ops,
                           data_types=connection.data_types,
                           data_type_check_constraints={}, features=connection.features)
    field = ExactCharField(max_length=16)
    field.set_attributes_from_name("code")
    assert field.db_parameters(fake)["collation"] == collation
    with pytest.raises(ValueError, match="own collation"):
        ExactCharField(max_length=16, db_collation="utf8mb4_unicode_ci")
