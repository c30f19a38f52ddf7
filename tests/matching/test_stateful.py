"""Hypothesis drives the fast book and the reference with the same random commands.

Every command's events must be equal (class and fields), and after every step both books
must hold the same orders in the same priority; the fast book must also pass its own
invariant check, and a snapshot/restore round trip must be invisible.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from apps.matching import OrderBook, OrderType, Side, StpMode
from tests.matching.helpers import Twin, assert_gapless, conservation, spec

ids = st.integers(min_value=0, max_value=30)
owners = st.sampled_from(["a", "b", "c"])
sides = st.sampled_from(list(Side))
prices = st.integers(min_value=95, max_value=105)
qtys = st.integers(min_value=1, max_value=8)
stps = st.none() | st.sampled_from(list(StpMode))


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.twin = Twin(spec(StpMode.CANCEL_TAKER))

    @rule(oid=ids, owner=owners, side=sides, price=prices, qty=qtys, stp=stps,
          order_type=st.sampled_from([OrderType.LIMIT, OrderType.IOC, OrderType.FOK,
                                      OrderType.POST_ONLY]))
    def place_limit(self, oid, owner, side, price, qty, stp, order_type) -> None:
        self.twin.do("place", order_id=oid, owner=owner, side=side, price=price, qty=qty,
                     stp=stp, order_type=order_type)

    @rule(oid=ids, owner=owners, side=sides, qty=qtys, stp=stps)
    def place_market(self, oid, owner, side, qty, stp) -> None:
        self.twin.do("place", order_id=oid, owner=owner, side=side, qty=qty, stp=stp,
                     order_type=OrderType.MARKET)

    @rule(oid=ids, owner=owners, budget=st.integers(min_value=1, max_value=1500), stp=stps)
    def place_budget(self, oid, owner, budget, stp) -> None:
        self.twin.do("place", order_id=oid, owner=owner, side=Side.BUY, quote_budget=budget,
                     stp=stp, order_type=OrderType.MARKET)

    @rule(oid=ids, owner=owners, side=sides, price=st.integers(-2, 2), qty=st.integers(-1, 2))
    def place_invalid_or_tiny(self, oid, owner, side, price, qty) -> None:
        self.twin.do("place", order_id=oid, owner=owner, side=side, price=price, qty=qty)

    @rule(oid=ids)
    def cancel(self, oid) -> None:
        self.twin.do("cancel", order_id=oid)

    @rule(oid=ids, qty=st.integers(min_value=0, max_value=8))
    def reduce(self, oid, qty) -> None:
        self.twin.do("reduce", order_id=oid, qty=qty)

    @rule(oid=ids, price=prices)
    def replace(self, oid, price) -> None:
        self.twin.do("replace", order_id=oid, price=price)

    @rule()
    def snapshot_round_trip(self) -> None:
        fast = self.twin.fast
        restored = OrderBook.restore(fast.snapshot())
        assert restored.state_hash() == fast.state_hash()
        self.twin.fast = restored

    @invariant()
    def books_agree(self) -> None:
        self.twin.check_books()

    def teardown(self) -> None:
        resting = sum(o.qty for o in self.twin.fast.open_orders())
        placed, accounted = conservation(self.twin.events, resting)
        assert placed == accounted
        assert_gapless(self.twin.events)


BookMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookMachine = BookMachine.TestCase
