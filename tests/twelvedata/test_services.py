from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.trading import services as trading_services
from apps.trading.models import Fill, Market, Order
from apps.twelvedata import paper as paper_venue
from apps.twelvedata import services
from apps.twelvedata.models import TwdImportJob, TwdMarket
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold, Journal, Wallet
from apps.wallets.services import InsufficientFunds
from tests.factories import UserFactory
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db
D = Decimal


def paper(user, currency="USD"):
    wallet = Wallet.objects.filter(user=user, type="PAPER", currency_id=currency).first()
    return (wallet.balance, wallet.held) if wallet else (D(0), D(0))


def place(user, **kwargs):
    params = {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT", "amount": D("1000")}
    params.update(kwargs)
    return trading_services.order_place(user_id=user.pk, venue="paper", **params)


def cancel(user_id, order_id):
    return trading_services.order_cancel(user_id=user_id, venue="paper", order_id=order_id)


def status(order) -> str:
    return Order.objects.get(pk=order.pk).status


def last_fill(order) -> tuple[Fill, Quote]:
    """The order's latest fill and the quote it was executed against."""
    fill = Fill.objects.filter(order_id=order.pk).latest("pk")
    return fill, Quote.from_dict(fill.evidence["quote"])


# --- catalog ----------------------------------------------------------------------------


def test_import_creates_disabled_markets_and_reimport_keeps_admin_choices(provider,
                                                                          currencies):
    created, updated = services.catalog_import(kind="forex")
    assert created > 10 and updated == 0
    eurusd = TwdMarket.objects.select_related("market").get(symbol="EUR/USD")
    market = eurusd.market
    assert (market.venue, market.symbol, market.base_currency, market.quote_currency,
            eurusd.type) == ("paper", "EUR/USD", "EUR", "USD", "forex")
    assert (market.tick_size, market.lot_size) == (D("0.00001"), D("0.01"))
    assert TwdMarket.objects.select_related("market").get(symbol="USD/JPY").market.tick_size \
        == D("0.001")
    assert not Market.objects.exclude(status="disabled").exists()
    Market.objects.filter(pk=market.pk).update(status="enabled", is_hot=True,
                                               maker_fee=D("0.0001"), min_amount=D("10"))
    again = services.catalog_import(kind="forex")
    assert again == (0, created)
    market.refresh_from_db()
    assert (market.status, market.is_hot, market.maker_fee, market.min_amount) == (
        "enabled", True, D("0.0001"), D("10"))
    assert TwdMarket.objects.count() == created
    assert Market.objects.filter(venue="paper").count() == created


def test_import_all_parses_stocks_and_indices(provider, currencies):
    services.catalog_import(kind="all")
    aapl = TwdMarket.objects.select_related("market").get(symbol="AAPL")
    assert (aapl.type, aapl.market.base_currency, aapl.market.quote_currency) == (
        "stocks", "AAPL", "USD")
    assert aapl.exchange and aapl.mic_code
    assert set(TwdMarket.objects.values_list("type", flat=True).distinct()) == {
        "forex", "stocks", "indices", "etf", "crypto"}
    assert wallet_selectors.currency_decimals(code="AAPL") == aapl.market.amount_precision


def test_import_needs_an_enabled_provider(provider, currencies):
    provider.status = False
    provider.save()
    with pytest.raises(Conflict, match="No TwelveData provider is enabled"):
        services.catalog_import(kind="forex")


def test_wrong_key_is_a_gateway_error(provider, currencies):
    services.provider_set_key(provider=provider, api_key="wrong")
    with pytest.raises(services.gateway.GatewayError):
        services.catalog_import(kind="forex")


def test_an_unexpected_error_ends_the_import_job_failed_with_the_reason(provider, currencies,
                                                                        monkeypatch):
    def lost_connection(markets, report=None):
        raise OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr(services, "_upsert_markets", lost_connection)
    job = TwdImportJob.objects.create(kind="forex")
    assert services.import_job_run(job_id=job.pk).status == TwdImportJob.Status.FAILED
    job.refresh_from_db()
    assert job.message == ("OperationalError: (2013, 'Lost connection to server during "
                           "query')")


# --- market orders ----------------------------------------------------------------------


def test_market_buy_fills_at_ask_as_taker(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, type="MARKET")
    fill, quote = last_fill(order)
    assert order.status == "FILLED" and fill.liquidity == "TAKER"
    assert (order.filled, order.remaining) == (D("1000"), D(0))
    assert fill.price == D("1.10010") and fill.amount == D("1000")
    assert order.cost == fill.quote_amount == D("1100.10")  # 1000 x 1.10010
    assert order.fee == fill.fee == D("1.11")  # 0.1% of 1100.10, rounded up
    assert (quote.bid, quote.ask, quote.source) == (D("1.0999"), D("1.1001"), "test")
    assert paper(user) == (D("100000") - D("1100.10") - D("1.11"), D(0))
    assert paper(user, "EUR") == (D("1000"), D(0))
    assert wallet_selectors.reconcile() == []


def test_market_sell_uses_bid_and_last_price_without_book(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    place(user, type="MARKET")
    publish(quote=make_quote("EUR/USD", "1.20000"))  # a feed without bid/ask
    sell = place(user, type="MARKET", side="SELL", amount=D("500"))
    assert last_fill(sell)[0].price == D("1.20000")
    assert sell.cost == D("600.00") and sell.fee == D("0.60")
    assert paper(user, "EUR") == (D("500"), D(0))
    assert wallet_selectors.reconcile() == []


@pytest.mark.parametrize("age", [None, timedelta(minutes=5)])
def test_market_order_without_fresh_quote_is_409_and_writes_nothing(markets, user, age):
    if age:
        publish(quote=make_quote("EUR/USD", "1.1", at=datetime.now(UTC) - age))
    with pytest.raises(Conflict, match="No fresh price"):
        place(user, type="MARKET")
    assert not Order.objects.exists() and not Journal.objects.exists()


# --- limit orders -----------------------------------------------------------------------


def test_limit_buy_rests_then_fills_at_limit_as_maker(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09000"))
    assert order.status == "OPEN" and not Fill.objects.exists()
    # hold: cost 1090.00 + the higher (taker) fee 1.09
    assert paper(user) == (D("100000"), D("1091.09"))
    publish(quote=make_quote("EUR/USD", "1.09500", bid="1.09490", ask="1.09510"))
    order.refresh_from_db()
    assert order.status == "OPEN"
    publish(quote=make_quote("EUR/USD", "1.08990", bid="1.08980", ask="1.09000"))
    order.refresh_from_db()
    fill, quote = last_fill(order)
    assert order.status == "FILLED" and fill.liquidity == "MAKER"
    assert fill.price == D("1.09000") and quote.ask == D("1.09000")
    assert order.fee == fill.fee == D("0.88")  # 0.08% maker of 1090.00, rounded up
    assert paper(user) == (D("100000") - D("1090.00") - D("0.88"), D(0))
    assert Hold.objects.get(key=order.hold_key).status == Hold.Status.CLOSED
    assert wallet_selectors.reconcile() == []


def test_marketable_limit_fills_at_once_at_the_better_quote(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.20000"))
    fill, _ = last_fill(order)
    assert order.status == "FILLED" and fill.liquidity == "TAKER"
    assert fill.price == D("1.10010")
    assert paper(user)[1] == 0


def test_limit_sell_needs_the_base_currency(markets, user):
    with pytest.raises(InsufficientFunds):
        place(user, side="SELL", price=D("1.2"))
    assert not Order.objects.exists()


def test_sell_limit_fills_when_bid_reaches_it(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    place(user, type="MARKET")
    sell = place(user, side="SELL", price=D("1.12000"))
    assert paper(user, "EUR") == (D("1000"), D("1000"))
    publish(quote=make_quote("EUR/USD", "1.12010", bid="1.12000", ask="1.12020"))
    sell.refresh_from_db()
    assert sell.status == "FILLED" and sell.cost == D("1120.00")
    assert paper(user, "EUR") == (D("0"), D("0"))
    assert wallet_selectors.reconcile() == []


def test_each_quote_fills_only_what_it_crosses(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    orders = [place(user, price=D(p), amount=D("10")) for p in
              ("1.09000", "1.08000", "1.07000")]
    aapl = place(user, symbol="AAPL", price=D("100"), amount=D("1"))
    publish(quote=make_quote("EUR/USD", "1.07990", bid="1.07980", ask="1.08000"))
    assert [status(o) for o in orders] == ["FILLED", "FILLED", "OPEN"]
    assert status(aapl) == "OPEN"


def test_replayed_quote_fills_once(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")
    assert paper_venue.fill_crossing(quote=crossing) == 1
    assert paper_venue.fill_crossing(quote=crossing) == 0
    [fill] = Fill.objects.filter(order_id=order.pk)
    assert Journal.objects.filter(key=fill.settlement_key).count() == 1
    assert Journal.objects.filter(kind="TRADE").count() == 1
    assert wallet_selectors.reconcile() == []


def test_sweep_offers_only_fresh_quotes(markets, user):
    publish(quote=make_quote("EUR/USD", "1.1", at=datetime.now(UTC) - timedelta(hours=1)))
    publish(quote=make_quote("AAPL", "150"))
    offered = []
    assert paper_venue.sweep(enqueue=offered.append) == 1
    assert [q.symbol for q in offered] == ["AAPL"]


# --- which quotes may fill a resting order ----------------------------------------------


def test_a_stale_quote_fills_nothing(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    # Placed long ago: the quote below is newer than the order, only too old itself.
    Order.objects.filter(pk=order.pk).update(created_at=datetime.now(UTC) - timedelta(hours=1))
    stale = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081",
                       at=datetime.now(UTC) - timedelta(minutes=5))
    assert paper_venue.fill_crossing(quote=stale) == 0
    assert status(order) == "OPEN"
    assert paper_venue.fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                      ask="1.081")) == 1


def test_a_quote_older_than_the_order_fills_nothing_even_from_the_sweep(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    # Fresh, crossing, but taken before the order existed (a late tick, a slow feed).
    publish(quote=make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081",
                             at=order.created_at - timedelta(milliseconds=1)))
    assert paper_venue.sweep(enqueue=lambda quote: paper_venue.fill_crossing(quote=quote)) == 1
    assert status(order) == "OPEN"
    publish(quote=make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081"))
    assert status(order) == "FILLED"


# --- fixed when placed; one bad order blocks nothing --------------------------------------


def test_a_fee_raised_after_placement_does_not_apply_to_the_resting_order(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    assert (order.maker_fee_rate, order.taker_fee_rate) == (D("0.0008"), D("0.001"))
    # Far above what the hold (cost + 0.1%) could pay.
    Market.objects.filter(venue="paper", symbol="EUR/USD").update(maker_fee=D("0.05"),
                                                                  taker_fee=D("0.05"))
    publish(quote=make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081"))
    order.refresh_from_db()
    assert order.status == "FILLED" and order.settle_error == ""
    assert order.fee == D("0.88")  # 0.08% of 1090.00, the rate it was placed with
    assert paper(user) == (D("100000") - D("1090.00") - D("0.88"), D(0))
    later = place(user, price=D("1.07"), amount=D("100"))
    assert later.maker_fee_rate == D("0.05")
    assert paper(user)[1] == D("107.00") + D("5.35")  # sized with the new rates
    assert wallet_selectors.reconcile() == []


def test_an_order_that_cannot_settle_is_set_aside_and_the_others_still_fill(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    bad, good = place(user, price=D("1.09")), place(user, price=D("1.09"), amount=D("10"))
    # A rate its hold cannot pay: settling it raises (hold exhausted), whatever the quote.
    Order.objects.filter(pk=bad.pk).update(maker_fee_rate=D("0.5"))
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")

    assert paper_venue.fill_crossing(quote=crossing) == 1
    bad.refresh_from_db()
    assert bad.status == "OPEN" and bad.settle_error_at is not None
    assert "cannot pay" in bad.settle_error
    assert not Fill.objects.filter(order_id=bad.pk).exists()
    assert Hold.objects.get(key=bad.hold_key).remaining == D("1091.09")  # untouched
    assert status(good) == "FILLED"
    # Set aside: not tried again by the next quote (or the sweep) ...
    third = place(user, price=D("1.09"), amount=D("10"))
    assert paper_venue.fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                      ask="1.081")) == 1
    assert status(third) == "FILLED"
    assert Order.objects.get(pk=bad.pk).settle_error_at == bad.settle_error_at
    # ... until an admin has fixed the cause and retries it.
    Order.objects.filter(pk=bad.pk).update(maker_fee_rate=D("0.0008"))
    assert trading_services.orders_retry_settlement(order_ids=[bad.pk, good.pk]) == 1
    assert paper_venue.fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                      ask="1.081")) == 1
    bad.refresh_from_db()
    assert (bad.status, bad.settle_error, bad.settle_error_at) == ("FILLED", "", None)
    assert wallet_selectors.reconcile() == []


def test_a_passing_database_error_defers_the_fill_without_setting_it_aside(markets, user,
                                                                           monkeypatch):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    first, second = place(user, price=D("1.09")), place(user, price=D("1.09"))
    settle = trading_services.wallet_services.settle_trades

    def lock_timeout_for_first(*, trades):
        if any(trade.buyer.hold_key == first.hold_key for trade in trades):
            raise OperationalError(1205, "Lock wait timeout exceeded")
        return settle(trades=trades)

    monkeypatch.setattr(trading_services.wallet_services, "settle_trades",
                        lock_timeout_for_first)
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")
    # The two fill in one batch: the batch is left for the next quote, nothing set aside.
    assert paper_venue.fill_crossing(quote=crossing) == 0
    for order in (first, second):
        order.refresh_from_db()
        assert (order.status, order.settle_error, order.filled) == ("OPEN", "", 0)
    assert not Fill.objects.exists() and not Journal.objects.filter(kind="TRADE").exists()
    monkeypatch.setattr(trading_services.wallet_services, "settle_trades", settle)
    assert paper_venue.fill_crossing(quote=crossing) == 2
    assert status(first) == status(second) == "FILLED"
    assert wallet_selectors.reconcile() == []


def test_while_a_failed_batch_is_retried_order_by_order_a_passing_error_only_defers(
        markets, user, monkeypatch):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    bad, slow, good = (place(user, price=D("1.09"), amount=D("10")) for _ in range(3))
    Order.objects.filter(pk=bad.pk).update(maker_fee_rate=D("0.5"))  # its hold cannot pay
    settle = trading_services.wallet_services.settle_trades

    def lock_timeout_for_slow_alone(*, trades):
        if [t.buyer.hold_key for t in trades] == [slow.hold_key]:
            raise OperationalError(1205, "Lock wait timeout exceeded")
        return settle(trades=trades)

    monkeypatch.setattr(trading_services.wallet_services, "settle_trades",
                        lock_timeout_for_slow_alone)
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")
    # The batch fails on the bad order; retried one by one, the bad one is set aside, the
    # slow one left for later (not set aside), the good one fills.
    assert paper_venue.fill_crossing(quote=crossing) == 1
    assert [(status(o), Order.objects.get(pk=o.pk).settle_error != "")
            for o in (bad, slow, good)] == [("OPEN", True), ("OPEN", False), ("FILLED", False)]
    monkeypatch.setattr(trading_services.wallet_services, "settle_trades", settle)
    assert paper_venue.fill_crossing(quote=crossing) == 1
    assert [status(o) for o in (bad, slow, good)] == ["OPEN", "FILLED", "FILLED"]
    assert wallet_selectors.reconcile() == []


# --- validation and cancel --------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"symbol": "GBP/JPY"}, NotFound, "No enabled paper market"),
    ({"symbol": "NOPE"}, NotFound, "No enabled paper market"),
    ({"amount": D("1.001"), "price": D("1.1")}, InvalidInput, "multiple of 0.01"),
    ({"price": D("1.123456")}, InvalidInput, "multiple of 0.00001"),
    ({}, InvalidInput, "needs a price"),
    ({"type": "MARKET", "price": D("1.1")}, InvalidInput, "takes no price"),
    ({"amount": D("0.01"), "price": D("0.00001")}, InvalidInput, "below 1 unit"),
    ({"side": "HOLD", "price": D("1.1")}, InvalidInput, "side must be"),
    ({"time_in_force": "DAY", "price": D("1.1")}, InvalidInput, "time_in_force must be"),
    ({"type": "MARKET", "post_only": True}, InvalidInput, "cannot be post-only"),
])
def test_bad_orders_change_nothing(markets, user, kwargs, error, message):
    with pytest.raises(error, match=message):
        place(user, **kwargs)
    assert not Order.objects.exists() and not Journal.objects.exists()


def test_market_disabled_between_validation_and_commit(markets, user, monkeypatch):
    grant = paper_venue.paper_account_ensure

    def disable_then_grant(**kwargs):
        trading_services.markets_set_flags(market_ids=[markets["EUR/USD"].pk],
                                           status="disabled")
        grant(**kwargs)

    monkeypatch.setattr(paper_venue, "paper_account_ensure", disable_then_grant)
    with pytest.raises(Conflict, match="just disabled"):
        place(user, price=D("1.1"))
    assert not Order.objects.exists()
    assert paper(user)[1] == 0


def test_market_currencies_changed_between_validation_and_commit(markets, user, monkeypatch):
    grant = paper_venue.paper_account_ensure

    def grant_then_reimport(**kwargs):
        grant(**kwargs)
        Market.objects.filter(pk=markets["EUR/USD"].pk).update(quote_currency="GBP")

    monkeypatch.setattr(paper_venue, "paper_account_ensure", grant_then_reimport)
    with pytest.raises(Conflict, match="just changed"):
        place(user, price=D("1.1"))
    assert not Order.objects.exists()
    assert paper(user)[1] == 0


def test_client_order_id_replay(markets, user):
    first = place(user, price=D("1.05"), client_order_id="mine-1")
    assert place(user, price=D("1.05"), client_order_id="mine-1").pk == first.pk
    with pytest.raises(Conflict, match="already used"):
        place(user, price=D("1.06"), client_order_id="mine-1")
    assert Order.objects.count() == 1
    assert paper(user)[1] == D("1051.05")


def test_cancel_releases_the_hold(markets, user):
    order = place(user, price=D("1.05"))
    with pytest.raises(NotFound):
        cancel(UserFactory().pk, order.pk)
    canceled = cancel(user.pk, order.pk)
    assert canceled.status == "CANCELED" and canceled.closed_at is not None
    assert paper(user) == (D("100000"), D(0))
    assert Hold.objects.get(key=order.hold_key).status == Hold.Status.CLOSED
    with pytest.raises(Conflict, match="not open"):
        cancel(user.pk, order.pk)
    publish(quote=make_quote("EUR/USD", "1.0", bid="0.99", ask="1.0"))
    assert status(order) == "CANCELED" and not Fill.objects.exists()
    assert wallet_selectors.reconcile() == []


def test_demo_balance_is_granted_once_and_paper_only(markets, user):
    place(user, price=D("1.05"))
    place(user, price=D("1.04"))
    assert Journal.objects.filter(kind="FAUCET").count() == 1
    assert not Wallet.objects.filter(user=user).exclude(type="PAPER").exists()
