from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core.money import MAX_AMOUNT, AmountError, parse_amount, quantize_exact, split_fee

BAD = [
    "NaN", "nan", "Infinity", "-Infinity", "inf", "-1", "-0.5", "0", "0.00", "1e3", "1E-2",
    "1.", ".5", " 1", "1 ", "+1", "0x10", "1,5", "١٢", "１", "", "1" * 19, "12.3456789012345678912",
    True, False, None, [], {}, ["1"], {"a": 1}, 1.5, float("nan"),
]


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_bad_amounts_rejected_with_message(value):
    with pytest.raises(AmountError) as excinfo:
        parse_amount(value)
    assert str(excinfo.value)


def test_precision_is_enforced_not_rounded():
    assert parse_amount("1.25", decimals=2) == Decimal("1.25")
    with pytest.raises(AmountError, match="more than 2 decimal places"):
        parse_amount("1.255", decimals=2)
    with pytest.raises(AmountError, match="more than 0 decimal places"):
        parse_amount("1.0", decimals=0)


digits = st.text(alphabet="0123456789", min_size=1, max_size=18)


@given(whole=digits, frac=st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=1,
                                                        max_size=18)))
def test_parse_is_exact_and_never_a_float(whole, frac):
    text = whole + ("." + frac if frac else "")
    try:
        value = parse_amount(text)
    except AmountError:
        assert Decimal(text) == 0 or Decimal(text) >= MAX_AMOUNT
        return
    assert type(value) is Decimal
    assert value == Decimal(text)
    assert 0 < value < MAX_AMOUNT


@given(value=st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False,
                         places=8), decimals=st.integers(min_value=0, max_value=18))
def test_quantize_exact_never_changes_a_value(value, decimals):
    try:
        out = quantize_exact(value, decimals=decimals)
    except AmountError:
        assert value != value.quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_DOWN")
        return
    assert out == value and type(out) is Decimal
    assert -out.as_tuple().exponent == decimals


@given(gross=st.decimals(min_value=0, max_value=10**12, places=2),
       rate=st.decimals(min_value=0, max_value=1, places=6))
def test_gross_is_net_plus_fee(gross, rate):
    net, fee = split_fee(gross=gross, rate=rate, decimals=2)
    assert net + fee == gross
    assert 0 <= fee <= gross
    assert fee >= gross * rate  # rounding never favours the payer
    assert type(net) is Decimal and type(fee) is Decimal


@pytest.mark.django_db
def test_exact_sums_add_decimal_columns_exactly_on_every_database():
    """SQLite's SUM of a decimal column is a float (read back to 15 significant digits):
    amounts it stores exactly must still add up to the last unit, grouped or not."""
    from apps.core.money import exact_sums
    from apps.trading.models import Order
    from tests.factories import MarketFactory, OrderFactory

    market = MarketFactory()
    for amount in ("1234567.12345678", "0.000000001"):
        OrderFactory(market=market, amount=Decimal(amount))
    OrderFactory(market=market, side="SELL", amount=Decimal("0.1"))
    rows = Order.objects.filter(market=market)
    assert exact_sums(rows, by=[], fields=["remaining", "filled"]) == {
        (): [Decimal("1234567.223456781"), Decimal(0)]}
    assert exact_sums(rows, by=["side"], fields=["remaining"]) == {
        ("BUY",): [Decimal("1234567.123456781")], ("SELL",): [Decimal("0.1")]}
    assert exact_sums(rows.none(), by=[], fields=["remaining"]) == {}
    assert exact_sums(rows.none(), by=["side"], fields=["remaining"]) == {}
