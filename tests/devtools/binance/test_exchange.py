"""The emulator's matching and funds, without HTTP: invariants under random sequences."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.binance import BinanceError, Exchange

START = {"USDT": Decimal("100000"), "BTC": Decimal("2")}


def exchange() -> Exchange:
    ex = Exchange(balances=START, clock=lambda: 1_700_000_000.0)
    ex.set_book("BTCUSDT", [(Decimal("59990"), Decimal("0.1"))],
                [(Decimal("60010"), Decimal("0.2"))])
    return ex


def place(ex: Exchange, **params: str) -> object:
    return ex.place({"symbol": "BTCUSDT", **params})


prices = st.integers(min_value=59900, max_value=60100).map(Decimal)
quantities = st.integers(min_value=1, max_value=30).map(lambda n: Decimal(n) / 100)
actions = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(["BUY", "SELL"]), prices, quantities,
              st.sampled_from(["GTC", "IOC", "FOK"])),
    st.tuples(st.just("market"), st.sampled_from(["BUY", "SELL"]), quantities),
    st.tuples(st.just("cost"), st.sampled_from(["BUY", "SELL"]),
              st.integers(min_value=10, max_value=20000).map(Decimal)),
    st.tuples(st.just("book"), prices, quantities, quantities),
    st.tuples(st.just("print"), prices, st.one_of(st.none(), quantities)),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20)),
)


def run(ex: Exchange, action: tuple) -> None:
    kind = action[0]
    try:
        if kind == "limit":
            _, side, price, qty, tif = action
            place(ex, side=side, type="LIMIT", price=str(price), quantity=str(qty),
                  timeInForce=tif)
        elif kind == "market":
            place(ex, side=action[1], type="MARKET", quantity=str(action[2]))
        elif kind == "cost":
            place(ex, side=action[1], type="MARKET", quoteOrderQty=str(action[2]))
        elif kind == "book":
            _, mid, bid_qty, ask_qty = action
            ex.set_book("BTCUSDT", [(mid - 10, bid_qty)], [(mid + 10, ask_qty)])
        elif kind == "print":
            ex.print_trade("BTCUSDT", action[1], action[2])
        else:
            open_orders = ex.open_orders("BTCUSDT")
            if open_orders:
                order = open_orders[action[1] % len(open_orders)]
                ex.cancel({"symbol": "BTCUSDT", "orderId": str(order.order_id)})
    except BinanceError as error:
        assert error.code in (-2010, -1013)  # funds or filters: refused whole


@settings(max_examples=60, deadline=None)
@given(st.lists(actions, max_size=25))
def test_funds_are_conserved_and_holds_match_open_orders(sequence: list[tuple]) -> None:
    ex = exchange()
    for action in sequence:
        run(ex, action)

    base_in = sum(f.qty * (1 if f.is_buyer else -1) for f in ex.fills)
    quote_in = sum(f.quote_qty * (-1 if f.is_buyer else 1) for f in ex.fills)
    base_fee = sum(f.commission for f in ex.fills if f.commission_asset == "BTC")
    quote_fee = sum(f.commission for f in ex.fills if f.commission_asset == "USDT")
    total = {asset: free + locked for asset, (free, locked) in ex.balances().items()}
    assert total["BTC"] == START["BTC"] + base_in - base_fee
    assert total["USDT"] == START["USDT"] + quote_in - quote_fee
    open_orders = ex.open_orders(None)
    assert ex.locked["USDT"] == sum(o.hold for o in open_orders if o.side == "BUY")
    assert ex.locked["BTC"] == sum(o.hold for o in open_orders if o.side == "SELL")
    assert all(free >= 0 and locked >= 0 for free, locked in ex.balances().values())
    assert all(o.hold == 0 for o in ex.orders.values() if not o.is_open)
    assert all(0 <= o.executed_qty <= o.orig_qty for o in ex.orders.values())
    assert len({f.id for f in ex.fills}) == len(ex.fills)
    for order in ex.orders.values():
        assert order.executed_qty == sum(f.qty for f in order.fills)
        assert order.cumm_quote_qty == sum(f.quote_qty for f in order.fills)


def test_a_stop_loss_limit_waits_for_its_stop_then_takes_the_book_and_rests() -> None:
    ex = exchange()
    order = place(ex, side="SELL", type="STOP_LOSS_LIMIT", price="59900", stopPrice="59995",
                  quantity="0.5", timeInForce="GTC")
    assert ex.locked["BTC"] == Decimal("0.5") and order.working_time == -1
    ex.print_trade("BTCUSDT", Decimal("60000"), None)  # above the stop: nothing
    assert order.working_time == -1
    ex.print_trade("BTCUSDT", Decimal("59995"), Decimal("0"))  # at the stop: it triggers,
    # takes the 0.1 bid at 59990 (within its 59900 limit) and rests the rest.
    assert (order.status, order.executed_qty) == ("PARTIALLY_FILLED", Decimal("0.1"))
    assert order.fills[0].price == Decimal("59990") and not order.fills[0].is_maker
    ex.print_trade("BTCUSDT", Decimal("59950"), None)
    assert (order.status, order.executed_qty) == ("FILLED", Decimal("0.5"))
    assert ex.free["USDT"] == START["USDT"] + (Decimal("5999") + Decimal("23960")) * Decimal(
        "0.999")


def test_a_stop_order_does_not_fill_before_its_stop() -> None:
    ex = exchange()
    order = place(ex, side="BUY", type="STOP_LOSS_LIMIT", price="61000", stopPrice="60500",
                  quantity="0.1", timeInForce="GTC")
    ex.set_book("BTCUSDT", [], [(Decimal("60200"), Decimal("1"))])
    assert order.executed_qty == 0 and order.working_time == -1
    ex.print_trade("BTCUSDT", Decimal("60500"), Decimal("0.01"))
    # Triggered, it takes the offer at 60200 (within its 61000 limit) as taker.
    assert (order.status, order.executed_qty) == ("FILLED", Decimal("0.1"))
    assert order.fills[0].price == Decimal("60200")


@pytest.mark.parametrize("scope, reused", [("open", True), ("all", False)])
def test_a_client_id_is_reusable_once_its_order_closed_unless_all_are_unique(
        scope: str, reused: bool) -> None:
    ex = Exchange(balances=START, unique_client_ids=scope)  # type: ignore[arg-type]
    ex.set_book("BTCUSDT", [], [(Decimal("60010"), Decimal("1"))])
    place(ex, side="BUY", type="MARKET", quantity="0.01", newClientOrderId="same")
    if reused:
        place(ex, side="BUY", type="MARKET", quantity="0.01", newClientOrderId="same")
        assert len(ex.orders) == 2
    else:
        with pytest.raises(BinanceError, match="Duplicate order sent."):
            place(ex, side="BUY", type="MARKET", quantity="0.01", newClientOrderId="same")


def test_bad_parameters_are_refused_with_binances_codes() -> None:
    ex = exchange()
    cases = [
        ({"side": "BUY", "type": "LIMIT", "price": "1e3", "quantity": "1",
          "timeInForce": "GTC"}, -1100),
        ({"side": "HOLD", "type": "LIMIT"}, -1117),
        ({"side": "BUY", "type": "ICEBERG"}, -1116),
        ({"side": "BUY", "type": "LIMIT", "price": "60000", "quantity": "0.01"}, -1102),
        ({"side": "BUY", "type": "LIMIT", "price": "60000", "quantity": "0.01",
          "timeInForce": "GTD"}, -1115),
        ({"side": "BUY", "type": "MARKET"}, -1102),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.01",
          "newClientOrderId": "has space"}, -1100),
    ]
    for params, code in cases:
        with pytest.raises(BinanceError) as refused:
            place(ex, **params)
        assert refused.value.code == code, params
    with pytest.raises(BinanceError) as unknown:
        ex.place({"symbol": "NOPE", "side": "BUY"})
    assert unknown.value.code == -1121
    assert ex.orders == {} and ex.locked["USDT"] == 0
