from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.marketdata.services import publish
from apps.twelvedata import services
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdOrder
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
    return services.order_place(user_id=user.pk, **params)


# --- catalog ----------------------------------------------------------------------------


def test_import_creates_disabled_markets_and_reimport_keeps_admin_choices(provider,
                                                                          currencies):
    created, updated = services.catalog_import(kind="forex")
    assert created > 10 and updated == 0
    eurusd = TwdMarket.objects.get(symbol="EUR/USD")
    assert (eurusd.base_currency, eurusd.quote_currency, eurusd.type) == ("EUR", "USD", "forex")
    assert not TwdMarket.objects.filter(status=True).exists()
    TwdMarket.objects.filter(symbol="EUR/USD").update(status=True, is_hot=True,
                                                      maker_fee=D("0.0001"))
    again = services.catalog_import(kind="forex")
    assert again == (0, created)
    eurusd.refresh_from_db()
    assert eurusd.status and eurusd.is_hot and eurusd.maker_fee == D("0.0001")
    assert TwdMarket.objects.count() == created


def test_import_all_parses_stocks_and_indices(provider, currencies):
    services.catalog_import(kind="all")
    aapl = TwdMarket.objects.get(symbol="AAPL")
    assert (aapl.type, aapl.base_currency, aapl.quote_currency) == ("stocks", "AAPL", "USD")
    assert aapl.exchange and aapl.mic_code
    assert set(TwdMarket.objects.values_list("type", flat=True).distinct()) == {
        "forex", "stocks", "indices", "etf", "crypto"}
    assert wallet_selectors.currency_decimals(code="AAPL") == aapl.amount_precision


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
    def lost_connection(markets):
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
    assert order.status == TwdOrder.Status.CLOSED and order.liquidity == "TAKER"
    assert order.fill_price == D("1.10010")
    assert order.cost == D("1100.10")  # 1000 x 1.10010
    assert order.fee == D("1.11")  # 0.1% of 1100.10, rounded up
    assert (order.quote_bid, order.quote_ask, order.quote_source) == (D("1.0999"), D("1.1001"),
                                                                       "test")
    assert paper(user) == (D("100000") - D("1100.10") - D("1.11"), D(0))
    assert paper(user, "EUR") == (D("1000"), D(0))
    assert wallet_selectors.reconcile() == []


