"""The demo market maker quotes through the core and the engine like any trader: a live
book around its reference, kept in place while the reference holds, moved by cancels and
replacements, and its trades marked as a bot's."""
import io
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apps.core.errors import Conflict
from apps.ecosystem.marketmaker import MarketMaker, Quoting, bot_setup, run, wanted_levels
from apps.futures.models import OrderTerms
from apps.futures.services import mark_refresh
from apps.marketdata import books, streams
from apps.orderstore.base import get_store
from apps.trading.constants import LIVE_STATUSES, Side
from apps.trading.models import Order
from apps.wallets.selectors import wallet_get
from tests.engine.helpers import SYMBOL, D, balance, drain, eco_market, place, runner, trader
from tests.factories import ContractFactory, UserFactory
from tests.futures.helpers import index_quote

pytestmark = pytest.mark.django_db(transaction=True)


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=1, max_value=5),
       st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=50))
def test_wanted_levels_never_cross_and_stay_positive(reference, levels, spread, step):
    quoting = Quoting(levels=levels, spread_ticks=spread, step_ticks=step, walk_ticks=0)
    wanted = wanted_levels(reference_ticks=reference, quoting=quoting)
    bids = [p for side, p in wanted if side == Side.BUY]
    asks = [p for side, p in wanted if side == Side.SELL]
    assert len(asks) == levels and len(set(asks)) == levels
    assert all(p > 0 for p in bids) and max(bids, default=0) < reference < min(asks)


@pytest.fixture
def market(currencies):
    return eco_market()


def live_orders(user_id: int) -> set[tuple[str, Decimal]]:
    return {(o.side, o.price) for o in Order.objects.filter(user_id=user_id,
                                                          status__in=LIVE_STATUSES)}


def test_the_bot_keeps_a_book_around_its_reference_and_moves_it(market):
    r = runner(market)
    bot = bot_setup(username="mm", market=market, base_amount=D("100"),
                    quote_amount=D("10000"))
    maker = MarketMaker(user_id=bot, market=market, reference=D("10.00"),
                        quoting=Quoting(levels=2, spread_ticks=5, step_ticks=10,
                                        amount=D("1.5"), walk_ticks=0))
    assert maker.refresh() == (4, 0)
    drain(r)
    _, depth = books.book_state(kind="depth", venue="ecosystem", symbol=SYMBOL)
    assert depth["bids"] == [["9.95", "1.5"], ["9.85", "1.5"]]
    assert depth["asks"] == [["10.05", "1.5"], ["10.15", "1.5"]]

    # The reference holds (the engine's quote is the middle of the bot's own book): the
    # orders stay where they are, keeping their place in the queue.
    assert maker.refresh() == (0, 0)

    # A trader takes the best ask: the trade is marked as the bot's, and the next round
    # puts the level back around the new last price.
    buyer = trader()
    place(buyer, side="BUY", price="10.05", amount="1.5")
    drain(r)
    [trade] = get_store().market_trades(venue="ecosystem", market=SYMBOL).items
    assert trade.bot and trade.price == D("10.05")
    assert balance(buyer, "ABC")[0] == D("1001.5")
    placed, cancels = maker.refresh()
    drain(r)
    assert live_orders(bot) == {("BUY", D("10.00")), ("BUY", D("9.90")),
                                ("SELL", D("10.10")), ("SELL", D("10.20"))}
    # The last price is 10.05 now: none of the three levels left is wanted any more.
    assert (placed, cancels) == (4, 3)
    # A cancel the engine has not applied yet is not asked twice.
    maker.quoting = Quoting(levels=2, spread_ticks=7, step_ticks=10, amount=D("1.5"),
                            walk_ticks=0)
    first = maker.refresh()
    second = maker.refresh()
    assert first[1] == 4 and second[1] == 0
    drain(r)
    assert len(live_orders(bot)) == 4


def test_the_bot_leaves_out_levels_another_traders_order_crosses(market):
    r = runner(market)
    bot = bot_setup(username="mm", market=market, base_amount=D("100"),
                    quote_amount=D("10000"))
    maker = MarketMaker(user_id=bot, market=market, reference=D("10.00"),
                        quoting=Quoting(levels=3, spread_ticks=5, step_ticks=5,
                                        amount=D("1"), walk_ticks=0))
    maker.refresh()
    drain(r)
    # A trader takes the bot's three asks (the last at 10.15) and bids on at 10.30.
    place(trader(), side="BUY", price="10.30", amount="5")
    drain(r)
    maker.refresh()
    drain(r)
    # Around the last price the asks would be 10.20, 10.25 and 10.30, all under or at
    # that bid: left out, instead of being sent post-only and refused.
    assert [p for s, p in live_orders(bot) if s == "SELL"] == []
    assert sorted(p for s, p in live_orders(bot) if s == "BUY") == [
        D("10.00"), D("10.05"), D("10.10")]
    assert not Order.objects.filter(user_id=bot, status="REJECTED").exists()


