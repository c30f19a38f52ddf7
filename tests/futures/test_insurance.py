"""The insurance fund's inherited positions closed in the book by the liquidation engine
(docs/FUTURES.md "Liquidation"), through the engine's runner."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from apps.futures import services
from apps.futures.constants import LIQUIDATION_ENGINE_USERNAME
from apps.futures.models import AppliedFill, Liquidation, OrderTerms, Position
from apps.futures.services.insurance import engine_user_id, insurance_close
from apps.orderstore.base import get_store
from apps.trading.constants import OrderStatus
from apps.trading.models import Fill, Order
from apps.wallets.constants import SystemAccount
from tests.futures import test_engine_orders
from tests.futures.helpers import SYSTEMS, clearing_owed, index_quote, system, wallet
from tests.futures.test_engine_orders import SYMBOL, drain, place, trader
from tests.trading.helpers import books_clean

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
# The engine tests' fixtures: a contract, and its runner started.
contract, engine = test_engine_orders.contract, test_engine_orders.engine


class NoPremium:
    """The mark is the index: the book's last trade (60,000) does not move it."""

    def premium(self, *, contract, index, now):
        return D(0)


@pytest.fixture(autouse=True)
def no_premium():
    previous = services.premium_source_set(NoPremium())
    yield
    services.premium_source_set(previous)


def tick(contract, index: str):
    now = datetime.now(UTC)
    index_quote(index, now=now)
    return services.mark_refresh(contract=contract, now=now)


def fund() -> Decimal:
    """The insurance fund: INSURANCE and the liquidation engine's float."""
    return system(SystemAccount.INSURANCE) + wallet(_engine())[0]


def _engine():
    return get_user_model().objects.get(username=LIQUIDATION_ENGINE_USERNAME)


def test_the_liquidation_engine_closes_the_inherited_position_in_the_book(contract, engine):
    a, b, c, d = trader("10000"), trader(), trader(), trader()
    users = [a, b, c, d]
    deposited = sum((wallet(u)[0] for u in users), D(0))
    place(b, "SELL", "1", "60000")
    place(a, "BUY", "1", "60000")  # long 1 at 10x: bankrupt at 54,000, liquidated 54,221.11
    place(c, "BUY", "0.4", "54150")  # the book's only bid
    drain(engine)

    tick(contract, "54200")
    (liquidation,) = Liquidation.objects.all()
    inherited = Position.objects.get(taken_over_from=liquidation)
    # What the margin left beyond the loss at the mark (6,000 - 5,800), all of it the
    # liquidation fee (0.5 % of 54,200 = 271, capped at the 200 left).
    assert (liquidation.fee, liquidation.insurance_delta) == (D(200), D(200))
    (close,) = Order.objects.filter(futures_terms__closes=inherited)
    assert (close.side, close.amount, close.time_in_force, close.user_id) == (
        "SELL", D(1), "IOC", engine_user_id())
    assert close.price == D("51442.50")  # the best bid less ENGINE_MARKET_PROTECTION (5 %)
    assert fund() == D(200)  # the close's hold came from INSURANCE, and is the fund's
    assert tick(contract, "54200") and Order.objects.filter(user_id=close.user_id).count() == 1

    drain(engine)  # 0.4 at 54,150 to c; the rest expires
    close.refresh_from_db()
    assert (close.status, close.filled, close.fee) == (OrderStatus.EXPIRED, D("0.4"), D(0))
    assert Fill.objects.get(order=close).fee == 0
    inherited.refresh_from_db()
    assert (inherited.status, inherited.size, inherited.value) == ("OPEN", D("0.6"),
                                                                     D("32520"))
    assert fund() == D(200) - D(20)  # 0.4 x (54,150 - 54,200)
    assert wallet(_engine())[1] == 0  # the close's hold came back
    [trade] = [t for t in get_store().market_trades(venue="futures", market=SYMBOL).items
               if t.price == D(54150)]
    assert trade.bot

    # The remainder: no bid now, so nothing is placed; a bid comes, the next tick closes.
    assert tick(contract, "54200") and Order.objects.filter(user_id=close.user_id).count() == 1
    place(d, "BUY", "1", "54100")
    drain(engine)
    tick(contract, "54200")
    (again,) = Order.objects.filter(futures_terms__closes=inherited).exclude(pk=close.pk)
    assert (again.amount, again.client_order_id) == (D("0.6"), f"liq-{inherited.pk}-1")
    drain(engine)
    inherited.refresh_from_db()
    assert (inherited.status, inherited.size) == ("FLAT", 0)
    assert fund() == D(200) - D(20) - D(60)  # 0.6 x (54,100 - 54,200)
    assert Position.objects.get(user=d).size == D("0.6")
    assert AppliedFill.objects.filter(position=inherited).count() == 2
    assert OrderTerms.objects.filter(closes=inherited).count() == 2

    # Nothing left to close: a tick places nothing; the books balance.
    tick(contract, "54200")
    assert Order.objects.filter(user_id=close.user_id).count() == 2
    assert insurance_close(contract_id=contract.pk) == []
    everyone = [*users, _engine()]
    assert sum((wallet(u)[0] for u in everyone), D(0)) + sum(system(s) for s in SYSTEMS) \
        == deposited
    assert system(SystemAccount.CLEARING) == clearing_owed(contract, "50000")
    assert books_clean() == []