def test_market_sell_uses_bid_and_last_price_without_book(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    place(user, type="MARKET")
    publish(quote=make_quote("EUR/USD", "1.20000"))  # a feed without bid/ask
    sell = place(user, type="MARKET", side="SELL", amount=D("500"))
    assert sell.fill_price == D("1.20000")
    assert sell.cost == D("600.00") and sell.fee == D("0.60")
    assert paper(user, "EUR") == (D("500"), D(0))
    assert wallet_selectors.reconcile() == []


@pytest.mark.parametrize("age", [None, timedelta(minutes=5)])
def test_market_order_without_fresh_quote_is_409_and_writes_nothing(markets, user, age):
    if age:
        publish(quote=make_quote("EUR/USD", "1.1", at=datetime.now(UTC) - age))
    with pytest.raises(Conflict, match="No fresh price"):
        place(user, type="MARKET")
    assert not TwdOrder.objects.exists() and not Journal.objects.exists()


# --- limit orders -----------------------------------------------------------------------


def test_limit_buy_rests_then_fills_at_limit_as_maker(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09000"))
    assert order.status == TwdOrder.Status.OPEN
    # hold: cost 1090.00 + the higher (taker) fee 1.09
    assert paper(user) == (D("100000"), D("1091.09"))
    publish(quote=make_quote("EUR/USD", "1.09500", bid="1.09490", ask="1.09510"))
    order.refresh_from_db()
    assert order.status == TwdOrder.Status.OPEN
    publish(quote=make_quote("EUR/USD", "1.08990", bid="1.08980", ask="1.09000"))
    order.refresh_from_db()
    assert order.status == TwdOrder.Status.CLOSED and order.liquidity == "MAKER"
    assert order.fill_price == D("1.09000") and order.quote_ask == D("1.09000")
    assert order.fee == D("0.88")  # 0.08% maker of 1090.00, rounded up
    assert paper(user) == (D("100000") - D("1090.00") - D("0.88"), D(0))
    assert Hold.objects.get(key=order.hold_key).status == Hold.Status.CLOSED
    assert wallet_selectors.reconcile() == []


def test_marketable_limit_fills_at_once_at_the_better_quote(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.20000"))
    assert order.status == TwdOrder.Status.CLOSED and order.liquidity == "TAKER"
    assert order.fill_price == D("1.10010")
    assert paper(user)[1] == 0


def test_limit_sell_needs_the_base_currency(markets, user):
    with pytest.raises(InsufficientFunds):
        place(user, side="SELL", price=D("1.2"))
    assert not TwdOrder.objects.exists()


def test_sell_limit_fills_when_bid_reaches_it(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    place(user, type="MARKET")
    sell = place(user, side="SELL", price=D("1.12000"))
    assert paper(user, "EUR") == (D("1000"), D("1000"))
    publish(quote=make_quote("EUR/USD", "1.12010", bid="1.12000", ask="1.12020"))
    sell.refresh_from_db()
    assert sell.status == TwdOrder.Status.CLOSED and sell.cost == D("1120.00")
    assert paper(user, "EUR") == (D("0"), D("0"))
    assert wallet_selectors.reconcile() == []


def test_each_quote_fills_only_what_it_crosses(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    orders = [place(user, price=D(p), amount=D("10")) for p in
              ("1.09000", "1.08000", "1.07000")]
    aapl = place(user, symbol="AAPL", price=D("100"), amount=D("1"))
    publish(quote=make_quote("EUR/USD", "1.07990", bid="1.07980", ask="1.08000"))
    statuses = [TwdOrder.objects.get(pk=o.pk).status for o in orders]
    assert statuses == ["CLOSED", "CLOSED", "OPEN"]
    assert TwdOrder.objects.get(pk=aapl.pk).status == "OPEN"


def test_replayed_quote_fills_once(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")
    assert services.fill_crossing(quote=crossing) == 1
    assert services.fill_crossing(quote=crossing) == 0
    assert Journal.objects.filter(key=f"twd:fill:{order.pk}").count() == 1


def test_sweep_offers_only_fresh_quotes(markets, user):
    publish(quote=make_quote("EUR/USD", "1.1", at=datetime.now(UTC) - timedelta(hours=1)))
    publish(quote=make_quote("AAPL", "150"))
    offered = []
    assert services.sweep(enqueue=offered.append) == 1
    assert [q.symbol for q in offered] == ["AAPL"]


# --- which quotes may fill a resting order ----------------------------------------------


def test_a_stale_quote_fills_nothing(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    # Placed long ago: the quote below is newer than the order, only too old itself.
    TwdOrder.objects.filter(pk=order.pk).update(created_at=datetime.now(UTC) - timedelta(hours=1))
    stale = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081",
                       at=datetime.now(UTC) - timedelta(minutes=5))
    assert services.fill_crossing(quote=stale) == 0
    assert TwdOrder.objects.get(pk=order.pk).status == TwdOrder.Status.OPEN
    assert services.fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                   ask="1.081")) == 1


def test_a_quote_older_than_the_order_fills_nothing_even_from_the_sweep(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    # Fresh, crossing, but taken before the order existed (a late tick, a slow feed).
    publish(quote=make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081",
                             at=order.created_at - timedelta(milliseconds=1)))
    assert services.sweep(enqueue=lambda quote: services.fill_crossing(quote=quote)) == 1
    assert TwdOrder.objects.get(pk=order.pk).status == TwdOrder.Status.OPEN
    publish(quote=make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081"))
    assert TwdOrder.objects.get(pk=order.pk).status == TwdOrder.Status.CLOSED


# --- fixed when placed; one bad order blocks nothing --------------------------------------


def test_a_fee_raised_after_placement_does_not_apply_to_the_resting_order(markets, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    order = place(user, price=D("1.09"))
    assert (order.maker_fee_rate, order.taker_fee_rate) == (D("0.0008"), D("0.001"))
    # Far above what the hold (cost + 0.1%) could pay.
    TwdMarket.objects.filter(symbol="EUR/USD").update(maker_fee=D("0.05"), taker_fee=D("0.05"))
    publish(quote=make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081"))
    order.refresh_from_db()
    assert order.status == TwdOrder.Status.CLOSED and order.settle_error == ""
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
    TwdOrder.objects.filter(pk=bad.pk).update(maker_fee_rate=D("0.5"))
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")

    assert services.fill_crossing(quote=crossing) == 1
    bad.refresh_from_db()
    assert bad.status == TwdOrder.Status.OPEN and bad.settle_error_at is not None
    assert "cannot pay" in bad.settle_error
    assert TwdOrder.objects.get(pk=good.pk).status == TwdOrder.Status.CLOSED
    # Set aside: not tried again by the next quote (or the sweep) ...
    third = place(user, price=D("1.09"), amount=D("10"))
    assert services.fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                   ask="1.081")) == 1
    assert TwdOrder.objects.get(pk=third.pk).status == TwdOrder.Status.CLOSED
    assert TwdOrder.objects.get(pk=bad.pk).settle_error_at == bad.settle_error_at
    # ... until an admin has fixed the cause and retries it.
    TwdOrder.objects.filter(pk=bad.pk).update(maker_fee_rate=D("0.0008"))
    assert services.orders_retry_settlement(order_ids=[bad.pk, good.pk]) == 1
    assert services.fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                   ask="1.081")) == 1
    bad.refresh_from_db()
    assert (bad.status, bad.settle_error, bad.settle_error_at) == ("CLOSED", "", None)
    assert wallet_selectors.reconcile() == []


def test_a_passing_database_error_defers_the_fill_without_setting_it_aside(markets, user,
                                                                           monkeypatch):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    first, second = place(user, price=D("1.09")), place(user, price=D("1.09"))
    settle = services.wallet_services.settle_trade

    def lock_timeout_for_first(**kwargs):
        if kwargs["key"] == f"twd:fill:{first.pk}":
            raise OperationalError(1205, "Lock wait timeout exceeded")
        return settle(**kwargs)

    monkeypatch.setattr(services.wallet_services, "settle_trade", lock_timeout_for_first)
    crossing = make_quote("EUR/USD", "1.08", bid="1.079", ask="1.081")
    assert services.fill_crossing(quote=crossing) == 1
    first.refresh_from_db()
    assert first.status == TwdOrder.Status.OPEN and first.settle_error == ""
    assert TwdOrder.objects.get(pk=second.pk).status == TwdOrder.Status.CLOSED
    monkeypatch.setattr(services.wallet_services, "settle_trade", settle)
    assert services.fill_crossing(quote=crossing) == 1
    assert wallet_selectors.reconcile() == []


# --- validation and cancel --------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"symbol": "GBP/JPY"}, NotFound, "No enabled paper market"),
    ({"symbol": "NOPE"}, NotFound, "No enabled paper market"),
    ({"amount": D("1.001"), "price": D("1.1")}, InvalidInput, "decimal places"),
    ({"price": D("1.123456")}, InvalidInput, "decimal places"),
    ({}, InvalidInput, "needs a price"),
    ({"type": "MARKET", "price": D("1.1")}, InvalidInput, "takes no price"),
    ({"amount": D("0.01"), "price": D("0.00001")}, InvalidInput, "below 1 unit"),
    ({"side": "HOLD", "price": D("1.1")}, InvalidInput, "side must be"),
])
def test_bad_orders_change_nothing(markets, user, kwargs, error, message):
    with pytest.raises(error, match=message):
        place(user, **kwargs)
    assert not TwdOrder.objects.exists() and not Journal.objects.exists()


def test_market_disabled_between_validation_and_commit(markets, user, monkeypatch):
    grant = services.paper_account_ensure

    def disable_then_grant(**kwargs):
        services.markets_set_flags(market_ids=[markets["EUR/USD"].pk], status=False)
        grant(**kwargs)

    monkeypatch.setattr(services, "paper_account_ensure", disable_then_grant)
    with pytest.raises(Conflict, match="just disabled"):
        place(user, price=D("1.1"))
    assert not TwdOrder.objects.exists()
    assert paper(user)[1] == 0


def test_market_currencies_changed_between_validation_and_commit(markets, user, monkeypatch):
    grant = services.paper_account_ensure

    def grant_then_reimport(**kwargs):
        grant(**kwargs)
        TwdMarket.objects.filter(symbol="EUR/USD").update(quote_currency="GBP")

    monkeypatch.setattr(services, "paper_account_ensure", grant_then_reimport)
    with pytest.raises(Conflict, match="just changed"):
        place(user, price=D("1.1"))
    assert not TwdOrder.objects.exists()
    assert paper(user)[1] == 0


def test_client_order_id_replay(markets, user):
    first = place(user, price=D("1.05"), client_order_id="mine-1")
    assert place(user, price=D("1.05"), client_order_id="mine-1").pk == first.pk
    with pytest.raises(Conflict, match="already used"):
        place(user, price=D("1.06"), client_order_id="mine-1")
    assert TwdOrder.objects.count() == 1
    assert paper(user)[1] == D("1051.05")


def test_cancel_releases_the_hold(markets, user):
    order = place(user, price=D("1.05"))
    with pytest.raises(NotFound):
        services.order_cancel(user_id=UserFactory().pk, order_id=order.pk)
    canceled = services.order_cancel(user_id=user.pk, order_id=order.pk)
    assert canceled.status == TwdOrder.Status.CANCELED
    assert paper(user) == (D("100000"), D(0))
    with pytest.raises(Conflict, match="not OPEN"):
        services.order_cancel(user_id=user.pk, order_id=order.pk)
    publish(quote=make_quote("EUR/USD", "1.0", bid="0.99", ask="1.0"))
    assert TwdOrder.objects.get(pk=order.pk).status == TwdOrder.Status.CANCELED
    assert wallet_selectors.reconcile() == []


def test_demo_balance_is_granted_once_and_paper_only(markets, user):
    place(user, price=D("1.05"))
    place(user, price=D("1.04"))
    assert Journal.objects.filter(kind="FAUCET").count() == 1
    assert not Wallet.objects.filter(user=user).exclude(type="PAPER").exists()
