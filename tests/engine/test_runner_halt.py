"""A market whose batch (or restore) keeps failing halts alone: the runner's other
markets go on, the halted one is retried with a growing delay, logged once, and once its
cause is gone it catches up with every trade settled exactly once."""
import pytest

from apps.engine import health
from apps.engine import runner as engine_runner
from apps.engine.runner import HALT_RETRY_FIRST, RestoreRefused, Runner
from apps.engine.selectors import markets_of_runner
from apps.trading.constants import OrderStatus
from apps.trading.models import Fill
from apps.trading.services import settlement
from tests.engine.helpers import drain, eco_market, place, trader
from tests.trading.helpers import books_clean, fresh, logged_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def poisoned(monkeypatch):
    """The markets (by id) whose settlement raises, as a poison command's would."""
    markets: set[int] = set()
    settle = settlement.settle

    def poisonable(pending, **kwargs):
        if pending and pending[0].order.market_id in markets:
            raise RuntimeError("poison")
        return settle(pending, **kwargs)

    monkeypatch.setattr(settlement, "settle", poisonable)
    return markets


def crossing_pair(symbol: str):
    """A resting ask and a bid that takes it whole, on ``symbol``."""
    base = symbol.split("/")[0].lower()
    seller, buyer = trader(**{"abc": "0", base: "10"}), trader(abc="0")
    ask = place(seller, side="SELL", price="10.00", amount="1", symbol=symbol)
    return ask, place(buyer, side="BUY", price="10.00", amount="1", symbol=symbol)


def retry_now(r: Runner, market) -> None:
    r.halts[market.pk].retry_at = 0.0


def test_a_failing_market_halts_alone_and_catches_up_once_its_cause_is_gone(
        currencies, poisoned, monkeypatch):
    abc, xyz = eco_market(), eco_market(base="XYZ")
    failed = logged_events(monkeypatch, modules=(engine_runner,),
                           events={"engine_batch_failed", "engine_market_resumed"})
    r = Runner(name="test", markets=[abc, xyz])
    r.start()
    poisoned.add(xyz.pk)
    stuck = crossing_pair("XYZ/USDT")
    first = crossing_pair("ABC/USDT")
    assert drain(r) == 2  # ABC's pair; XYZ's batch failed and halted, nothing raised
    assert {fresh(o).status for o in first} == {OrderStatus.FILLED}
    assert {fresh(o).status for o in stuck} == {OrderStatus.NEW}
    halt = r.halts[xyz.pk]
    assert (halt.failures, halt.delay, halt.error) == (1, HALT_RETRY_FIRST,
                                                      "RuntimeError: poison")
    # Not retried before its delay; the other market goes on meanwhile.
    later = crossing_pair("ABC/USDT")
    assert drain(r) == 2 and r.halts[xyz.pk].failures == 1
    assert {fresh(o).status for o in later} == {OrderStatus.FILLED}
    # Each failed retry doubles the delay; the failure is logged once.
    retry_now(r, xyz)
    assert drain(r) == 0
    assert (r.halts[xyz.pk].failures, r.halts[xyz.pk].delay) == (2, 2 * HALT_RETRY_FIRST)
    assert failed == ["engine_batch_failed"]
    # The cause removed, the retry restores the book and settles the pair, once.
    poisoned.clear()
    retry_now(r, xyz)
    assert drain(r) == 2
    assert r.halts == {} and failed == ["engine_batch_failed", "engine_market_resumed"]
    assert {fresh(o).status for o in stuck} == {OrderStatus.FILLED}
    fills = list(Fill.objects.filter(order_id__in=[o.pk for o in stuck])
                 .values_list("trade_id", flat=True))
    assert len(fills) == len(set(fills)) == 2
    assert books_clean() == []


def test_a_cache_that_cannot_take_the_halts_report_stops_nothing(currencies, poisoned,
                                                                 monkeypatch):
    xyz = eco_market(base="XYZ")

    class Down:
        def __getattr__(self, name):
            raise ConnectionError("the cache is down")

    monkeypatch.setattr(health, "cache", Down())
    r = Runner(name="test", markets=[xyz])
    r.start()
    poisoned.add(xyz.pk)
    pair = crossing_pair("XYZ/USDT")
    assert drain(r) == 0 and r.halts[xyz.pk].failures == 1
    poisoned.clear()
    retry_now(r, xyz)
    assert drain(r) == 2 and r.halts == {}
    assert {fresh(o).status for o in pair} == {OrderStatus.FILLED}


def test_a_new_market_whose_restore_is_refused_halts_alone(currencies, monkeypatch):
    abc = eco_market()
    r = Runner(name="default", markets=[abc],
               markets_of=lambda: markets_of_runner(runner="default"))
    r.start()
    xyz = eco_market(base="XYZ")
    restore = r.restore

    def refusing(market):
        if market.pk == xyz.pk:
            raise RestoreRefused(f"{market}: crossed book")
        return restore(market)

    monkeypatch.setattr(r, "restore", refusing)
    stuck, going = crossing_pair("XYZ/USDT"), crossing_pair("ABC/USDT")
    r.refresh_markets()
    assert drain(r) == 2  # ABC's pair
    assert r.halts[xyz.pk].error == "RestoreRefused: ecosystem:XYZ/USDT: crossed book"
    assert {fresh(o).status for o in going} == {OrderStatus.FILLED}
    monkeypatch.setattr(r, "restore", restore)
    retry_now(r, xyz)
    assert drain(r) == 2 and r.halts == {}
    assert {fresh(o).status for o in stuck} == {OrderStatus.FILLED}