def test_a_trade_between_people_is_not_a_bots(market):
    r = runner(market)
    bot_setup(username="mm", market=market, base_amount=D("1"), quote_amount=D("10"))
    seller, buyer = trader(), trader()
    place(seller, side="SELL", price="10.00", amount="1")
    place(buyer, side="BUY", price="10.00", amount="1")
    drain(r)
    [trade] = get_store().market_trades(venue="ecosystem", market=SYMBOL).items
    assert not trade.bot


def test_a_level_it_cannot_fund_is_skipped_and_the_others_placed(market):
    runner(market)
    bot = bot_setup(username="mm", market=market, base_amount=D("1"), quote_amount=D("100"))
    maker = MarketMaker(user_id=bot, market=market, reference=D("10.00"),
                        quoting=Quoting(levels=3, spread_ticks=5, step_ticks=5,
                                        amount=D("0.5"), walk_ticks=0))
    run(maker=maker, interval=0, stop=threading.Event(), rounds=1)
    # 1 ABC funds two asks of 0.5; 100 USDT every bid.
    assert sorted(p for s, p in live_orders(bot) if s == "SELL") == [D("10.05"), D("10.10")]
    assert len([p for s, p in live_orders(bot) if s == "BUY"]) == 3


def test_bot_setup_funds_once_and_never_takes_a_persons_account(market):
    first = bot_setup(username="mm", market=market, base_amount=D("5"), quote_amount=D("50"))
    again = bot_setup(username="mm", market=market, base_amount=D("5"), quote_amount=D("50"))
    assert first == again
    assert balance(SimpleNamespace(pk=first), "ABC") == (D("5"), D(0))
    UserFactory(username="alice")
    with pytest.raises(Conflict):
        bot_setup(username="alice", market=market, base_amount=D("5"), quote_amount=D("50"))


def test_run_marketmaker_quotes_the_market_and_refuses_what_it_cannot_run(market):
    call_command("run_marketmaker", SYMBOL, "--username", "mm", "--rounds", "1",
                 "--interval", "0", "--walk-ticks", "0", "--levels", "2",
                 "--fund-base", "10", "--fund-quote", "1000", stdout=io.StringIO())
    bot = Order.objects.values_list("user_id", flat=True).first()
    assert live_orders(bot) == {("BUY", D("9.95")), ("BUY", D("9.90")),
                                ("SELL", D("10.05")), ("SELL", D("10.10"))}
    for argv, message in ((["XYZ/USDT"], "No enabled ecosystem market"),
                          ([SYMBOL, "--amount", "NaN"], "not an amount"),
                          ([SYMBOL, "--levels", "0"], "levels must be a positive integer"),
                          ([SYMBOL, "--reference", "0"], "above zero"),
                          ([SYMBOL, "--walk-ticks", "10"], "under twice spread_ticks")):
        with pytest.raises(CommandError, match=message):
            call_command("run_marketmaker", *argv, "--rounds", "1", stdout=io.StringIO())


def test_a_futures_bot_quotes_around_the_mark_at_its_leverage(currencies):
    """make run's futures bot: its reference is the contract's mark (the ``mark`` quotes),
    its orders carry the leverage the futures venue needs, its funds are FUTURES ones."""
    contract = ContractFactory()
    now = timezone.now()
    index_quote("60000", now=now)
    assert mark_refresh(contract=contract, now=now).mark == D("60000")
    bot = bot_setup(username="mm-futures", market=contract.market, base_amount=D(0),
                    quote_amount=D("100000"))
    maker = MarketMaker(user_id=bot, market=contract.market, reference=D("1"),
                        reference_venue=streams.MARK_VENUE, venue_options={"leverage": 10},
                        quoting=Quoting(levels=1, spread_ticks=100, step_ticks=100,
                                        amount=D("0.01"), walk_ticks=0))
    assert maker.refresh() == (2, 0)
    assert live_orders(bot) == {(Side.BUY, D("59999")), (Side.SELL, D("60001"))}
    assert [t.leverage for t in OrderTerms.objects.filter(order__user_id=bot)] == [10, 10]
    funds = wallet_get(user_id=bot, wallet_type="FUTURES", currency="USDT")
    assert funds.balance == 100000 and funds.held > 0
